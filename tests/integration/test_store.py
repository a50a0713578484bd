"""The hub's store, the same tests on SQLite and on a real PostgreSQL (tests/pgserver.py)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from roomhub import store
from roomhub.database import DatabaseUrlError, migrate, open_engine
from roomhub.migrations import MIGRATIONS
from roomhub.store import Incoming, Store
from roomprobe.contract import Stamp, schema_document, topics, utc_iso, validate

BOOT = str(uuid.uuid4())


def stamped(site: str, schema: str, seq: int, boot: str = BOOT, **body: Any) -> dict:
    """A contract-valid payload built from the schema's own example."""
    example = schema_document(schema)["examples"][0]
    envelope = Stamp(site, boot, lambda: True).envelope(schema, seq)
    fields = {k: v for k, v in example.items() if k not in envelope}
    payload = {**fields, **envelope, **body}
    return validate(json.loads(json.dumps(payload)), schema)


def result(site: str, seq: int, **body: Any) -> Incoming:
    p = stamped(site, "roomprobe.result.net", seq, **body)
    return Incoming(topics.result(site, "net"), json.dumps(p).encode(), p)


def status(site: str, seq: int, online: bool) -> Incoming:
    p = stamped(site, "roomprobe.status", seq, online=online)
    return Incoming(topics.status(site), json.dumps(p).encode(), p)


@pytest.fixture
def st(hub_db_url: str):
    s = Store(hub_db_url)
    try:
        yield s
    finally:
        s.close()


