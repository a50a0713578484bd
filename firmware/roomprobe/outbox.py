"""The durable outbox: every result and event is committed here before it is sent.

A row leaves the outbox only when the broker has acknowledged it (PUBACK), so
a broker outage, a crash or a power cut loses nothing; at worst a message is
sent twice and the hub drops the copy by its msg_id.

The per-boot sequence number is assigned in the same transaction as the row,
so numbers are consecutive across daemon restarts within one boot and the hub
can trust a gap to mean a loss. SQLite runs in WAL mode with synchronous=FULL:
one small fsync per result, which on a Pi's SD card is a few writes a minute.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .contract import encode, validate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id      INTEGER PRIMARY KEY,  -- not AUTOINCREMENT: it costs a page write per insert
    topic   TEXT    NOT NULL,
    payload BLOB    NOT NULL,
    created REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id       INTEGER PRIMARY KEY,
    topic    TEXT    NOT NULL,
    payload  BLOB    NOT NULL,
    created  REAL    NOT NULL,
    reason   TEXT    NOT NULL,
    rejected REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS sequence (
    boot_id TEXT PRIMARY KEY,
    last    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Row:
    id: int
    topic: str
    payload: bytes


_SET_STATE = (
    "INSERT INTO state (key, value) VALUES (?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)


class Outbox:
    """A FIFO of messages waiting for the broker's acknowledgement."""

    def __init__(self, path: Path | str, boot_id: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.boot_id = boot_id
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        # Only the current boot's counter matters; older boots' rows are dead weight.
        self._db.execute("DELETE FROM sequence WHERE boot_id != ?", (boot_id,))

    def close(self) -> None:
        self._db.close()

    def last_seq(self) -> int:
        row = self._db.execute(
            "SELECT last FROM sequence WHERE boot_id = ?", (self.boot_id,)
        ).fetchone()
        return row[0] if row else 0

    def put(self, topic: str, build: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        """Number, validate and commit one message; return the payload as stored.

        ``build`` receives the sequence number and returns the payload. A payload
        that breaks the contract raises ContractError and nothing is written:
        better a loud bug here than a message the hub must quarantine.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            seq = self.last_seq() + 1
            payload = validate(build(seq))
            self._db.execute(
                "INSERT INTO outbox (topic, payload, created) VALUES (?, ?, ?)",
                (topic, encode(payload), time.time()),
            )
            self._db.execute(
                "INSERT INTO sequence (boot_id, last) VALUES (?, ?) "
                "ON CONFLICT(boot_id) DO UPDATE SET last = excluded.last",
                (self.boot_id, seq),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return payload

    def pending(self, limit: int, skip: Iterable[int] = ()) -> list[Row]:
        """The oldest rows not in ``skip`` (those already in flight)."""
        skip = list(skip)
        marks = ",".join("?" * len(skip))
        where = f"WHERE id NOT IN ({marks})" if skip else ""
        cur = self._db.execute(
            f"SELECT id, topic, payload FROM outbox {where} ORDER BY id LIMIT ?",
            (*skip, limit),
        )
        return [Row(*r) for r in cur.fetchall()]

    def remove(self, row_id: int) -> None:
        """Forget a row: call only once the broker has acknowledged it."""
        self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def reject(self, row_id: int, reason: str) -> None:
        """Move a row the broker refused for good aside, with the broker's reason."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT INTO rejected (id, topic, payload, created, reason, rejected) "
                "SELECT id, topic, payload, created, ?, ? FROM outbox WHERE id = ?",
                (reason, time.time(), row_id),
            )
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def get_state(self, key: str, default: str | None = None) -> str | None:
        """A small fact that must survive a restart (e.g. meeting mode)."""
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        self._db.execute(
            _SET_STATE,
            (key, value),
        )

    def take_states(self, prefix: str) -> list[tuple[str, str]]:
        """Read and delete at once every fact whose key starts with ``prefix``: requests
        other processes left (roomprobe ready). The read comes first and alone, so a poll
        with nothing to take writes nothing to the SD card."""
        pattern = prefix.replace("%", r"\%").replace("_", r"\_") + "%"
        query = "SELECT key, value FROM state WHERE key LIKE ? ESCAPE '\\'"
        if not self._db.execute(query + " LIMIT 1", (pattern,)).fetchone():
            return []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = self._db.execute(query + " ORDER BY key", (pattern,)).fetchall()
            self._db.executemany("DELETE FROM state WHERE key = ?", [(k,) for k, _ in rows])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return [(k, v) for k, v in rows]

    def rejected_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM rejected").fetchone()[0]

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]


def inspect(path: Path | str) -> dict[str, int]:
    """Counts of an outbox, read-only: safe beside a running daemon, writes nothing."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        waiting = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        rejected = db.execute("SELECT count(*) FROM rejected").fetchone()[0]
        last = db.execute("SELECT coalesce(max(last), 0) FROM sequence").fetchone()[0]
    finally:
        db.close()
    return {"waiting": waiting, "rejected": rejected, "last_seq": last}


#: The outbox's file in the probe's state folder.
FILE_NAME = "outbox.sqlite"


def read_state(path: Path | str, key: str) -> str | None:
    """One persisted fact (meeting mode, the schedule), read-only beside a running daemon.

    None when there is no outbox yet or no such fact.
    """
    if not Path(path).exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    finally:
        db.close()
    return row[0] if row else None


def write_state(path: Path | str, key: str, value: str) -> None:
    """Set one fact from another process (a request to the running daemon); WAL lets both."""
    db = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        db.execute(
            _SET_STATE,
            (key, value),
        )
    finally:
        db.close()


def delete_state(path: Path | str, key: str) -> None:
    """Remove one fact from another process (a request's answer, once read)."""
    db = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        db.execute("DELETE FROM state WHERE key = ?", (key,))
    finally:
        db.close()


def requeue_rejected(path: Path | str) -> int:
    """Put rows the broker refused back in the outbox (after the cause is fixed).

    They go to the end of the queue, in the order they were first written; the
    hub orders results by their own sequence numbers, not by arrival.
    """
    db = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        db.execute("BEGIN IMMEDIATE")
        moved = db.execute(
            "INSERT INTO outbox (topic, payload, created) "
            "SELECT topic, payload, created FROM rejected ORDER BY id"
        ).rowcount
        db.execute("DELETE FROM rejected")
        db.execute("COMMIT")
    finally:
        db.close()
    return moved
