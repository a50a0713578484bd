"""The outbox's bound: oldest rows dropped first, every drop counted and reported once,
and a full disk raised as StorageError (issue 9)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from roomprobe.contract import Stamp, topics
from roomprobe.outbox import Dropped, Outbox, StorageError
from roomprobe.texts import text

SITE = "dak-ang"


def event(stamp: Stamp):
    return lambda seq: stamp.envelope(
        "roomprobe.event", seq, event="button", message=text("event.started"), details={}
    )


def put(box: Outbox, n: int) -> list[int]:
    stamp = Stamp(SITE, box.boot_id, lambda: True)
    return [box.put(topics.event(SITE), event(stamp))["seq"] for _ in range(n)]


def waiting_seqs(box: Outbox) -> list[int]:
    return [json.loads(r.payload)["seq"] for r in box.pending(10_000)]


def report(box: Outbox) -> dict | None:
    stamp = Stamp(SITE, box.boot_id, lambda: True)

    def build(seq: int, dropped: Dropped) -> dict:
        return stamp.envelope(
            "roomprobe.event",
            seq,
            event="outbox_dropped",
            message=text("event.started"),
            details=dropped.to_details(),
        )

    return box.put_drop_report(topics.event(SITE), build)


def one_size(tmp_path: Path) -> int:
    probe = Outbox(tmp_path / "size.sqlite", str(uuid.uuid4()))
    put(probe, 1)
    size = probe.size_bytes()
    probe.close()
    return size


def test_an_unbounded_outbox_keeps_everything(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", str(uuid.uuid4()))
    put(box, 200)
    assert box.count() == 200 and box.dropped_total() == 0 and not box.has_unreported_drops


def test_the_bound_drops_the_oldest_first_and_counts_each(tmp_path: Path) -> None:
    size = one_size(tmp_path)
    boot = str(uuid.uuid4())
    box = Outbox(tmp_path / "o.sqlite", boot, max_bytes=10 * size + size // 2)
    assert put(box, 25) == list(range(1, 26))
    # Ten fit: the fifteen oldest went, the newest ten wait, in order.
    assert waiting_seqs(box) == list(range(16, 26))
    assert box.size_bytes() <= box.max_bytes
    assert box.size_bytes() == sum(len(r.payload) for r in box.pending(100))
    assert box.has_unreported_drops
    assert box.dropped_unreported().runs == {boot: (1, 15, 15)}
    assert box.dropped_total() == 15


def test_drops_are_reported_once_and_the_account_survives_a_power_cut(tmp_path: Path) -> None:
    size = one_size(tmp_path)
    path = tmp_path / "o.sqlite"
    bound = 5 * size + size // 2  # five rows, and half a row to spare
    first_boot = str(uuid.uuid4())
    box = Outbox(path, first_boot, max_bytes=bound)
    put(box, 8)
    box.close()  # the box loses power before the broker is back
    second_boot = str(uuid.uuid4())
    box = Outbox(path, second_boot, max_bytes=bound)
    assert box.has_unreported_drops  # kept on the card, not in memory only
    put(box, 4)
    dropped = box.dropped_unreported()
    assert dropped.count == box.dropped_total() == 7  # twelve put, five fit
    # The oldest went first: the first boot's 1..7; its 8th and the second boot's four fit.
    assert dropped.runs == {first_boot: (1, 7, 7)}
    sent = report(box)
    assert sent is not None and sent["details"] == {
        "count": 7,
        "runs": [{"boot_id": first_boot, "first_seq": 1, "last_seq": 7, "count": 7}],
    }
    # The report is a little bigger than a row: it pushed the oldest waiting row (the first
    # boot's 8th) out, which starts the next account; the seven are not reported again.
    assert box.dropped_unreported().runs == {first_boot: (8, 8, 1)}
    assert box.dropped_total() == 8
    # The report goes first, so the hub learns of the drops before the backlog arrives.
    assert waiting_seqs(box) == [5, 1, 2, 3, 4]
    box.close()
    box = Outbox(path, second_boot, max_bytes=bound)
    assert box.has_unreported_drops and box.dropped_unreported().count == 1


def test_a_report_is_made_only_when_something_was_dropped(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", str(uuid.uuid4()), max_bytes=1_000_000)
    put(box, 3)
    assert report(box) is None and box.count() == 3 and box.last_seq() == 3


def test_a_report_that_overflows_the_bound_starts_a_new_account(tmp_path: Path) -> None:
    size = one_size(tmp_path)
    boot = str(uuid.uuid4())
    box = Outbox(tmp_path / "o.sqlite", boot, max_bytes=3 * size)
    put(box, 5)
    assert box.dropped_unreported().runs == {boot: (1, 2, 2)}
    sent = report(box)
    assert sent is not None and sent["details"]["count"] == 2
    # The report (seq 6) is bigger than a button event, so it pushed out 3 (and maybe 4).
    again = box.dropped_unreported()
    assert again.count >= 1 and again.runs[boot][0] == 3
    assert box.has_unreported_drops
    seqs = waiting_seqs(box)
    assert seqs[0] == 6 and seqs[1:] == sorted(seqs[1:])  # the report first


def test_acknowledging_a_row_the_bound_dropped_is_harmless(tmp_path: Path) -> None:
    size = one_size(tmp_path)
    box = Outbox(tmp_path / "o.sqlite", str(uuid.uuid4()), max_bytes=2 * size)
    put(box, 1)
    in_flight = box.pending(1)[0]
    put(box, 3)  # drops the row in flight
    box.remove(in_flight.id)
    assert box.size_bytes() == sum(len(r.payload) for r in box.pending(100))
    rows = box.pending(100)
    box.reject(rows[0].id, "Not authorized")
    box.remove(rows[1].id)
    assert box.size_bytes() == 0 and box.count() == 0


def test_the_size_is_read_back_when_the_outbox_is_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, str(uuid.uuid4()))
    put(box, 7)
    size = box.size_bytes()
    box.close()
    assert Outbox(path, str(uuid.uuid4())).size_bytes() == size > 0


def test_the_wal_file_is_cut_back_after_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, str(uuid.uuid4()))
    put(box, 3000)  # several MB through the WAL
    for row in box.pending(5000):
        box.remove(row.id)
    box._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    put(box, 1)
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size <= 4 * 1024 * 1024 + 64 * 1024


def test_a_full_disk_is_a_storage_error_and_nothing_half_written(tmp_path: Path) -> None:
    """SQLite's own "database or disk is full" (SQLITE_FULL), reached with max_page_count:
    the same error a full SD card gives, without filling the test machine's disk."""
    box = Outbox(tmp_path / "o.sqlite", str(uuid.uuid4()))
    put(box, 3)
    pages = box._db.execute("PRAGMA page_count").fetchone()[0]
    box._db.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(StorageError, match="full"):
        for _ in range(200):  # the first page split fails
            put(box, 1)
    stored = box.count()
    assert waiting_seqs(box) == list(range(1, stored + 1))  # consecutive: no half-row
    assert box.size_bytes() == sum(len(r.payload) for r in box.pending(10_000))
    with pytest.raises(StorageError):
        box.set_state("meeting_mode", "on" * 5000)
    box._db.execute("PRAGMA max_page_count=1000000")  # space returns
    assert put(box, 1) == [stored + 1]  # numbering goes on where it stopped


