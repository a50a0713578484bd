"""One room's summary of one meeting: pure, messages in, a JSON-ready dict out.

Verdicts, not raw numbers, say whether a window was bad (DESIGN: everything is
derived from verdicts); the figures are there for the person who calls the ISP.
The summary is stored as it is returned here, and the page, the console and the
monthly report read it back, so its keys are a stored format: add, do not rename.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from roomprobe.contract import utc_iso

from ..faults import clears, is_audio, standing
from ..schedule import Meeting
from .describe import overall
from .records import (
    MARGIN,
    MIN_SILENCE,
    NONE,
    NOT_READY,
    READY,
    UNKNOWN,
    Event,
    Msg,
    Room,
    actor_of,
    file_message,
)

DEFAULT_INTERVAL_S = 60.0  # the probes' default monitor window, when none is stored


def summarize_room(
    site: str,
    name: str,
    meeting: Meeting,
    until: datetime,
    messages: Iterable[Msg],
    skipped: int = 0,
) -> dict[str, Any]:
    """What one room's probe said about ``meeting`` up to ``until`` (its end, or now)."""
    room = Room(site, name, meeting, until, skipped)
    for m in sorted(messages, key=lambda m: m.ts):
        try:
            file_message(room, m)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            room.skipped += 1  # a payload the summary cannot read: leave it out
    sizes = [w.size_s for w in room.windows if w.size_s > 0]
    interval = statistics.median(sizes) if sizes else DEFAULT_INTERVAL_S
    threshold = max(timedelta(seconds=2 * interval), MIN_SILENCE)
    line = _line(room, threshold)
    audio = _audio(room)
    coverage = _coverage(room, interval, threshold)
    summary: dict[str, Any] = {
        "site": site,
        "name": name,
        "readiness": _readiness(room),
        "line": line,
        "audio": audio,
        "events": _events(room),
        "coverage": coverage,
        "skipped": room.skipped,
    }
    summary["trouble"] = bool(
        line["bad"]
        or audio["count"]
        or audio["other"]
        or coverage["silent_s"]
        or coverage["offline_s"]
    )
    summary["overall"] = {lang: overall(summary, i) for i, lang in enumerate(("vi", "en"))}
    return summary


def _readiness(room: Room) -> dict[str, Any]:
    if not room.runs:
        return {"state": NONE, "at": None, "runs": 0, "message": None, "actors": [], "parts": {}}
    last = room.runs[-1]
    wanted = {NOT_READY: ("fail",), UNKNOWN: ("unknown",)}.get(last.state, ())
    actors = [last.actor] + [v["actor"] for v in last.parts.values() if v["status"] in wanted]
    return {
        "state": last.state,
        "at": utc_iso(last.ts),
        "runs": len(room.runs),
        "message": last.message,
        "actors": [a for a in dict.fromkeys(actors) if a] if last.state != READY else [],
        "parts": last.parts,
    }


def _spread(values: Sequence[float], digits: int = 1) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values), digits), "worst": round(max(values), digits)}


def _line(room: Room, threshold: timedelta) -> dict[str, Any]:
    """The light probes' windows during the meeting, judged by the probe's own verdicts."""
    ws = room.windows
    by_status = {s: sum(1 for w in ws if w.status == s) for s in ("ok", "degraded", "fail")}
    by_status["unknown"] = len(ws) - sum(by_status.values())
    reasons: dict[str, dict[str, Any]] = {}
    for w in ws:
        if w.status in ("degraded", "fail"):
            entry = reasons.setdefault(
                w.reason, {"reason": w.reason, "count": 0, "actor": w.actor, "message": w.message}
            )
            entry["count"] += 1
    rtt = _spread([w.rtt for w in ws])
    if rtt is not None:
        rtt["worst"] = round(max(w.rtt_p95 for w in ws), 1)  # the worst window's 95th percentile
    mos = [w.mos for w in ws if w.mos is not None]
    level = [w.level for w in ws if w.level is not None]
    return {
        "windows": len(ws),
        **by_status,
        "bad": by_status["degraded"] + by_status["fail"],
        "rtt_ms": rtt,
        "jitter_ms": _spread([w.jitter for w in ws]),
        "loss_pct": _spread([w.loss for w in ws], digits=2),
        "mos": (
            {"median": round(statistics.median(mos), 2), "lowest": round(min(mos), 2)}
            if mos
            else None
        ),
        "audio_rms_dbfs": (
            {"median": round(statistics.median(level), 1), "max": round(max(level), 1)}
            if level
            else None
        ),
        "reasons": sorted(reasons.values(), key=lambda r: -r["count"]),
        # Delivered well after they were measured: the probe's outbox after an outage.
        "late": sum(1 for w in ws if w.received - w.ts > threshold),
    }


