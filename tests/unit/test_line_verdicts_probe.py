"""verdicts.net(): when the probe itself (its port or its CPU) limits the throughput."""

from __future__ import annotations

from typing import Any

import pytest

from roomprobe import verdicts
from roomprobe.config import Thresholds

T = Thresholds()
NEED = max(T.download_mbps, T.upload_mbps)


def metrics(**changes: Any) -> dict[str, Any]:
    """A good line test, as the line worker reports it (probe figures included)."""
    m = {
        "download_mbps": 93.0,
        "upload_mbps": 91.0,
        "rtt_ms": 24.0,
        "jitter_ms": 2.0,
        "loss_pct": 0.0,
        "gateway_rtt_ms": 0.8,
        "gateway_loss_pct": 0.0,
        "interface_mbps": 1000.0,
        "probe_cpu_pct": 35.0,
    }
    m.update(changes)
    return m


def reasons(v: verdicts.Verdict) -> tuple[str, str, str | None]:
    return v.status, v.reason, v.actor


def test_defaults_used_here() -> None:
    # the cases below are built around these defaults
    assert (T.download_mbps, T.upload_mbps, T.probe_cpu_limit_pct) == (50.0, 50.0, 90.0)
    assert (T.rtt_ms, T.degraded_margin_pct) == (100.0, 20.0)


def test_good_line_is_ok() -> None:
    assert reasons(verdicts.net(metrics(), T)) == ("ok", "net.ok", None)


# ------------------------------------------------------------ slow probe interface


@pytest.mark.parametrize(
    ("down", "up"), [(9.4, 91.0), (91.0, 9.4), (9.4, 9.3), (45.0, 91.0), (91.0, 30.0)]
)
def test_slow_interface_explains_short_throughput(down: float, up: float) -> None:
    v = verdicts.net(metrics(download_mbps=down, upload_mbps=up, interface_mbps=10.0), T)
    assert reasons(v) == ("fail", "net.probe_interface_slow", "probe")
    assert v.check == "net"
    assert "10" in v.message["en"] and "50" in v.message["en"]


def test_slow_interface_limit_is_the_larger_threshold() -> None:
    t = Thresholds(download_mbps=50.0, upload_mbps=20.0)
    # a 40 Mbps port cannot measure a 50 Mbps download requirement
    v = verdicts.net(metrics(download_mbps=38.0, upload_mbps=38.0, interface_mbps=40.0), t)
    assert reasons(v) == ("fail", "net.probe_interface_slow", "probe")
    t2 = Thresholds(download_mbps=20.0, upload_mbps=50.0)
    v2 = verdicts.net(metrics(download_mbps=38.0, upload_mbps=38.0, interface_mbps=40.0), t2)
    assert reasons(v2) == ("fail", "net.probe_interface_slow", "probe")


def test_interface_at_the_requirement_is_not_slow() -> None:
    v = verdicts.net(metrics(download_mbps=30.0, interface_mbps=NEED), T)
    assert reasons(v) == ("fail", "net.download_low", "isp")


def test_fast_interface_short_throughput_blames_the_isp() -> None:
    v = verdicts.net(metrics(download_mbps=30.0, interface_mbps=100.0), T)
    assert reasons(v) == ("fail", "net.download_low", "isp")
    v = verdicts.net(metrics(upload_mbps=45.0, interface_mbps=100.0), T)
    assert reasons(v) == ("degraded", "net.upload_low", "isp")


def test_slow_interface_not_reported_when_throughput_is_fine() -> None:
    # the throughput meets the requirement: whatever the port reports, nothing to say
    v = verdicts.net(metrics(download_mbps=60.0, upload_mbps=55.0, interface_mbps=10.0), T)
    assert reasons(v) == ("ok", "net.ok", None)


def test_unknown_interface_speed_is_ignored() -> None:
    v = verdicts.net(metrics(download_mbps=30.0, interface_mbps=None), T)
    assert reasons(v) == ("fail", "net.download_low", "isp")


# ----------------------------------------------------------------- probe CPU limit


@pytest.mark.parametrize("cpu", [90.0, 97.5, 100.0])
def test_busy_cpu_explains_short_throughput(cpu: float) -> None:
    v = verdicts.net(metrics(download_mbps=30.0, probe_cpu_pct=cpu), T)
    assert reasons(v) == ("degraded", "net.probe_cpu_limited", "probe")
    assert f"{cpu:.0f}" in v.message["en"]


def test_cpu_just_below_the_limit_is_not_the_probe() -> None:
    v = verdicts.net(metrics(download_mbps=30.0, probe_cpu_pct=89.9), T)
    assert reasons(v) == ("fail", "net.download_low", "isp")


def test_cpu_limit_follows_the_threshold() -> None:
    t = Thresholds(probe_cpu_limit_pct=70.0)
    v = verdicts.net(metrics(upload_mbps=20.0, probe_cpu_pct=75.0), t)
    assert reasons(v) == ("degraded", "net.probe_cpu_limited", "probe")
    assert reasons(verdicts.net(metrics(upload_mbps=20.0, probe_cpu_pct=75.0), T)) == (
        "fail",
        "net.upload_low",
        "isp",
    )


def test_busy_cpu_not_reported_when_throughput_is_fine() -> None:
    v = verdicts.net(metrics(probe_cpu_pct=100.0), T)
    assert reasons(v) == ("ok", "net.ok", None)


def test_unknown_cpu_is_ignored() -> None:
    v = verdicts.net(metrics(download_mbps=30.0, probe_cpu_pct=None), T)
    assert reasons(v) == ("fail", "net.download_low", "isp")


def test_slow_interface_beats_busy_cpu() -> None:
    v = verdicts.net(metrics(download_mbps=9.0, interface_mbps=10.0, probe_cpu_pct=99.0), T)
    assert reasons(v) == ("fail", "net.probe_interface_slow", "probe")


