"""The meeting light follows the latest readiness run: until its meeting ends, over restarts.

The daemon is driven step by step without a broker; its simulated line and audio give
the verdicts (a slow line: not ready, the ISP to call). Meetings are real clock times;
how long the light holds is read from what the daemon keeps, so no test waits for a
meeting to end.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from roomprobe import config, host, service
from roomprobe.contract import Stamp, utc_iso

LEADS = "readiness_lead_s = [600.0, 300.0]\nmeeting_guard_s = 60.0\n"


def make_probe(state_dir, profile: str) -> service.ProbeService:
    cfg = config.parse(
        f'site = "dak-ang"\n[paths]\nstate_dir = "{state_dir}"\n'
        f"[daemon]\n{LEADS}trust_unsynced_clock = true\n"
        "[net]\ninterval_s = 3600\n[audio]\ninterval_s = 3600\n"
        f'[simulation]\nprofile = "{profile}"\n'
    )
    return service.ProbeService(cfg)


@contextlib.contextmanager
def probe_in(state_dir, profile: str) -> Iterator[service.ProbeService]:
    probe = make_probe(state_dir, profile)
    try:
        yield probe
    finally:
        probe.shutdown(ack_wait_s=0)


def schedule(*meetings: tuple[str, datetime, datetime]) -> bytes:
    stamp = Stamp("hub", "00000000-0000-4000-8000-000000000002", lambda: True)
    items = [{"id": mid, "title": "Họp giao ban", "start": utc_iso(start), "end": utc_iso(end),
              "sites": ["dak-ang"]} for mid, start, end in meetings]  # fmt: skip
    return json.dumps(stamp.envelope("roomprobe.schedule", 1, meetings=items)).encode()


def kept(probe: service.ProbeService) -> dict:
    return json.loads(probe.outbox.get_state("readiness_shown"))


@pytest.fixture(autouse=True)
def synced(monkeypatch):
    monkeypatch.setattr(host, "clock_synced", lambda: True)


def test_the_light_shows_the_run_until_its_meeting_ends_and_survives_a_restart(tmp_path):
    now = datetime.now(UTC)
    now = now.replace(microsecond=0)  # as the schedule carries times: to the millisecond
    start, end = now + timedelta(minutes=5), now + timedelta(minutes=65)
    with probe_in(tmp_path, "slow-line") as probe:
        assert probe._leds()["meeting"].key == "idle"  # no run yet: dark
        probe._on_schedule(schedule(("m1", start, end)))
        assert probe.start_readiness("button") is True  # simulated tests finish at once
        assert probe._ready_run is None
        assert probe._leds()["meeting"].key == "not_ready"
        assert probe._leds()["network"].key == "fail"  # and the light that says why
        assert kept(probe) == {"state": "not-ready", "until": end.timestamp(), "meeting": "m1"}
    # A power cut before the meeting: the box still shows the room is not ready.
    with probe_in(tmp_path, "slow-line") as again:
        assert again._leds()["meeting"].key == "not_ready"
        assert again._status_payload(True)["leds"]["meeting"] == "not_ready"
        # The meeting is over (its end kept, as read back after a later restart): dark.
        again.outbox.set_state("readiness_shown", json.dumps(
            {**kept(again), "until": time.time() - 1}))  # fmt: skip
    with probe_in(tmp_path, "slow-line") as later:
        assert later._leds()["meeting"].key == "idle"


def test_a_removed_meeting_takes_its_answer_with_it(tmp_path):
    now = datetime.now(UTC)
    with probe_in(tmp_path, "good") as probe:
        probe._on_schedule(schedule(("m1", now + timedelta(minutes=5), now + timedelta(hours=1))))
        probe.start_readiness("button")
        assert probe._leds()["meeting"].key == "ready"
        probe._on_schedule(schedule())  # the district cancelled it
        assert probe._leds()["meeting"].key == "idle"
    with probe_in(tmp_path, "good") as again:
        assert again._leds()["meeting"].key == "idle"  # and it stays gone after a restart


def test_a_run_for_no_meeting_coming_shows_for_an_hour(tmp_path):
    """A meeting days away is not the run's: it gets its own runs nearer the time."""
    now = datetime.now(UTC)
    with probe_in(tmp_path, "good") as probe:
        far = now + timedelta(days=3)
        probe._on_schedule(schedule(("far", far, far + timedelta(hours=1))))
        before = time.time()
        probe.start_readiness("button")
        shown = kept(probe)
        assert shown["meeting"] is None and shown["state"] == "ready"
        assert before + service.READINESS_SHOWN_S <= shown["until"] <= time.time() + (
            service.READINESS_SHOWN_S)  # fmt: skip
        assert probe._last_results["readiness"].get("meeting_id") is None


def test_a_run_shows_checking_while_it_waits_and_a_damaged_record_is_ignored(tmp_path):
    with probe_in(tmp_path, "good") as probe:
        probe.set_meeting_mode(True, "button")
        # Meeting mode on: a run started as the schedule would start one waits.
        probe._ready_run = probe._manual_run("schedule")
        probe._readiness_step(time.monotonic())
        assert probe._ready_run is not None and probe._leds()["meeting"].key == "checking"
        probe.set_meeting_mode(False, "button")
        probe._readiness_step(time.monotonic())
        assert probe._ready_run is None and probe._leds()["meeting"].key == "ready"
        probe.outbox.set_state("readiness_shown", "{not json")
    with probe_in(tmp_path, "good") as again:
        assert again._leds()["meeting"].key == "idle"  # a damaged record shows nothing