def _audio(room: Room) -> dict[str, Any]:
    """Faults the probe reported during the meeting, and those standing at its start; the
    passive watch's own counts over the monitor windows."""
    faults = [_fault(ev, before=True) for ev in _standing(room)]
    open_faults = {f["reason"]: f for f in faults}
    for ev in room.events:
        if ev.event == "fault":
            f = _fault(ev, before=False)
            faults.append(f)
            open_faults[f["reason"]] = f
        elif ev.event == "fault_cleared":
            cleared = ev.details.get("cleared")
            for reason, f in list(open_faults.items()):
                if clears(cleared, reason if f["named"] else None):
                    f["cleared_at"] = utc_iso(ev.ts)
                    del open_faults[reason]
    seen = [w.watch for w in room.windows if w.watch is not None]
    watch = None
    if seen:
        watch = {
            "windows": len(seen),
            "clip_events": int(sum(w["clip_events"] for w in seen)),
            "dropouts": int(sum(w["dropouts"] for w in seen)),
            "hum_windows": int(sum(w["hum"] for w in seen)),
            "feedback_s": round(sum(w["feedback_s"] for w in seen), 1),
            "speech_s": round(sum(w["speech_s"] for w in seen), 1),
        }
    audio_faults = [f for f in faults if is_audio(f)]  # f["check"]: the event's, or "audio"
    return {
        "faults": faults,
        "count": len(audio_faults),
        "other": len(faults) - len(audio_faults),
        "watch": watch,
    }


def _fault(ev: Event, before: bool) -> dict[str, Any]:
    reason = ev.details.get("reason")
    return {
        "at": utc_iso(ev.ts),
        "reason": str(reason or f"#{ev.boot[:8]}-{ev.seq}"),
        "named": bool(reason),
        "check": str(ev.details.get("check") or "audio"),
        "status": str(ev.details.get("status") or "fail"),
        "actor": actor_of(ev.details.get("actor")),
        "message": ev.message,
        "before_start": before,
        "cleared_at": None,
    }


def _standing(room: Room) -> list[Event]:
    """Faults raised before the start in the boot the probe was in then, not cleared since,
    by the rule the alert watcher follows (``faults.standing``); a reboot ends them all."""
    before = [m for m in room.durable if m.ts < room.meeting.start]
    if not before:
        return []
    boot = before[-1].boot
    return standing((ev.event, ev.details, ev) for ev in room.events_before if ev.boot == boot)


def _events(room: Room) -> dict[str, list[dict[str, Any]]]:
    mode, skipped = [], []
    for ev in room.events:
        if ev.event == "meeting_mode":
            mode.append(
                {
                    "at": utc_iso(ev.ts),
                    "on": bool(ev.details.get("on")),
                    "source": ev.details.get("source"),
                }
            )
        elif ev.event == "test_skipped":
            skipped.append(
                {
                    "at": utc_iso(ev.ts),
                    "test": ev.details.get("test"),
                    "reason": ev.details.get("reason"),
                    "message": ev.message,
                }
            )
    return {"meeting_mode": mode, "test_skipped": skipped}


def _gaps(
    spans: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime, threshold: timedelta
) -> list[dict[str, Any]]:
    """The parts of [start, end] longer than ``threshold`` that no (from, to) span covers."""
    if end <= start:
        return []
    out = []
    reached = start
    for a, b in sorted(spans):
        if b < start:
            continue
        if a > end:
            break
        if a - reached > threshold:
            out.append((reached, a))
        reached = max(reached, b)
    if end - reached > threshold:
        out.append((reached, end))
    return [
        {"from": utc_iso(a), "to": utc_iso(b), "s": round((b - a).total_seconds())} for a, b in out
    ]


def _coverage(room: Room, interval: float, threshold: timedelta) -> dict[str, Any]:
    """Silences (nothing measured), spans the hub heard nothing live, missing seq numbers."""
    start, until = room.meeting.start, room.until
    measured = [(m.ts, m.ts) for m in room.durable] + [(w.began, w.ts) for w in room.windows]
    silent = _gaps(measured, start, until, threshold)
    offline = _gaps([(t, t) for t in room.heard], start, until, threshold)
    missing = 0
    last: dict[str, int] = {}
    for m in sorted(room.durable, key=lambda m: (m.boot, m.seq)):
        if m.ts < start - MARGIN:
            continue  # the day before is read for readiness runs and faults only
        if m.boot in last and m.seq > last[m.boot] + 1:
            missing += m.seq - last[m.boot] - 1
        last[m.boot] = m.seq
    return {
        "interval_s": interval,
        "threshold_s": threshold.total_seconds(),
        "silent": silent,
        "silent_s": sum(g["s"] for g in silent),
        "offline": offline,
        "offline_s": sum(g["s"] for g in offline),
        "missing": missing,
    }
