"""When a probe runs its readiness test, and how it judges the parts (roomprobe.readiness)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomprobe import readiness, verdicts
from roomprobe.config import DaemonConfig
from roomprobe.meetings import Meeting, Schedule

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LEADS = [3600.0, 1200.0]
GUARD = 600.0


def schedule(*starts: datetime) -> Schedule:
    return Schedule("dak-ang", [Meeting(f"m{i}", "Họp", s, s + timedelta(hours=2))
                                for i, s in enumerate(starts)])  # fmt: skip


def at(minutes_before: float) -> datetime:
    return T0 - timedelta(minutes=minutes_before)


def test_a_run_at_each_lead_time_and_none_in_the_quiet_window():
    s = schedule(T0)
    assert readiness.due(s, at(61), LEADS, GUARD, set()) is None  # too early
    first = readiness.due(s, at(60), LEADS, GUARD, set())
    assert first is not None and first.key == "m0@3600" and first.lead_s == 3600
    assert first.deadline == T0 - timedelta(seconds=GUARD)
    assert readiness.due(s, at(30), LEADS, GUARD, {first.key}) is None  # done; next not yet
    second = readiness.due(s, at(20), LEADS, GUARD, {first.key})
    assert second is not None and second.key == "m0@1200"
    assert readiness.due(s, at(15), LEADS, GUARD, {first.key, second.key}) is None
    # Within the quiet window (10 minutes before), during and after: never.
    for minutes in (10, 5, 0, -30, -200):
        assert readiness.due(s, at(minutes), LEADS, GUARD, set()) is None


def test_a_box_started_late_runs_once_for_the_latest_lead_time():
    s = schedule(T0)
    late = readiness.due(s, at(15), LEADS, GUARD, set())
    assert late is not None and late.key == "m0@1200"  # not a second run for 60 minutes


def test_the_next_meeting_is_served_when_the_first_is_done_or_over():
    s = schedule(T0, T0 + timedelta(hours=3))
    nxt = readiness.due(s, T0 + timedelta(hours=2, minutes=1), LEADS, GUARD, set())
    assert nxt is not None and nxt.meeting is not None and nxt.meeting.id == "m1"


def test_remembered_runs_are_those_of_meetings_still_scheduled():
    s = schedule(T0)
    assert readiness.keep_done({"m0@3600", "gone@1200"}, s) == {"m0@3600"}


def parts(net: str, audio: str, system: str = "ok") -> dict[str, verdicts.Verdict]:
    def v(check: str, status: str, actor: str | None) -> verdicts.Verdict:
        return verdicts.Verdict(check, status, f"{check}.{status}", {"vi": "", "en": ""},
                                actor)  # type: ignore[arg-type]  # fmt: skip

    return {"network": v("net", net, "isp"), "audio": v("audio", audio, "room-audio"),
            "system": v("system", system, None)}  # fmt: skip


@pytest.mark.parametrize("net, audio, state, status, actor", [
    ("ok", "ok", "ready", "ok", None),
    ("degraded", "ok", "ready", "degraded", None),  # a warning, the meeting can go ahead
    ("fail", "ok", "not-ready", "fail", "isp"),
    ("ok", "fail", "not-ready", "fail", "room-audio"),
    ("unknown", "ok", "unknown", "unknown", "probe"),
    ("fail", "unknown", "not-ready", "fail", "isp"),  # what is known to fail wins
])  # fmt: skip
def test_the_parts_make_one_verdict(net, audio, state, status, actor):
    p = parts(net, audio)
    assert readiness.state_of(p) == state
    v = readiness.overall(p)
    assert (v.status, v.actor) == (status, actor)
    assert v.message["vi"] and v.message["en"]


def test_lead_times_inside_the_quiet_window_are_refused():
    with pytest.raises(ValueError, match="inside the quiet window"):
        DaemonConfig(meeting_guard_s=600, readiness_lead_s=[3600, 300])
    assert DaemonConfig(meeting_guard_s=5, readiness_lead_s=[30, 15]).readiness_lead_s == [30, 15]
