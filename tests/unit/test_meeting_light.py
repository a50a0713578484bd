"""The meeting light follows the latest readiness run: until its meeting ends, over restarts.

The daemon is driven step by step without a broker; its simulated line and audio give
the verdicts (a slow line: not ready, the ISP to call). The meeting is real clock time
a few seconds ahead, so nothing in the daemon is mocked.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from roomprobe import config, host, service
from roomprobe.contract import Stamp, utc_iso


def make_probe(state_dir, profile: str) -> service.ProbeService:
    cfg = config.parse(
        f'site = "dak-ang"\n[paths]\nstate_dir = "{state_dir}"\n'
        "[daemon]\nmeeting_guard_s = 1.0\ntrust_unsynced_clock = true\n"
        "[net]\ninterval_s = 3600\n[audio]\ninterval_s = 3600\n"
        f'[simulation]\nprofile = "{profile}"\n'
    )
    return service.ProbeService(cfg)


def schedule(start: datetime, end: datetime) -> bytes:
    stamp = Stamp("hub", "00000000-0000-4000-8000-000000000002", lambda: True)
    item = {"id": "m1", "title": "Họp giao ban", "start": utc_iso(start), "end": utc_iso(end),
            "sites": ["dak-ang"]}  # fmt: skip
    return json.dumps(stamp.envelope("roomprobe.schedule", 1, meetings=[item])).encode()


@pytest.fixture(autouse=True)
def synced(monkeypatch):
    monkeypatch.setattr(host, "clock_synced", lambda: True)


def test_the_light_shows_the_run_until_its_meeting_ends_and_survives_a_restart(tmp_path):
    probe = make_probe(tmp_path, "slow-line")
    try:
        assert probe._leds()["meeting"].key == "idle"  # no run yet: dark
        now = datetime.now(UTC)
        probe._on_schedule(schedule(now + timedelta(seconds=4), now + timedelta(seconds=7)))
        assert probe.start_readiness("button") is True  # simulated tests finish at once
        assert probe._ready_run is None
        assert probe._leds()["meeting"].key == "not_ready"
        assert probe._leds()["network"].key == "fail"  # and the light that says why
    finally:
        probe.shutdown(ack_wait_s=0)
    # A power cut before the meeting: the box still shows the room is not ready.
    again = make_probe(tmp_path, "slow-line")
    try:
        assert again._leds()["meeting"].key == "not_ready"
        assert again._status_payload(True)["leds"]["meeting"] == "not_ready"
        # The meeting ends: the light goes dark, its answer no longer about a coming meeting.
        time.sleep(max(0.0, (now + timedelta(seconds=7.2)).timestamp() - time.time()))
        assert again._leds()["meeting"].key == "idle"
    finally:
        again.shutdown(ack_wait_s=0)


def test_a_run_shows_checking_while_it_waits_and_a_damaged_record_is_ignored(tmp_path):
    probe = make_probe(tmp_path, "good")
    try:
        probe.set_meeting_mode(True, "button")
        # Meeting mode on: a scheduled run would wait. Start one as the schedule would.
        probe._ready_run = service.ReadyRun(
            service.readiness.manual(probe.schedule, datetime.now(UTC), 1.0), "schedule",
            time.time(), time.monotonic(),
        )  # fmt: skip
        probe._readiness_step(time.monotonic())
        assert probe._ready_run is not None and probe._leds()["meeting"].key == "checking"
        probe.set_meeting_mode(False, "button")
        probe._readiness_step(time.monotonic())
        assert probe._ready_run is None and probe._leds()["meeting"].key == "ready"
        probe.outbox.set_state("readiness_shown", "{not json")
    finally:
        probe.shutdown(ack_wait_s=0)
    again = make_probe(tmp_path, "good")
    try:
        assert again._leds()["meeting"].key == "idle"  # a damaged record shows nothing
    finally:
        again.shutdown(ack_wait_s=0)
