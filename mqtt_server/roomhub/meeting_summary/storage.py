"""Stored summaries: written, read back, and which meetings need (re)computing.

One row per meeting and room in ``meeting_summaries``, and one with
``site = ''`` for the meeting as a whole (its counts), because message
retention deletes what the summary is made from. Hubs sharing a PostgreSQL
store may all write: the write of one meeting is serialised by a
transaction-level advisory lock (SQLite: ``BEGIN IMMEDIATE``) and a
computation never replaces a newer one, so the result is the same whoever
wrote it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, text

from roomprobe.contract import parse_utc, utc_iso

from ..schedule import Meeting
from .compute import READINESS_LOOKBACK, compute, room_order

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=5)  # a summary is first stored this long after the end
RECOMPUTE_FOR = timedelta(days=1)  # late results change the stored summary until then
BACKFILL = timedelta(days=30)  # older meetings without a summary get one, up to this age
MAX_PER_ROUND = 20  # meetings computed per round: a first round after an upgrade stays short
RECHECK_SLACK = timedelta(seconds=30)  # a batch committed while a round was reading
LOCK_KEY = 7242614  # PostgreSQL advisory lock (migrations 7242611, alerts 7242612/3)
MEETING_ROW = ""  # the site of the meeting's own row in meeting_summaries


_UPSERT = text(
    "INSERT INTO meeting_summaries (meeting_id, site, computed_at, summary) "
    "VALUES (:m, :s, :at, :summary) ON CONFLICT (meeting_id, site) DO UPDATE SET "
    "computed_at = excluded.computed_at, summary = excluded.summary "
    "WHERE meeting_summaries.computed_at <= excluded.computed_at"
)
_DROP_OTHERS = text(
    "DELETE FROM meeting_summaries WHERE meeting_id = :m AND site NOT IN :sites "
    "AND computed_at <= :at"
).bindparams(bindparam("sites", expanding=True))


def save(conn: Connection, summary: dict[str, Any]) -> None:
    """Store one meeting's summary (its own row and a row per room) in ``conn``'s
    transaction; a computation older than the stored one changes nothing."""
    if conn.dialect.name == "postgresql":
        # Hubs sharing the store may write the same meeting at once: one after the other.
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    meeting_id, at = summary["meeting"]["id"], summary["computed_at"]
    own = {k: v for k, v in summary.items() if k != "rooms"}
    rows = [
        {
            "m": meeting_id,
            "s": MEETING_ROW,
            "at": at,
            "summary": json.dumps(own, ensure_ascii=False),
        }
    ]
    rows += [
        {"m": meeting_id, "s": r["site"], "at": at, "summary": json.dumps(r, ensure_ascii=False)}
        for r in summary["rooms"]
    ]
    conn.execute(_UPSERT, rows)
    conn.execute(_DROP_OTHERS, {"m": meeting_id, "sites": [r["s"] for r in rows], "at": at})


def stored(conn: Connection, meeting_id: str) -> dict[str, Any] | None:
    """The stored summary of a meeting, or None; rows that cannot be read are left out."""
    rows = conn.execute(
        text("SELECT site, computed_at, summary FROM meeting_summaries WHERE meeting_id = :m"),
        {"m": meeting_id},
    ).mappings()
    own, rooms = None, []
    for r in rows:
        try:
            value = json.loads(r["summary"])
            if not isinstance(value, dict):
                raise ValueError("not an object")
            if r["site"] == MEETING_ROW:
                value["meeting"]["id"]
                own = value
            else:
                value["readiness"]["state"]
                rooms.append(value)
        except (ValueError, TypeError, KeyError):
            log.warning(
                "meeting %s: the stored summary of %r cannot be read", meeting_id, r["site"]
            )
    if own is None:
        return None
    rooms.sort(key=room_order)
    return {**own, "rooms": rooms}


def stored_counts(conn: Connection, meeting_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each meeting's own stored row (counts, computed_at), for the meetings page."""
    if not meeting_ids:
        return {}
    rows = conn.execute(
        text(
            "SELECT meeting_id, summary FROM meeting_summaries WHERE site = '' "
            "AND meeting_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": list(meeting_ids)},
    ).mappings()
    out = {}
    for r in rows:
        try:
            value = json.loads(r["summary"])
            out[r["meeting_id"]] = {
                "counts": dict(value["counts"]),
                "computed_at": value["computed_at"],
            }
        except (ValueError, TypeError, KeyError):
            continue
    return out


