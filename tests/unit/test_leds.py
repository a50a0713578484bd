"""The front panel on gpiozero's MockFactory: each state's colour and pattern on the pins,
the priority between states, and the button's short press and hold, through the daemon.
"""

from __future__ import annotations

import itertools
import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from roomprobe import config, service
from roomprobe.leds import legend as L
from roomprobe.leds.driver import Indicators, PanelButton
from roomprobe.leds.status import Snapshot, showing
from roomprobe.verdicts import make

PINS = config.HardwareConfig().pins()


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


# --- the legend -------------------------------------------------------------------------------


@pytest.mark.parametrize("indicator", L.INDICATORS)
def test_each_indicator_can_be_read_without_telling_colours_apart(indicator: str):
    states = L.states_of(indicator)
    patterns = [s.pattern for s in states]
    shared = {p for p in patterns if patterns.count(p) > 1}
    # The one documented exception: the system light's steady "ok" and "meeting mode".
    pairs = [s.key for s in states if s.pattern in shared]
    assert pairs in ([], ["meeting_mode", "ok"]), pairs
    assert len({s.priority for s in states}) == len(states)  # no tie to break by accident
    for s in states:
        assert s.meaning[0] and s.meaning[1] and s.meaning[0] != s.meaning[1]
        assert s.colour in L.COLOURS


# --- what shows when several states apply -------------------------------------------------------


NET_REASON = {"ok": "net.ok", "degraded": "net.download_low", "fail": "net.download_low"}


def verdicts(net="ok", audio="ok", audio_actor=None, system="system.ok"):
    return {
        "network": make("net", net, NET_REASON[net], value=20.0, limit=50.0),
        "audio": make(
            "audio", audio, "audio.ok" if audio == "ok" else "audio.no_return", audio_actor
        ),
        "system": make("system", "ok" if system == "system.ok" else "degraded", system),
    }


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (Snapshot(verdicts()), {"meeting": "idle", "network": "ok", "audio": "ok", "system": "ok"}),
        (Snapshot(verdicts(net="fail"), running=frozenset({"net"})),
         {"meeting": "idle", "network": "test_running", "audio": "ok", "system": "ok"}),
        (Snapshot(verdicts(net="degraded", audio="fail")),
         {"meeting": "idle", "network": "degraded", "audio": "fail", "system": "ok"}),
        (Snapshot(verdicts(audio="fail", audio_actor="probe"), meeting_mode=True),
         {"meeting": "idle", "network": "ok", "audio": "fail", "system": "probe_fault"}),
        (Snapshot(verdicts(system="system.config_rejected"), broker_connected=False),
         {"meeting": "idle", "network": "ok", "audio": "ok", "system": "config_error"}),
        (Snapshot(verdicts(), broker_connected=False, meeting_mode=True),
         {"meeting": "idle", "network": "ok", "audio": "ok", "system": "no_broker"}),
        (Snapshot(verdicts(), booting=True, broker_connected=False),
         {"meeting": "idle", "network": "ok", "audio": "ok", "system": "booting"}),
        (Snapshot({}),
         {"meeting": "idle", "network": "unknown", "audio": "unknown", "system": "ok"}),
        # The meeting light: the readiness run shown, and "checking" while one runs.
        (Snapshot(verdicts(net="fail"), readiness="not-ready"),
         {"meeting": "not_ready", "network": "fail", "audio": "ok", "system": "ok"}),
        (Snapshot(verdicts(), readiness="not-ready", checking=True, running=frozenset({"net"})),
         {"meeting": "checking", "network": "test_running", "audio": "ok", "system": "ok"}),
        (Snapshot(verdicts(), readiness="unknown"),
         {"meeting": "unknown", "network": "ok", "audio": "ok", "system": "ok"}),
        (Snapshot(verdicts(), readiness="ready", meeting_mode=True),
         {"meeting": "ready", "network": "ok", "audio": "ok", "system": "meeting_mode"}),
    ],
)  # fmt: skip
def test_the_documented_priority_decides(snapshot: Snapshot, expected: dict[str, str]):
    assert {k: v.key for k, v in showing(snapshot).items()} == expected


# --- the pins -----------------------------------------------------------------------------------


def channel_values(factory, indicator: str) -> list[list[float]]:
    return [[s.state for s in factory.pin(p).states] for p in PINS[indicator]]


def on_runs(pin, level: float) -> list[float]:
    """How long the pin stayed at ``level`` each time, from its state history.

    gpiozero's mock pins record each change with the time since the previous
    one, so a state lasted as long as the next entry's timestamp says.
    """
    states = pin.states
    return [
        b.timestamp
        for a, b in itertools.pairwise(states)
        if a.state == pytest.approx(level) and b.state != pytest.approx(level)
    ]


