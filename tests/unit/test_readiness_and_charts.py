"""The hub's readiness judgement (each rule in order) and its history charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from roomhub import charts, readiness
from roomhub.config import HubConfig
from roomhub.schedule import Meeting
from roomprobe.contract import utc_iso

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def verdict(status: str, actor: str | None = None, check: str = "net") -> dict[str, Any]:
    return {"check": check, "status": status, "reason": f"{check}.{status}",
            "message": {"vi": f"vi {status}", "en": f"en {status}"}, "actor": actor}  # fmt: skip


def site(online: bool | None = True, seen: timedelta = timedelta(minutes=1),
         results: dict | None = None, **parts: dict) -> dict[str, Any]:  # fmt: skip
    verdicts = {"network": verdict("ok"), "audio": verdict("ok"), "system": verdict("ok")}
    verdicts.update(parts)
    return {"site": "dak-ang", "name": "Xã Đắk Ang", "online": online,
            "last_seen": utc_iso(NOW - seen) if online is not None else None,
            "verdicts": verdicts if online is not None else None,
            "results": results or {}}  # fmt: skip


def test_a_room_never_heard_from_or_offline_is_unknown_and_it_staff_act():
    for row in (site(online=None), site(online=False)):
        judged = readiness.judge(row, NOW)
        assert judged.state == readiness.UNKNOWN and judged.actors == ["probe"]


def test_a_silent_probe_is_unknown_even_if_its_last_word_was_good():
    assert readiness.judge(site(seen=timedelta(minutes=11)), NOW).state == readiness.UNKNOWN
    assert readiness.judge(site(seen=timedelta(minutes=9)), NOW).state == readiness.READY


def test_failing_parts_make_it_not_ready_with_each_actor_once():
    row = site(network=verdict("fail", "isp"), audio=verdict("fail", "room-audio", "audio"),
               system=verdict("degraded", "probe", "system"))  # fmt: skip
    judged = readiness.judge(row, NOW)
    assert judged.state == readiness.NOT_READY
    assert judged.actors == ["isp", "room-audio"]
    assert [w.part for w in judged.warnings] == ["system"]  # degraded: a warning only


def test_a_part_not_yet_tested_is_unknown_but_a_failure_wins():
    assert readiness.judge(site(audio=verdict("unknown")), NOW).state == readiness.UNKNOWN
    row = site(audio=verdict("unknown"), network=verdict("fail", "isp"))
    assert readiness.judge(row, NOW).state == readiness.NOT_READY


def test_the_probes_readiness_run_for_this_meeting_is_preferred_to_its_status():
    run = {"meeting_id": "m1", "ts": utc_iso(NOW), "parts": {
        "network": verdict("ok"), "audio": verdict("fail", "room-audio", "audio"),
        "system": verdict("ok")}}  # fmt: skip
    m1 = Meeting("m1", "Họp", NOW + timedelta(hours=2), NOW + timedelta(hours=3), ())
    judged = readiness.judge(site(results={"readiness": run}), NOW, m1)
    assert judged.state == readiness.NOT_READY and judged.source == "readiness"
    m2 = Meeting("m2", "Họp", NOW + timedelta(hours=2), NOW + timedelta(hours=3), ())
    other = readiness.judge(site(results={"readiness": run}), NOW, m2)
    assert other.state == readiness.READY and other.source == "status"  # a preview
    # From m2's first lead time on, the status's "all fine" is no answer for m2.
    later = readiness.judge(site(results={"readiness": run}), NOW, m2, rules(2 * 3600 + 300))
    assert later.state == readiness.UNKNOWN and later.reasons[0].part == "readiness"
    assert later.actors == [] and later.checking  # the box may be testing: nobody to call
    late = readiness.judge(site(results={"readiness": run}), NOW, m2, rules(2 * 3600 + 1800))
    assert late.state == readiness.UNKNOWN and not late.checking
    assert late.reasons[0].message["en"] == (
        "The room's probe has sent no readiness check for this meeting"
    )


def rules(first_lead_s: float, max_s: float = 900.0) -> HubConfig:
    return HubConfig.model_validate({"hub_id": "hub", "meetings": {
        "readiness_lead_s": [first_lead_s], "meeting_guard_s": 600.0,
        "readiness_max_s": max_s}}).meetings  # fmt: skip


def test_a_run_is_owed_from_the_first_lead_time_or_from_when_the_meeting_was_added():
    """Checking lasts the probes' readiness_max_s and never past the quiet window."""
    start = NOW + timedelta(minutes=30)
    early = Meeting("m", "Họp", start, start + timedelta(hours=1), (), NOW - timedelta(days=1))
    r = rules(3600.0)  # first lead: 60 min before, long past
    assert readiness.owed_run(early, r, NOW) == "no_check"
    # Added 30 min ahead, after its first lead time: the boxes check at once, give them time.
    late = Meeting("m", "Họp", start, start + timedelta(hours=1), (), NOW - timedelta(minutes=1))
    assert readiness.owed_run(late, r, NOW) == "checking"
    assert readiness.owed_run(late, r, NOW + timedelta(minutes=15)) == "no_check"
    # A run cannot start in the quiet window: checking ends there even with a long max.
    assert readiness.owed_run(late, rules(3600.0, 3600.0), start - timedelta(minutes=11)) == (
        "checking"
    )
    assert readiness.owed_run(late, rules(3600.0, 3600.0), start - timedelta(minutes=9)) == (
        "no_check"
    )
    # Added inside its own quiet window: no run will come, the status stands in.
    rushed = Meeting(
        "m", "Họp", start, start + timedelta(hours=1), (), start - timedelta(minutes=5)
    )
    assert readiness.owed_run(rushed, r, start - timedelta(minutes=4)) is None
    # Before the first lead time, and after the end: nothing owed.
    assert readiness.owed_run(early, rules(600.0 + 60), NOW) is None
    assert readiness.owed_run(early, r, start + timedelta(hours=2)) is None
    assert readiness.owed_run(early, None, NOW) is None


