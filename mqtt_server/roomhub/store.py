"""The hub's store: every message kept with its raw payload, in SQLite.

Writes come from the consumer only (one connection, one thread); the web
server reads through connections of its own (WAL lets readers run beside the
writer). Migrations are numbered and tracked in ``PRAGMA user_version``; add
one by appending to ``MIGRATIONS``, never by editing an applied one.

Duplicates are refused by the UNIQUE msg_id, inside the same transaction as
the insert, so "stored" means "stored once" whatever the broker redelivers.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MIGRATIONS: list[str] = [
    # 1: messages, sites, quarantine
    """
    CREATE TABLE messages (
        id           INTEGER PRIMARY KEY,
        msg_id       TEXT    NOT NULL UNIQUE,
        site         TEXT    NOT NULL,
        schema       TEXT    NOT NULL,
        boot_id      TEXT    NOT NULL,
        seq          INTEGER NOT NULL,
        ts           TEXT    NOT NULL,
        clock_synced INTEGER NOT NULL,
        received_at  TEXT    NOT NULL,
        status       TEXT,
        payload      TEXT    NOT NULL
    );
    CREATE INDEX messages_site_schema ON messages (site, schema, id);
    CREATE INDEX messages_site_boot_seq ON messages (site, boot_id, seq);
    CREATE TABLE sites (
        site        TEXT PRIMARY KEY,
        first_seen  TEXT NOT NULL,
        last_seen   TEXT NOT NULL,
        online      INTEGER,
        last_status TEXT
    );
    CREATE TABLE quarantine (
        id          INTEGER PRIMARY KEY,
        received_at TEXT    NOT NULL,
        topic       TEXT    NOT NULL,
        size        INTEGER NOT NULL,
        reason      TEXT    NOT NULL,
        payload     BLOB    NOT NULL
    );
    """,
]

# Messages numbered by seq (durable on the probe); status carries the latest seq instead.
DURABLE = "schema != 'roomprobe.status'"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connect(path: Path | str, readonly: bool = False) -> sqlite3.Connection:
    path = Path(path)
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Made on the main thread, used on paho's: one writer at a time, never shared.
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # ack means committed to disk
    # The writer waits briefly: the consumer has its own retry with back-off around it.
    db.execute(f"PRAGMA busy_timeout={5000 if readonly else 1000}")
    db.row_factory = sqlite3.Row
    return db


def migrate(db: sqlite3.Connection) -> int:
    """Apply pending migrations; return the schema version now in force."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        for statement in filter(str.strip, script.split(";")):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {number}")
        db.execute("COMMIT")
    return len(MIGRATIONS)


@dataclass(frozen=True)
class Stored:
    duplicate: bool
    gap: tuple[int, int] | None  # seq numbers found missing just before this message


