"""The heavy line test when the probe's own port loses its link (a loose cable, a switch).

Found by tests/line/test_line_flap.py: tests cut by a flap published figures
measured across the outage ("fail, jitter high, call the ISP", "loss 35 %,
call the ISP", an "ok" with stalls in it) or failed with a bare socket error.
Now the job watches the port's carrier-loss counter, stops within one sample
and ends in LinkLost, which names the room's LAN and keeps no figures.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from roomprobe.config import NetConfig
from roomprobe.line import pacing, worker
from roomprobe.line.multistream import LineTestAborted, LineTestError
from roomprobe.line.worker import LineJob, LinkLost

METRICS = {"download_mbps": 47.8, "upload_mbps": 47.8, "bytes_used": 1000}


# -------------------------------------------------------------------- link_drops


def test_link_drops_reads_the_kernels_carrier_loss_counter(tmp_path: Path) -> None:
    (tmp_path / "eth0").mkdir()
    (tmp_path / "eth0" / "carrier_down_count").write_text("3\n")
    assert pacing.link_drops("eth0", tmp_path) == 3


@pytest.mark.parametrize("content", [None, "", "n/a\n"])
def test_link_drops_unreadable_is_none(tmp_path: Path, content: str | None) -> None:
    (tmp_path / "eth0").mkdir()
    if content is not None:
        (tmp_path / "eth0" / "carrier_down_count").write_text(content)
    assert pacing.link_drops("eth0", tmp_path) is None
    assert pacing.link_drops("eth9", tmp_path) is None  # no such port (a USB adapter pulled)


@pytest.mark.parametrize(
    ("state", "up"),
    [("up\n", True), ("down\n", False), ("lowerlayerdown\n", False), ("notpresent\n", False),
     ("unknown\n", None), ("dormant\n", None)],
)  # fmt: skip
def test_link_up_from_the_operstate(tmp_path: Path, state: str, up: bool | None) -> None:
    (tmp_path / "eth0").mkdir()
    (tmp_path / "eth0" / "operstate").write_text(state)
    assert pacing.link_up("eth0", tmp_path) is up
    assert pacing.link_up("eth9", tmp_path) is None


# ------------------------------------------------------------------------ LineJob


class Port:
    """The port's carrier-loss counter as the job reads it; None: the port is gone."""

    def __init__(self) -> None:
        self.drops: int | None = 7
        self.up: bool | None = True

    def flap(self) -> None:
        assert self.drops is not None
        self.drops += 1


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Port:
    p = Port()
    monkeypatch.setattr(worker.pacing, "link_drops", lambda iface: p.drops)
    monkeypatch.setattr(worker.pacing, "link_up", lambda iface: p.up)
    monkeypatch.setattr(worker.pacing, "interface_speed_mbps", lambda iface: None)
    return p


def job(monkeypatch: pytest.MonkeyPatch, measure, interface: str | None = "eth0") -> LineJob:
    """A LineJob whose measurement is ``measure(abort)`` (abort: the event it must obey)."""
    monkeypatch.setattr(worker.linetest, "full_test", lambda url, abort, **kw: dict(measure(abort)))
    cfg = NetConfig(backend="hub", server_url="http://hub.example:8080/mini/",
                    interface=interface, busy_threshold_kbps=0, speedtest_cli="off")  # fmt: skip
    return LineJob(cfg, with_speedtest_cli=False)


