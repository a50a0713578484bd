"""The durable outbox: numbering, persistence across restarts, removal and rejection."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from roomprobe.contract import ContractError, Stamp, decode, encode, topics
from roomprobe.outbox import Outbox, Row
from roomprobe.texts import text

SITE = "dak-ang"
EVENT_TOPIC = topics.event(SITE)


@pytest.fixture
def boot_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "outbox.sqlite"  # the folder does not exist yet


@pytest.fixture
def outbox(db_path: Path, boot_id: str):
    box = Outbox(db_path, boot_id)
    yield box
    box.close()


def event(boot_id: str, **overrides: Any) -> Callable[[int], dict[str, Any]]:
    stamp = Stamp(SITE, boot_id, lambda: True)

    def build(seq: int) -> dict[str, Any]:
        payload = stamp.envelope(
            "roomprobe.event",
            seq,
            event="button",
            message=text("event.started"),
            details={"press": "short"},
        )
        payload.update(overrides)
        return payload

    return build


def put_n(box: Outbox, n: int) -> list[dict[str, Any]]:
    return [box.put(EVENT_TOPIC, event(box.boot_id)) for _ in range(n)]


def rejected_rows(path: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT id, topic, payload, reason FROM rejected ORDER BY id").fetchall()
    finally:
        db.close()


# -- numbering ------------------------------------------------------------------------


def test_a_new_outbox_is_empty(outbox: Outbox, db_path: Path) -> None:
    assert db_path.exists()
    assert outbox.count() == 0
    assert outbox.last_seq() == 0
    assert outbox.pending(10) == []
    assert outbox.rejected_count() == 0


def test_put_numbers_consecutively_from_1(outbox: Outbox) -> None:
    payloads = put_n(outbox, 5)
    assert [p["seq"] for p in payloads] == [1, 2, 3, 4, 5]
    assert outbox.last_seq() == 5
    assert outbox.count() == 5


def test_put_stores_the_payload_as_returned(outbox: Outbox, boot_id: str) -> None:
    payload = outbox.put(EVENT_TOPIC, event(boot_id))
    [row] = outbox.pending(10)
    assert isinstance(row, Row)
    assert row.topic == EVENT_TOPIC
    assert row.payload == encode(payload)
    assert decode(row.payload, "roomprobe.event") == payload
    assert payload["boot_id"] == boot_id


def test_build_receives_the_sequence_number(outbox: Outbox, boot_id: str) -> None:
    seen: list[int] = []
    build = event(boot_id)

    def spy(seq: int) -> dict[str, Any]:
        seen.append(seq)
        return build(seq)

    for _ in range(3):
        outbox.put(EVENT_TOPIC, spy)
    assert seen == [1, 2, 3]


# -- restarts -------------------------------------------------------------------------


def test_reopening_with_the_same_boot_continues(db_path: Path, boot_id: str) -> None:
    box = Outbox(db_path, boot_id)
    first = put_n(box, 3)
    box.close()

    box = Outbox(db_path, boot_id)
    try:
        assert box.last_seq() == 3
        assert box.count() == 3
        rows = box.pending(10)
        assert [decode(r.payload)["msg_id"] for r in rows] == [p["msg_id"] for p in first]
        assert box.put(EVENT_TOPIC, event(boot_id))["seq"] == 4
        assert [decode(r.payload)["seq"] for r in box.pending(10)] == [1, 2, 3, 4]
    finally:
        box.close()


def test_a_new_boot_restarts_at_1_and_keeps_old_rows(db_path: Path, boot_id: str) -> None:
    box = Outbox(db_path, boot_id)
    put_n(box, 3)
    box.close()

    new_boot = str(uuid.uuid4())
    box = Outbox(db_path, new_boot)
    try:
        assert box.last_seq() == 0
        assert box.count() == 3  # the last boot's messages are still owed to the hub
        payload = box.put(EVENT_TOPIC, event(new_boot))
        assert (payload["seq"], payload["boot_id"]) == (1, new_boot)
        rows = [decode(r.payload) for r in box.pending(10)]
        assert [(p["boot_id"], p["seq"]) for p in rows] == [
            (boot_id, 1),
            (boot_id, 2),
            (boot_id, 3),
            (new_boot, 1),
        ]
    finally:
        box.close()


def test_rows_are_ordered_oldest_first_across_boots(db_path: Path) -> None:
    ids = []
    for _ in range(3):
        box = Outbox(db_path, str(uuid.uuid4()))
        box.put(EVENT_TOPIC, event(box.boot_id))
        ids.append(box.pending(10)[-1].id)
        box.close()
    box = Outbox(db_path, str(uuid.uuid4()))
    try:
        assert [r.id for r in box.pending(10)] == ids == sorted(ids)
    finally:
        box.close()


def test_a_second_connection_sees_committed_rows(db_path: Path, boot_id: str) -> None:
    writer = Outbox(db_path, boot_id)
    reader = Outbox(db_path, boot_id)
    try:
        put_n(writer, 2)
        assert reader.count() == 2
        assert reader.last_seq() == 2
        assert reader.put(EVENT_TOPIC, event(boot_id))["seq"] == 3
        assert writer.last_seq() == 3
    finally:
        writer.close()
        reader.close()


# -- pending --------------------------------------------------------------------------


def test_pending_respects_limit(outbox: Outbox) -> None:
    put_n(outbox, 5)
    all_rows = outbox.pending(100)
    assert len(all_rows) == 5
    assert outbox.pending(2) == all_rows[:2]
    assert outbox.pending(0) == []
    assert outbox.count() == 5  # reading does not consume


def test_pending_skips_rows_in_flight(outbox: Outbox) -> None:
    put_n(outbox, 5)
    ids = [r.id for r in outbox.pending(10)]
    assert [r.id for r in outbox.pending(10, skip=[ids[0], ids[2]])] == [ids[1], ids[3], ids[4]]
    assert [r.id for r in outbox.pending(2, skip=ids[:2])] == ids[2:4]
    assert outbox.pending(10, skip=ids) == []
    assert [r.id for r in outbox.pending(10, skip=iter([ids[4]]))] == ids[:4]  # any iterable
    assert [r.id for r in outbox.pending(10, skip={}.values())] == ids
    assert [r.id for r in outbox.pending(10, skip=[9999])] == ids


# -- remove and reject ------------------------------------------------------------------


def test_remove_forgets_a_row(outbox: Outbox, db_path: Path, boot_id: str) -> None:
    put_n(outbox, 3)
    ids = [r.id for r in outbox.pending(10)]
    outbox.remove(ids[1])
    assert outbox.count() == 2
    assert [r.id for r in outbox.pending(10)] == [ids[0], ids[2]]
    outbox.remove(ids[1])  # a second acknowledgement is harmless
    outbox.remove(12345)
    assert outbox.count() == 2
    assert outbox.rejected_count() == 0
    # removing does not give a sequence number back
    assert outbox.put(EVENT_TOPIC, event(boot_id))["seq"] == 4
    outbox.close()
    box = Outbox(db_path, boot_id)
    try:
        assert [r.id for r in box.pending(10)][:2] == [ids[0], ids[2]]
    finally:
        box.close()


def test_reject_moves_a_row_aside_with_the_reason(outbox: Outbox, db_path: Path) -> None:
    put_n(outbox, 3)
    rows = outbox.pending(10)
    outbox.reject(rows[0].id, "Not authorized (135)")
    assert outbox.count() == 2
    assert outbox.rejected_count() == 1
    assert [r.id for r in outbox.pending(10)] == [rows[1].id, rows[2].id]
    assert rejected_rows(db_path) == [
        (rows[0].id, rows[0].topic, rows[0].payload, "Not authorized (135)")
    ]
    outbox.reject(rows[2].id, "Topic name invalid (144)")
    assert outbox.rejected_count() == 2
    assert [r[3] for r in rejected_rows(db_path)] == [
        "Not authorized (135)",
        "Topic name invalid (144)",
    ]


def test_rejecting_a_row_that_is_gone_changes_nothing(outbox: Outbox) -> None:
    put_n(outbox, 1)
    [row] = outbox.pending(10)
    outbox.remove(row.id)
    outbox.reject(row.id, "late refusal")
    assert outbox.rejected_count() == 0
    assert outbox.count() == 0
    put_n(outbox, 1)  # the outbox is still usable (no transaction left open)
    assert outbox.count() == 1


def test_rejected_rows_survive_a_restart(db_path: Path, boot_id: str) -> None:
    box = Outbox(db_path, boot_id)
    put_n(box, 2)
    box.reject(box.pending(1)[0].id, "Quota exceeded (151)")
    box.close()
    box = Outbox(db_path, str(uuid.uuid4()))
    try:
        assert box.rejected_count() == 1
        assert box.count() == 1
    finally:
        box.close()


# -- the contract guards the door ---------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"msg_id": "not-a-uuid"}, "msg_id"),
        ({"event": "exploded"}, "event"),
        ({"site": "Đắk Ang"}, "site"),
        ({"colour": "blue"}, "colour"),
        ({"schema": "roomprobe.video"}, "roomprobe.video"),
        ({"message": {"vi": "Chỉ tiếng Việt"}}, "message"),
    ],
)
def test_a_payload_that_breaks_the_contract_writes_nothing(
    outbox: Outbox, db_path: Path, boot_id: str, overrides: dict[str, Any], field: str
) -> None:
    put_n(outbox, 2)
    before = outbox.pending(10)
    with pytest.raises(ContractError, match=field):
        outbox.put(EVENT_TOPIC, event(boot_id, **overrides))
    assert outbox.count() == 2
    assert outbox.last_seq() == 2
    assert outbox.pending(10) == before
    # the next good message takes the next number: no gap for the hub to mistake for a loss
    assert outbox.put(EVENT_TOPIC, event(boot_id))["seq"] == 3
    outbox.close()
    box = Outbox(db_path, boot_id)  # and nothing half-written reached the disk
    try:
        assert box.count() == 3
        assert box.last_seq() == 3
    finally:
        box.close()


def test_a_build_that_raises_writes_nothing(outbox: Outbox, boot_id: str) -> None:
    def broken(seq: int) -> dict[str, Any]:
        raise RuntimeError("probe crashed while building")

    with pytest.raises(RuntimeError, match="probe crashed"):
        outbox.put(EVENT_TOPIC, broken)
    assert outbox.count() == 0
    assert outbox.last_seq() == 0
    assert outbox.put(EVENT_TOPIC, event(boot_id))["seq"] == 1


def test_the_first_put_failing_leaves_the_sequence_at_zero(outbox: Outbox, boot_id: str) -> None:
    with pytest.raises(ContractError):
        outbox.put(EVENT_TOPIC, event(boot_id, seq=-1))
    assert outbox.last_seq() == 0
    assert outbox.count() == 0