def test_the_board_keeps_the_meetings_rooms_not_ready_first():
    rows = [dict(site(), site="a", name="A"),
            dict(site(network=verdict("fail", "isp")), site="b", name="B"),
            dict(site(online=False), site="c", name="C")]  # fmt: skip
    everyone = readiness.board(rows, None, NOW)
    assert [r.site for r in everyone] == ["b", "c", "a"]
    meeting = Meeting("m", "Họp", NOW, NOW + timedelta(hours=1), ("a", "c"))
    assert [r.site for r in readiness.board(rows, meeting, NOW)] == ["c", "a"]


def net(ts: datetime, down: float, up: float, status: str = "ok") -> dict[str, Any]:
    return {"received_at": utc_iso(ts + timedelta(seconds=2)),
            "payload": {"kind": "net", "ts": utc_iso(ts), "clock_synced": True,
                        "verdict": {"status": status},
                        "metrics": {"download_mbps": down, "upload_mbps": up}}}  # fmt: skip


ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def test_the_speed_chart_draws_the_requirement_and_skips_tests_that_did_not_run():
    msgs = [net(NOW - timedelta(hours=h), 30.0 + h, 40.0) for h in range(5)]
    msgs.append(net(NOW, 999.0, 999.0, status="unknown"))  # could not test: nothing to draw
    svg = charts.speed_chart(msgs, 50.0, 50.0, "vi", ZONE)
    assert svg.startswith("<svg") and "Tốc độ tải xuống / tải lên (Mbps)" in svg
    assert "Yêu cầu 50 Mbps" in svg
    assert ">1000<" not in svg and ">999<" not in svg  # the axis never reached the unknown one
    english = charts.speed_chart(msgs, 50.0, 50.0, "en", ZONE)
    assert "Download / upload speed (Mbps)" in english and "Required 50 Mbps" in english


def test_charts_without_data_say_so_in_the_pages_language():
    assert "Chưa có số liệu" in charts.quality_chart([], "vi", ZONE)
    assert "No data in this period" in charts.audio_chart([], "en", ZONE)


def test_one_test_alone_is_shown_on_an_hour_of_axis_in_local_time():
    svg = charts.speed_chart([net(NOW, 60.0, 55.0)], 50.0, 50.0, "vi", ZONE)
    assert "08:00" in svg  # 01:00 UTC is 08:00 in Vietnam
