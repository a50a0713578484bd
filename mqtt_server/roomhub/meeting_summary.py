"""After a meeting: what each room's probe saw before and during it, kept in the store.

Issue 8 asks the district to know, after a meeting, which rooms were ready
before it and what went wrong while people met. The probes already publish
everything needed; this module reads it back per meeting and per room:

- **before**: the room's last ``roomprobe.result.readiness`` whose
  ``meeting_id`` is this meeting (state, each part's verdict, who must act), or
  none at all;
- **during** the window [start, end], by the probe's own ``ts`` (results that a
  probe's outbox delivers late after an outage still land in the window they
  were measured in): the light probes' ``roomprobe.result.monitor`` windows
  (how many, how many the probe judged degraded or failing, median and worst
  RTT, jitter and loss, the lowest call quality, the passive audio watch's
  clipping, dropouts, hum and feedback); ``roomprobe.event`` faults (and
  faults already standing at the start), meeting mode and skipped tests;
  silences (no measurement for longer than two monitor windows, at least
  ``MIN_SILENCE``), spans when the hub heard nothing live from the probe
  (``received_at``), windows that arrived late and sequence numbers missing;
- one line per room in Vietnamese and English.

Verdicts, not raw numbers, say whether a window was bad (DESIGN: everything is
derived from verdicts); the figures are there for the person who calls the ISP.

**Stored**, in ``meeting_summaries`` (one row per meeting and room, and one
row with ``site = ''`` for the meeting as a whole), because message retention
deletes the messages the summary is made from, and the summary is what people
look back at. A summary is computed once a meeting has been over for
``GRACE`` (the last monitor windows are still on their way at the end), and
computed again, for ``RECOMPUTE_FOR`` after the end, whenever a message whose
``ts`` falls in the meeting's reach arrives after the last computation: a
probe cut off during the meeting delivers its outbox when its line comes back,
and the summary must then say what really happened. Meetings up to
``BACKFILL`` old that have no summary yet (a hub that was down, a store made
before this table) get one, at most ``MAX_PER_ROUND`` meetings per round.

The :class:`Summarizer` thread does this every ``ROUND_S``. It is its own
thread, not a step of the alert watcher's round, because the summary must be
kept when alerts are switched off (``[alerts] enabled = false``), and a round
of alerts can wait many seconds on a mail server that does not answer, which
the summaries have no reason to share. Hubs sharing a PostgreSQL store may
all compute; the write of one meeting is serialised by a transaction-level
advisory lock (SQLite: ``BEGIN IMMEDIATE``) and a computation never replaces
a newer one, so the result is the same whoever wrote it.

Nothing here may stop the hub: a stored payload that cannot be read is counted
(``skipped``) and left out; a meeting with no room is summarised as such.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from roomprobe.contract import parse_utc, utc_iso

from .database import open_engine
from .schedule import Meeting

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=5)  # a summary is first stored this long after the end
RECOMPUTE_FOR = timedelta(days=1)  # late results change the stored summary until then
BACKFILL = timedelta(days=30)  # older meetings without a summary get one, up to this age
MAX_PER_ROUND = 20  # meetings computed per round: a first round after an upgrade stays short
ROUND_S = 60.0
READINESS_LOOKBACK = timedelta(days=1)  # readiness runs and standing faults looked for this early
MARGIN = timedelta(minutes=15)  # monitor windows straddling the start or end; seq gaps nearby
DEFAULT_INTERVAL_S = 60.0  # the probes' default monitor window, when none is stored
MIN_SILENCE = timedelta(minutes=2)  # shorter gaps are a late heartbeat, not a silent probe
RECHECK_SLACK = timedelta(seconds=30)  # a batch committed while a round was reading
LOCK_KEY = 7242614  # PostgreSQL advisory lock (migrations 7242611, alerts 7242612/3)
MEETING_ROW = ""  # the site of the meeting's own row in meeting_summaries

READY, NOT_READY, UNKNOWN, NONE = "ready", "not-ready", "unknown", "none"
STATES = (NOT_READY, UNKNOWN, NONE, READY)  # the order rooms are listed in: trouble first

# -- words: Vietnamese first, then English (shared/GLOSSARY.md) -----------------------------

#: What a summary says to a person: the overall line, the CLI and the page's cells.
TEXTS: dict[str, tuple[str, str]] = {
    "ready.ready": ("sẵn sàng", "ready"),
    "ready.not-ready": ("chưa sẵn sàng", "not ready"),
    "ready.unknown": ("không kiểm tra được", "could not test"),
    "ready.none": ("không có lần kiểm tra sẵn sàng", "no readiness check"),
    "line.none": (
        "không có số liệu đường truyền trong cuộc họp",
        "no line data during the meeting",
    ),
    "line.fine": ("đường truyền tốt trong cuộc họp", "line fine during the meeting"),
    "line.bad": (
        "đường truyền kém trong {bad}/{n} khoảng đo",
        "line degraded in {bad} of {n} windows",
    ),
    "line.failing": ("{n} khoảng lỗi", "{n} failing"),
    "audio.none": ("không có lỗi âm thanh", "no audio fault"),
    "audio.one": ("1 lỗi âm thanh", "1 audio fault"),
    "audio.many": ("{n} lỗi âm thanh", "{n} audio faults"),
    "other.faults": ("{n} lỗi khác", "{n} other faults"),
    "silent": ("hộp không gửi số liệu {m} phút", "probe silent for {m} min"),
    "offline": ("mất kết nối với máy chủ {m} phút", "cut off from the hub for {m} min"),
    "no_rooms": ("Cuộc họp không có điểm cầu nào", "The meeting has no conference point"),
    # the cells
    "at": ("lúc {time}", "at {time}"),
    "runs": ("{n} lần kiểm tra cho cuộc họp này", "{n} checks for this meeting"),
    "part": ("{part}: {status}", "{part}: {status}"),
    "part.network": ("Đường truyền", "Line"),
    "part.audio": ("Âm thanh", "Audio"),
    "part.system": ("Thiết bị", "Probe"),
    "status.ok": ("Đạt", "OK"),
    "status.degraded": ("Kém", "Degraded"),
    "status.fail": ("Lỗi", "Fail"),
    "status.unknown": ("Chưa rõ", "Unknown"),
    "windows": (
        "{n} khoảng đo: {ok} đạt, {degraded} kém, {fail} lỗi, {unknown} chưa rõ",
        "{n} windows: {ok} OK, {degraded} degraded, {fail} failing, {unknown} unknown",
    ),
    "rtt": (
        "Độ trễ: trung vị {median} ms, xấu nhất {worst} ms",
        "Latency: median {median} ms, worst {worst} ms",
    ),
    "jitter": (
        "Jitter: trung vị {median} ms, xấu nhất {worst} ms",
        "Jitter: median {median} ms, worst {worst} ms",
    ),
    "loss": (
        "Mất gói: trung vị {median}%, xấu nhất {worst}%",
        "Packet loss: median {median}%, worst {worst}%",
    ),
    "mos": (
        "Chất lượng cuộc gọi (MOS): thấp nhất {lowest}, trung vị {median}",
        "Call quality (MOS): lowest {lowest}, median {median}",
    ),
    "reason": ("{count} lần: {message}", "{count} times: {message}"),
    "level": (
        "Mức âm thanh thu được: trung vị {median} dBFS, cao nhất {max} dBFS",
        "Audio level picked up: median {median} dBFS, highest {max} dBFS",
    ),
    "watch": (
        "Theo dõi âm thanh: {clips} lần méo do quá mức, {dropouts} lần mất tiếng, "
        "{hum} khoảng có tiếng ù, {feedback} giây tiếng hú, {speech} giây có người nói",
        "Audio watch: {clips} clipping events, {dropouts} dropouts, {hum} windows with hum, "
        "{feedback} s of howling, {speech} s of speech",
    ),
    "fault": ("{time}: {message}", "{time}: {message}"),
    "fault.before": (
        "có từ trước giờ họp ({time}): {message}",
        "already there at the start ({time}): {message}",
    ),
    "fault.cleared": ("hết lúc {time}", "cleared at {time}"),
    "fault.standing": ("chưa hết khi cuộc họp kết thúc", "still there when the meeting ended"),
    "mode.on": ("{time}: bật chế độ đang họp", "{time}: meeting mode on"),
    "mode.off": ("{time}: tắt chế độ đang họp", "{time}: meeting mode off"),
    "skipped": ("{time}: bỏ qua bài đo: {message}", "{time}: test skipped: {message}"),
    "span": ("{start} – {end} ({m} phút)", "{start} – {end} ({m} min)"),
    "silent.title": ("Hộp không gửi số liệu", "Probe silent"),
    "offline.title": ("Máy chủ không nghe thấy hộp", "The hub heard nothing from the probe"),
    "late": (
        "{n} khoảng đo đến muộn (gửi lại sau khi mất kết nối)",
        "{n} windows arrived late (sent again after an outage)",
    ),
    "missing": (
        "{n} kết quả bị thiếu (số thứ tự không nhận được)",
        "{n} results missing (sequence numbers never received)",
    ),
    "unreadable": ("{n} tin không đọc được, đã bỏ qua", "{n} unreadable messages skipped"),
    "nothing": ("không có", "none"),
    "all_heard": ("Nghe thấy hộp suốt cuộc họp", "The probe was heard throughout"),
}

#: Who must act, short, for the overall line ("not ready (ISP)").
ACTORS: dict[str, tuple[str, str]] = {
    "isp": ("nhà mạng", "ISP"),
    "room-lan": ("mạng nội bộ của xã", "the commune's network"),
    "room-audio": ("loa / micro / âm li", "speakers / microphones / amplifier"),
    "probe": ("hộp kiểm tra", "the probe"),
}

#: The dashboard's words for summaries and the readiness button. They live here, beside
#: the summary's own words, and pages.py adds them to texts.LABELS when it renders.
LABELS: dict[str, tuple[str, str]] = {
    "summary.title": ("Tổng kết cuộc họp", "Meeting summary"),
    "summary.link": ("Tổng kết", "Summary"),
    "summary.upcoming": ("Cuộc họp chưa kết thúc", "Meetings not yet over"),
    "summary.past": ("Cuộc họp đã qua (30 ngày gần đây)", "Past meetings (last 30 days)"),
    "summary.past_none": (
        "Chưa có cuộc họp nào trong 30 ngày qua",
        "No meeting in the last 30 days",
    ),
    "summary.rooms": ("Điểm cầu", "Conference points"),
    "summary.counts": ("Sẵn sàng / chưa / không rõ", "Ready / not ready / unknown"),
    "summary.trouble": ("Có sự cố trong họp", "Trouble during"),
    "summary.not_computed": ("chưa tổng kết", "not summarised yet"),
    "summary.overall": ("Tóm tắt", "In short"),
    "summary.before": ("Sẵn sàng trước giờ họp", "Readiness before the start"),
    "summary.line": ("Đường truyền trong cuộc họp", "Line during the meeting"),
    "summary.audio": ("Âm thanh trong cuộc họp", "Audio during the meeting"),
    "summary.gaps": ("Mất liên lạc, thiếu số liệu", "Silences and gaps"),
    "summary.events": ("Sự kiện khác", "Other events"),
    "summary.who": ("Ai cần xử lý", "Who must act"),
    "summary.state.not-started": (
        "Cuộc họp chưa bắt đầu: chưa có tổng kết. Dưới đây là các lần kiểm tra sẵn sàng đến nay.",
        "The meeting has not started: no summary yet. Below, the readiness checks so far.",
    ),
    "summary.state.in-progress": (
        "Cuộc họp đang diễn ra: chưa có tổng kết. Số liệu dưới đây tính đến lúc này.",
        "The meeting is on: the summary is not ready yet. The figures below are up to now.",
    ),
    "summary.state.provisional": (
        "Cuộc họp vừa kết thúc: tổng kết được lưu sau vài phút. Số liệu dưới đây tính lúc này.",
        "The meeting has just ended: the summary is stored in a few minutes. "
        "The figures below are as of now.",
    ),
    "summary.state.stored": (
        "Tổng kết lưu lúc {at}. Kết quả đến muộn trong 24 giờ sau cuộc họp được tính thêm.",
        "Summary stored at {at}. Results that arrive late, up to 24 hours after the meeting, "
        "are added.",
    ),
    "summary.state.final": ("Tổng kết lưu lúc {at}.", "Summary stored at {at}."),
    "summary.no_meeting": ("Không có cuộc họp này", "No such meeting"),
    "summary.no_rooms": TEXTS["no_rooms"],
    "ready.none": ("Không có lần kiểm tra", "No check"),
    "cmd.ready": ("Kiểm tra sẵn sàng", "Check readiness"),
    "cmd.ready_sent": (
        "Đã gửi lệnh kiểm tra sẵn sàng. Kết quả hiện trên bảng khi hộp kiểm tra xong "
        "(vài phút); hộp từ chối nếu phòng đang họp hoặc có người nói.",
        "Readiness check sent. The result shows on the board when the probe has finished "
        "(a few minutes); the probe refuses while a meeting is on or people are talking.",
    ),
}


def say(key: str, lang: int, **values: Any) -> str:
    """A text of TEXTS in one language (0 Vietnamese, 1 English), its values filled in."""
    return TEXTS[key][lang].format(**values)


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


# -- reading what the probes said -------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    """One stored message, its payload parsed; ``ts`` is the probe's, ``received`` the hub's."""

    schema: str
    boot: str
    seq: int
    ts: datetime
    received: datetime
    p: dict[str, Any]


_WINDOW_SQL = text(
    "SELECT schema, boot_id, seq, ts, received_at, payload FROM messages "
    "WHERE site = :s AND ts >= :a AND ts <= :b ORDER BY ts, id"
)
_EARLY_SQL = text(
    "SELECT schema, boot_id, seq, ts, received_at, payload FROM messages "
    "WHERE site = :s AND ts >= :a AND ts < :b "
    "AND schema IN ('roomprobe.result.readiness', 'roomprobe.event') ORDER BY ts, id"
)


def _read(rows: Iterable[Any]) -> tuple[list[Msg], int]:
    """Parse stored rows; one that cannot be read is counted, never fatal."""
    out, bad = [], 0
    for r in rows:
        try:
            payload = json.loads(r["payload"])
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            out.append(
                Msg(
                    str(r["schema"]),
                    str(r["boot_id"]),
                    int(r["seq"]),
                    parse_utc(r["ts"]),
                    parse_utc(r["received_at"]),
                    payload,
                )
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            bad += 1
    if bad:
        log.warning("meeting summary: %d stored messages could not be read", bad)
    return out, bad


def sites_of(conn: Connection, meeting: Meeting, names: dict[str, str]) -> list[str]:
    """The rooms a meeting concerns: its own list, or every site the hub knows."""
    if meeting.sites:
        return list(dict.fromkeys(meeting.sites))
    known = set(names) | set(conn.execute(text("SELECT site FROM sites")).scalars())
    return sorted(known)


def compute(
    conn: Connection, meeting: Meeting, names: dict[str, str], now: datetime | None = None
) -> dict[str, Any]:
    """The summary of ``meeting`` as the store knows it at ``now`` (a live partial before
    the end): ``{"meeting": ..., "rooms": [...], "counts": ..., "until": ...}``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    until = min(meeting.end, now)
    rooms = []
    for site in sites_of(conn, meeting, names):
        window, bad = _read(
            conn.execute(
                _WINDOW_SQL,
                {"s": site, "a": utc_iso(meeting.start - MARGIN), "b": utc_iso(until + MARGIN)},
            ).mappings()
        )
        early, bad_early = _read(
            conn.execute(
                _EARLY_SQL,
                {
                    "s": site,
                    "a": utc_iso(meeting.start - READINESS_LOOKBACK),
                    "b": utc_iso(meeting.start - MARGIN),
                },
            ).mappings()
        )
        rooms.append(
            summarize_room(
                site, names.get(site, site), meeting, until, early + window, bad + bad_early
            )
        )
    rooms.sort(key=_room_order)
    return {
        "meeting": meeting.item(),
        "computed_at": utc_iso(now),
        "until": utc_iso(until),
        "counts": _counts(rooms),
        "rooms": rooms,
        "skipped": sum(r["skipped"] for r in rooms),
    }