@pytest.mark.parametrize("st", [s for s in L.STATES if s.pattern is L.Pattern.STEADY],
                         ids=lambda s: f"{s.indicator}-{s.key}")  # fmt: skip
def test_steady_states_hold_their_colour(factory, st: L.LedState):
    leds = Indicators(PINS, pin_factory=factory)
    leds.show({st.indicator: st})
    for pin_no, duty in zip(PINS[st.indicator], st.rgb, strict=True):
        assert factory.pin(pin_no).state == pytest.approx(duty)
    leds.close()


@pytest.mark.parametrize(
    "st",
    [s for s in L.STATES if s.pattern in (L.Pattern.SLOW_BLINK, L.Pattern.FAST_BLINK)],
    ids=lambda s: f"{s.indicator}-{s.key}",
)
def test_blinking_states_blink_at_their_rate_in_their_colour(factory, st: L.LedState):
    leds = Indicators(PINS, pin_factory=factory)
    leds.show({st.indicator: st})
    on, off = L.TIMING[st.pattern]
    time.sleep(4 * (on + off) + 0.05)
    leds.close()
    lit = [i for i, duty in enumerate(st.rgb) if duty > 0]
    pin = factory.pin(PINS[st.indicator][lit[0]])
    runs = on_runs(pin, st.rgb[lit[0]])
    assert len(runs) >= 3
    assert sorted(runs)[len(runs) // 2] == pytest.approx(on, abs=0.05)  # the median run
    for i, duty in enumerate(st.rgb):  # the other channels follow the colour
        peak = max(s.state for s in factory.pin(PINS[st.indicator][i]).states)
        assert peak == pytest.approx(duty)


@pytest.mark.parametrize("st", [s for s in L.STATES if s.pattern is L.Pattern.FLASH],
                         ids=lambda s: f"{s.indicator}-{s.key}")  # fmt: skip
def test_flash_is_a_short_blip_every_two_seconds(factory, st: L.LedState):
    leds = Indicators(PINS, pin_factory=factory)
    leds.show({st.indicator: st})
    time.sleep(2.3)
    leds.close()
    lit = [i for i, duty in enumerate(st.rgb) if duty > 0]
    pin = factory.pin(PINS[st.indicator][lit[0]])
    runs = on_runs(pin, st.rgb[lit[0]])
    assert runs and runs[0] == pytest.approx(L.TIMING[L.Pattern.FLASH][0], abs=0.05)
    for i, duty in enumerate(st.rgb):
        peak = max(s.state for s in factory.pin(PINS[st.indicator][i]).states)
        assert peak == pytest.approx(duty)


@pytest.mark.parametrize("st", [s for s in L.STATES if s.pattern is L.Pattern.PULSE],
                         ids=lambda s: f"{s.indicator}-{s.key}")  # fmt: skip
def test_pulse_fades_through_intermediate_levels(factory, st: L.LedState):
    leds = Indicators(PINS, pin_factory=factory)
    leds.show({st.indicator: st})
    time.sleep(1.2)
    leds.close()
    for i, duty in enumerate(st.rgb):
        levels = [s.state for s in factory.pin(PINS[st.indicator][i]).states]
        if duty == 0:
            assert max(levels) == 0  # no other colour mixed in
        else:
            assert any(0.2 * duty < v < 0.8 * duty for v in levels)  # fading, not switching
            assert max(levels) == pytest.approx(duty, abs=0.05)


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (Snapshot(verdicts(net="fail"), running=frozenset({"net"})), {"network": "test_running"}),
        (Snapshot(verdicts(audio="fail", audio_actor="probe"), meeting_mode=True),
         {"system": "probe_fault"}),
        (Snapshot(verdicts(), booting=True, broker_connected=False), {"system": "booting"}),
        (Snapshot(verdicts(), broker_connected=False, meeting_mode=True), {"system": "no_broker"}),
    ],
)  # fmt: skip
def test_a_conflict_shows_the_winner_on_the_pins(factory, snapshot, expected):
    leds = Indicators(PINS, pin_factory=factory)
    leds.show(showing(snapshot))
    time.sleep(1.1)  # a pulse takes a second to reach its full colour
    for indicator, key in expected.items():
        st = L.state(indicator, key)
        for i, duty in enumerate(st.rgb):
            peak = max(s.state for s in factory.pin(PINS[indicator][i]).states)
            assert peak == pytest.approx(duty, abs=0.05), (indicator, key, i)
    leds.close()


