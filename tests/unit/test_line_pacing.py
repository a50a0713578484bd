"""Pacing of the heavy line test: random intervals, the default route, the interface."""

from __future__ import annotations

import math
import random
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from roomprobe.line import pacing
from roomprobe.line.pacing import (
    Activity,
    default_interface,
    interface_speed_mbps,
    line_activity,
    next_interval,
)

# ----------------------------------------------------------------- next_interval


def _clamped_exponential_mean(mean: float) -> float:
    """E[min(max(X, m/2), 2m)] for X ~ Exp(mean m): m (1/2 + e^-1/2 - e^-2)."""
    return mean * (0.5 + math.exp(-0.5) - math.exp(-2))


@pytest.mark.parametrize("mean", [0.05, 1.0, 60.0, 3600.0])
def test_next_interval_is_within_half_and_twice_the_mean(mean: float) -> None:
    rng = random.Random(1)
    draws = [next_interval(mean, rng) for _ in range(5000)]
    assert min(draws) >= mean / 2
    assert max(draws) <= 2 * mean
    # both clamps are reached (about 39 % and 14 % of draws) and the middle is used
    assert sum(d == mean / 2 for d in draws) > 1000
    assert sum(d == 2 * mean for d in draws) > 300
    assert sum(mean / 2 < d < 2 * mean for d in draws) > 1500


@pytest.mark.parametrize("mean", [60.0, 3600.0])
def test_next_interval_mean_of_many_draws(mean: float) -> None:
    rng = random.Random(2024)
    draws = [next_interval(mean, rng) for _ in range(20000)]
    assert sum(draws) / len(draws) == pytest.approx(_clamped_exponential_mean(mean), rel=0.02)


def test_next_interval_is_reproducible_with_a_seed() -> None:
    r1, r2 = random.Random(42), random.Random(42)
    seq1 = [next_interval(3600.0, r1) for _ in range(50)]
    seq2 = [next_interval(3600.0, r2) for _ in range(50)]
    assert seq1 == seq2
    assert seq1[0] == next_interval(3600.0, random.Random(42))
    r3 = random.Random(43)
    assert [next_interval(3600.0, r3) for _ in range(50)] != seq1


def test_next_interval_draws_from_an_exponential_with_the_given_mean() -> None:
    class Stub:
        def __init__(self, value: float) -> None:
            self.value, self.lambdas = value, []

        def expovariate(self, lambd: float) -> float:
            self.lambdas.append(lambd)
            return self.value

    mid = Stub(100.0)
    assert next_interval(80.0, mid) == 100.0  # type: ignore[arg-type]
    assert mid.lambdas == [pytest.approx(1 / 80.0)]
    assert next_interval(80.0, Stub(1.0)) == 40.0  # type: ignore[arg-type]
    assert next_interval(80.0, Stub(1e6)) == 160.0  # type: ignore[arg-type]


# ------------------------------------------------------------- default_interface

HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\t\t\n"


def _row(iface: str, dest: str, gateway: str, mask: str, metric: int = 0) -> str:
    return f"{iface}\t{dest}\t{gateway}\t0003\t0\t0\t{metric}\t{mask}\t0\t0\t0\t\t\n"