def rows(s: Store, sql: str, **params: Any) -> list[dict[str, Any]]:
    with s.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def test_migrations_are_recorded_and_applying_them_again_changes_nothing(st: Store):
    versions = [r["version"] for r in rows(st, "SELECT version FROM schema_version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    assert migrate(st.engine) == len(MIGRATIONS)
    assert len(rows(st, "SELECT version FROM schema_version")) == len(MIGRATIONS)


def test_a_batch_is_stored_once_whatever_is_delivered_twice(st: Store):
    first = [result("dak-ang", n) for n in range(1, 6)]
    again = first[2]  # a redelivery inside the same batch
    out = st.write([*first, again])
    assert out.outcomes == ["stored"] * 5 + ["duplicate"]
    out = st.write([first[0], result("dak-ang", 6)])  # and in a later batch
    assert out.outcomes == ["duplicate", "stored"]
    seqs = [r["seq"] for r in rows(st, "SELECT seq FROM messages ORDER BY seq")]
    assert seqs == [1, 2, 3, 4, 5, 6]
    stored = rows(st, "SELECT payload FROM messages WHERE seq = 3")[0]["payload"]
    assert json.loads(stored) == first[2].payload  # the raw payload, whole


def test_quarantine_keeps_the_reason_and_at_most_the_configured_bytes(hub_db_url: str):
    s = Store(hub_db_url, quarantine_keep_bytes=1024)
    try:
        big = b"x" * 5000
        out = s.write([Incoming("roomprobe/v1/dak-ang/event", big, None, "too big"),
                       result("dak-ang", 1)])  # fmt: skip
        assert out.outcomes == ["quarantined", "stored"]
        with s.engine.connect() as conn:
            q = store.quarantined(conn)
        assert [(r["size"], r["reason"], len(r["payload"])) for r in q] == [(5000, "too big", 1024)]
    finally:
        s.close()


def test_last_will_marks_offline_but_keeps_the_verdicts_the_probe_gave(st: Store):
    st.write([status("dak-ang", 1, online=True), result("dak-ang", 2)])
    st.write([status("dak-ang", 2, online=False)])  # the Last Will: stale verdicts
    with st.engine.connect() as conn:
        (site,) = [s for s in store.sites_overview(conn, {"dak-ang": "Xã Đắk Ang"})]
    assert site["online"] is False
    assert site["verdicts"] is not None and site["name"] == "Xã Đắk Ang"
    assert site["results"]["net"]["verdict"]["status"]


def test_a_status_after_the_will_inside_one_batch_wins(st: Store):
    st.write([status("dak-ang", 1, online=False), status("dak-ang", 2, online=True)])
    assert rows(st, "SELECT online FROM sites")[0]["online"] == 1


def test_gaps_are_found_per_site_and_boot(st: Store):
    st.write([result("dak-ang", n) for n in (1, 2, 5, 6, 9)])
    st.write([result("bo-y", n) for n in (1, 2, 3)])
    with st.engine.connect() as conn:
        found = [(g["first"], g["last"]) for g in store.gaps(conn, "dak-ang")]
        assert found == [(3, 4), (7, 8)]
        assert store.missing_count(conn, "bo-y") == 0
        assert store.counts(conn)["durable"] == 8


def drop_report(seq: int, details: Any) -> Incoming:
    """An outbox_dropped event; ``details`` unchecked (a row stored before the contract
    checked its shape, or a damaged one), so it goes in without validation."""
    p = stamped("dak-ang", "roomprobe.event", seq, event="button", details={})
    p = {**p, "event": "outbox_dropped", "details": details}
    return Incoming(topics.event("dak-ang"), json.dumps(p).encode(), p)


def test_numbers_the_probe_reported_dropped_are_not_missing(st: Store):
    st.write([result("dak-ang", n) for n in (1, 2, 9, 10)])
    st.write([drop_report(11, {"count": 4, "runs": [
        {"boot_id": BOOT, "first_seq": 3, "last_seq": 6, "count": 4}]})])  # fmt: skip
    with st.engine.connect() as conn:
        (gap,) = store.gaps(conn, "dak-ang")
        assert (gap["first"], gap["last"], gap["dropped"]) == (3, 8, 4)
        assert store.missing_count(conn, "dak-ang") == 2  # 7 and 8: nobody explained them


def test_a_malformed_drop_report_never_breaks_the_board(st: Store):
    st.write([result("dak-ang", n) for n in (1, 2, 9)])
    bad = [
        {"runs": "x"},
        {"runs": None},
        {"runs": [{"first_seq": 1}]},
        {},
        {"runs": [{"boot_id": BOOT, "first_seq": "a", "last_seq": 4, "count": 1}]},
        {"runs": [{"boot_id": BOOT, "first_seq": 6, "last_seq": 4, "count": 1}]},
        "text",
    ]
    st.write([drop_report(10 + i, d) for i, d in enumerate(bad)])  # fmt: skip
    with st.engine.connect() as conn:
        (site,) = store.sites_overview(conn, {"dak-ang": "Xã Đắk Ang"})
        assert site["missing"] == 6  # 3..8, none explained
        assert [g["dropped"] for g in store.gaps(conn, "dak-ang")] == [0]


def test_the_contract_refuses_a_drop_report_of_the_wrong_shape():
    from roomprobe.contract import ContractError

    good = {"count": 1, "runs": [{"boot_id": BOOT, "first_seq": 1, "last_seq": 1, "count": 1}]}
    stamped("dak-ang", "roomprobe.event", 1, event="outbox_dropped", details=good)
    for details in ({"runs": "x"}, {"count": 1}, {"count": 1, "runs": []},
                    {"count": 1, "runs": [{"boot_id": BOOT, "first_seq": "a", "last_seq": 1,
                                           "count": 1}]}):  # fmt: skip
        with pytest.raises(ContractError):
            stamped("dak-ang", "roomprobe.event", 1, event="outbox_dropped", details=details)


def test_retention_deletes_old_messages_in_chunks_but_keeps_each_sites_last_status(st: Store):
    st.write([status("dak-ang", 1, online=True)] + [result("dak-ang", n) for n in range(2, 30)])
    st.write([result("bo-y", 1)])
    later = datetime.now(UTC) + timedelta(days=10)
    removed = st.prune(keep_results_days=5, keep_quarantine_days=5, now=later, chunk=7)
    assert removed["messages"] == 29  # everything but dak-ang's last status
    left = rows(st, "SELECT schema FROM messages")
    assert left == [{"schema": "roomprobe.status"}]
    assert sum(st.prune(5, 5, now=datetime.now(UTC)).values()) == 0


def test_retention_of_zero_keeps_everything(st: Store):
    st.write([result("dak-ang", n) for n in range(1, 4)])
    far = datetime.now(UTC) + timedelta(days=10000)
    assert sum(st.prune(0, 0, now=far).values()) == 0


def test_messages_between_reads_a_window_oldest_first(st: Store):
    st.write([result("dak-ang", 1), status("dak-ang", 1, True)])
    st.write([result("bo-y", 1)])
    start = utc_iso(datetime.now(UTC) - timedelta(minutes=1))
    end = utc_iso(datetime.now(UTC) + timedelta(minutes=1))
    with st.engine.connect() as conn:
        both = store.messages_between(conn, start, end, ["roomprobe.result.net"])
        one = store.messages_between(conn, start, end, ["roomprobe.result.net"], site="bo-y")
        none = store.messages_between(conn, end, end, ["roomprobe.result.net"])
    assert [m["payload"]["site"] for m in both] == ["dak-ang", "bo-y"]
    assert [m["payload"]["site"] for m in one] == ["bo-y"]
    assert none == []


def test_the_dashboards_connection_cannot_write(st: Store, hub_db_url: str):
    reader = open_engine(hub_db_url, readonly=True)
    try:
        with pytest.raises(SQLAlchemyError), reader.begin() as conn:
            conn.execute(text("DELETE FROM messages"))
    finally:
        reader.dispose()


@pytest.mark.parametrize(
    "url, words",
    [
        ("mysql://root@localhost/x", r"SQLite \(a path\) or PostgreSQL"),
        ("not a url", "is not a database URL"),
        ("sqlite://", "must be a file"),
    ],
)
def test_a_bad_storage_url_is_named(url: str, words: str):
    with pytest.raises(DatabaseUrlError, match=words):
        open_engine(url)


def test_a_store_from_before_schema_version_is_taken_over_at_its_version(tmp_path: Path):
    """Stores made when SQLite's PRAGMA user_version held the version keep their data."""
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    for statement in filter(str.strip, MIGRATIONS[0].split(";")):
        old.execute(statement.format(pk="INTEGER PRIMARY KEY", blob="BLOB"))
    old.execute(
        "INSERT INTO messages (msg_id, site, schema, boot_id, seq, ts, clock_synced, "
        "received_at, payload) VALUES (?, 'dak-ang', 'roomprobe.event', 'b', 1, 't', 1, 't', '{}')",
        (str(uuid.uuid4()),),
    )
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    s = Store(f"sqlite:///{path}")
    try:
        assert rows(s, "SELECT count(*) AS n FROM messages")[0]["n"] == 1
        assert rows(s, "SELECT count(*) AS n FROM meetings")[0]["n"] == 0  # migration 2 ran
    finally:
        s.close()


def test_a_failed_batch_stores_nothing(st: Store):
    """One transaction: if it fails, no message of the batch is taken (none may be acked)."""
    good = result("dak-ang", 1)
    broken = Incoming(good.topic, good.raw, {**good.payload, "msg_id": None})  # NOT NULL
    with pytest.raises(SQLAlchemyError):
        st.write([good, broken])
    assert rows(st, "SELECT count(*) AS n FROM messages")[0]["n"] == 0


def test_retention_removes_alerts_ended_long_ago_with_their_deliveries(st: Store):
    old, recent, still_open = "2020-01-01T00:00:00.000Z", utc_iso(), None
    with st.engine.begin() as conn:
        for key, closed in (("line:a", old), ("line:b", recent), ("line:c", still_open)):
            alert_id = conn.execute(
                text("INSERT INTO alerts (key, site, kind, opened_at, closed_at, detail) "
                     "VALUES (:k, 'a', 'line', :o, :c, '{}') RETURNING id"),
                {"k": key, "o": old, "c": closed},
            ).scalar()  # fmt: skip
            conn.execute(
                text("INSERT INTO deliveries (alert_id, event, channel, attempted_at, ok) "
                     "VALUES (:a, 'opened', 'email', :t, 1)"),
                {"a": alert_id, "t": old},
            )  # fmt: skip
    removed = st.prune(keep_results_days=30, keep_quarantine_days=30)
    assert removed["alerts"] == 1 and removed["deliveries"] == 1
    assert [r["key"] for r in rows(st, "SELECT key FROM alerts ORDER BY key")] == [
        "line:b", "line:c"]  # fmt: skip
    assert len(rows(st, "SELECT id FROM deliveries")) == 2


def test_one_open_alert_per_key_is_a_rule_of_the_store(st: Store):
    insert = text("INSERT INTO alerts (key, site, kind, opened_at, detail) "
                  "VALUES ('offline:a', 'a', 'offline', :t, '{}')")  # fmt: skip
    with st.engine.begin() as conn:
        conn.execute(insert, {"t": utc_iso()})
    with pytest.raises(SQLAlchemyError), st.engine.begin() as conn:
        conn.execute(insert, {"t": utc_iso()})


def test_a_message_the_database_refuses_is_set_aside_and_the_rest_stored(tmp_path: Path):
    """A value the database will not hold must not stop the writer nor block the batch."""
    from roomhub import config
    from roomhub.consumer import Consumer, _Received

    db = tmp_path / "hub.sqlite"
    cfg = config.parse(f'hub_id = "test-hub"\n[storage]\npath = "{db}"\n')
    consumer = Consumer(cfg)  # not started: its writer is driven by hand below
    try:
        with consumer.store.engine.begin() as conn:  # the database's own refusal
            conn.exec_driver_sql(
                "CREATE TRIGGER no_bo_y BEFORE INSERT ON messages WHEN NEW.site = 'bo-y' "
                "BEGIN SELECT RAISE(ABORT, 'bo-y is refused here'); END"
            )
        batch = [result("dak-ang", n) for n in (1, 2)] + [result("bo-y", 1), result("dak-ang", 3)]
        consumer._commit_and_ack([_Received(0, n, 1, m.topic, m.raw)
                                  for n, m in enumerate(batch, 1)])  # fmt: skip
        with consumer.store.engine.connect() as conn:
            stored = conn.execute(text("SELECT site, seq FROM messages ORDER BY id")).all()
            (refused,) = store.quarantined(conn)
        assert [tuple(r) for r in stored] == [("dak-ang", 1), ("dak-ang", 2), ("dak-ang", 3)]
        assert refused["reason"] == "the store refused it: bo-y is refused here"
        assert consumer.counts["quarantined"] == 1 and consumer.counts["stored"] == 3
    finally:
        consumer.store.close()


def test_a_meetings_id_carries_the_districts_date_not_utcs(st: Store):
    """A 06:30 meeting in Vietnam starts at 23:30 UTC the day before: people know it by theirs."""
    from zoneinfo import ZoneInfo

    from roomhub import schedule

    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    start = (datetime.now(hcm) + timedelta(days=2)).replace(hour=6, minute=30, second=0,
                                                             microsecond=0)  # fmt: skip
    m = schedule.add(st.engine, "Họp giao ban sáng", start, start + timedelta(hours=1), [], None,
                     hcm)  # fmt: skip
    assert m.id.startswith(f"{start:%Y-%m-%d}-hop-giao-ban-sang-")
    assert m.start.tzinfo == UTC and f"{m.start:%Y-%m-%d}" != f"{start:%Y-%m-%d}"


def test_the_ts_column_places_an_unsynchronised_message_at_its_arrival(st: Store):
    """The payload keeps the probe's own ts; the column holds roomhub.timing's placement,
    which the meeting summaries query by."""
    days_back = "2026-11-27T09:00:00.000Z"
    wrong = result("dak-ang", 1, ts=days_back, clock_synced=False)
    right = result("dak-ang", 2, ts="2026-11-30T03:00:00.000Z", clock_synced=True)
    st.write([wrong, right])
    got = rows(st, "SELECT seq, ts, received_at, payload FROM messages ORDER BY seq")
    assert got[0]["ts"] == got[0]["received_at"]
    assert json.loads(got[0]["payload"])["ts"] == days_back
    assert got[1]["ts"] == "2026-11-30T03:00:00.000Z"
