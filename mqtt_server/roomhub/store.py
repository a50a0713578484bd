"""The hub's store: every message kept with its raw payload, in SQLite or PostgreSQL.

Writes come from the consumer's writer thread, a batch per transaction: one
commit (one fsync) for everything the broker delivered meanwhile, and only
then the acknowledgements (rule 2). The web server reads through connections
of its own (SQLite's WAL, PostgreSQL's MVCC: readers never wait on the writer).

Duplicates are refused by the UNIQUE msg_id inside the same transaction as the
insert, so "stored" means "stored once" whatever the broker redelivers, and
whichever of several consumers (shared subscriptions) got the copy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import column, table

from roomprobe.contract import utc_iso

from .database import dialect_of, migrate, open_engine
from .timing import placed_at

# Messages numbered by seq (durable on the probe); status carries the latest seq instead.
DURABLE = "schema != 'roomprobe.status'"

_MESSAGE_COLUMNS = ("msg_id", "site", "schema", "boot_id", "seq", "ts", "clock_synced",
                    "received_at", "status", "payload")  # fmt: skip
_messages = table("messages", *(column(c) for c in _MESSAGE_COLUMNS))
# PostgreSQL: one statement per batch with one array per column, sent in binary. The
# generic multi-row VALUES costs psycopg a Python parse of a ~5,000-placeholder
# statement per batch, and text arrays a Python escape of every payload.
_PG_ARRAY_TYPES = {"seq": "bigint", "clock_synced": "integer", "online": "integer"}


def _pg_unnest(columns: Sequence[str]) -> str:
    arrays = ", ".join(f"%({c})b::{_PG_ARRAY_TYPES.get(c, 'text')}[]" for c in columns)
    names = ", ".join(columns)
    return f"SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS u({names}, n) ORDER BY n"


_SITE_COLUMNS = ("site", "first_seen", "last_seen", "online", "last_status")
_sites = table("sites", *(column(c) for c in _SITE_COLUMNS))


@dataclass(frozen=True)
class Incoming:
    """One message for the store: a valid payload, or a bad one with its reason."""

    topic: str
    raw: bytes
    payload: dict[str, Any] | None = None  # None: quarantine
    reason: str = ""


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[str]  # per message: stored, duplicate or quarantined

    def count(self, outcome: str) -> int:
        return self.outcomes.count(outcome)


class Store:
    """The consumer's writer."""

    def __init__(self, url: str, quarantine_keep_bytes: int = 65536):
        self.engine: Engine = open_engine(url)
        self.dialect = dialect_of(self.engine)
        self.keep_bytes = quarantine_keep_bytes
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, tbl: Any) -> Any:
        return (postgresql if self.dialect.name == "postgresql" else sqlite).insert(tbl)

    def write(self, batch: Sequence[Incoming]) -> BatchResult:
        """Store a batch in one transaction; duplicates (by msg_id) change nothing.

        Raises the database's error if the transaction fails: then nothing of
        the batch is stored, and nothing of it may be acknowledged.
        """
        now = utc_iso()
        rows: dict[str, dict[str, Any]] = {}  # msg_id -> row; a copy inside the batch counts once
        bad = []
        for item in batch:
            p = item.payload
            if p is None:
                bad.append({"received_at": now, "topic": item.topic, "size": len(item.raw),
                            "reason": item.reason,
                            "payload": item.raw[: self.keep_bytes]})  # fmt: skip
                continue
            rows.setdefault(p["msg_id"], {
                "msg_id": p["msg_id"], "site": p["site"], "schema": p["schema"],
                "boot_id": p["boot_id"], "seq": p["seq"],
                # Where the message sits in time (roomhub.timing); the payload keeps the probe's.
                "ts": utc_iso(placed_at(p, now)),
                "clock_synced": int(p["clock_synced"]), "received_at": now,
                "status": (p.get("verdict") or {}).get("status"),
                # The text the probe sent (decode() checked it is UTF-8 JSON): no re-encoding.
                "payload": item.raw.decode("utf-8"),
            })  # fmt: skip
        fresh: set[str] = set()
        with self.engine.begin() as conn:
            if rows:
                fresh = self._insert_messages(conn, list(rows.values()))
                new = [p for p in _payloads(batch) if p["msg_id"] in fresh]
                self._touch_sites(conn, new, now)
                replies = [
                    {"id": p["request_id"], "at": now, "reply": json.dumps(p, ensure_ascii=False)}
                    for p in new if p["schema"] == "roomprobe.cmd-reply"
                ]  # fmt: skip
                if replies:  # the command the hub sent, answered: first answer wins
                    conn.execute(
                        text("UPDATE commands SET replied_at = :at, reply = :reply "
                             "WHERE msg_id = :id AND replied_at IS NULL"),
                        replies,
                    )  # fmt: skip
            if bad:
                conn.execute(
                    text("INSERT INTO quarantine (received_at, topic, size, reason, payload) "
                         "VALUES (:received_at, :topic, :size, :reason, :payload)"),
                    bad,
                )  # fmt: skip
        outcomes = []
        for item in batch:
            if item.payload is None:
                outcomes.append("quarantined")
            elif item.payload["msg_id"] in fresh:
                fresh.discard(item.payload["msg_id"])  # a second copy in the batch is a duplicate
                outcomes.append("stored")
            else:
                outcomes.append("duplicate")
        return BatchResult(outcomes)

    def _insert_messages(self, conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
        """Insert the rows in arrival order, skipping known msg_ids; the msg_ids inserted."""
        if self.dialect.name == "postgresql":
            # One short statement with one array per column: psycopg converts (and caches)
            # it once, where a VALUES list of 500 rows is re-parsed in Python every batch.
            sql = (f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)}) "
                   f"{_pg_unnest(_MESSAGE_COLUMNS)} "
                   "ON CONFLICT (msg_id) DO NOTHING RETURNING msg_id")  # fmt: skip
            arrays = {c: [r[c] for r in rows] for c in _MESSAGE_COLUMNS}
            return set(conn.exec_driver_sql(sql, arrays).scalars())
        stmt = (
            self._insert(_messages)
            .on_conflict_do_nothing(index_elements=["msg_id"])
            .returning(_messages.c.msg_id)
        )
        return set(conn.execute(stmt, rows).scalars())

    def _touch_sites(self, conn: Connection, payloads: list[dict[str, Any]], now: str) -> None:
        """One upsert per site: last seen now, online and last status from its latest status."""
        per_site: dict[str, dict[str, Any]] = {}
        for p in payloads:  # in arrival order: a later status wins
            entry = per_site.setdefault(p["site"], {"site": p["site"], "first_seen": now,
                                                    "last_seen": now, "online": None,
                                                    "last_status": None})  # fmt: skip
            if p["schema"] == "roomprobe.status":
                entry["online"] = int(p["online"])
                # The Last Will was built when the probe connected: its verdicts are stale.
                # Going offline changes "online" only; the last verdicts the probe gave stay.
                if p["online"]:
                    entry["last_status"] = json.dumps(p, ensure_ascii=False)
        if not per_site:
            return
        # In one order for every consumer: two hubs sharing the load (shared subscription)
        # that upsert the same sites in different orders deadlock on PostgreSQL.
        rows = [per_site[site] for site in sorted(per_site)]
        if self.dialect.name == "postgresql":
            sql = (f"INSERT INTO sites ({', '.join(_SITE_COLUMNS)}) {_pg_unnest(_SITE_COLUMNS)} "
                   "ON CONFLICT (site) DO UPDATE SET last_seen = excluded.last_seen, "
                   "online = coalesce(excluded.online, sites.online), "
                   "last_status = coalesce(excluded.last_status, sites.last_status)")  # fmt: skip
            conn.exec_driver_sql(sql, {c: [r[c] for r in rows] for c in _SITE_COLUMNS})
            return
        ins = self._insert(_sites)
        stmt = ins.on_conflict_do_update(
            index_elements=["site"],
            set_={
                "last_seen": ins.excluded.last_seen,
                "online": text("coalesce(excluded.online, sites.online)"),
                "last_status": text("coalesce(excluded.last_status, sites.last_status)"),
            },
        )
        conn.execute(stmt, rows)

    def prune(self, keep_results_days: float, keep_quarantine_days: float,
              now: datetime | None = None, chunk: int = 5000) -> dict[str, int]:  # fmt: skip
        """Delete what is older than the retention, a chunk per transaction.

        Chunks keep the writer's lock short so ingest goes on between them. The
        newest status of each site stays whatever its age: it is what the board
        shows for a room that has been silent a long time.
        """
        now = now or datetime.now(UTC)
        removed = {"messages": 0, "quarantine": 0, "deliveries": 0, "alerts": 0}
        plans = (
            ("messages", keep_results_days,
             "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE received_at < :cut "
             "AND id NOT IN (SELECT max(id) FROM messages WHERE schema = 'roomprobe.status' "
             "GROUP BY site) ORDER BY id LIMIT :n)"),
            ("quarantine", keep_quarantine_days,
             "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine "
             "WHERE received_at < :cut ORDER BY id LIMIT :n)"),
            # Alerts ended longer ago than the results, with their delivery records.
            ("deliveries", keep_results_days,
             "DELETE FROM deliveries WHERE id IN (SELECT d.id FROM deliveries d JOIN alerts a "
             "ON a.id = d.alert_id WHERE a.closed_at < :cut ORDER BY d.id LIMIT :n)"),
            ("alerts", keep_results_days,
             "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE closed_at < :cut "
             "AND id NOT IN (SELECT alert_id FROM deliveries) ORDER BY id LIMIT :n)"),
        )  # fmt: skip
        for name, days, sql in plans:
            if days <= 0:
                continue  # 0 keeps everything
            cut = utc_iso(now - timedelta(days=days))
            while True:
                with self.engine.begin() as conn:
                    n = conn.execute(text(sql), {"cut": cut, "n": chunk}).rowcount
                removed[name] += n
                if n < chunk:
                    break
        return removed


