"""The readiness run: a full test at set lead times before each meeting, judged as one result.

The district asked for meetings that run smoothly, so before each meeting the
box proves the room is ready: at each of ``daemon.readiness_lead_s`` before the
start (60 and 20 minutes by default) it runs the line test and the audio chain
test, adds its own health, and publishes one ``roomprobe.result.readiness``:
ready, not-ready or unknown ("could not test"), with each part's verdict and
who must act. Runs are never inside the quiet window before a meeting (rule 1),
so a lead time reached too late is skipped, not run during the meeting.

Which runs were done is kept on disk by the daemon (its state table), so a box
restarted between two lead times still runs the second; a box started after
several lead times passed runs once, for the latest, not once per lead time.
Pure functions of the schedule and the clock: tests drive them with any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import verdicts
from .meetings import Meeting, Schedule

READY, NOT_READY, UNKNOWN = "ready", "not-ready", "unknown"
PARTS = ("network", "audio", "system")


@dataclass(frozen=True)
class Due:
    """A readiness run to do now: for ``meeting`` at ``lead_s`` before it (both None for a
    manual run), to be published before ``deadline`` (the start of the quiet window)."""

    key: str
    meeting: Meeting | None
    lead_s: float | None
    deadline: datetime | None


def due(schedule: Schedule, now: datetime, lead_s: list[float], guard_s: float,
        done: set[str]) -> Due | None:  # fmt: skip
    """The scheduled run to start now, if any: the latest lead time reached for the first
    meeting whose quiet window has not begun and which has no run for that lead time."""
    for meeting in schedule.meetings:
        quiet = quiet_from(meeting, guard_s)
        if now >= quiet:
            continue  # on, over, or too close: no active test now (rule 1)
        reached = [lead for lead in lead_s if meeting.start - timedelta(seconds=lead) <= now]
        if not reached:
            continue
        lead = min(reached)
        key = run_key(meeting.id, lead)
        if key not in done:
            return Due(key, meeting, lead, quiet)
    return None


def manual(schedule: Schedule, now: datetime, guard_s: float, within_s: float) -> Due:
    """A run by hand (button, hub, box): for the next meeting if it starts within
    ``within_s`` (the first lead time), so the board counts it for that meeting; before
    that meeting's quiet window. A meeting days away gets its own runs nearer the time."""
    nxt = schedule.next(now)
    soon = nxt is not None and now < nxt.start <= now + timedelta(seconds=within_s)
    meeting = nxt if soon else None
    deadline = quiet_from(meeting, guard_s) if meeting is not None else None
    return Due(f"manual@{now.timestamp():.0f}", meeting, None, deadline)


def quiet_from(meeting: Meeting, guard_s: float) -> datetime:
    """When the quiet window before ``meeting`` begins: no active test from then on."""
    return meeting.start - timedelta(seconds=guard_s)


def run_key(meeting_id: str, lead: float) -> str:
    return f"{meeting_id}@{lead:g}"


def keep_done(done: set[str], schedule: Schedule) -> set[str]:
    """The runs worth remembering: those of meetings still in the schedule."""
    ids = {m.id for m in schedule.meetings}
    return {key for key in done if key.rsplit("@", 1)[0] in ids}


def state_of(parts: dict[str, verdicts.Verdict]) -> str:
    """Not ready when any part fails; unknown when any could not be tested; else ready
    (a degraded part is a warning: the meeting can go ahead)."""
    statuses = {v.status for v in parts.values()}
    if "fail" in statuses:
        return NOT_READY
    if "unknown" in statuses:
        return UNKNOWN
    return READY


def overall(parts: dict[str, verdicts.Verdict]) -> verdicts.Verdict:
    """The run's own verdict: its state in words, and who must act first."""
    state = state_of(parts)
    if state == NOT_READY:
        first = next(v for v in parts.values() if v.status == "fail")
        return verdicts.make("readiness", "fail", "readiness.not_ready", first.actor)
    if state == UNKNOWN:
        return verdicts.make("readiness", "unknown", "readiness.unknown", "probe")
    degraded = any(v.status == "degraded" for v in parts.values())
    return verdicts.make("readiness", "degraded" if degraded else "ok", "readiness.ready")
