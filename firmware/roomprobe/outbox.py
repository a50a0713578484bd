"""The durable outbox: every result and event is committed here before it is sent.

A row leaves the outbox only when the broker has acknowledged it (PUBACK), so
a broker outage, a crash or a power cut loses nothing; at worst a message is
sent twice and the hub drops the copy by its msg_id.

The per-boot sequence number is assigned in the same transaction as the row,
so numbers are consecutive across daemon restarts within one boot and the hub
can trust a gap to mean a loss. SQLite runs in WAL mode with synchronous=FULL:
one small fsync per result, which on a Pi's SD card is a few writes a minute.

The outbox is bounded (``max_bytes`` of payloads waiting): an outage longer than
the bound allows drops the oldest rows, in the same transaction as the new one,
and counts them per boot, so the probe can tell the hub exactly which sequence
numbers it dropped once the broker is back. Dropping is never silent.

A disk that is full or failing raises :class:`StorageError`, so the daemon can
say so on its LEDs and status instead of dying in a restart loop.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable
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


#: State keys of the dropping accounts: dropped rows not yet reported to the hub
#: ({boot_id: [first seq, last seq, count]}), and the total ever dropped.
DROPPED_UNREPORTED = "outbox_dropped_unreported"
DROPPED_TOTAL = "outbox_dropped_total"

#: The WAL file is cut back to this after a checkpoint, so its disk use is bounded too.
WAL_LIMIT_BYTES = 4 * 1024 * 1024

_STORAGE_CODES = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY,
                  sqlite3.SQLITE_CANTOPEN}  # fmt: skip


class StorageError(OSError):
    """The outbox cannot write: the disk is full, read-only or failing.

    Raised instead of sqlite3's error so callers can tell a full card (say so,
    keep running, recover when space returns) from a bug.
    """


def _storage_error(exc: sqlite3.Error) -> StorageError | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    if code & 0xFF in _STORAGE_CODES:  # extended codes keep the primary in the low byte
        return StorageError(str(exc))
    return None


#: The most boots one drop report names (event.json's outbox_dropped runs).
MAX_RUNS = 200


@dataclass(frozen=True)
class Dropped:
    """Rows the bound dropped, per boot: the sequence numbers the hub will never get."""

    runs: dict[str, tuple[int, int, int]]  # boot_id -> (first seq, last seq, count)

    @property
    def count(self) -> int:
        return sum(n for _, _, n in self.runs.values())

    def to_details(self) -> dict[str, Any]:
        """The report's details; at most MAX_RUNS boots named (the contract's limit: a box
        rebooted that often in one outage has its count right and the rest show as gaps)."""
        runs = sorted(self.runs.items())[:MAX_RUNS]
        return {
            "count": self.count,
            "runs": [{"boot_id": b, "first_seq": f, "last_seq": last, "count": n}
                     for b, (f, last, n) in runs],
        }  # fmt: skip


_SET_STATE = (
    "INSERT INTO state (key, value) VALUES (?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)


class Outbox:
    """A FIFO of messages waiting for the broker's acknowledgement.

    ``max_bytes`` bounds the payload bytes waiting (None: unbounded).
    """

    def __init__(self, path: Path | str, boot_id: str, max_bytes: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.boot_id = boot_id
        self.max_bytes = max_bytes
        self._db = sqlite3.connect(self.path, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
            self._db.executescript(_SCHEMA)
            # Only the current boot's counter matters; older boots' rows are dead weight.
            self._db.execute("DELETE FROM sequence WHERE boot_id != ?", (boot_id,))
        except sqlite3.Error as exc:
            self._db.close()
            raise _storage_error(exc) or exc from exc
        self._bytes = self._db.execute(
            "SELECT coalesce(sum(length(payload)), 0) FROM outbox"
        ).fetchone()[0]
        #: Rows dropped that the hub has not been told of: checked on every pump, so kept here.
        self.has_unreported_drops = bool(self.dropped_unreported().runs)
        #: Row ids the bound must spare: sent and awaiting (or past) their PUBACK. Dropping
        #: one would count as lost a message the hub stores anyway. Set by the daemon.
        self.spare: Callable[[], Collection[int]] = frozenset
        #: The latest drop report's row: sent ahead of the backlog, so the hub learns of the
        #: drops at once rather than after the whole backlog (not kept over a restart).
        self.report_row: int | None = None
        self._last_row: int | None = None

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
        return self._write(lambda: self._insert(topic, build))

    def put_drop_report(
        self, topic: str, build: Callable[[int, Dropped], dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Commit the report of the rows dropped since the last one, and forget them as
        unreported in the same transaction (a crash between cannot report twice or
        never). None when nothing was dropped."""

        def report() -> dict[str, Any] | None:
            dropped = self.dropped_unreported()
            if not dropped.runs:
                return None
            # Forgotten first: should the report itself push the outbox over its bound,
            # those new drops start a fresh account for the next report.
            self._db.execute("DELETE FROM state WHERE key = ?", (DROPPED_UNREPORTED,))
            self.has_unreported_drops = False
            payload = self._insert(topic, lambda seq: build(seq, dropped))
            self.report_row = self._last_row
            return payload

        return self._write(report)

    def _write(self, work: Callable[[], Any]) -> Any:
        """Run ``work`` in one write transaction; a full or failing disk is a StorageError."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _storage_error(exc) or exc from exc
        size, flagged = self._bytes, self.has_unreported_drops
        try:
            out = work()
            self._db.execute("COMMIT")
        except BaseException as exc:
            self._bytes, self.has_unreported_drops = size, flagged
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error) and (err := _storage_error(exc)):
                raise err from exc
            raise
        return out

    def _insert(self, topic: str, build: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        seq = self.last_seq() + 1
        payload = validate(build(seq))
        body = encode(payload)
        self._last_row = self._db.execute(
            "INSERT INTO outbox (topic, payload, created) VALUES (?, ?, ?)",
            (topic, body, time.time()),
        ).lastrowid
        self._db.execute(
            "INSERT INTO sequence (boot_id, last) VALUES (?, ?) "
            "ON CONFLICT(boot_id) DO UPDATE SET last = excluded.last",
            (self.boot_id, seq),
        )
        self._bytes += len(body)
        if self.max_bytes is not None and self._bytes > self.max_bytes:
            self._drop_oldest()
        return payload

    def _drop_oldest(self) -> None:
        """Delete the oldest rows until the bound holds again, counting each.

        Spared: the newest row (just written, kept even if it alone is over the bound)
        and the rows in flight (``spare``), so the bound may be passed by at most the
        link's in-flight window. A drop report that is itself dropped (the broker went
        away again before taking it) hands its numbers back to the account, so they are
        reported again rather than lost.
        """
        assert self.max_bytes is not None
        runs = dict(self.dropped_unreported().runs)
        dropped = 0
        spare = set(self.spare())
        newest = self._db.execute("SELECT max(id) FROM outbox").fetchone()[0]
        cur = self._db.execute("SELECT id, payload FROM outbox WHERE id < ? ORDER BY id", (newest,))
        doomed = []
        for row_id, body in cur:
            if self._bytes <= self.max_bytes:
                break
            if row_id in spare:
                continue
            doomed.append((row_id,))
            self._bytes -= len(body)
            dropped += 1
            payload = _payload(body)
            boot, seq = _boot_and_seq(payload)
            _merge(runs, boot, seq, seq, 1)
            for run in _report_runs(payload):
                _merge(runs, *run)
        if not doomed:
            return
        self._db.executemany("DELETE FROM outbox WHERE id = ?", doomed)
        self._db.execute(_SET_STATE, (DROPPED_UNREPORTED, json.dumps(runs)))
        self.has_unreported_drops = True
        total = int(self.get_state(DROPPED_TOTAL) or 0) + dropped
        self._db.execute(_SET_STATE, (DROPPED_TOTAL, str(total)))

    def dropped_unreported(self) -> Dropped:
        """Rows dropped by the bound that the hub has not been told of yet."""
        raw = self.get_state(DROPPED_UNREPORTED)
        runs = json.loads(raw) if raw else {}
        return Dropped({b: (int(f), int(last), int(n)) for b, (f, last, n) in runs.items()})

    def dropped_total(self) -> int:
        """Every row the bound ever dropped from this outbox."""
        return int(self.get_state(DROPPED_TOTAL) or 0)

    def size_bytes(self) -> int:
        """Payload bytes waiting (what the bound counts)."""
        return self._bytes

    def pending(self, limit: int, skip: Iterable[int] = ()) -> list[Row]:
        """The oldest rows not in ``skip`` (those already in flight); a fresh drop report
        comes first."""
        skip = list(skip)
        marks = ",".join("?" * len(skip))
        where = f"WHERE id NOT IN ({marks})" if skip else ""
        first = self.report_row if self.report_row not in skip else None
        cur = self._db.execute(
            f"SELECT id, topic, payload FROM outbox {where} ORDER BY id = ? DESC, id LIMIT ?",
            (*skip, first or 0, limit),
        )
        return [Row(*r) for r in cur.fetchall()]

    def remove(self, row_id: int) -> None:
        """Forget a row: call only once the broker has acknowledged it.

        A row the bound already dropped is simply gone (its drop was counted).
        """
        try:
            gone = self._db.execute(
                "DELETE FROM outbox WHERE id = ? RETURNING length(payload)", (row_id,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise _storage_error(exc) or exc from exc
        self._bytes -= sum(n for (n,) in gone)

    def reject(self, row_id: int, reason: str) -> None:
        """Move a row the broker refused for good aside, with the broker's reason."""

        def move() -> None:
            self._db.execute(
                "INSERT INTO rejected (id, topic, payload, created, reason, rejected) "
                "SELECT id, topic, payload, created, ?, ? FROM outbox WHERE id = ?",
                (reason, time.time(), row_id),
            )
            gone = self._db.execute(
                "DELETE FROM outbox WHERE id = ? RETURNING length(payload)", (row_id,)
            ).fetchall()
            self._bytes -= sum(n for (n,) in gone)

        self._write(move)

    def get_state(self, key: str, default: str | None = None) -> str | None:
        """A small fact that must survive a restart (e.g. meeting mode)."""
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        try:
            self._db.execute(_SET_STATE, (key, value))
        except sqlite3.Error as exc:
            raise _storage_error(exc) or exc from exc

    def take_states(self, prefix: str) -> list[tuple[str, str]]:
        """Read and delete at once every fact whose key starts with ``prefix``: requests
        other processes left (roomprobe ready). The read comes first and alone, so a poll
        with nothing to take writes nothing to the SD card."""
        pattern = prefix.replace("%", r"\%").replace("_", r"\_") + "%"
        query = "SELECT key, value FROM state WHERE key LIKE ? ESCAPE '\\'"
        if not self._db.execute(query + " LIMIT 1", (pattern,)).fetchone():
            return []

        def take() -> list[tuple[str, str]]:
            rows = self._db.execute(query + " ORDER BY key", (pattern,)).fetchall()
            self._db.executemany("DELETE FROM state WHERE key = ?", [(k,) for k, _ in rows])
            return [(k, v) for k, v in rows]

        return self._write(take)

    def rejected_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM rejected").fetchone()[0]

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _boot_and_seq(payload: dict[str, Any]) -> tuple[str, int]:
    """The envelope's boot id and sequence number of a stored payload (written by put,
    so valid; a row from elsewhere counts under "unknown")."""
    try:
        return str(payload["boot_id"]), int(payload["seq"])
    except (KeyError, TypeError, ValueError):
        return "unknown", 0


