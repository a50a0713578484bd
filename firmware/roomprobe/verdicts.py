"""Turning measurements into verdicts: ok, degraded, fail or unknown, and who acts.

Pure functions (metrics and thresholds in, :class:`Verdict` out), so the same
logic judges a simulated room, a live measurement and a replayed result. A
value past its limit is ``degraded``; past the limit by more than
``degraded_margin_pct`` it is ``fail``. When several problems apply, the worst
one names the verdict; among equals, the first in the order checked, which
puts the room's own LAN before the ISP (a LAN fault also spoils every
Internet figure measured through it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .config import Thresholds
from .texts import text

Status = Literal["ok", "degraded", "fail", "unknown"]
Actor = Literal["isp", "room-lan", "room-audio", "probe"] | None
_RANK: dict[str, int] = {"ok": 0, "unknown": 1, "degraded": 2, "fail": 3}


@dataclass(frozen=True)
class Verdict:
    check: str
    status: Status
    reason: str
    message: dict[str, str]
    actor: Actor

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "actor": self.actor,
        }


def make(check: str, status: Status, reason: str, actor: Actor = None, **values: Any) -> Verdict:
    return Verdict(check, status, reason, text(reason, **values), actor)


def unknown(check: str) -> Verdict:
    return make(check, "unknown", f"{check}.unknown")


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most severe verdict; the first of equals."""
    return max(verdicts, key=lambda v: _RANK[v.status])  # max keeps the first of equals


def _severity(value: float, limit: float, margin_pct: float, higher_is_bad: bool) -> Status:
    """ok within the limit, degraded up to margin_pct past it, fail beyond."""
    if higher_is_bad:
        if value <= limit:
            return "ok"
        return "degraded" if value <= limit * (1 + margin_pct / 100) else "fail"
    if value >= limit:
        return "ok"
    return "degraded" if value >= limit * (1 - margin_pct / 100) else "fail"


def _line(
    check: str, metrics: dict[str, Any], t: Thresholds,
    limits: list[tuple[float, float, bool, str]], ok_reason: str,
    probe_limits: list[Verdict] = (),  # type: ignore[assignment]
) -> Verdict:  # fmt: skip
    """Judge line figures: the room's LAN first (it spoils every figure behind it), then the
    probe's own limits, then each (value, limit, higher_is_bad, reason) as the ISP's."""
    found: list[Verdict] = []
    gw_loss = metrics.get("gateway_loss_pct")
    if gw_loss is not None and gw_loss > t.loss_pct:
        sev = _severity(gw_loss, t.loss_pct, t.degraded_margin_pct, higher_is_bad=True)
        found.append(make(check, sev, "net.lan_fault", "room-lan", value=gw_loss))
    found += probe_limits
    for value, limit, higher_is_bad, reason in limits:
        sev = _severity(value, limit, t.degraded_margin_pct, higher_is_bad)
        if sev != "ok":
            found.append(make(check, sev, reason, "isp", value=value, limit=limit))
    return worst(found) if found else make(check, "ok", ok_reason)


def _probe_limits(metrics: dict[str, Any], t: Thresholds) -> list[Verdict]:
    """The probe itself may be why the throughput is short: its link, or its CPU."""
    need = max(t.download_mbps, t.upload_mbps)
    found = []
    iface = metrics.get("interface_mbps")
    if iface is not None and iface < need:
        found.append(
            make("net", "fail", "net.probe_interface_slow", "probe", value=iface, limit=need)
        )
    cpu = metrics.get("probe_cpu_pct")
    if cpu is not None and cpu >= t.probe_cpu_limit_pct:
        found.append(make("net", "degraded", "net.probe_cpu_limited", "probe", value=cpu))
    return found


def net(metrics: dict[str, Any], t: Thresholds) -> Verdict:
    """Verdict of one line test (throughput and quality).

    When the throughput is short and the probe's own link or CPU explains it,
    the probe must act and the ISP is not blamed for the throughput (latency,
    jitter and loss are still the line's).
    """
    quality = [
        (metrics["rtt_ms"], t.rtt_ms, True, "net.latency_high"),
        (metrics["jitter_ms"], t.jitter_ms, True, "net.jitter_high"),
        (metrics["loss_pct"], t.loss_pct, True, "net.loss_high"),
    ]
    if metrics.get("mos") is not None:
        quality.append((metrics["mos"], t.mos_min, False, "net.mos_low"))
    throughput = [
        (metrics["download_mbps"], t.download_mbps, False, "net.download_low"),
        (metrics["upload_mbps"], t.upload_mbps, False, "net.upload_low"),
    ]
    short = any(value < limit for value, limit, _, _ in throughput)
    probe = _probe_limits(metrics, t) if short else []
    limits = quality if probe else throughput + quality
    return _line("net", metrics, t, limits, "net.ok", probe)


def monitor(metrics: dict[str, Any], t: Thresholds) -> Verdict:
    """Verdict of one window of the light continuous probes.

    Loss and jitter are judged on the worst 15-second window where the probes
    give one, as video-call vendors state their limits per 15 s.
    """
    targets = metrics.get("targets") or {}
    main = targets.get("hub") or targets.get("resolver") or {}
    loss = max(metrics["loss_pct"], main.get("worst_15s_loss_pct") or 0.0)
    jitter = max(metrics["jitter_ms"], main.get("worst_15s_jitter_ms") or 0.0)
    limits = [
        (metrics["rtt_ms"]["p95"], t.rtt_ms, True, "net.latency_high"),
        (jitter, t.jitter_ms, True, "net.jitter_high"),
        (loss, t.loss_pct, True, "net.loss_high"),
    ]
    if metrics.get("mos") is not None:
        limits.append((metrics["mos"], t.mos_min, False, "net.mos_low"))
    return _line("monitor", metrics, t, limits, "monitor.ok")


def audio(metrics: dict[str, Any], t: Thresholds) -> Verdict:
    """Verdict of one active audio test."""
    if metrics["level_dbfs"] is None or not metrics["channels_present"]:
        return make("audio", "fail", "audio.no_signal", "room-audio")
    m = t.degraded_margin_pct
    found: list[Verdict] = []
    for value, limit, higher_is_bad, reason in (
        (metrics["level_dbfs"], t.audio_min_level_dbfs, False, "audio.level_low"),
        (metrics["thd_pct"], t.audio_max_thd_pct, True, "audio.distortion"),
        (metrics["snr_db"], t.audio_min_snr_db, False, "audio.noise_high"),
    ):
        if value is None:
            continue
        # dBFS limits are negative: judge the distance below the limit in dB instead of a ratio.
        if reason == "audio.level_low":
            sev: Status = (
                "ok" if value >= limit else ("degraded" if value >= limit - 10 else "fail")
            )
        else:
            sev = _severity(value, limit, m, higher_is_bad)
        if sev != "ok":
            found.append(make("audio", sev, reason, "room-audio", value=value, limit=limit))
    return worst(found) if found else make("audio", "ok", "audio.ok")
