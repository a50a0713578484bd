"""What a room's probe said, read into the records a summary is made of.

Every stored message (``Msg``) goes through ``file_message``, which checks it
against the contract and files it: a readiness run for this meeting, a
monitor window overlapping it, an event before or during it, and whether the
hub heard it live. A payload that does not fit raises; the caller counts it
and goes on, so one bad message never hides a room.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from roomprobe.contract import parse_utc

from ..schedule import Meeting
from .words import ACTORS

MARGIN = timedelta(minutes=15)  # monitor windows straddling the start or end; seq gaps nearby
MIN_SILENCE = timedelta(minutes=2)  # shorter gaps are a late heartbeat, not a silent probe

READY, NOT_READY, UNKNOWN, NONE = "ready", "not-ready", "unknown", "none"
STATES = (NOT_READY, UNKNOWN, NONE, READY)  # the order rooms are listed in: trouble first


@dataclass(frozen=True)
class Msg:
    """One stored message, its payload parsed; ``ts`` is the probe's, ``received`` the hub's."""

    schema: str
    boot: str
    seq: int
    ts: datetime
    received: datetime
    p: dict[str, Any]


@dataclass(frozen=True)
class MonitorWindow:
    """One monitor window, as the summary needs it."""

    began: datetime
    ts: datetime
    received: datetime
    size_s: float
    status: str
    reason: str
    actor: str | None
    message: dict[str, str]
    rtt: float
    rtt_p95: float
    jitter: float
    loss: float
    mos: float | None
    level: float | None
    watch: dict[str, float] | None


@dataclass(frozen=True)
class Event:
    ts: datetime
    boot: str
    seq: int
    event: str
    details: dict[str, Any]
    message: dict[str, str]


@dataclass(frozen=True)
class ReadinessRun:
    ts: datetime
    state: str
    message: dict[str, str]
    actor: str | None
    parts: dict[str, dict[str, Any]]


@dataclass
class Room:
    site: str
    name: str
    meeting: Meeting
    until: datetime
    skipped: int = 0
    runs: list[ReadinessRun] = field(default_factory=list)
    windows: list[MonitorWindow] = field(default_factory=list)
    events_before: list[Event] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    durable: list[Msg] = field(default_factory=list)  # numbered messages: coverage, seq gaps
    heard: list[datetime] = field(default_factory=list)  # received_at of messages heard live


def _text(message: Any) -> dict[str, str]:
    """A contract text (vi, en), or ValueError."""
    if not isinstance(message, dict) or not all(
        isinstance(message.get(k), str) for k in ("vi", "en")
    ):
        raise ValueError("not a text")
    return {"vi": message["vi"], "en": message["en"]}


def actor_of(value: Any) -> str | None:
    return value if value in ACTORS else None


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def file_message(room: Room, m: Msg) -> None:
    """Read one message into the records the summary is made of; raise on a payload that
    does not fit the contract (the caller counts it and goes on)."""
    start, until = room.meeting.start, room.until
    live = start - MARGIN <= m.received <= until + MARGIN
    if m.schema == "roomprobe.status":
        # Heartbeats go straight to the link: a status is the probe heard live. A Last Will
        # carries the time the probe connected, so it says nothing about the window.
        if m.p.get("online") is True and live:
            room.heard.append(m.received)
        return
    if live and m.received - m.ts < MIN_SILENCE:
        room.heard.append(m.received)
    room.durable.append(m)
    p = m.p
    if m.schema == "roomprobe.result.readiness":
        if p.get("meeting_id") == room.meeting.id and m.ts <= until:
            verdict = p["verdict"]
            parts = {}
            for part, v in (p.get("parts") or {}).items():
                parts[str(part)] = {
                    "status": str(v["status"]),
                    "reason": str(v["reason"]),
                    "message": _text(v["message"]),
                    "actor": actor_of(v.get("actor")),
                }
            state = p.get("readiness")
            room.runs.append(
                ReadinessRun(
                    m.ts,
                    state if state in (READY, NOT_READY) else UNKNOWN,
                    _text(verdict["message"]),
                    actor_of(verdict.get("actor")),
                    parts,
                )
            )
    elif m.schema == "roomprobe.result.monitor":
        began = parse_utc(p["started_at"]) if p.get("started_at") else m.ts
        if not (began < until and m.ts > start):
            return
        metrics, verdict = p["metrics"], p.get("verdict") or {}
        status = verdict.get("status")
        hub = (metrics.get("targets") or {}).get("hub") or {}
        rtt = metrics["rtt_ms"]
        watch = metrics.get("audio_watch")
        room.windows.append(
            MonitorWindow(
                began=began,
                ts=m.ts,
                received=m.received,
                size_s=float(metrics.get("window_s") or 0),
                status=status if status in ("ok", "degraded", "fail") else "unknown",
                reason=str(verdict.get("reason") or ""),
                actor=actor_of(verdict.get("actor")),
                message=(
                    _text(verdict["message"])
                    if status in ("degraded", "fail")
                    else {"vi": "", "en": ""}
                ),
                rtt=float(rtt["median"]),
                rtt_p95=float(rtt.get("p95", rtt["median"])),
                # The worst 15 s where the probe gives it: vendors state their limits per 15 s.
                jitter=max(
                    float(metrics.get("jitter_ms") or 0), float(hub.get("worst_15s_jitter_ms") or 0)
                ),
                loss=max(
                    float(metrics.get("loss_pct") or 0), float(hub.get("worst_15s_loss_pct") or 0)
                ),
                mos=_opt(metrics.get("mos")),
                level=_opt(metrics.get("audio_rms_dbfs")),
                watch=_watch(watch) if isinstance(watch, dict) else None,
            )
        )
    elif m.schema == "roomprobe.event":
        details = p.get("details") or {}
        if not isinstance(p.get("event"), str) or not isinstance(details, dict):
            raise ValueError("not an event")
        ev = Event(m.ts, m.boot, m.seq, p["event"], details, _text(p["message"]))
        if m.ts < start:
            room.events_before.append(ev)
        elif m.ts <= until:
            room.events.append(ev)


def _watch(w: dict[str, Any]) -> dict[str, float]:
    """The passive audio watch's window (roomprobe.audio.watch.WatchSummary.to_dict)."""
    channels = [c for c in w.get("channels") or [] if isinstance(c, dict)]
    return {
        "clip_events": sum(int(c.get("clip_events") or 0) for c in channels),
        "dropouts": sum(int(c.get("dropouts") or 0) for c in channels),
        "hum": float(any(c.get("hum") for c in channels)),
        "feedback_s": sum(
            float(f.get("seconds") or 0) for c in channels for f in c.get("feedback") or []
        ),
        "speech_s": float(w.get("speech_s") or 0),
    }