def _payloads(batch: Sequence[Incoming]) -> list[dict[str, Any]]:
    return [item.payload for item in batch if item.payload is not None]


# -- reads (dashboard, API, alerts, reports) ---------------------------------------------


def sites_overview(
    db: Connection, names: dict[str, str], only: str | None = None
) -> list[dict[str, Any]]:
    """One row per site: online, last seen, verdicts from the latest status, latest results.

    ``only`` reads one site (a room's page) instead of the whole district.
    """
    where, params = ("WHERE site = :s", {"s": only}) if only else ("", {})
    rows = db.execute(text(f"SELECT * FROM sites {where}"), params).mappings()
    known = {r["site"]: r for r in rows}
    latest_by_site: dict[str, dict[str, Any]] = {}
    for r in db.execute(
        text(
            "SELECT site, ts, payload FROM messages WHERE id IN (SELECT max(id) FROM messages "
            f"WHERE schema LIKE 'roomprobe.result.%' {where.replace('WHERE', 'AND')} "
            "GROUP BY site, schema)"
        ),
        params,
    ).mappings():
        p = json.loads(r["payload"])
        latest_by_site.setdefault(r["site"], {})[p["kind"]] = {
            "ts": r["ts"],  # placed (roomhub.timing): not days back for a wrong clock
            "verdict": p["verdict"],
            "metrics": p["metrics"],
            "simulated": p["simulated"],
            # A readiness run's own fields: the board judges a meeting by its own run.
            **{k: p[k] for k in ("readiness", "meeting_id", "parts") if k in p},
        }
    missing = _missing_per_site(db, only)
    wanted = set(known) | ({only} & set(names) if only else set(names))
    out = []
    for site in sorted(wanted):
        row = known.get(site)
        status = json.loads(row["last_status"]) if row and row["last_status"] else None
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
                "results": latest_by_site.get(site, {}),
                "missing": missing.get(site, 0),
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


