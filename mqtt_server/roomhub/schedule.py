"""The district's meeting schedule on the hub: kept in the store, published retained.

The store's ``meetings`` table is the truth; ``roomprobe/v1/schedule`` is a
retained copy of what lies ahead (meetings that have not ended), republished
after every change and whenever the hub connects, so a probe that was offline
or rebooted finds the current schedule waiting on the broker.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, Engine, text

from roomprobe.contract import parse_utc, topics, utc_iso

MAX_AHEAD = 500  # the schedule schema's maxItems
MAX_LENGTH = timedelta(hours=12)


class MeetingError(ValueError):
    """A meeting that cannot be scheduled; the message says why, for a person."""


@dataclass(frozen=True)
class Meeting:
    id: str
    title: str
    start: datetime
    end: datetime
    sites: tuple[str, ...]  # empty: every site
    created: datetime | None = None  # when it was scheduled: the boxes check from then on

    def concerns(self, site: str) -> bool:
        return not self.sites or site in self.sites

    def item(self) -> dict[str, Any]:
        """As the contract's schedule carries it."""
        return {"id": self.id, "title": self.title, "start": utc_iso(self.start),
                "end": utc_iso(self.end), "sites": list(self.sites)}  # fmt: skip

    @classmethod
    def of_row(cls, row: Any) -> Meeting:
        created = row.get("created_at")  # a summary's copy of a meeting has none
        return cls(row["id"], row["title"], parse_utc(row["starts_at"]),
                   parse_utc(row["ends_at"]), tuple(json.loads(row["sites"])),
                   parse_utc(created) if created else None)  # fmt: skip


def _slug(title: str) -> str:
    """An ASCII id people can read: 'Họp giao ban' -> 'hop-giao-ban'."""
    plain = unicodedata.normalize("NFKD", title.replace("đ", "d").replace("Đ", "D"))
    plain = plain.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:40] or "hop"


def check(title: str, start: datetime, end: datetime, sites: list[str],
          known_sites: set[str] | None = None, now: datetime | None = None) -> None:  # fmt: skip
    """Raise MeetingError naming the first thing wrong with a new meeting."""
    now = now or datetime.now(UTC)
    if not title.strip() or len(title) > 200:
        raise MeetingError("the title must have 1 to 200 characters")
    if start.tzinfo is None or end.tzinfo is None:
        raise MeetingError("start and end need a time zone")
    if end <= start:
        raise MeetingError("the meeting must end after it starts")
    if end - start > MAX_LENGTH:
        raise MeetingError(f"a meeting may last at most {MAX_LENGTH.seconds // 3600} hours")
    if end <= now:
        raise MeetingError("the meeting is already over")
    for site in sites:
        if not topics.is_site_id(site):
            raise MeetingError(f"{site!r} is not a valid site id")
        if known_sites is not None and site not in known_sites:
            raise MeetingError(f"no site {site!r} is known to this hub")
    if len(set(sites)) != len(sites):
        raise MeetingError("a site is listed twice")


def add(engine: Engine, title: str, start: datetime, end: datetime, sites: list[str],
        known_sites: set[str] | None = None, zone: tzinfo = UTC) -> Meeting:  # fmt: skip
    """Store a new meeting; its id carries the date people know it by, in ``zone`` (the
    district's: a 06:30 meeting in Vietnam is still the previous day in UTC)."""
    check(title, start, end, sites, known_sites)
    meeting_id = f"{start.astimezone(zone):%Y-%m-%d}-{_slug(title)}-{uuid.uuid4().hex[:6]}"
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    meeting = Meeting(meeting_id, title.strip(), start, end, tuple(sites), datetime.now(UTC))
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO meetings (id, title, starts_at, ends_at, sites, created_at) "
                 "VALUES (:id, :title, :s, :e, :sites, :now)"),
            {"id": meeting.id, "title": meeting.title, "s": utc_iso(start), "e": utc_iso(end),
             "sites": json.dumps(list(sites)), "now": utc_iso(meeting.created)},
        )  # fmt: skip
    return meeting


def remove(engine: Engine, meeting_id: str) -> bool:
    with engine.begin() as conn:
        return (
            conn.execute(text("DELETE FROM meetings WHERE id = :id"), {"id": meeting_id}).rowcount
            > 0
        )


def ahead(conn: Connection, now: datetime | None = None, limit: int = MAX_AHEAD) -> list[Meeting]:
    """Meetings that have not ended, soonest first."""
    rows = conn.execute(
        text("SELECT * FROM meetings WHERE ends_at > :now ORDER BY starts_at, id LIMIT :n"),
        {"now": utc_iso(now), "n": limit},
    ).mappings()
    return [Meeting.of_row(r) for r in rows]


def between(conn: Connection, start: datetime, end: datetime) -> list[Meeting]:
    """Meetings overlapping [start, end): for reports and the per-meeting summary."""
    rows = conn.execute(
        text("SELECT * FROM meetings WHERE starts_at < :e AND ends_at > :s ORDER BY starts_at"),
        {"s": utc_iso(start), "e": utc_iso(end)},
    ).mappings()
    return [Meeting.of_row(r) for r in rows]


def next_meeting(conn: Connection, now: datetime | None = None) -> Meeting | None:
    """The meeting now on, else the next to start: the readiness board is about it."""
    upcoming = ahead(conn, now, limit=1)
    return upcoming[0] if upcoming else None


def payload_items(meetings: list[Meeting]) -> list[dict[str, Any]]:
    return [m.item() for m in meetings[:MAX_AHEAD]]