def test_default_interface_finds_the_default_route(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(
        HEADER
        + _row("docker0", "000011AC", "00000000", "0000FFFF")  # gateway 0: not a default
        + _row("eth0", "0002A8C0", "00000000", "00FFFFFF")
        + _row("eth0", "00000000", "0102A8C0", "00000000", 100)
        + _row("wg0", "0000000A", "00000000", "000000FF")
    )
    assert default_interface(route) == "eth0"


def test_default_interface_other_name(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(
        HEADER
        + _row("eth0", "0002A8C0", "00000000", "00FFFFFF")
        + _row("wlan0", "00000000", "0101A8C0", "00000000", 600)
    )
    assert default_interface(route) == "wlan0"


def test_default_interface_without_a_default_route(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(
        HEADER
        + _row("eth0", "0002A8C0", "00000000", "00FFFFFF")
        + _row("lo", "0000007F", "00000000", "000000FF")
    )
    assert default_interface(route) is None


def test_default_interface_ignores_the_header(tmp_path: Path) -> None:
    """The first line is the header, never a route, even if it looked like one."""
    route = tmp_path / "route"
    route.write_text("bogus 00000000 00000000\n" + _row("eth0", "0002A8C0", "0", "00FFFFFF"))
    assert default_interface(route) is None


@pytest.mark.parametrize("content", ["", HEADER, HEADER + "\n\n  \n", HEADER + "eth0 00000000\n"])
def test_default_interface_empty_or_short_lines(tmp_path: Path, content: str) -> None:
    route = tmp_path / "route"
    route.write_text(content)
    assert default_interface(route) is None


def test_default_interface_missing_file(tmp_path: Path) -> None:
    assert default_interface(tmp_path / "no-such-route") is None


def test_default_interface_unreadable_file(tmp_path: Path) -> None:
    assert default_interface(tmp_path) is None  # a directory: OSError on read


# ---------------------------------------------------------- interface_speed_mbps


def _iface(sys_net: Path, name: str, speed: str | None = None, rx: str = "0", tx: str = "0"):
    d = sys_net / name
    (d / "statistics").mkdir(parents=True)
    if speed is not None:
        (d / "speed").write_text(speed)
    (d / "statistics" / "rx_bytes").write_text(rx)
    (d / "statistics" / "tx_bytes").write_text(tx)
    return d


@pytest.mark.parametrize(("text", "mbps"), [("1000\n", 1000.0), ("100", 100.0), ("10\n", 10.0)])
def test_interface_speed(tmp_path: Path, text: str, mbps: float) -> None:
    _iface(tmp_path, "eth0", speed=text)
    got = interface_speed_mbps("eth0", tmp_path)
    assert got == mbps
    assert isinstance(got, float)


@pytest.mark.parametrize("text", ["-1\n", "0\n", "", "unknown\n", "1000Mb/s"])
def test_interface_speed_not_reported(tmp_path: Path, text: str) -> None:
    _iface(tmp_path, "wlan0", speed=text)
    assert interface_speed_mbps("wlan0", tmp_path) is None


def test_interface_speed_missing_file_or_interface(tmp_path: Path) -> None:
    _iface(tmp_path, "veth0", speed=None)
    assert interface_speed_mbps("veth0", tmp_path) is None
    assert interface_speed_mbps("eth9", tmp_path) is None


def test_interface_speed_unreadable(tmp_path: Path) -> None:
    d = _iface(tmp_path, "eth0", speed=None)
    (d / "speed").mkdir()  # reading a directory raises OSError, as a down link's speed does
    assert interface_speed_mbps("eth0", tmp_path) is None


# ----------------------------------------------------------------- line_activity


def _write_counters(d: Path, rx: int, tx: int) -> None:
    (d / "statistics" / "rx_bytes").write_text(f"{rx}\n")
    (d / "statistics" / "tx_bytes").write_text(f"{tx}\n")


def test_line_activity_counts_both_directions_with_a_fake_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _iface(tmp_path, "eth0", rx="1000\n", tx="500\n")
    clock = iter([10.0, 10.5])
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        _write_counters(d, 1000 + 100_000, 500 + 25_000)

    monkeypatch.setattr(pacing, "time", SimpleNamespace(sleep=sleep, monotonic=lambda: next(clock)))
    act = line_activity("eth0", window_s=0.5, sys_net=tmp_path)
    assert slept == [0.5]
    # 125 000 bytes in 0.5 s = 2 000 kbit/s
    assert act == Activity("eth0", pytest.approx(2000.0))


def test_line_activity_with_traffic_during_the_window(tmp_path: Path) -> None:
    d = _iface(tmp_path, "eth0", rx="5000000\n", tx="7000000\n")
    window = 0.2
    delta_rx, delta_tx = 20_000, 5_000  # 250 000 bits in the window

    def traffic() -> None:
        time.sleep(0.08)
        _write_counters(d, 5_000_000 + delta_rx, 7_000_000 + delta_tx)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        act = line_activity("eth0", window_s=window, sys_net=tmp_path)
    finally:
        worker.join()
    assert act is not None
    assert act.iface == "eth0"
    expected = (delta_rx + delta_tx) * 8 / 1000 / window  # 1 250 kbit/s
    assert 0.6 * expected <= act.kbps <= expected * 1.001


def test_line_activity_idle_line(tmp_path: Path) -> None:
    _iface(tmp_path, "eth0", rx="123456\n", tx="654321\n")
    act = line_activity("eth0", window_s=0.05, sys_net=tmp_path)
    assert act == Activity("eth0", 0.0)


def test_line_activity_missing_interface(tmp_path: Path) -> None:
    assert line_activity("eth9", window_s=0.01, sys_net=tmp_path) is None


@pytest.mark.parametrize(("rx", "tx"), [("garbage", "0"), ("0", ""), ("12.5", "0")])
def test_line_activity_unparsable_counters(tmp_path: Path, rx: str, tx: str) -> None:
    _iface(tmp_path, "eth0", rx=rx, tx=tx)
    assert line_activity("eth0", window_s=0.01, sys_net=tmp_path) is None


def test_line_activity_counter_missing(tmp_path: Path) -> None:
    d = _iface(tmp_path, "eth0")
    (d / "statistics" / "tx_bytes").unlink()
    assert line_activity("eth0", window_s=0.01, sys_net=tmp_path) is None


def test_line_activity_counters_vanish_during_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interface goes away mid-window (a USB adapter pulled): None, no exception."""
    d = _iface(tmp_path, "eth1", rx="10\n", tx="10\n")

    def sleep(_s: float) -> None:
        (d / "statistics" / "rx_bytes").unlink()

    monkeypatch.setattr(pacing, "time", SimpleNamespace(sleep=sleep, monotonic=time.monotonic))
    assert line_activity("eth1", window_s=0.2, sys_net=tmp_path) is None