def site_ids(db: Connection) -> set[str]:
    """Every site the store has heard from."""
    return set(db.execute(text("SELECT site FROM sites")).scalars())


def gaps(db: Connection, site: str | None = None) -> list[dict[str, Any]]:
    """Runs of sequence numbers never received, per site and boot."""
    where = "AND site = :site" if site else ""
    rows = db.execute(
        text(f"""
        SELECT site, boot_id, prev + 1 AS first, seq - 1 AS last FROM (
            SELECT site, boot_id, seq,
                   lag(seq, 1, 0) OVER (PARTITION BY site, boot_id ORDER BY seq) AS prev
            FROM messages WHERE {DURABLE} {where}
        ) AS numbered WHERE seq > prev + 1 ORDER BY site, boot_id, first
        """),
        {"site": site} if site else {},
    ).mappings()
    found = [dict(r) for r in rows]
    dropped = dropped_on_probe(db, site) if found else {}
    for g in found:
        # Numbers the probe said it dropped (its outbox's bound, a long outage) are
        # accounted for, not missing: only the rest is a loss nobody explained.
        g["dropped"] = sum(
            max(0, min(g["last"], last) - max(g["first"], first) + 1)
            for first, last in dropped.get((g["site"], g["boot_id"]), [])
        )
    return found