# ------------------------------------------- the ISP is not blamed for throughput


@pytest.mark.parametrize(
    "probe", [{"interface_mbps": 10.0}, {"probe_cpu_pct": 95.0}], ids=["port", "cpu"]
)
def test_isp_not_blamed_for_throughput_when_the_probe_limits(probe: dict[str, float]) -> None:
    """Even a throughput far below the requirement is not the ISP's then."""
    v = verdicts.net(metrics(download_mbps=5.0, upload_mbps=5.0, **probe), T)
    assert v.actor == "probe"
    assert v.reason not in ("net.download_low", "net.upload_low")


def test_bad_latency_is_still_the_isps_over_a_busy_cpu() -> None:
    # latency fail (150 > 120) beats the degraded CPU verdict
    v = verdicts.net(metrics(download_mbps=30.0, probe_cpu_pct=95.0, rtt_ms=150.0), T)
    assert reasons(v) == ("fail", "net.latency_high", "isp")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"rtt_ms": 150.0}, "net.latency_high"),
        ({"jitter_ms": 60.0}, "net.jitter_high"),
        ({"loss_pct": 5.0}, "net.loss_high"),
    ],
)
def test_failing_quality_beats_a_busy_cpu(changes: dict[str, float], reason: str) -> None:
    v = verdicts.net(metrics(download_mbps=30.0, probe_cpu_pct=95.0, **changes), T)
    assert reasons(v) == ("fail", reason, "isp")


def test_degraded_latency_ties_with_busy_cpu_and_the_probe_comes_first() -> None:
    # both degraded: among equals the first checked (the probe's limit) names the verdict
    v = verdicts.net(metrics(download_mbps=30.0, probe_cpu_pct=95.0, rtt_ms=110.0), T)
    assert reasons(v) == ("degraded", "net.probe_cpu_limited", "probe")


def test_bad_latency_with_slow_interface() -> None:
    # both fail: the probe's port is checked first
    v = verdicts.net(metrics(download_mbps=9.0, interface_mbps=10.0, rtt_ms=300.0), T)
    assert reasons(v) == ("fail", "net.probe_interface_slow", "probe")


def test_bad_latency_with_fine_throughput_and_busy_cpu() -> None:
    v = verdicts.net(metrics(probe_cpu_pct=100.0, rtt_ms=150.0), T)
    assert reasons(v) == ("fail", "net.latency_high", "isp")


# --------------------------------------------------------------- the LAN first


@pytest.mark.parametrize(
    "probe", [{"interface_mbps": 10.0}, {"probe_cpu_pct": 95.0}], ids=["port", "cpu"]
)
def test_lan_fault_comes_first(probe: dict[str, float]) -> None:
    v = verdicts.net(metrics(download_mbps=9.0, gateway_loss_pct=10.0, **probe), T)
    assert reasons(v) == ("fail", "net.lan_fault", "room-lan")


def test_lan_fault_with_fine_throughput() -> None:
    v = verdicts.net(metrics(gateway_loss_pct=10.0, interface_mbps=10.0, probe_cpu_pct=99.0), T)
    assert reasons(v) == ("fail", "net.lan_fault", "room-lan")


# ------------------------------------------------- metrics without the new keys


def _old(**changes: Any) -> dict[str, Any]:
    m = metrics(**changes)
    del m["interface_mbps"], m["probe_cpu_pct"]
    return m


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ("ok", "net.ok", None)),
        ({"download_mbps": 30.0}, ("fail", "net.download_low", "isp")),
        ({"download_mbps": 45.0}, ("degraded", "net.download_low", "isp")),
        ({"upload_mbps": 10.0}, ("fail", "net.upload_low", "isp")),
        ({"rtt_ms": 150.0}, ("fail", "net.latency_high", "isp")),
        ({"download_mbps": 45.0, "rtt_ms": 150.0}, ("fail", "net.latency_high", "isp")),
        ({"gateway_loss_pct": 10.0, "download_mbps": 5.0}, ("fail", "net.lan_fault", "room-lan")),
    ],
)
def test_metrics_without_probe_keys_behave_as_before(
    changes: dict[str, float], expected: tuple[str, str, str | None]
) -> None:
    assert reasons(verdicts.net(_old(**changes), T)) == expected


def test_metrics_without_gateway_keys() -> None:
    m = _old(download_mbps=30.0)
    del m["gateway_loss_pct"], m["gateway_rtt_ms"]
    assert reasons(verdicts.net(m, T)) == ("fail", "net.download_low", "isp")
    m["probe_cpu_pct"] = 95.0
    assert reasons(verdicts.net(m, T)) == ("degraded", "net.probe_cpu_limited", "probe")


def test_verdict_serialises() -> None:
    v = verdicts.net(metrics(download_mbps=9.0, interface_mbps=10.0), T)
    d = v.to_dict()
    assert d["check"] == "net"
    assert d["status"] == "fail"
    assert d["actor"] == "probe"
    assert d["reason"] == "net.probe_interface_slow"
    assert set(d["message"]) >= {"en"}


def test_low_call_quality_is_the_isps_when_nothing_else_explains_it() -> None:
    t = Thresholds()
    metrics = {
        "download_mbps": 90.0, "upload_mbps": 90.0, "rtt_ms": 95.0, "jitter_ms": 25.0,
        "loss_pct": 0.9, "mos": 3.4,
    }  # fmt: skip
    v = verdicts.net(metrics, t)
    assert (v.status, v.reason, v.actor) == ("degraded", "net.mos_low", "isp")
    assert verdicts.net({**metrics, "mos": 4.0}, t).reason == "net.ok"