class Store:
    """The consumer's writer."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db = connect(self.path)
        migrate(self.db)

    def close(self) -> None:
        self.db.close()

    def store(self, payload: dict[str, Any]) -> Stored:
        """Store one valid message in one transaction; duplicates change nothing."""
        now = now_iso()
        schema = payload["schema"]
        durable = schema != "roomprobe.status"
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            gap = None
            if durable:
                prev = db.execute(
                    f"SELECT max(seq) FROM messages WHERE site = ? AND boot_id = ? AND {DURABLE}",
                    (payload["site"], payload["boot_id"]),
                ).fetchone()[0]
                if prev is not None and payload["seq"] > prev + 1:
                    gap = (prev + 1, payload["seq"] - 1)
            cur = db.execute(
                "INSERT INTO messages (msg_id, site, schema, boot_id, seq, ts, clock_synced, "
                "received_at, status, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(msg_id) DO NOTHING",
                (
                    payload["msg_id"], payload["site"], schema, payload["boot_id"],
                    payload["seq"], payload["ts"], int(payload["clock_synced"]), now,
                    payload.get("verdict", {}).get("status"),
                    json.dumps(payload, ensure_ascii=False),
                ),
            )  # fmt: skip
            if cur.rowcount == 0:
                db.execute("ROLLBACK")
                return Stored(duplicate=True, gap=None)
            online = payload["online"] if schema == "roomprobe.status" else None
            # The Last Will was built when the probe connected: its verdicts are stale.
            # Going offline changes "online" only; the last verdicts the probe gave stay.
            status_json = json.dumps(payload, ensure_ascii=False) if online else None
            db.execute(
                "INSERT INTO sites (site, first_seen, last_seen, online, last_status) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(site) DO UPDATE SET "
                "last_seen = excluded.last_seen, "
                "online = coalesce(excluded.online, sites.online), "
                "last_status = coalesce(excluded.last_status, sites.last_status)",
                (payload["site"], now, now, online, status_json),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return Stored(duplicate=False, gap=gap)

    def quarantine(self, topic: str, raw: bytes, reason: str, keep_bytes: int) -> None:
        """Keep a bad message with the reason; oversized ones only up to ``keep_bytes``."""
        self.db.execute(
            "INSERT INTO quarantine (received_at, topic, size, reason, payload) "
            "VALUES (?, ?, ?, ?, ?)",
            (now_iso(), topic, len(raw), reason, raw[:keep_bytes]),
        )


# -- reads (dashboard and API) ---------------------------------------------------------


def sites_overview(db: sqlite3.Connection, names: dict[str, str]) -> list[dict[str, Any]]:
    """One row per site: online, last seen, verdicts from the latest status, latest results."""
    known = {r["site"]: r for r in db.execute("SELECT * FROM sites")}
    out = []
    for site in sorted(set(known) | set(names)):
        row = known.get(site)
        status = json.loads(row["last_status"]) if row and row["last_status"] else None
        latest = {}
        for r in db.execute(
            "SELECT schema, payload FROM messages WHERE id IN (SELECT max(id) FROM messages "
            "WHERE site = ? AND schema LIKE 'roomprobe.result.%' GROUP BY schema)",
            (site,),
        ):
            p = json.loads(r["payload"])
            latest[p["kind"]] = {
                "ts": p["ts"],
                "verdict": p["verdict"],
                "metrics": p["metrics"],
                "simulated": p["simulated"],
            }
        out.append(
            {
                "site": site,
                "name": names.get(site, site),
                "online": bool(row["online"]) if row and row["online"] is not None else None,
                "first_seen": row["first_seen"] if row else None,
                "last_seen": row["last_seen"] if row else None,
                "firmware": status["firmware"] if status else None,
                "simulated": status["simulated"] if status else None,
                "meeting_mode": status["meeting_mode"] if status else None,
                "verdicts": status["verdicts"] if status else None,
                "leds": status["leds"] if status else None,
                "results": latest,
                "missing": missing_count(db, site),
                # The probe's own count of results not yet acknowledged by the broker.
                "waiting_on_probe": status["outbox_pending"] if status else None,
                # The last number the probe issued (as of its status) against the highest
                # stored for that boot: a difference beyond waiting_on_probe is in flight
                # or lost at the tail, where gaps cannot see it.
                "last_seq_reported": status["seq"] if status else None,
                "last_seq_stored": last_stored_seq(db, site, status["boot_id"]) if status else None,
            }
        )
    return out


def gaps(db: sqlite3.Connection, site: str | None = None) -> list[dict[str, Any]]:
    """Runs of sequence numbers never received, per site and boot."""
    where = "AND site = ?" if site else ""
    rows = db.execute(
        f"""
        SELECT site, boot_id, prev + 1 AS first, seq - 1 AS last FROM (
            SELECT site, boot_id, seq,
                   lag(seq, 1, 0) OVER (PARTITION BY site, boot_id ORDER BY seq) AS prev
            FROM messages WHERE {DURABLE} {where}
        ) WHERE seq > prev + 1 ORDER BY site, boot_id, first
        """,
        (site,) if site else (),
    )
    return [dict(r) for r in rows]


def last_stored_seq(db: sqlite3.Connection, site: str, boot_id: str) -> int | None:
    return db.execute(
        f"SELECT max(seq) FROM messages WHERE site = ? AND boot_id = ? AND {DURABLE}",
        (site, boot_id),
    ).fetchone()[0]


def missing_count(db: sqlite3.Connection, site: str) -> int:
    return sum(g["last"] - g["first"] + 1 for g in gaps(db, site))


def recent_results(db: sqlite3.Connection, site: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT payload, received_at FROM messages WHERE site = ? AND schema LIKE "
        "'roomprobe.result.%' ORDER BY id DESC LIMIT ?",
        (site, limit),
    )
    return [{**json.loads(r["payload"]), "received_at": r["received_at"]} for r in rows]


def quarantined(db: sqlite3.Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT id, received_at, topic, size, reason, payload FROM quarantine "
        "ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [
        {**dict(r), "payload": bytes(r["payload"][:2048]).decode("utf-8", "replace")} for r in rows
    ]


def counts(db: sqlite3.Connection) -> dict[str, int]:
    one = db.execute(
        "SELECT (SELECT count(*) FROM messages) AS messages, "
        f"(SELECT count(*) FROM messages WHERE {DURABLE}) AS durable, "
        "(SELECT count(*) FROM quarantine) AS quarantined, "
        "(SELECT count(*) FROM sites) AS sites"
    ).fetchone()
    return dict(one)
