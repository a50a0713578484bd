"""The daemon testing a real ALSA path (PulseAudio's null sink) and reporting per component.

Real processes end to end: mosquitto, the hub, and a probe with
``audio.backend = "alsa"`` on the ``pulse`` device. The sink is a wire, so the
electrical path is all there is: the mixer and cables are ok, and with no
microphones on the return and none commissioned, the speakers and
microphones are "not measured", never a false alarm.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.publish as mqtt_publish
import pytest
from paho.mqtt.client import MQTTv5

from pulse_rig import Pulse, pulse_session
from rig import Rig, wait_for
from roomprobe.contract import Stamp, encode, topics, utc_iso, validate

AUDIO = {
    "backend": "alsa",
    "capture_device": "pulse",
    "playback_device": "pulse",
    "interval_s": 1.0,
    "sweep_s": 2.0,
    "pre_silence_s": 0.5,
    "tail_s": 0.5,
    "quiet_before_s": 0.0,
}


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulse]:
    yield from pulse_session(tmp_path_factory.mktemp("pulse"))


def audio_results(rig: Rig) -> list[dict]:
    rows = rig.hub_query(
        "SELECT payload FROM messages WHERE schema = 'roomprobe.result.audio' ORDER BY id"
    )
    return [json.loads(r["payload"]) for r in rows]


def test_daemon_tests_the_chain_and_reports_each_component(rig: Rig, pulse: Pulse):
    rig.start_broker()
    rig.hub()
    rig.probe(audio=AUDIO)
    result = wait_for(lambda: audio_results(rig), timeout=90, what="a real audio result")[0]
    assert result["simulated"] is False
    m = result["metrics"]
    assert m["channels_present"] == [0, 1]
    assert abs(m["electrical"]["latency_ms"]) < 0.1
    assert abs(m["electrical"]["gain_db"]) < 0.5
    assert m["acoustic"] is None
    parts = {c["check"]: c for c in result["components"]}
    assert set(parts) == {
        "audio.probe", "audio.cabling", "audio.mixer", "audio.speakers", "audio.microphones"
    }  # fmt: skip
    for name in ("audio.probe", "audio.cabling", "audio.mixer"):
        assert parts[name]["status"] == "ok", parts[name]
    assert parts["audio.speakers"]["status"] == "unknown"
    assert result["verdict"]["status"] == "ok"


def test_meeting_mode_keeps_the_tone_off(rig: Rig, pulse: Pulse):
    """Meeting mode switched on by command: no audio test runs while it is on."""
    rig.start_broker()
    rig.hub()
    rig.probe(audio={**AUDIO, "interval_s": 0.5})
    wait_for(lambda: audio_results(rig), timeout=90, what="a first audio result")
    stamp = Stamp("dak-ang", "00000000-0000-4000-8000-000000000001", lambda: True)
    expires = utc_iso(datetime.now(UTC) + timedelta(minutes=5))
    payload = validate(
        stamp.envelope(
            "roomprobe.cmd", 1, command="meeting-mode", args={"on": True}, expires_at=expires
        )
    )
    mqtt_publish.single(
        topics.cmd("dak-ang", "meeting-mode"), encode(payload), qos=1,
        hostname="127.0.0.1", port=rig.broker.port, protocol=MQTTv5,
    )  # fmt: skip
    wait_for(
        lambda: rig.hub_query(
            "SELECT 1 FROM messages WHERE json_extract(payload, '$.event') = 'meeting_mode'"
        ),
        what="the meeting-mode event",
    )
    time.sleep(2.0)  # a test that had just begun is stopped and published (aborted)
    before = len(audio_results(rig))
    time.sleep(6.0)
    assert len(audio_results(rig)) == before, "an audio test ran in meeting mode"


def test_howling_between_tests_is_reported_when_it_starts_and_ends(rig: Rig, pulse: Pulse):
    """The passive watch runs between tests; a howl in the room is an event, not a wait."""
    import threading

    import numpy as np

    from roomprobe.audio import device
    from roomprobe.audio.signals import howl, pink_noise

    rig.start_broker()
    rig.hub()
    rig.probe(audio={**AUDIO, "interval_s": 3600}, net={"monitor_interval_s": 2.0})
    time.sleep(3.0)  # the daemon's capture is running and has learnt the quiet room

    def play() -> None:
        n = 48000 * 4
        x = howl(n, 48000, 2500.0, -20.0) + pink_noise(n, 1, -60.0)
        settings = device.DeviceSettings("pulse", 48000, 2, 1024, 4)
        device.Player(settings).run(np.stack([x, np.zeros(n)], axis=1))

    player = threading.Thread(target=play, daemon=True)
    player.start()

    def events(kind: str) -> list[dict]:
        rows = rig.hub_query(
            "SELECT payload FROM messages WHERE json_extract(payload, '$.event') = ?", kind
        )
        return [json.loads(r["payload"]) for r in rows]

    fault = wait_for(lambda: events("fault"), timeout=30, what="a fault event")[0]
    assert fault["details"]["check"] == "audio.mixer"
    assert "feedback" in fault["message"]["en"] or "howling" in fault["message"]["en"]
    player.join(10)
    # On a loaded machine a short hum can come and go too (PulseAudio's own glitches as the
    # player starts): what matters here is that the howl's fault clears when the howl ends.
    cleared = wait_for(lambda: [e for e in events("fault_cleared")
                                if e["details"]["cleared"] == "audio.feedback"],
                       timeout=30, what="the feedback fault cleared")  # fmt: skip
    assert cleared[0]["message"]["en"]  # said in words, as every event is
    monitors = rig.hub_query(
        "SELECT payload FROM messages WHERE schema = 'roomprobe.result.monitor'"
    )
    watch = [json.loads(r["payload"])["metrics"].get("audio_watch") for r in monitors]
    assert any(w and w["channels"][0]["feedback"] for w in watch)


def test_people_talking_hold_the_test_until_the_room_is_quiet(rig: Rig, pulse: Pulse):
    """Speech in the room is a meeting nobody scheduled: no tone until it has been quiet."""
    import threading

    import numpy as np

    from roomprobe.audio import device
    from roomprobe.audio.signals import pink_noise, speech_like
    from roomprobe.contract import parse_utc

    rig.start_broker()
    rig.hub()
    ended: list[float] = []

    def talk() -> None:
        n = 48000 * 10
        voice = speech_like(10.0, 48000, seed=9, level_dbfs=-25.0) + pink_noise(n, 2, -65.0)
        settings = device.DeviceSettings("pulse", 48000, 2, 1024, 4)
        device.Player(settings).run(np.stack([voice, np.zeros(n)], axis=1))
        ended.append(time.time())

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    time.sleep(1.0)  # people are already talking when the box starts
    rig.probe(audio={**AUDIO, "quiet_before_s": 2.0, "interval_s": 1.0})
    result = wait_for(lambda: audio_results(rig), timeout=90, what="an audio result")[0]
    talker.join(15)
    assert ended, "the talker did not finish"
    started = parse_utc(result["started_at"]).timestamp()
    assert started >= ended[0] + 1.5, "the tone started while people talked, or right after"
    assert result["metrics"].get("aborted") is not True
