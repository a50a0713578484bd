"""Command handling of the daemon, without a broker: expiry and rule 1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roomprobe import host
from roomprobe.contract import Stamp, utc_iso


def command(name: str, args: dict, expires_in_s: float) -> dict:
    stamp = Stamp("dak-ang", "00000000-0000-4000-8000-000000000001", lambda: True)
    expires = utc_iso(datetime.now(UTC) + timedelta(seconds=expires_in_s))
    return stamp.envelope("roomprobe.cmd", 1, command=name, args=args, expires_at=expires)


def test_an_expired_command_is_not_run_when_the_clock_can_be_trusted(probe, monkeypatch):
    monkeypatch.setattr(host, "clock_synced", lambda: True)
    ok, error, *_ = probe._execute(command("meeting-mode", {"on": True}, -60))
    assert (ok, error) == (False, "expired")
    assert probe.meeting_mode is False


def test_expiry_is_ignored_when_the_clock_is_not_synchronised(probe, monkeypatch):
    # A Pi without RTC may think it is 1970 or last week: it cannot judge expiry.
    monkeypatch.setattr(host, "clock_synced", lambda: False)
    ok, error, *_ = probe._execute(command("meeting-mode", {"on": True}, -60))
    assert (ok, error) == (True, None)
    assert probe.meeting_mode is True


def test_meeting_mode_blocks_tests_and_publishes_nothing(probe, monkeypatch):
    monkeypatch.setattr(host, "clock_synced", lambda: False)
    probe.set_meeting_mode(True, "button")
    before = probe.outbox.count()
    ok, error, reason, *_ = probe._execute(command("run-test", {"tests": ["audio"]}, 60))
    assert (ok, error, reason) == (False, "meeting_mode", "cmd.not_now")
    assert probe.outbox.count() == before  # no audio result was produced


def test_a_refusal_gives_the_real_reason_in_both_languages(probe, monkeypatch):
    """Not always "meeting mode": a scheduled meeting is named, an unsynchronised clock said."""
    monkeypatch.setattr(host, "clock_synced", lambda: True)
    now = datetime.now(UTC)
    probe._on_schedule(json_schedule("Họp giao ban", now - timedelta(minutes=5), now
                                     + timedelta(minutes=30)))  # fmt: skip
    ok, error, reason, values, _ = probe._execute(command("ready", {}, 60))
    assert (ok, error, reason) == (False, "meeting_scheduled", "cmd.not_now")
    from roomprobe.texts import text

    words = text(reason, **values)
    assert (
        words["vi"]
        == 'Không kiểm tra lúc này: cuộc họp "Họp giao ban" đang diễn ra hoặc sắp bắt đầu'
    )
    assert words["en"] == 'Not tested now: the meeting "Họp giao ban" is on or about to start'
    # The same meeting tomorrow, and a clock that cannot be trusted: the clock is the reason.
    probe._on_schedule(json_schedule("Họp giao ban", now + timedelta(days=1), now
                                     + timedelta(days=1, hours=1)))  # fmt: skip
    monkeypatch.setattr(host, "clock_synced", lambda: False)
    ok, error, *_ = probe._execute(command("run-test", {"tests": ["net"]}, 60))
    assert (ok, error) == (False, "clock_unsynced")


def json_schedule(title: str, start: datetime, end: datetime) -> bytes:
    import json

    stamp = Stamp("hub", "00000000-0000-4000-8000-000000000002", lambda: True)
    item = {"id": "m1", "title": title, "start": utc_iso(start), "end": utc_iso(end),
            "sites": ["dak-ang"]}  # fmt: skip
    return json.dumps(stamp.envelope("roomprobe.schedule", 1, meetings=[item])).encode()