def test_the_dark_state_switches_every_colour_off(factory):
    leds = Indicators(PINS, pin_factory=factory)
    leds.show({"meeting": L.state("meeting", "ready")})
    assert factory.pin(PINS["meeting"][1]).state == pytest.approx(1.0)
    leds.show({"meeting": L.state("meeting", "idle")})
    assert [factory.pin(p).state for p in PINS["meeting"]] == [0, 0, 0]
    leds.close()


def test_an_unchanged_state_is_not_restarted(factory):
    leds = Indicators(PINS, pin_factory=factory)
    st = L.state("system", "ok")
    leds.show({"system": st})
    n = len(factory.pin(PINS["system"][1]).states)
    leds.show({"system": st})
    assert len(factory.pin(PINS["system"][1]).states) == n
    leds.close()


# --- the button ---------------------------------------------------------------------------------


def test_a_short_press_and_a_hold(factory):
    button = PanelButton(26, hold_s=1.0, pin_factory=factory)
    pin = factory.pin(26)
    pin.drive_low()
    time.sleep(0.15)
    pin.drive_high()
    time.sleep(0.1)
    assert button.take() == ["short"]
    pin.drive_low()
    time.sleep(1.3)
    assert button.take() == ["long"]  # at the hold time, before the release
    pin.drive_high()
    time.sleep(0.1)
    assert button.take() == []  # the release of a hold is not also a short press
    button.close()


# --- through the daemon -------------------------------------------------------------------------


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A daemon with a mock panel; hold 1 s to keep the test short."""
    monkeypatch.setattr(service, "BOOT_S", 0.0)
    cfg = config.parse(
        f'site = "dak-ang"\n[paths]\nstate_dir = "{tmp_path}"\n'
        '[hardware]\nleds = "mock"\nhold_s = 1.0\n[audio]\ninterval_s = 3600\n'
        "[net]\ninterval_s = 3600\n"
    )
    svc = service.ProbeService(cfg)
    yield svc
    svc.panel.close()
    svc.panel.factory.reset()
    svc.outbox.close()


def events(svc) -> list[str]:
    return [row.topic for row in svc.outbox.pending(100)]


def panel_step(svc) -> None:
    """The panel's share of the daemon's tick: take the presses, show the lights."""
    for press in svc.panel.presses():
        svc._on_button(press)
    svc.panel.show(svc._leds())


def press(pin, seconds: float) -> None:
    pin.drive_low()
    time.sleep(seconds)
    pin.drive_high()
    time.sleep(0.05)


def test_the_button_drives_the_daemon_and_the_lights_follow(probe, monkeypatch):
    # As if the broker were there (no broker would show first on the system light).
    monkeypatch.setattr(probe.link, "connected", True)
    f = probe.panel.factory
    button = f.pin(26)
    system_blue = f.pin(PINS["system"][2])
    panel_step(probe)
    assert system_blue.state == 0
    # Hold: meeting mode on, the system light turns steady blue.
    press(button, 1.2)
    panel_step(probe)
    assert probe.meeting_mode is True
    assert system_blue.state == pytest.approx(1.0)
    # A short press in meeting mode runs no test (rule 1): the button event only.
    before = probe.outbox.count()
    press(button, 0.1)
    panel_step(probe)
    assert probe.outbox.count() == before + 1
    last = probe.outbox.pending(100)[-1].payload
    assert b'"press":"short"' in last and b'"why":"meeting_mode"' in last
    assert b"but no test: meeting mode is on" in last  # the real reason, in words
    # Meeting mode off by another hold; a short press then tests the line and the audio.
    press(button, 1.2)
    panel_step(probe)
    assert probe.meeting_mode is False and system_blue.state == 0
    before = probe.outbox.count()
    press(button, 0.1)
    panel_step(probe)
    topics = [r.topic for r in probe.outbox.pending(100)][before:]
    assert any(t.endswith("/result/net") for t in topics)
    assert any(t.endswith("/result/audio") for t in topics)
    assert probe._status_payload(True)["leds"]["system"] == "ok"
    # The press ran a readiness check: the meeting light shows its answer, steady green.
    assert probe._status_payload(True)["leds"]["meeting"] == "ready"
    assert f.pin(PINS["meeting"][1]).state == pytest.approx(1.0)
    probe.link.connected = False  # the broker lost: the daemon's tick shows it on the light
    probe.tick()
    assert probe._status_payload(True)["leds"]["system"] == "no_broker"
    amber = L.state("system", "no_broker").rgb
    assert max(s.state for s in f.pin(PINS["system"][0]).states) == pytest.approx(amber[0])
