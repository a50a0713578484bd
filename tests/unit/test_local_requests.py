"""The request path from ``roomprobe ready`` to the daemon: taken once, damage ignored."""

from __future__ import annotations

from roomprobe import local_requests
from roomprobe.outbox import Outbox


def test_a_request_is_taken_once_and_its_answer_found_by_id(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite", "boot")
    try:
        assert local_requests.take(box) is None  # nothing asked: nothing taken
        request_id = local_requests.ask(box.path)  # another process, as the command is
        assert local_requests.take(box) == request_id
        assert local_requests.take(box) is None  # a second look finds it gone
        local_requests.answer(box, request_id, "started", source="box")
        assert local_requests.answer_of(box.path, request_id) == {
            "id": request_id, "state": "started", "source": "box"}  # fmt: skip
        assert local_requests.answer_of(box.path, "another") is None  # not this command's
    finally:
        box.close()


def test_a_damaged_request_or_answer_is_ignored(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite", "boot")
    try:
        box.set_state(local_requests.REQUEST_KEY, "{not json")
        assert local_requests.take(box) is None
        box.set_state(local_requests.REQUEST_KEY, '{"id": 5}')
        assert local_requests.take(box) is None
        box.set_state(local_requests.ANSWER_KEY, "[1, 2")
        assert local_requests.answer_of(box.path, "x") is None
    finally:
        box.close()