def test_a_bug_is_not_taken_for_a_full_disk(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", str(uuid.uuid4()))
    box._db.execute("DROP TABLE outbox")
    with pytest.raises(sqlite3.OperationalError) as err:
        put(box, 1)
    assert not isinstance(err.value, StorageError)


def test_rows_in_flight_are_spared_by_the_bound(tmp_path: Path) -> None:
    """A row sent and awaiting its PUBACK will be stored: dropping it would count it lost."""
    size = one_size(tmp_path)
    boot = str(uuid.uuid4())
    box = Outbox(tmp_path / "o.sqlite", boot, max_bytes=3 * size)
    put(box, 3)
    in_flight = {r.id for r in box.pending(2)}  # seqs 1 and 2 are on their way
    box.spare = lambda: in_flight
    put(box, 2)
    assert waiting_seqs(box) == [1, 2, 5]  # 3 and 4 went instead; 5 is the newest
    assert box.dropped_unreported().runs == {boot: (3, 4, 2)}


def test_a_dropped_report_hands_its_numbers_back(tmp_path: Path) -> None:
    """The broker went away again before it took the report, and the outage went on: the
    numbers the report named are reported again, not lost."""
    size = one_size(tmp_path)
    boot = str(uuid.uuid4())
    box = Outbox(tmp_path / "o.sqlite", boot, max_bytes=5 * size + size // 2)
    put(box, 8)  # 1..3 dropped
    assert report(box)["details"]["runs"][0] == {
        "boot_id": boot,
        "first_seq": 1,
        "last_seq": 3,
        "count": 3,
    }
    put(box, 12)  # the report (seq 9) is pushed out with the rest
    assert 9 not in waiting_seqs(box)
    dropped = set(range(1, 21)) - set(waiting_seqs(box))  # twenty issued in all
    # One account names every number gone: 1..3 from the lost report, the report itself
    # and the rows dropped after it.
    assert box.dropped_unreported().runs == {boot: (1, max(dropped), len(dropped))}
    assert box.dropped_total() == len(dropped)
