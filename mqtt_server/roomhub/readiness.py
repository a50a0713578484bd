"""Is a room ready for its next meeting? The hub's one answer, for the board and alerts.

A room is judged from what its probe last said: a readiness result for this
meeting when the probe ran one (issue 8's readiness runs), otherwise the
verdicts of its latest status. The rules, in order:

- no status ever, or offline: **unknown** (we cannot see the room; the box's
  power or the commune's network is the first thing to check: district IT);
- a status older than ``stale_after``: **unknown** (the probe stopped talking);
- from the meeting's first readiness lead time on (``[meetings] readiness_lead_s``),
  a room whose probe has not yet published a readiness run for this meeting and
  whose status shows no fault: **unknown** ("checking" while a run can still be
  under way, then "no check"): its status says nothing failed, not that the room
  works; before that time the latest status stands in, as a preview;
- any part failing: **not ready**, with each failing part's reason and actor;
- a part whose status is unknown (a test could not run yet): **unknown**;
- otherwise **ready**; degraded parts are listed as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from roomprobe.contract import parse_utc

PARTS = ("network", "audio", "system")
READY, NOT_READY, UNKNOWN = "ready", "not-ready", "unknown"

# The hub's own reasons (the probes' verdicts carry theirs).
_OWN_REASONS: dict[str, tuple[str, str]] = {
    "never": ("Thiết bị đo chưa từng kết nối", "The probe has never connected"),
    "offline": ("Thiết bị đo mất kết nối", "The probe is offline"),
    "stale": ("Thiết bị đo không gửi tin từ lâu", "The probe has not reported for a long time"),
    "checking": (
        "Đang chờ kết quả kiểm tra sẵn sàng của phòng",
        "Waiting for the room's readiness check",
    ),
    "no_check": (
        "Phòng chưa gửi kết quả kiểm tra sẵn sàng cho cuộc họp này",
        "The room has sent no readiness check for this meeting",
    ),
}
#: How long after a lead time a run may still be under way (the probes' readiness_max_s).
CHECK_TAKES = timedelta(minutes=15)


@dataclass(frozen=True)
class Reason:
    part: str  # network, audio, system, or "connection"
    status: str  # fail, degraded, unknown
    message: dict[str, str]  # vi, en
    actor: str | None


@dataclass(frozen=True)
class Readiness:
    site: str
    name: str
    state: str  # ready, not-ready, unknown
    reasons: list[Reason] = field(default_factory=list)
    warnings: list[Reason] = field(default_factory=list)
    source: str = "status"  # or "readiness": the probe's own readiness run for this meeting
    checked_at: str | None = None
    checking: bool = False  # unknown only because the room's run may still be under way

    @property
    def actors(self) -> list[str]:
        """Who must act, each once, in the order of the reasons."""
        return list(dict.fromkeys(r.actor for r in self.reasons if r.actor))


def _own(part: str, key: str, actor: str | None = "probe") -> Reason:
    vi, en = _OWN_REASONS[key]
    return Reason(part, "unknown", {"vi": vi, "en": en}, actor)


def judge(site: dict[str, Any], now: datetime, meeting: Any | None = None,
          first_lead_s: float | None = None,
          stale_after: timedelta = timedelta(minutes=10)) -> Readiness:  # fmt: skip
    """Judge one row of store.sites_overview (with its latest results) at ``now``, for
    ``meeting`` (a schedule.Meeting, or None: the room's state in general)."""
    meeting_id = meeting.id if meeting is not None else None
    base = {"site": site["site"], "name": site["name"]}
    if site["online"] is None:
        return Readiness(**base, state=UNKNOWN, reasons=[_own("connection", "never")])
    if not site["online"]:
        return Readiness(**base, state=UNKNOWN, reasons=[_own("connection", "offline")],
                         checked_at=site["last_seen"])  # fmt: skip
    if site["last_seen"] and now - parse_utc(site["last_seen"]) > stale_after:
        return Readiness(**base, state=UNKNOWN, reasons=[_own("connection", "stale")],
                         checked_at=site["last_seen"])  # fmt: skip
    run = site["results"].get("readiness")
    if run and meeting_id and run.get("meeting_id") == meeting_id and run.get("parts"):
        parts, source, checked = run["parts"], "readiness", run["ts"]
    else:
        parts, source, checked = site["verdicts"] or {}, "status", site["last_seen"]
    reasons, warnings, unknown = [], [], []
    for part in PARTS:
        v = parts.get(part)
        if v is None:
            continue
        entry = Reason(part, v["status"], v["message"], v.get("actor"))
        if v["status"] == "fail":
            reasons.append(entry)
        elif v["status"] == "degraded":
            warnings.append(entry)
        elif v["status"] == "unknown":
            unknown.append(entry)
    if reasons:
        state = NOT_READY
    elif unknown:
        state, reasons = UNKNOWN, unknown
    else:
        state = READY
    if state == READY and source == "status" and _run_expected(meeting, first_lead_s, now):
        # A fault the status shows is a fault; its "all fine" is no proof: only a run is.
        key = "checking" if now < meeting.start - timedelta(seconds=first_lead_s or 0) + (
            CHECK_TAKES) else "no_check"  # fmt: skip
        state, reasons = UNKNOWN, [_own("readiness", key)]
        return Readiness(**base, state=state, reasons=reasons, warnings=warnings, source=source,
                         checked_at=checked, checking=key == "checking")  # fmt: skip
    return Readiness(**base, state=state, reasons=reasons, warnings=warnings, source=source,
                     checked_at=checked)  # fmt: skip


def _run_expected(meeting: Any | None, first_lead_s: float | None, now: datetime) -> bool:
    """From the meeting's first lead time to its end, the room owes a readiness run."""
    if meeting is None or first_lead_s is None:
        return False
    return meeting.start - timedelta(seconds=first_lead_s) <= now < meeting.end


def board(sites: list[dict[str, Any]], meeting: Any | None, now: datetime,
          first_lead_s: float | None = None) -> list[Readiness]:  # fmt: skip
    """Every room the meeting concerns (all rooms without a meeting), not-ready first."""
    order = {NOT_READY: 0, UNKNOWN: 1, READY: 2}
    rows = [
        judge(s, now, meeting, first_lead_s)
        for s in sites
        if meeting is None or meeting.concerns(s["site"])
    ]
    return sorted(rows, key=lambda r: (order[r.state], r.name))


def next_meeting_board(conn: Any, names: dict[str, str], now: datetime,
                       first_lead_s: float | None = None) -> tuple[Any, list]:  # fmt: skip
    """The next meeting (or None) and its rooms judged: what the page and the API show."""
    from . import schedule, store

    meeting = schedule.next_meeting(conn, now)
    return meeting, board(store.sites_overview(conn, names), meeting, now, first_lead_s)