def outcome(j: LineJob, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not j.done():
        assert time.monotonic() < deadline, "the line job never ended"
        time.sleep(0.01)
    return j.result()


def until_stopped(abort: threading.Event, wait_s: float = 5.0) -> dict[str, Any]:
    """A measurement that runs until stopped, as multistream's does."""
    if abort.wait(wait_s):
        raise LineTestAborted("download stopped: the room became busy")
    return METRICS


def test_a_steady_link_keeps_the_figures(monkeypatch, port) -> None:
    j = job(monkeypatch, lambda abort: METRICS)
    assert outcome(j)["download_mbps"] == 47.8


def test_a_link_drop_stops_the_test_within_a_poll_and_names_the_rooms_lan(
    monkeypatch, port
) -> None:
    seen: list[float] = []

    def measure(abort: threading.Event) -> dict[str, Any]:
        port.flap()
        t0 = time.monotonic()
        try:
            return until_stopped(abort)
        finally:
            seen.append(time.monotonic() - t0)

    with pytest.raises(LinkLost) as lost:
        outcome(job(monkeypatch, measure))
    assert seen[0] < 3.0  # stopped, not run to its end (5 s here); loose for a busy CI machine
    assert isinstance(lost.value, LineTestError)  # the daemon's "test failed" path
    assert not isinstance(lost.value, LineTestAborted)  # not "meeting mode came on"
    text = str(lost.value)
    assert "eth0 lost its link once" in text
    assert "check the commune's own network" in text and "not the ISP's line" in text
    assert isinstance(lost.value.__cause__, LineTestAborted)


def test_a_drop_the_measurement_rode_through_still_discards_its_figures(monkeypatch, port) -> None:
    """TCP recovered and the test "succeeded": its stalls are not the line's speed."""

    def measure(abort: threading.Event) -> dict[str, Any]:
        port.flap()
        port.flap()
        return METRICS  # done before the watcher looked

    with pytest.raises(LinkLost, match="lost its link 2 times"):
        outcome(job(monkeypatch, measure))


def test_a_socket_error_with_the_link_down_is_the_links(monkeypatch, port) -> None:
    def measure(abort: threading.Event) -> dict[str, Any]:
        port.flap()
        raise LineTestError("download stream 0: [Errno 101] Network is unreachable")

    with pytest.raises(LinkLost) as lost:
        outcome(job(monkeypatch, measure))
    assert "Network is unreachable" in str(lost.value.__cause__)


def test_a_failure_on_a_steady_link_is_left_as_it_was(monkeypatch, port) -> None:
    def measure(abort: threading.Event) -> dict[str, Any]:
        raise LineTestError("no answer from http://hub.example:8080/mini/")

    with pytest.raises(LineTestError, match=r"^no answer from") as failed:
        outcome(job(monkeypatch, measure))
    assert not isinstance(failed.value, LinkLost)


def test_a_port_that_vanishes_is_a_lost_link(monkeypatch, port) -> None:
    def measure(abort: threading.Event) -> dict[str, Any]:
        port.drops = None
        return until_stopped(abort)

    with pytest.raises(LinkLost, match="eth0 lost its link once"):
        outcome(job(monkeypatch, measure))


def test_a_port_down_when_the_test_begins_measures_nothing(monkeypatch, port) -> None:
    calls: list[int] = []
    port.up = False
    j = job(monkeypatch, lambda abort: calls.append(1) or METRICS)
    with pytest.raises(LinkLost, match="eth0 was down when the test began"):
        outcome(j)
    assert calls == []


def test_a_port_that_does_not_say_is_measured(monkeypatch, port) -> None:
    port.up = None  # operstate "unknown": drivers that do not track their link
    assert outcome(job(monkeypatch, lambda abort: METRICS))["upload_mbps"] == 47.8


def test_a_meetings_abort_stays_an_abort_even_with_the_link_down(monkeypatch, port) -> None:
    started = threading.Event()

    def measure(abort: threading.Event) -> dict[str, Any]:
        started.set()
        return until_stopped(abort)

    j = job(monkeypatch, measure)
    assert started.wait(5)
    j.abort.set()
    t0 = time.monotonic()
    port.flap()
    with pytest.raises(LineTestAborted) as stopped:
        outcome(j)
    assert not isinstance(stopped.value, LinkLost)
    assert time.monotonic() - t0 < 1.0  # the abort is passed on at once, not at the next poll


@pytest.mark.parametrize(
    ("route_later", "fails", "lost"),
    [(None, True, True), ("eth0", False, True), (None, False, False)],
    ids=["failed-without-a-route", "route-came-up-mid-test", "no-ipv4-route-but-it-worked"],
)
def test_no_default_route_when_the_test_began(monkeypatch, port, route_later, fails, lost) -> None:
    monkeypatch.setattr(worker.pacing, "default_interface", lambda: None)

    def measure(abort: threading.Event) -> dict[str, Any]:
        monkeypatch.setattr(worker.pacing, "default_interface", lambda: route_later)
        if fails:
            raise LineTestError("no answer from http://hub.example:8080/mini/")
        return METRICS

    j = job(monkeypatch, measure, interface=None)
    assert j.iface is None
    if lost:
        with pytest.raises(LinkLost, match="no default route") as e:
            outcome(j)
        assert "commune's own network" in str(e.value)
    else:
        assert outcome(j) == METRICS | {"interface_mbps": None}


def test_a_route_that_appears_mid_test_stops_it(monkeypatch, port) -> None:
    """Begun with the port down (no route), the test is stopped once the port is back."""
    route: list[str | None] = [None]
    monkeypatch.setattr(worker.pacing, "default_interface", lambda: route[0])
    seen: list[float] = []

    def measure(abort: threading.Event) -> dict[str, Any]:
        route[0] = "eth0"  # the port came back, as the room's DHCP client restores the route
        t0 = time.monotonic()
        try:
            return until_stopped(abort)
        finally:
            seen.append(time.monotonic() - t0)

    j = job(monkeypatch, measure, interface=None)
    with pytest.raises(LinkLost, match="no default route"):
        outcome(j)
    assert seen[0] < 3.0