def stored_starting(conn: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The stored summaries of the meetings that started in [start, end), oldest first: what
    the monthly report lists. A meeting removed from the schedule since still counts: its
    summary is the record. None was computed before its meeting began, so rows computed
    before ``start`` are not read at all."""
    rows = conn.execute(
        text(
            "SELECT meeting_id, summary FROM meeting_summaries WHERE site = '' "
            "AND computed_at >= :a"
        ),
        {"a": utc_iso(start)},
    ).mappings()
    found = []
    for r in rows:
        try:
            began = parse_utc(json.loads(r["summary"])["meeting"]["start"])
        except (ValueError, TypeError, KeyError):
            log.warning("meeting %s: the stored summary cannot be read", r["meeting_id"])
            continue
        if start <= began < end:
            found.append((began, r["meeting_id"]))
    summaries = (stored(conn, meeting_id) for _, meeting_id in sorted(found))
    return [s for s in summaries if s is not None]


def find_meeting(conn: Connection, meeting_id: str) -> Meeting | None:
    row = conn.execute(text("SELECT * FROM meetings WHERE id = :id"), {"id": meeting_id})
    found = row.mappings().first()
    return Meeting.of_row(found) if found else None


def state_of(meeting: Meeting, now: datetime, has_stored: bool) -> str:
    """not-started, in-progress, provisional (over, not stored yet), stored (may still
    change with late results), final (over for longer than RECOMPUTE_FOR)."""
    if now < meeting.start:
        return "not-started"
    if now < meeting.end:
        return "in-progress"
    if not has_stored:
        return "provisional"
    return "final" if now - meeting.end > RECOMPUTE_FOR else "stored"


def for_meeting(
    conn: Connection, meeting_id: str, names: dict[str, str], now: datetime | None = None
) -> dict[str, Any] | None:
    """What the page, the API and the console show: the stored summary once there is one,
    else one computed now (a live partial before the end). None: no such meeting."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    meeting = find_meeting(conn, meeting_id)
    kept = stored(conn, meeting_id)
    if meeting is None and kept is None:
        return None
    if kept is not None and (meeting is None or now >= meeting.end):
        if meeting is None:  # removed from the schedule since: the summary stays
            meeting = Meeting.of_row({**_meeting_row(kept["meeting"])})
        return {**kept, "state": state_of(meeting, now, True)}
    assert meeting is not None
    return {**compute(conn, meeting, names, now), "state": state_of(meeting, now, False)}


def _meeting_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "title": item["title"],
        "starts_at": item["start"],
        "ends_at": item["end"],
        "sites": json.dumps(item["sites"]),
    }


def due(conn: Connection, now: datetime, limit: int = MAX_PER_ROUND) -> list[Meeting]:
    """Meetings over for GRACE that have no summary (up to BACKFILL old), or whose stored
    summary is older than a message that belongs in it (up to RECOMPUTE_FOR after the end)."""
    rows = (
        conn.execute(
            text(
                "SELECT m.*, s.computed_at FROM meetings m LEFT JOIN meeting_summaries s "
                "ON s.meeting_id = m.id AND s.site = '' "
                "WHERE m.ends_at <= :due AND m.ends_at > :oldest ORDER BY m.ends_at DESC, m.id"
            ),
            {"due": utc_iso(now - GRACE), "oldest": utc_iso(now - BACKFILL)},
        )
        .mappings()
        .all()
    )
    out = []
    for r in rows:
        if len(out) >= limit:
            break
        try:
            meeting = Meeting.of_row(r)
        except (ValueError, TypeError, KeyError):
            log.warning("meeting %r cannot be read; no summary", r["id"])
            continue
        fresh = r["computed_at"] is None  # never summarised (a hub that was down: backfill)
        if fresh or (now - meeting.end <= RECOMPUTE_FOR and _news(conn, meeting, r["computed_at"])):
            out.append(meeting)
    return out


def _news(conn: Connection, meeting: Meeting, computed_at: str) -> bool:
    """Has a message that belongs in the summary arrived since it was computed?"""
    since = utc_iso(parse_utc(computed_at) - RECHECK_SLACK)
    sql = (
        "SELECT 1 FROM messages WHERE received_at > :since AND ts >= :a AND ts <= :b "
        "AND schema != 'roomprobe.status'"
    )
    params: dict[str, Any] = {
        "since": since,
        "a": utc_iso(meeting.start - READINESS_LOOKBACK),
        "b": utc_iso(meeting.end + GRACE),
    }
    stmt = text(sql + " LIMIT 1")
    if meeting.sites:
        stmt = text(sql + " AND site IN :sites LIMIT 1").bindparams(
            bindparam("sites", expanding=True)
        )
        params["sites"] = list(meeting.sites)
    return conn.execute(stmt, params).first() is not None
