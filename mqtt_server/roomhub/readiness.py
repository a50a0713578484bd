"""Is a room ready for its next meeting? The hub's one answer, for the board and alerts.

A room is judged from what its probe last said: a readiness result for this
meeting when the probe ran one (issue 8's readiness runs), otherwise the
verdicts of its latest status. The rules, in order:

- no status ever, or offline: **unknown** (we cannot see the room; the box's
  power or the commune's network is the first thing to check: district IT);
- a status older than ``stale_after``: **unknown** (the probe stopped talking);
- from the meeting's first readiness lead time on (``[meetings] readiness_lead_s``;
  from when the meeting was added, if later), a room whose probe has not yet
  published a readiness run for this meeting and whose status shows no fault:
  **unknown**, "checking" while a run can still be under way (``readiness_max_s``,
  and never past the quiet window), then "no check": its status says nothing
  failed, not that the room works. Before that time, and for a meeting added too
  late for any run, the latest status stands in;
- any part failing: **not ready**, with each failing part's reason and actor;
- a part whose status is unknown (a test could not run yet): **unknown**;
- otherwise **ready**; degraded parts are listed as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from roomprobe.contract import parse_utc

from .config import MeetingsConfig

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
        "Thiết bị đo của phòng chưa gửi kết quả kiểm tra sẵn sàng cho cuộc họp này",
        "The room's probe has sent no readiness check for this meeting",
    ),
}


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
          rules: MeetingsConfig | None = None,
          stale_after: timedelta = timedelta(minutes=10)) -> Readiness:  # fmt: skip
    """Judge one row of store.sites_overview (with its latest results) at ``now``, for
    ``meeting`` (a schedule.Meeting, or None: the room's state in general), by the
    district's readiness ``rules`` (None: no run is owed, the status stands in)."""
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
    owed = owed_run(meeting, rules, now) if state == READY and source == "status" else None
    if owed is not None:
        # A fault the status shows is a fault; its "all fine" is no proof: only a run is.
        # Nobody needs calling while the box may still be testing, nor for "no check" (the
        # room's staff press the button, as for a part that could not be tested).
        return Readiness(**base, state=UNKNOWN, reasons=[_own("readiness", owed, None)],
                         warnings=warnings, source=source, checked_at=checked,
                         checking=owed == "checking")  # fmt: skip
    return Readiness(**base, state=state, reasons=reasons, warnings=warnings, source=source,
                     checked_at=checked)  # fmt: skip


def owed_run(meeting: Any | None, rules: MeetingsConfig | None, now: datetime) -> str | None:
    """Does the room owe a readiness run for ``meeting`` now: "checking" (one may be under
    way), "no_check" (it should have come), or None (not yet, not any more, or never: a
    meeting added inside its own quiet window gets no run)."""
    if meeting is None or rules is None or now >= meeting.end:
        return None
    quiet = meeting.start - timedelta(seconds=rules.meeting_guard_s)
    begin = meeting.start - timedelta(seconds=rules.first_lead_s)
    created = getattr(meeting, "created", None)
    if created is not None and created > begin:
        begin = created  # added late: the boxes check at once (their latest lead time)
    if now < begin or begin >= quiet:
        return None
    by = min(begin + timedelta(seconds=rules.readiness_max_s), quiet)
    return "checking" if now < by else "no_check"


def board(sites: list[dict[str, Any]], meeting: Any | None, now: datetime,
          rules: MeetingsConfig | None = None) -> list[Readiness]:  # fmt: skip
    """Every room the meeting concerns (all rooms without a meeting), not-ready first."""
    order = {NOT_READY: 0, UNKNOWN: 1, READY: 2}
    rows = [
        judge(s, now, meeting, rules)
        for s in sites
        if meeting is None or meeting.concerns(s["site"])
    ]
    return sorted(rows, key=lambda r: (order[r.state], r.name))


def next_meeting_board(conn: Any, names: dict[str, str], now: datetime,
                       rules: MeetingsConfig | None = None) -> tuple[Any, list]:  # fmt: skip
    """The next meeting (or None) and its rooms judged: what the page and the API show."""
    from . import schedule, store

    meeting = schedule.next_meeting(conn, now)
    return meeting, board(store.sites_overview(conn, names), meeting, now, rules)
