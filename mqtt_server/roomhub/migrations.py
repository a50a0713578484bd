"""The store's schema, one numbered migration at a time (see database.migrate).

Written once for SQLite and PostgreSQL: ``{pk}`` and ``{blob}`` are filled in
per database (database.Dialect). Times are RFC 3339 UTC text, which sorts as
time does in both. Append a migration; never edit one that has been applied.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: every message with its raw payload, the sites, the quarantine
    """
    CREATE TABLE messages (
        id           {pk},
        msg_id       TEXT    NOT NULL UNIQUE,
        site         TEXT    NOT NULL,
        schema       TEXT    NOT NULL,
        boot_id      TEXT    NOT NULL,
        seq          BIGINT  NOT NULL,
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
        id          {pk},
        received_at TEXT    NOT NULL,
        topic       TEXT    NOT NULL,
        size        INTEGER NOT NULL,
        reason      TEXT    NOT NULL,
        payload     {blob}  NOT NULL
    )
    """,
    # 2: retention by age; the meetings schedule; commands and their replies; alerts
    """
    CREATE INDEX messages_received ON messages (received_at);
    CREATE INDEX quarantine_received ON quarantine (received_at);
    CREATE TABLE meetings (
        id          TEXT PRIMARY KEY,
        title       TEXT NOT NULL,
        starts_at   TEXT NOT NULL,
        ends_at     TEXT NOT NULL,
        sites       TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX meetings_starts ON meetings (starts_at);
    CREATE TABLE commands (
        msg_id      TEXT PRIMARY KEY,
        site        TEXT NOT NULL,
        command     TEXT NOT NULL,
        args        TEXT NOT NULL,
        sent_at     TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        sent_by     TEXT NOT NULL,
        replied_at  TEXT,
        reply       TEXT
    );
    CREATE INDEX commands_site ON commands (site, sent_at);
    CREATE TABLE alerts (
        id          {pk},
        key         TEXT NOT NULL,
        site        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        opened_at   TEXT NOT NULL,
        closed_at   TEXT,
        detail      TEXT NOT NULL
    );
    CREATE INDEX alerts_open ON alerts (key, closed_at);
    CREATE TABLE deliveries (
        id          {pk},
        alert_id    BIGINT NOT NULL,
        event       TEXT NOT NULL,
        channel     TEXT NOT NULL,
        attempted_at TEXT NOT NULL,
        ok          INTEGER NOT NULL,
        error       TEXT
    )
    """,
    # 3: the alert watcher's lookups; at most one open alert per key, whatever runs it
    """
    CREATE INDEX deliveries_alert ON deliveries (alert_id, event, channel);
    CREATE UNIQUE INDEX alerts_one_open ON alerts (key) WHERE closed_at IS NULL
    """,
    # 4: per-meeting summaries (meeting_summary.py), kept beyond message retention; a site's
    # messages by the probe's own time, which is how a summary reads a meeting's window
    """
    CREATE INDEX messages_site_ts ON messages (site, ts);
    CREATE TABLE meeting_summaries (
        meeting_id  TEXT NOT NULL,
        site        TEXT NOT NULL,
        computed_at TEXT NOT NULL,
        summary     TEXT NOT NULL,
        PRIMARY KEY (meeting_id, site)
    )
    """,
]
