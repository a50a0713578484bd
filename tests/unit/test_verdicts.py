"""Verdicts: status boundaries, who must act, the worst-wins rule, texts."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from roomprobe import verdicts
from roomprobe.config import Thresholds
from roomprobe.contract import Stamp, schema_document, validate
from roomprobe.verdicts import Verdict

T = Thresholds()


def good_net(**changes: Any) -> dict[str, Any]:
    m = {
        "download_mbps": 93.0,
        "upload_mbps": 91.0,
        "rtt_ms": 24.0,
        "jitter_ms": 2.0,
        "loss_pct": 0.0,
        "mos": 4.36,
        "server": "hub.example",
        "bytes_used": 1000,
        "method": "simulated",
        "gateway_rtt_ms": 0.8,
        "gateway_loss_pct": 0.0,
    }
    m.update(changes)
    return m


def good_monitor(p95: float = 31.0, **changes: Any) -> dict[str, Any]:
    m = {
        "window_s": 60,
        "rtt_ms": {"min": 18.1, "median": 22.9, "p95": p95},
        "jitter_ms": 1.7,
        "loss_pct": 0.0,
        "dns_ms": 12.4,
        "audio_rms_dbfs": -62.0,
        "room_active": False,
        "gateway_rtt_ms": 0.8,
        "gateway_loss_pct": 0.0,
    }
    m.update(changes)
    return m


def good_audio(**changes: Any) -> dict[str, Any]:
    m = {
        "level_dbfs": -18.2,
        "noise_floor_dbfs": -71.5,
        "snr_db": 53.3,
        "thd_pct": 0.8,
        "latency_ms": 11.6,
        "channels_present": [0, 1],
    }
    m.update(changes)
    return m


def in_result(kind: str, verdict: Verdict, metrics: dict[str, Any]) -> dict[str, Any]:
    """A result payload of ``kind`` carrying this verdict and metrics (must validate)."""
    body = copy.deepcopy(schema_document(f"roomprobe.result.{kind}")["examples"][0])
    stamp = Stamp("dak-ang", str(uuid.uuid4()), lambda: True)
    payload = stamp.envelope(
        f"roomprobe.result.{kind}",
        1,
        kind=kind,
        started_at=body["started_at"],
        duration_s=1.0,
        simulated=True,
        verdict=verdict.to_dict(),
        metrics=metrics,
    )
    return validate(payload, f"roomprobe.result.{kind}")


def assert_texts(v: Verdict) -> None:
    assert set(v.message) == {"vi", "en"}
    assert v.message["vi"].strip() and v.message["en"].strip()
    assert v.message["vi"] != v.message["en"]
    assert "{" not in v.message["vi"] + v.message["en"]


# -- net: boundaries --------------------------------------------------------------------

# Defaults: 50 Mbps each way, rtt 100 ms, jitter 30 ms, loss 1 %, margin 20 %.
NET_BOUNDARIES = [
    ("download_mbps", 50.0, "ok"),
    ("download_mbps", 49.9, "degraded"),
    ("download_mbps", 40.0, "degraded"),  # exactly 20 % below: still degraded
    ("download_mbps", 39.9, "fail"),
    ("download_mbps", 0.1, "fail"),
    ("upload_mbps", 50.0, "ok"),
    ("upload_mbps", 45.0, "degraded"),
    ("upload_mbps", 40.0, "degraded"),
    ("upload_mbps", 39.99, "fail"),
    ("rtt_ms", 100.0, "ok"),
    ("rtt_ms", 100.1, "degraded"),
    ("rtt_ms", 120.0, "degraded"),  # exactly 20 % above: still degraded
    ("rtt_ms", 120.1, "fail"),
    ("jitter_ms", 30.0, "ok"),
    ("jitter_ms", 30.5, "degraded"),
    ("jitter_ms", 36.0, "degraded"),
    ("jitter_ms", 36.1, "fail"),
    ("loss_pct", 1.0, "ok"),
    ("loss_pct", 1.1, "degraded"),
    ("loss_pct", 1.2, "degraded"),
    ("loss_pct", 1.21, "fail"),
    ("loss_pct", 100.0, "fail"),
]
REASON = {
    "download_mbps": "net.download_low",
    "upload_mbps": "net.upload_low",
    "rtt_ms": "net.latency_high",
    "jitter_ms": "net.jitter_high",
    "loss_pct": "net.loss_high",
}


def test_good_line_is_ok_and_nobody_acts() -> None:
    v = verdicts.net(good_net(), T)
    assert (v.check, v.status, v.reason, v.actor) == ("net", "ok", "net.ok", None)
    assert_texts(v)
    in_result("net", v, good_net())


@pytest.mark.parametrize(("key", "value", "status"), NET_BOUNDARIES)
def test_net_boundaries(key: str, value: float, status: str) -> None:
    metrics = good_net(**{key: value})
    v = verdicts.net(metrics, T)
    assert v.status == status
    assert v.check == "net"
    if status == "ok":
        assert (v.reason, v.actor) == ("net.ok", None)
    else:
        assert (v.reason, v.actor) == (REASON[key], "isp")
    assert_texts(v)
    in_result("net", v, metrics)


@pytest.mark.parametrize(
    ("margin", "value", "status"),
    [
        (0, 50.0, "ok"),
        (0, 49.99, "fail"),  # no margin: any shortfall fails
        (50, 25.0, "degraded"),
        (50, 24.9, "fail"),
        (100, 0.1, "degraded"),
    ],
)
def test_margin_sets_the_degraded_band(margin: float, value: float, status: str) -> None:
    t = Thresholds(degraded_margin_pct=margin)
    assert verdicts.net(good_net(download_mbps=value), t).status == status


def test_thresholds_come_from_the_config() -> None:
    t = Thresholds(download_mbps=100, rtt_ms=20)
    v = verdicts.net(good_net(download_mbps=93.0, rtt_ms=10.0), t)
    assert (v.status, v.reason) == ("degraded", "net.download_low")
    assert "100" in v.message["en"] and "100" in v.message["vi"]
    v = verdicts.net(good_net(download_mbps=100.0, rtt_ms=24.0), t)
    assert (v.status, v.reason) == ("degraded", "net.latency_high")


def test_net_message_carries_the_value_and_the_limit() -> None:
    v = verdicts.net(good_net(download_mbps=47.83), T)
    for lang in ("vi", "en"):
        assert "47.8" in v.message[lang]
        assert "50" in v.message[lang]
    assert "ISP" in v.message["en"]
    assert "nhà mạng" in v.message["vi"]


# -- net: who acts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gw_loss", "status"),
    [(1.1, "degraded"), (1.2, "degraded"), (1.3, "fail"), (3.5, "fail"), (100.0, "fail")],
)
def test_gateway_loss_blames_the_room_lan(gw_loss: float, status: str) -> None:
    v = verdicts.net(good_net(gateway_loss_pct=gw_loss), T)
    assert (v.status, v.reason, v.actor) == (status, "net.lan_fault", "room-lan")
    assert f"{gw_loss:.1f}%" in v.message["en"]
    assert f"{gw_loss:.1f}%" in v.message["vi"]
    assert_texts(v)


@pytest.mark.parametrize("gw_loss", [0.0, 0.5, 1.0, None])
def test_low_or_unmeasured_gateway_loss_is_no_lan_fault(gw_loss: float | None) -> None:
    assert verdicts.net(good_net(gateway_loss_pct=gw_loss), T).status == "ok"


def test_gateway_fields_are_optional() -> None:
    metrics = good_net()
    del metrics["gateway_loss_pct"], metrics["gateway_rtt_ms"]
    assert verdicts.net(metrics, T).status == "ok"


def test_lan_fault_comes_before_the_isp_among_equals() -> None:
    # Every figure failing, the LAN too: the room's own LAN is named first.
    metrics = good_net(
        gateway_loss_pct=5.0, download_mbps=10, upload_mbps=5, rtt_ms=300, jitter_ms=80, loss_pct=6
    )
    v = verdicts.net(metrics, T)
    assert (v.status, v.reason, v.actor) == ("fail", "net.lan_fault", "room-lan")
    # both degraded
    v = verdicts.net(good_net(gateway_loss_pct=1.1, loss_pct=1.1, download_mbps=45), T)
    assert (v.status, v.reason, v.actor) == ("degraded", "net.lan_fault", "room-lan")


def test_worst_wins_over_the_lan() -> None:
    # LAN only degraded, the line failing: the worse problem names the verdict.
    v = verdicts.net(good_net(gateway_loss_pct=1.1, download_mbps=10.0), T)
    assert (v.status, v.reason, v.actor) == ("fail", "net.download_low", "isp")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"download_mbps": 45, "upload_mbps": 45}, "net.download_low"),
        ({"upload_mbps": 45, "rtt_ms": 110}, "net.upload_low"),
        ({"rtt_ms": 110, "jitter_ms": 33, "loss_pct": 1.1}, "net.latency_high"),
        ({"jitter_ms": 33, "loss_pct": 1.1}, "net.jitter_high"),
        # a later fail beats an earlier degraded
        ({"download_mbps": 45, "loss_pct": 5}, "net.loss_high"),
        ({"download_mbps": 45, "jitter_ms": 90}, "net.jitter_high"),
    ],
)
def test_isp_problems_worst_first_then_in_check_order(
    changes: dict[str, float], reason: str
) -> None:
    v = verdicts.net(good_net(**changes), T)
    assert (v.reason, v.actor) == (reason, "isp")


# -- monitor --------------------------------------------------------------------------


def test_good_monitor_window_is_ok() -> None:
    v = verdicts.monitor(good_monitor(), T)
    assert (v.check, v.status, v.reason, v.actor) == ("monitor", "ok", "monitor.ok", None)
    assert_texts(v)
    in_result("monitor", v, good_monitor())


@pytest.mark.parametrize(
    ("metrics", "status", "reason", "actor"),
    [
        (good_monitor(p95=100.0), "ok", "monitor.ok", None),
        (good_monitor(p95=110.0), "degraded", "net.latency_high", "isp"),
        (good_monitor(p95=200.0), "fail", "net.latency_high", "isp"),
        (good_monitor(jitter_ms=36.0), "degraded", "net.jitter_high", "isp"),
        (good_monitor(jitter_ms=40.0), "fail", "net.jitter_high", "isp"),
        (good_monitor(loss_pct=1.2), "degraded", "net.loss_high", "isp"),
        (good_monitor(loss_pct=2.0), "fail", "net.loss_high", "isp"),
        (good_monitor(gateway_loss_pct=1.1), "degraded", "net.lan_fault", "room-lan"),
        (good_monitor(gateway_loss_pct=4.0, loss_pct=5.0), "fail", "net.lan_fault", "room-lan"),
        (good_monitor(gateway_loss_pct=1.1, loss_pct=5.0), "fail", "net.loss_high", "isp"),
        (good_monitor(gateway_loss_pct=None), "ok", "monitor.ok", None),
    ],
)
def test_monitor_verdicts(metrics: dict[str, Any], status: str, reason: str, actor: str) -> None:
    v = verdicts.monitor(metrics, T)
    assert (v.check, v.status, v.reason, v.actor) == ("monitor", status, reason, actor)
    assert_texts(v)
    in_result("monitor", v, metrics)


def test_monitor_judges_the_p95_not_the_median() -> None:
    metrics = good_monitor(p95=130.0)
    metrics["rtt_ms"]["median"] = 50.0
    assert verdicts.monitor(metrics, T).status == "fail"


# -- audio ----------------------------------------------------------------------------


def test_good_audio_is_ok() -> None:
    v = verdicts.audio(good_audio(), T)
    assert (v.check, v.status, v.reason, v.actor) == ("audio", "ok", "audio.ok", None)
    assert_texts(v)
    in_result("audio", v, good_audio())


@pytest.mark.parametrize(
    "metrics",
    [
        good_audio(
            level_dbfs=None, snr_db=None, thd_pct=None, latency_ms=None, channels_present=[]
        ),
        good_audio(level_dbfs=None),
        good_audio(channels_present=[]),
    ],
)
def test_no_signal_is_an_audio_fail_for_the_room(metrics: dict[str, Any]) -> None:
    v = verdicts.audio(metrics, T)
    assert (v.check, v.status, v.reason, v.actor) == (
        "audio",
        "fail",
        "audio.no_signal",
        "room-audio",
    )
    assert_texts(v)
    in_result("audio", v, metrics)


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        # level: limit -40 dBFS, degraded up to 10 dB below it
        ({"level_dbfs": -40.0}, "ok", "audio.ok"),
        ({"level_dbfs": -40.1}, "degraded", "audio.level_low"),
        ({"level_dbfs": -50.0}, "degraded", "audio.level_low"),
        ({"level_dbfs": -50.1}, "fail", "audio.level_low"),
        # distortion: limit 3 %, 20 % margin
        ({"thd_pct": 3.0}, "ok", "audio.ok"),
        ({"thd_pct": 3.1}, "degraded", "audio.distortion"),
        ({"thd_pct": 3.59}, "degraded", "audio.distortion"),
        ({"thd_pct": 3.7}, "fail", "audio.distortion"),
        # signal-to-noise: limit 30 dB, 20 % margin
        ({"snr_db": 30.0}, "ok", "audio.ok"),
        ({"snr_db": 29.0}, "degraded", "audio.noise_high"),
        ({"snr_db": 24.5}, "degraded", "audio.noise_high"),
        ({"snr_db": 23.9}, "fail", "audio.noise_high"),
        # missing figures are skipped, not failed
        ({"thd_pct": None, "snr_db": None, "latency_ms": None}, "ok", "audio.ok"),
        # worst wins; among equals the level is named first
        ({"level_dbfs": -45.0, "thd_pct": 5.0}, "fail", "audio.distortion"),
        ({"level_dbfs": -45.0, "thd_pct": 3.2, "snr_db": 25}, "degraded", "audio.level_low"),
        ({"thd_pct": 3.2, "snr_db": 10}, "fail", "audio.noise_high"),
    ],
)
def test_audio_boundaries(changes: dict[str, Any], status: str, reason: str) -> None:
    metrics = good_audio(**changes)
    v = verdicts.audio(metrics, T)
    assert (v.status, v.reason) == (status, reason)
    assert v.actor == (None if status == "ok" else "room-audio")
    assert_texts(v)
    in_result("audio", v, metrics)


def test_audio_message_carries_value_and_limit() -> None:
    v = verdicts.audio(good_audio(thd_pct=4.25), T)
    for lang in ("vi", "en"):
        assert "4.2" in v.message[lang] or "4.3" in v.message[lang]
        assert "3.0%" in v.message[lang]


# -- helpers --------------------------------------------------------------------------


@pytest.mark.parametrize("check", ["net", "audio"])
def test_unknown(check: str) -> None:
    v = verdicts.unknown(check)
    assert (v.check, v.status, v.reason, v.actor) == (check, "unknown", f"{check}.unknown", None)
    assert_texts(v)


def _v(status: str, reason: str = "net.ok") -> Verdict:
    return verdicts.make("net", status, reason)  # type: ignore[arg-type]


def test_worst_ranks_fail_over_degraded_over_unknown_over_ok() -> None:
    ok, unknown, degraded, fail = _v("ok"), _v("unknown", "net.unknown"), _v("degraded"), _v("fail")
    assert verdicts.worst([ok, unknown]) is unknown
    assert verdicts.worst([unknown, degraded, ok]) is degraded
    assert verdicts.worst([ok, fail, degraded, unknown]) is fail
    assert verdicts.worst([ok]) is ok


def test_worst_keeps_the_first_of_equals() -> None:
    a = verdicts.make("net", "degraded", "net.lan_fault", "room-lan", value=2.0)
    b = verdicts.make("net", "degraded", "net.download_low", "isp", value=45.0, limit=50.0)
    assert verdicts.worst([a, b]) is a
    assert verdicts.worst([b, a]) is b


def test_make_fills_the_texts_and_to_dict_is_a_contract_verdict() -> None:
    v = verdicts.make("net", "fail", "net.upload_low", "isp", value=12.34, limit=50)
    assert v.to_dict() == {
        "check": "net",
        "status": "fail",
        "reason": "net.upload_low",
        "message": v.message,
        "actor": "isp",
    }
    assert "12.3" in v.message["en"] and "12.3" in v.message["vi"]
    in_result("net", v, good_net(upload_mbps=12.34))


def test_make_with_an_unknown_reason_fails_loudly() -> None:
    with pytest.raises(KeyError, match=r"net\.mystery"):
        verdicts.make("net", "fail", "net.mystery", "isp")


def test_verdicts_are_comparable_values() -> None:
    assert verdicts.net(good_net(), T) == verdicts.net(good_net(), T)
    assert verdicts.net(good_net(), T) != verdicts.net(good_net(download_mbps=1), T)
