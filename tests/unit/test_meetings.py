"""The probe's view of the schedule: which meetings are its own, and whether one is on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roomprobe.meetings import Schedule

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def item(mid: str, start: datetime, hours: float, sites: list[str]) -> dict:
    def iso(d: datetime) -> str:
        return d.strftime("%Y-%m-%dT%H:%M:%SZ")

    end = start + timedelta(hours=hours)
    return {"id": mid, "title": mid, "start": iso(start), "end": iso(end), "sites": sites}


PAYLOAD = {
    "meetings": [
        item("later", T0 + timedelta(days=1), 2, []),
        item("ours", T0, 2, ["dak-ang", "bo-y"]),
        item("theirs", T0 - timedelta(hours=1), 5, ["bo-y"]),
    ]
}


def test_only_this_sites_meetings_are_kept_in_time_order():
    s = Schedule("dak-ang")
    mine = s.accept(PAYLOAD)
    assert [m["id"] for m in mine] == ["later", "ours"]  # an empty site list means everyone
    assert [m.id for m in s.meetings] == ["ours", "later"]


def test_a_meeting_is_on_from_the_guard_before_to_the_guard_after():
    s = Schedule("dak-ang")
    s.accept(PAYLOAD)
    guard = 600
    assert s.current(T0 - timedelta(seconds=601), guard) is None
    assert s.current(T0 - timedelta(seconds=599), guard).id == "ours"
    assert s.current(T0 + timedelta(hours=2, seconds=599), guard).id == "ours"
    assert s.current(T0 + timedelta(hours=2, seconds=601), guard) is None
    assert s.next(T0 + timedelta(hours=3)).id == "later"
    assert s.next(T0 + timedelta(days=2)) is None


def test_the_stored_copy_round_trips_and_a_damaged_one_is_ignored():
    s = Schedule("dak-ang")
    text = s.dumps(s.accept(PAYLOAD))
    again = Schedule.loads("dak-ang", text)
    assert [m.id for m in again.meetings] == ["ours", "later"]
    assert Schedule.loads("dak-ang", "{not json").meetings == []
    assert Schedule.loads("dak-ang", '[{"id": "x"}]').meetings == []
    assert Schedule.loads("dak-ang", None).meetings == []


def test_rule_one_names_why_no_active_test_may_run():
    from roomprobe.meetings import Quiet, why_no_active_tests

    s = Schedule("dak-ang")
    s.accept(PAYLOAD)
    quiet_hour = T0 - timedelta(hours=3)
    assert why_no_active_tests(False, s, quiet_hour, 600, True) is None
    scheduled = why_no_active_tests(False, s, T0, 600, True)
    assert scheduled is not None and scheduled.code == "meeting_scheduled"
    # The reason names the meeting, in both languages (the button's event, a refused command).
    assert scheduled.text()["vi"] == 'cuộc họp "ours" đang diễn ra hoặc sắp bắt đầu'
    assert str(scheduled) == 'the meeting "ours" is on or about to start'
    assert str(why_no_active_tests(True, s, quiet_hour, 600, True)) == "meeting mode is on"
    assert why_no_active_tests(False, s, quiet_hour, 600, True, room_active=True) == Quiet(
        "room_active"
    )
    unsynced = why_no_active_tests(False, s, quiet_hour, 600, False)
    assert unsynced is not None and "clock is not synchronised" in str(unsynced)
    # No meetings on the schedule: an unsynchronised clock cannot hide one.
    assert why_no_active_tests(False, Schedule("dak-ang"), quiet_hour, 600, False) is None