def _report_runs(payload: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    """The runs a drop report (an outbox_dropped event) names; [] for any other row."""
    if payload.get("schema") != "roomprobe.event" or payload.get("event") != "outbox_dropped":
        return []
    out = []
    for run in (payload.get("details") or {}).get("runs") or []:
        try:
            out.append((str(run["boot_id"]), int(run["first_seq"]), int(run["last_seq"]),
                        int(run["count"])))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _merge(runs: dict[str, tuple[int, int, int]], boot: str, first: int, last: int,
           count: int) -> None:  # fmt: skip
    if boot in runs:
        f, la, n = runs[boot]
        runs[boot] = (min(f, first), max(la, last), n + count)
    else:
        runs[boot] = (first, last, count)


def inspect(path: Path | str) -> dict[str, int]:
    """Counts of an outbox, read-only: safe beside a running daemon, writes nothing."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        waiting = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        rejected = db.execute("SELECT count(*) FROM rejected").fetchone()[0]
        last = db.execute("SELECT coalesce(max(last), 0) FROM sequence").fetchone()[0]
        size = db.execute("SELECT coalesce(sum(length(payload)), 0) FROM outbox").fetchone()[0]
        row = db.execute("SELECT value FROM state WHERE key = ?", (DROPPED_TOTAL,)).fetchone()
    finally:
        db.close()
    return {"waiting": waiting, "rejected": rejected, "last_seq": last, "waiting_bytes": size,
            "dropped": int(row[0]) if row else 0}  # fmt: skip


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