def _room_order(room: dict[str, Any]) -> tuple[int, int, str]:
    """Not ready first, then unknown, no check, ready; trouble during first; then by name."""
    state = room["readiness"]["state"]
    return (
        STATES.index(state) if state in STATES else 0,
        0 if room["trouble"] else 1,
        room["name"],
    )


def _counts(rooms: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts = {state: 0 for state in (READY, NOT_READY, UNKNOWN, NONE)}
    for r in rooms:
        counts[r["readiness"]["state"]] = counts.get(r["readiness"]["state"], 0) + 1
    counts["line_trouble"] = sum(1 for r in rooms if r["line"]["bad"])
    counts["audio_trouble"] = sum(1 for r in rooms if r["audio"]["count"])
    counts["silent"] = sum(1 for r in rooms if r["coverage"]["silent_s"] > 0)
    counts["rooms"] = len(rooms)
    return counts


# -- one room (pure: messages in, a JSON-ready dict out) ------------------------------------


@dataclass(frozen=True)
class _Window:
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
class _Event:
    ts: datetime
    boot: str
    seq: int
    event: str
    details: dict[str, Any]
    message: dict[str, str]


@dataclass(frozen=True)
class _Run:
    ts: datetime
    state: str
    message: dict[str, str]
    actor: str | None
    parts: dict[str, dict[str, Any]]


@dataclass
class _Room:
    site: str
    name: str
    meeting: Meeting
    until: datetime
    skipped: int = 0
    runs: list[_Run] = field(default_factory=list)
    windows: list[_Window] = field(default_factory=list)
    events_before: list[_Event] = field(default_factory=list)
    events: list[_Event] = field(default_factory=list)
    durable: list[Msg] = field(default_factory=list)  # numbered messages: coverage, seq gaps
    heard: list[datetime] = field(default_factory=list)  # received_at of messages heard live


def summarize_room(
    site: str,
    name: str,
    meeting: Meeting,
    until: datetime,
    messages: Iterable[Msg],
    skipped: int = 0,
) -> dict[str, Any]:
    """What one room's probe said about ``meeting`` up to ``until`` (its end, or now)."""
    room = _Room(site, name, meeting, until, skipped)
    for m in sorted(messages, key=lambda m: m.ts):
        try:
            _file(room, m)
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


def _text(message: Any) -> dict[str, str]:
    """A contract text (vi, en), or ValueError."""
    if not isinstance(message, dict) or not all(
        isinstance(message.get(k), str) for k in ("vi", "en")
    ):
        raise ValueError("not a text")
    return {"vi": message["vi"], "en": message["en"]}


def _actor(value: Any) -> str | None:
    return value if value in ACTORS else None


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def _file(room: _Room, m: Msg) -> None:
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
                    "actor": _actor(v.get("actor")),
                }
            state = p.get("readiness")
            room.runs.append(
                _Run(
                    m.ts,
                    state if state in (READY, NOT_READY) else UNKNOWN,
                    _text(verdict["message"]),
                    _actor(verdict.get("actor")),
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
            _Window(
                began=began,
                ts=m.ts,
                received=m.received,
                size_s=float(metrics.get("window_s") or 0),
                status=status if status in ("ok", "degraded", "fail") else "unknown",
                reason=str(verdict.get("reason") or ""),
                actor=_actor(verdict.get("actor")),
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
        ev = _Event(m.ts, m.boot, m.seq, p["event"], details, _text(p["message"]))
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


def _readiness(room: _Room) -> dict[str, Any]:
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


def _line(room: _Room, threshold: timedelta) -> dict[str, Any]:
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


def _audio(room: _Room) -> dict[str, Any]:
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
                if reason == cleared or not f["named"]:
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
    audio_faults = [f for f in faults if f["check"].startswith("audio")]
    return {
        "faults": faults,
        "count": len(audio_faults),
        "other": len(faults) - len(audio_faults),
        "watch": watch,
    }


def _fault(ev: _Event, before: bool) -> dict[str, Any]:
    reason = ev.details.get("reason")
    return {
        "at": utc_iso(ev.ts),
        "reason": str(reason or f"#{ev.boot[:8]}-{ev.seq}"),
        "named": bool(reason),
        "check": str(ev.details.get("check") or "audio"),
        "status": str(ev.details.get("status") or "fail"),
        "actor": _actor(ev.details.get("actor")),
        "message": ev.message,
        "before_start": before,
        "cleared_at": None,
    }


def _standing(room: _Room) -> list[_Event]:
    """Faults raised before the start in the boot the probe was in then, not cleared since.

    A ``fault_cleared`` ends the fault it names (``details.cleared``) and every one that
    names none, as the alert watcher reads them; a reboot ends them all.
    """
    before = [m for m in room.durable if m.ts < room.meeting.start]
    if not before:
        return []
    boot = before[-1].boot
    standing: dict[str, _Event] = {}
    for n, ev in enumerate(e for e in room.events_before if e.boot == boot):
        if ev.event == "fault":
            standing[str(ev.details.get("reason") or f"#{n}")] = ev
        elif ev.event == "fault_cleared":
            cleared = ev.details.get("cleared")
            standing = {
                k: v for k, v in standing.items() if k != cleared and v.details.get("reason")
            }
    return list(standing.values())


def _events(room: _Room) -> dict[str, list[dict[str, Any]]]:
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


def _coverage(room: _Room, interval: float, threshold: timedelta) -> dict[str, Any]:
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


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def overall(room: dict[str, Any], lang: int) -> str:
    """The room in one line: readiness before; the line, audio, silences during."""
    r = room["readiness"]
    words = say(f"ready.{r['state']}", lang)
    if r["state"] in (NOT_READY, UNKNOWN) and r["actors"]:
        words += " (" + ", ".join(ACTORS[a][lang] for a in r["actors"]) + ")"
    parts = [words]
    line = room["line"]
    if not line["windows"]:
        parts.append(say("line.none", lang))
    elif not line["bad"]:
        parts.append(say("line.fine", lang))
    else:
        bad = say("line.bad", lang, bad=line["bad"], n=line["windows"])
        if line["fail"]:
            bad += " (" + say("line.failing", lang, n=line["fail"]) + ")"
        parts.append(bad)
    audio = room["audio"]
    if not audio["count"]:
        parts.append(say("audio.none", lang))
    else:
        parts.append(
            say("audio.one" if audio["count"] == 1 else "audio.many", lang, n=audio["count"])
        )
    if audio["other"]:
        parts.append(say("other.faults", lang, n=audio["other"]))
    cov = room["coverage"]
    if cov["silent_s"]:
        parts.append(say("silent", lang, m=_minutes(cov["silent_s"])))
    if cov["offline_s"] - cov["silent_s"] >= cov["threshold_s"]:
        parts.append(say("offline", lang, m=_minutes(cov["offline_s"] - cov["silent_s"])))
    return "; ".join(parts)


# -- what a person reads: the page's cells and the console --------------------------------


def describe(room: dict[str, Any], lang: int, when: Callable[[str], str]) -> dict[str, list[str]]:
    """The room's summary as lines per column (before, line, audio, gaps, events), in one
    language; ``when`` turns a contract time into the reader's local time."""
    key = "vi" if lang == 0 else "en"
    r = room["readiness"]
    before = [say(f"ready.{r['state']}", lang)]
    if r["at"]:
        before[0] += " · " + say("at", lang, time=when(r["at"]))
        before.append(r["message"][key])
        for part in ("network", "audio", "system"):
            v = r["parts"].get(part)
            if v and v["status"] != "ok":
                before.append(
                    say(
                        "part",
                        lang,
                        part=say(f"part.{part}", lang),
                        status=say(f"status.{v['status']}", lang)
                        if v["status"] in ("ok", "degraded", "fail", "unknown")
                        else v["status"],
                    )
                    + ": "
                    + v["message"][key]
                )
        if r["runs"] > 1:
            before.append(say("runs", lang, n=r["runs"]))
    line_ = room["line"]
    line = []
    if not line_["windows"]:
        line.append(say("line.none", lang))
    else:
        line.append(
            say(
                "windows",
                lang,
                n=line_["windows"],
                ok=line_["ok"],
                degraded=line_["degraded"],
                fail=line_["fail"],
                unknown=line_["unknown"],
            )
        )
        for name, spread in (
            ("rtt", line_["rtt_ms"]),
            ("jitter", line_["jitter_ms"]),
            ("loss", line_["loss_pct"]),
        ):
            if spread:
                digits = 2 if name == "loss" else 1
                line.append(
                    say(
                        name,
                        lang,
                        median=_num(spread["median"], digits),
                        worst=_num(spread["worst"], digits),
                    )
                )
        if line_["mos"]:
            line.append(
                say(
                    "mos",
                    lang,
                    lowest=_num(line_["mos"]["lowest"], 2),
                    median=_num(line_["mos"]["median"], 2),
                )
            )
        for reason in line_["reasons"][:3]:
            line.append(say("reason", lang, count=reason["count"], message=reason["message"][key]))
    audio_ = room["audio"]
    audio = []
    for f in audio_["faults"]:
        if f["before_start"]:
            words = say("fault.before", lang, time=when(f["at"]), message=f["message"][key])
        else:
            words = say("fault", lang, time=when(f["at"]), message=f["message"][key])
        if f["cleared_at"]:
            words += " · " + say("fault.cleared", lang, time=when(f["cleared_at"]))
        else:
            words += " · " + say("fault.standing", lang)
        audio.append(words)
    if not audio_["faults"]:
        audio.append(say("audio.none", lang))
    if line_["audio_rms_dbfs"]:
        audio.append(
            say(
                "level",
                lang,
                median=_num(line_["audio_rms_dbfs"]["median"]),
                max=_num(line_["audio_rms_dbfs"]["max"]),
            )
        )
    if audio_["watch"]:
        w = audio_["watch"]
        audio.append(
            say(
                "watch",
                lang,
                clips=w["clip_events"],
                dropouts=w["dropouts"],
                hum=w["hum_windows"],
                feedback=_num(w["feedback_s"]),
                speech=_num(w["speech_s"], 0),
            )
        )
    cov = room["coverage"]
    gaps = []
    # A silent probe is not heard either: list only the offline spans a silence does not explain.
    slack = timedelta(seconds=cov["threshold_s"])
    silences = [(parse_utc(g["from"]) - slack, parse_utc(g["to"]) + slack) for g in cov["silent"]]
    offline = [g for g in cov["offline"]
               if not any(a <= parse_utc(g["from"]) and parse_utc(g["to"]) <= b
                          for a, b in silences)]  # fmt: skip
    for title, spans in (("silent.title", cov["silent"]), ("offline.title", offline)):
        for g in spans:
            gaps.append(
                say(title, lang)
                + ": "
                + say("span", lang, start=when(g["from"]), end=when(g["to"]), m=_minutes(g["s"]))
            )
    if line_["late"]:
        gaps.append(say("late", lang, n=line_["late"]))
    if cov["missing"]:
        gaps.append(say("missing", lang, n=cov["missing"]))
    if room["skipped"]:
        gaps.append(say("unreadable", lang, n=room["skipped"]))
    if not gaps:
        gaps.append(say("all_heard", lang))
    events = []
    for m in room["events"]["meeting_mode"]:
        events.append(say("mode.on" if m["on"] else "mode.off", lang, time=when(m["at"])))
    for s in room["events"]["test_skipped"]:
        events.append(say("skipped", lang, time=when(s["at"]), message=s["message"][key]))
    return {"before": before, "line": line, "audio": audio, "gaps": gaps, "events": events}


def as_text(summary: dict[str, Any], when: Callable[[str], str]) -> str:
    """The whole summary for the console: Vietnamese, then English."""
    blocks = []
    m = summary["meeting"]
    for lang, key in ((0, "vi"), (1, "en")):
        labels = {k: v[lang] for k, v in LABELS.items()}
        lines = [
            f"{labels['summary.title']}: {m['title']}",
            f"{when(m['start'])} – {when(m['end'])} ({m['id']})",
        ]
        note = labels[f"summary.state.{summary['state']}"].format(
            at=when(summary["computed_at"]) if summary.get("computed_at") else ""
        )
        lines.append(note)
        if not summary["rooms"]:
            lines.append(say("no_rooms", lang))
        for room in summary["rooms"]:
            lines.append("")
            lines.append(f"- {room['name']} ({room['site']}): {room['overall'][key]}")
            cells = describe(room, lang, when)
            for column in ("before", "line", "audio", "gaps", "events"):
                if not cells[column]:
                    continue
                heading = labels[f"summary.{column}"]
                lines.append(f"    {heading}:")
                lines.extend(f"      {line}" for line in cells[column])
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


# -- stored summaries -------------------------------------------------------------------------

_UPSERT = text(
    "INSERT INTO meeting_summaries (meeting_id, site, computed_at, summary) "
    "VALUES (:m, :s, :at, :summary) ON CONFLICT (meeting_id, site) DO UPDATE SET "
    "computed_at = excluded.computed_at, summary = excluded.summary "
    "WHERE meeting_summaries.computed_at <= excluded.computed_at"
)
_DROP_OTHERS = text(
    "DELETE FROM meeting_summaries WHERE meeting_id = :m AND site NOT IN :sites "
    "AND computed_at <= :at"
).bindparams(bindparam("sites", expanding=True))


def save(conn: Connection, summary: dict[str, Any]) -> None:
    """Store one meeting's summary (its own row and a row per room) in ``conn``'s
    transaction; a computation older than the stored one changes nothing."""
    if conn.dialect.name == "postgresql":
        # Hubs sharing the store may write the same meeting at once: one after the other.
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    meeting_id, at = summary["meeting"]["id"], summary["computed_at"]
    own = {k: v for k, v in summary.items() if k != "rooms"}
    rows = [
        {
            "m": meeting_id,
            "s": MEETING_ROW,
            "at": at,
            "summary": json.dumps(own, ensure_ascii=False),
        }
    ]
    rows += [
        {"m": meeting_id, "s": r["site"], "at": at, "summary": json.dumps(r, ensure_ascii=False)}
        for r in summary["rooms"]
    ]
    conn.execute(_UPSERT, rows)
    conn.execute(_DROP_OTHERS, {"m": meeting_id, "sites": [r["s"] for r in rows], "at": at})


def stored(conn: Connection, meeting_id: str) -> dict[str, Any] | None:
    """The stored summary of a meeting, or None; rows that cannot be read are left out."""
    rows = conn.execute(
        text("SELECT site, computed_at, summary FROM meeting_summaries WHERE meeting_id = :m"),
        {"m": meeting_id},
    ).mappings()
    own, rooms = None, []
    for r in rows:
        try:
            value = json.loads(r["summary"])
            if not isinstance(value, dict):
                raise ValueError("not an object")
            if r["site"] == MEETING_ROW:
                value["meeting"]["id"]
                own = value
            else:
                value["readiness"]["state"]
                rooms.append(value)
        except (ValueError, TypeError, KeyError):
            log.warning(
                "meeting %s: the stored summary of %r cannot be read", meeting_id, r["site"]
            )
    if own is None:
        return None
    rooms.sort(key=_room_order)
    return {**own, "rooms": rooms}


def stored_counts(conn: Connection, meeting_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each meeting's own stored row (counts, computed_at), for the meetings page."""
    if not meeting_ids:
        return {}
    rows = conn.execute(
        text(
            "SELECT meeting_id, summary FROM meeting_summaries WHERE site = '' "
            "AND meeting_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": list(meeting_ids)},
    ).mappings()
    out = {}
    for r in rows:
        try:
            value = json.loads(r["summary"])
            out[r["meeting_id"]] = {
                "counts": dict(value["counts"]),
                "computed_at": value["computed_at"],
            }
        except (ValueError, TypeError, KeyError):
            continue
    return out


def find_meeting(conn: Connection, meeting_id: str) -> Meeting | None:
    row = conn.execute(text("SELECT * FROM meetings WHERE id = :id"), {"id": meeting_id})
    found = row.mappings().first()
    return Meeting.of_row(found) if found else None


def state_of(meeting: Meeting, now: datetime, has_stored: bool) -> str:
    """not-started, in-progress, provisional (over, not stored yet), stored (may still
    change with late results), final (over for longer than RECOMPUTE_FOR)."""
    if now < meeting.start:
        return "not-started"
    if now < meeting.end:
        return "in-progress"
    if not has_stored:
        return "provisional"
    return "final" if now - meeting.end > RECOMPUTE_FOR else "stored"


def for_meeting(
    conn: Connection, meeting_id: str, names: dict[str, str], now: datetime | None = None
) -> dict[str, Any] | None:
    """What the page, the API and the console show: the stored summary once there is one,
    else one computed now (a live partial before the end). None: no such meeting."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    meeting = find_meeting(conn, meeting_id)
    kept = stored(conn, meeting_id)
    if meeting is None and kept is None:
        return None
    if kept is not None and (meeting is None or now >= meeting.end):
        if meeting is None:  # removed from the schedule since: the summary stays
            meeting = Meeting.of_row({**_meeting_row(kept["meeting"])})
        return {**kept, "state": state_of(meeting, now, True)}
    assert meeting is not None
    return {**compute(conn, meeting, names, now), "state": state_of(meeting, now, False)}


def _meeting_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "title": item["title"],
        "starts_at": item["start"],
        "ends_at": item["end"],
        "sites": json.dumps(item["sites"]),
    }


# -- which meetings to (re)compute, and the thread -------------------------------------------


def due(conn: Connection, now: datetime, limit: int = MAX_PER_ROUND) -> list[Meeting]:
    """Meetings over for GRACE that have no summary (up to BACKFILL old), or whose stored
    summary is older than a message that belongs in it (up to RECOMPUTE_FOR after the end)."""
    rows = (
        conn.execute(
            text(
                "SELECT m.*, s.computed_at FROM meetings m LEFT JOIN meeting_summaries s "
                "ON s.meeting_id = m.id AND s.site = '' "
                "WHERE m.ends_at <= :due AND m.ends_at > :oldest ORDER BY m.ends_at DESC, m.id"
            ),
            {"due": utc_iso(now - GRACE), "oldest": utc_iso(now - BACKFILL)},
        )
        .mappings()
        .all()
    )
    out = []
    for r in rows:
        if len(out) >= limit:
            break
        try:
            meeting = Meeting.of_row(r)
        except (ValueError, TypeError, KeyError):
            log.warning("meeting %r cannot be read; no summary", r["id"])
            continue
        fresh = r["computed_at"] is None  # never summarised (a hub that was down: backfill)
        if fresh or (now - meeting.end <= RECOMPUTE_FOR and _news(conn, meeting, r["computed_at"])):
            out.append(meeting)
    return out


def _news(conn: Connection, meeting: Meeting, computed_at: str) -> bool:
    """Has a message that belongs in the summary arrived since it was computed?"""
    since = utc_iso(parse_utc(computed_at) - RECHECK_SLACK)
    sql = (
        "SELECT 1 FROM messages WHERE received_at > :since AND ts >= :a AND ts <= :b "
        "AND schema != 'roomprobe.status'"
    )
    params: dict[str, Any] = {
        "since": since,
        "a": utc_iso(meeting.start - READINESS_LOOKBACK),
        "b": utc_iso(meeting.end + GRACE),
    }
    stmt = text(sql + " LIMIT 1")
    if meeting.sites:
        stmt = text(sql + " AND site IN :sites LIMIT 1").bindparams(
            bindparam("sites", expanding=True)
        )
        params["sites"] = list(meeting.sites)
    return conn.execute(stmt, params).first() is not None


class Summarizer:
    """Keeps the stored summaries up to date: ``run_once(now)`` does one round (the tests
    call it with their own time); ``start()`` runs one every ``interval_s`` in a thread."""

    def __init__(self, engine: Engine, names: dict[str, str], interval_s: float = ROUND_S):
        self.engine = engine
        self.names = names
        self.interval_s = interval_s
        # Reads go through a read-only engine on SQLite: the writer BEGINs IMMEDIATE, and
        # a round reading a day of messages must not hold up the consumer's commits.
        self.reader = engine
        if engine.dialect.name == "sqlite":
            self.reader = open_engine(engine.url.render_as_string(hide_password=False), True)
        self.last_round: str | None = None
        self.last_error: str | None = None
        self.computed = 0
        self._round = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: datetime | None = None) -> list[str]:
        """Compute and store what is due at ``now``; the ids of the meetings stored."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        with self._round:
            with self.reader.connect() as conn:
                made = [compute(conn, m, self.names, now) for m in due(conn, now)]
                conn.rollback()
            for summary in made:  # a meeting per transaction: the writer's lock stays short
                with self.engine.begin() as conn:
                    save(conn, summary)
                log.info(
                    "meeting %s summarised (%d rooms)",
                    summary["meeting"]["id"],
                    len(summary["rooms"]),
                )
            self.computed += len(made)
            self.last_round = utc_iso(now)
        return [s["meeting"]["id"] for s in made]

    def start(self) -> Summarizer:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="roomhub-summaries", daemon=True
            )
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # the store away, a bug: log, and try again next round
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("meeting summaries: the round failed")
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began)))

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.reader is not self.engine:
            self.reader.dispose()

    def state(self) -> dict[str, Any]:
        """For /api/health."""
        return {
            "running": self._thread is not None and self._thread.is_alive(),
            "last_round": self.last_round,
            "last_error": self.last_error,
            "computed": self.computed,
        }