def dropped_on_probe(
    db: Connection, site: str | None = None
) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """The runs of sequence numbers each probe reported dropping (outbox_dropped events),
    per (site, boot)."""
    where = "AND site = :site" if site else ""
    rows = db.execute(
        text(
            "SELECT site, payload FROM messages WHERE schema = 'roomprobe.event' "
            f"AND payload LIKE '%outbox_dropped%' {where}"  # narrowed: _runs_of checks
        ),
        {"site": site} if site else {},
    ).mappings()
    out: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in rows:
        for boot, first, last in _runs_of(r["payload"]):
            out.setdefault((r["site"], boot), []).append((first, last))
    return out


def _runs_of(raw: str) -> list[tuple[str, int, int]]:
    """(boot, first, last) of one stored drop report. The contract checks its shape since
    it was added; a row stored before that, or damaged, gives what it can, never an error
    (the board lists every site through here)."""
    try:
        payload = json.loads(raw)
        runs = payload["details"]["runs"] if payload.get("event") == "outbox_dropped" else []
    except (ValueError, TypeError, KeyError, AttributeError):
        return []
    out = []
    for run in runs if isinstance(runs, list) else []:
        try:
            boot, first, last = str(run["boot_id"]), int(run["first_seq"]), int(run["last_seq"])
        except (TypeError, KeyError, ValueError):
            continue
        if first <= last:
            out.append((boot, first, last))
    return out


def _missing_per_site(db: Connection, site: str | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for g in gaps(db, site):
        out[g["site"]] = out.get(g["site"], 0) + g["last"] - g["first"] + 1 - g["dropped"]
    return out


def last_stored_seq(db: Connection, site: str, boot_id: str) -> int | None:
    return db.execute(
        text(f"SELECT max(seq) FROM messages WHERE site = :s AND boot_id = :b AND {DURABLE}"),
        {"s": site, "b": boot_id},
    ).scalar()


def missing_count(db: Connection, site: str) -> int:
    """Sequence numbers never received and not reported dropped by the probe."""
    return sum(g["last"] - g["first"] + 1 - g["dropped"] for g in gaps(db, site))


def recent_results(db: Connection, site: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.execute(
        text(
            "SELECT payload, received_at FROM messages WHERE site = :s AND schema LIKE "
            "'roomprobe.result.%' ORDER BY id DESC LIMIT :n"
        ),
        {"s": site, "n": limit},
    ).mappings()
    out = []
    for r in rows:
        p = json.loads(r["payload"])
        out.append({**p, "received_at": r["received_at"],
                    "placed_at": utc_iso(placed_at(p, r["received_at"]))})  # fmt: skip
    return out


def messages_between(
    db: Connection,
    start: str,
    end: str,
    schemas: Sequence[str],
    site: str | None = None,
) -> list[dict[str, Any]]:
    """Stored messages received in [start, end), oldest first: for charts and reports."""
    stmt = text(
        "SELECT received_at, payload FROM messages WHERE received_at >= :start "
        "AND received_at < :end AND schema IN :schemas"
        + (" AND site = :site" if site else "")
        + " ORDER BY received_at, id"
    ).bindparams(bindparam("schemas", expanding=True))
    params: dict[str, Any] = {"start": start, "end": end, "schemas": list(schemas)}
    if site:
        params["site"] = site
    return [
        {"received_at": r["received_at"], "payload": json.loads(r["payload"])}
        for r in db.execute(stmt, params).mappings()
    ]


def quarantined(db: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = db.execute(
        text(
            "SELECT id, received_at, topic, size, reason, payload FROM quarantine "
            "ORDER BY id DESC LIMIT :n"
        ),
        {"n": limit},
    ).mappings()
    return [
        {**dict(r), "payload": bytes(r["payload"][:2048]).decode("utf-8", "replace")} for r in rows
    ]


def counts(db: Connection) -> dict[str, int]:
    one = db.execute(
        text(
            "SELECT (SELECT count(*) FROM messages) AS messages, "
            f"(SELECT count(*) FROM messages WHERE {DURABLE}) AS durable, "
            "(SELECT count(*) FROM quarantine) AS quarantined, "
            "(SELECT count(*) FROM sites) AS sites, "
            "(SELECT count(*) FROM sites WHERE online = 1) AS online"
        )
    ).mappings()
    return {k: int(v) for k, v in dict(one.one()).items()}
