"""The request path from ``roomprobe ready`` to the daemon: each request taken once and
answered on its own, stale or damaged ones dropped, the answering daemon named."""

from __future__ import annotations

import time

from roomprobe import config, local_requests, service
from roomprobe.outbox import Outbox


def test_requests_are_taken_once_each_and_answered_each_on_their_own(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite", "boot")
    try:
        assert local_requests.take(box) == []  # nothing asked: nothing taken, nothing written
        first = local_requests.ask(box.path)  # other processes, as the commands are
        second = local_requests.ask(box.path)
        assert sorted(local_requests.take(box)) == sorted([first, second])
        assert local_requests.take(box) == []  # a second look finds them gone
        local_requests.answer(box, first, "d1", "started", source="box")
        local_requests.answer(box, second, "d1", "refused", code="meeting_mode")
        assert local_requests.answer_of(box.path, first) == {
            "id": first, "state": "started", "instance": "d1", "source": "box"}  # fmt: skip
        assert local_requests.answer_of(box.path, second)["state"] == "refused"
        local_requests.forget(box.path, first)
        assert local_requests.answer_of(box.path, first) is None
        assert local_requests.answer_of(box.path, second) is not None  # not the other's
    finally:
        box.close()


def test_a_stale_or_damaged_request_is_dropped_not_run_later(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite", "boot")
    try:
        gave_up = local_requests.ask(box.path)
        later = time.time() + local_requests.MAX_AGE_S + 1  # the command has given up by now
        assert local_requests.take(box, now=later) == []
        assert local_requests.take(box) == []  # and it is gone, not kept for later
        box.set_state(local_requests.REQUEST_PREFIX + "x", "{not json")
        box.set_state(local_requests.REQUEST_PREFIX + "y", '{"at": "yesterday"}')
        assert local_requests.take(box) == []
        assert gave_up
    finally:
        box.close()


def test_two_commands_on_one_run_both_get_its_answer(tmp_path):
    """A second `roomprobe ready` while a run is under way joins it; both learn its result."""
    cfg = config.parse(
        f'site = "dak-ang"\n[paths]\nstate_dir = "{tmp_path}"\n'
        "[net]\ninterval_s = 3600\n[audio]\ninterval_s = 3600\n"
    )
    probe = service.ProbeService(cfg)
    try:
        db = probe.outbox.path
        assert local_requests.instance_of(db) == probe.instance
        probe.set_meeting_mode(True, "button")  # a run started now would wait: join it
        probe._ready_run = probe._manual_run("button")
        ids = [local_requests.ask(db), local_requests.ask(db)]
        probe._readiness_step(time.monotonic())
        assert [local_requests.answer_of(db, i)["state"] for i in ids] == ["started", "started"]
        probe.set_meeting_mode(False, "button")
        probe._readiness_step(time.monotonic())
        for request_id in ids:
            done = local_requests.answer_of(db, request_id)
            assert done["state"] == "done" and done["instance"] == probe.instance
            assert done["result"]["verdict"]["reason"] == "readiness.ready"
    finally:
        probe.shutdown(ack_wait_s=0)


def test_a_command_waiting_on_a_check_learns_the_daemon_restarted(tmp_path):
    from roomprobe import ready_cli

    box = Outbox(tmp_path / "outbox.sqlite", "boot")
    try:
        request_id = local_requests.ask(box.path)
        box.set_state(local_requests.INSTANCE_KEY, "first")
        local_requests.answer(box, request_id, "first", "started", source="box")
        box.set_state(local_requests.INSTANCE_KEY, "second")  # a new daemon took over
        began = time.monotonic()
        assert ready_cli._wait_for(box.path, request_id, ("done",), 30.0, "first") == "restarted"
        assert time.monotonic() - began < 5  # said at once, not after the whole wait
    finally:
        box.close()
