"""The daemon on a card that takes no more writes (issue 9, found in review): every step
that persists a fact still does its work in memory, a readiness run does not repeat,
meeting mode still stops a running test, an acknowledged row is not sent again.

The real filesystem version (a tmpfs filled to the last byte, real processes) is
tests/integration/test_disk_full.py; here the outbox's writes raise the StorageError a
full card gives, so each of these paths is reached on purpose.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from roomprobe import readiness, service
from roomprobe.contract import Stamp, utc_iso
from roomprobe.outbox import StorageError


def full(*_args, **_kwargs):
    raise StorageError("database or disk is full")


@pytest.fixture
def card_full(probe, monkeypatch):
    for name in ("put", "set_state", "remove", "put_drop_report", "take_states"):
        monkeypatch.setattr(probe.outbox, name, full)
    return probe


def test_meeting_mode_stops_a_running_line_test_even_when_it_cannot_be_kept(card_full):
    probe = card_full
    probe._line_job = SimpleNamespace(abort=threading.Event())
    probe.set_meeting_mode(True, "hub")
    assert probe.meeting_mode is True
    assert probe._line_job.abort.is_set()  # rule 1 holds whatever the card says
    assert probe.current["system"].reason == "system.disk_full"
    assert probe.current["system"].status == "fail"


def test_a_readiness_run_is_done_once_even_when_it_cannot_be_kept(card_full):
    probe = card_full
    now = datetime.now(UTC)
    start, end = now + timedelta(hours=1), now + timedelta(hours=2)
    stamp = Stamp("hub", "00000000-0000-4000-8000-000000000002", lambda: True)
    item = {"id": "m-1", "title": "Giao ban", "start": utc_iso(start), "end": utc_iso(end),
            "sites": ["dak-ang"]}  # fmt: skip
    probe._on_schedule(json.dumps(stamp.envelope("roomprobe.schedule", 1, meetings=[item]))
                       .encode())  # fmt: skip
    (meeting,) = probe.schedule.meetings  # known in memory, though not kept on the card
    due = readiness.Due("m-1@3600", meeting, 3600.0, now + timedelta(minutes=50))
    run = service.ReadyRun(due, "schedule", time.time(), time.monotonic(), waiting=[])
    probe._ready_run = run
    probe._finish_readiness(run)
    assert "m-1@3600" in probe._readiness_done  # in memory: the next check does not redo it
    assert probe._shown_readiness is not None
    assert probe._not_kept == 1  # its result could not be written: counted


def test_an_acknowledged_row_is_not_sent_again_when_its_delete_fails(probe, monkeypatch):
    probe._event("button", "event.button_test", {"press": "short"})
    (row,) = probe.outbox.pending(10)
    probe._inflight[7] = row.id
    monkeypatch.setattr(probe.outbox, "remove", full)
    probe._on_ack(7, 0, "Success")
    assert row.id in probe._acked and row.id in probe.outbox.spare()
    assert probe.outbox.pending(10, skip=probe.outbox.spare()) == []  # never resent
    assert probe.current["system"].reason == "system.disk_full"
    monkeypatch.undo()  # space returns
    probe._forget_acked()
    assert probe._acked == set() and probe.outbox.count() == 0


def test_the_not_kept_count_survives_a_card_that_fills_again(probe, monkeypatch):
    monkeypatch.setattr(probe.outbox, "put", full)
    probe._event("button", "event.button_test", {"press": "short"})
    probe._event("button", "event.button_test", {"press": "short"})
    assert probe._not_kept == 2
    probe._storage_recovered()  # a write got through, but the report cannot be written
    assert probe._not_kept == 2  # kept for the next report, not lost
    monkeypatch.undo()
    probe._event("button", "event.button_test", {"press": "short"})  # this one recovers
    assert probe._not_kept == 0
    events = [p.payload for p in probe.outbox.pending(10)]
    assert any(b'"not_kept":2' in e for e in events)
