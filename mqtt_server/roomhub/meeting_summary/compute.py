"""A meeting's summary computed from the store: each room's messages read, then summed up.

Reads go by (``site``, ``ts``), the index migration 4 made: the meeting's
window with ``MARGIN`` either side, and the day before it for readiness runs
and the faults standing at its start. A row that cannot be read is counted
(``skipped``), never fatal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from roomprobe.contract import parse_utc, utc_iso

from ..schedule import Meeting
from .records import MARGIN, NONE, NOT_READY, READY, STATES, UNKNOWN, Msg
from .room import summarize_room

log = logging.getLogger(__name__)

READINESS_LOOKBACK = timedelta(days=1)  # readiness runs and standing faults looked for this early


_WINDOW_SQL = text(
    "SELECT schema, boot_id, seq, ts, received_at, payload FROM messages "
    "WHERE site = :s AND ts >= :a AND ts <= :b ORDER BY ts, id"
)
_EARLY_SQL = text(
    "SELECT schema, boot_id, seq, ts, received_at, payload FROM messages "
    "WHERE site = :s AND ts >= :a AND ts < :b "
    "AND schema IN ('roomprobe.result.readiness', 'roomprobe.event') ORDER BY ts, id"
)


def _read(rows: Iterable[Any]) -> tuple[list[Msg], int]:
    """Parse stored rows; one that cannot be read is counted, never fatal."""
    out, bad = [], 0
    for r in rows:
        try:
            payload = json.loads(r["payload"])
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            out.append(
                Msg(
                    str(r["schema"]),
                    str(r["boot_id"]),
                    int(r["seq"]),
                    parse_utc(r["ts"]),
                    parse_utc(r["received_at"]),
                    payload,
                )
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            bad += 1
    if bad:
        log.warning("meeting summary: %d stored messages could not be read", bad)
    return out, bad


def sites_of(conn: Connection, meeting: Meeting, names: dict[str, str]) -> list[str]:
    """The rooms a meeting concerns: its own list, or every site the hub knows."""
    if meeting.sites:
        return list(dict.fromkeys(meeting.sites))
    known = set(names) | set(conn.execute(text("SELECT site FROM sites")).scalars())
    return sorted(known)


def compute(
    conn: Connection, meeting: Meeting, names: dict[str, str], now: datetime | None = None
) -> dict[str, Any]:
    """The summary of ``meeting`` as the store knows it at ``now`` (a live partial before
    the end): ``{"meeting": ..., "rooms": [...], "counts": ..., "until": ...}``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    until = min(meeting.end, now)
    rooms = []
    for site in sites_of(conn, meeting, names):
        window, bad = _read(
            conn.execute(
                _WINDOW_SQL,
                {"s": site, "a": utc_iso(meeting.start - MARGIN), "b": utc_iso(until + MARGIN)},
            ).mappings()
        )
        early, bad_early = _read(
            conn.execute(
                _EARLY_SQL,
                {
                    "s": site,
                    "a": utc_iso(meeting.start - READINESS_LOOKBACK),
                    "b": utc_iso(meeting.start - MARGIN),
                },
            ).mappings()
        )
        rooms.append(
            summarize_room(
                site, names.get(site, site), meeting, until, early + window, bad + bad_early
            )
        )
    rooms.sort(key=room_order)
    return {
        "meeting": meeting.item(),
        "computed_at": utc_iso(now),
        "until": utc_iso(until),
        "counts": _counts(rooms),
        "rooms": rooms,
        "skipped": sum(r["skipped"] for r in rooms),
    }


def room_order(room: dict[str, Any]) -> tuple[int, int, str]:
    """Not ready first, then unknown, no check, ready; trouble during first; then by name."""
    state = room["readiness"]["state"]
    return (
        STATES.index(state) if state in STATES else 0,
        0 if room["trouble"] else 1,
        room["name"],
    )


def _counts(rooms: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts = {state: 0 for state in (READY, NOT_READY, UNKNOWN, NONE)}
    for r in rooms:
        counts[r["readiness"]["state"]] = counts.get(r["readiness"]["state"], 0) + 1
    counts["line_trouble"] = sum(1 for r in rooms if r["line"]["bad"])
    counts["audio_trouble"] = sum(1 for r in rooms if r["audio"]["count"])
    counts["silent"] = sum(1 for r in rooms if r["coverage"]["silent_s"] > 0)
    counts["rooms"] = len(rooms)
    return counts
