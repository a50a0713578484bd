"""The district's meeting schedule as this probe knows it.

The hub publishes the schedule retained on ``roomprobe/v1/schedule``; the
probe keeps the meetings that concern its site (an empty site list means
every site) in its state database, so it still knows them after a reboot
without the broker. Rule 1 asks: is a meeting on now? A meeting counts from
``guard_s`` before its start to ``guard_s`` after its end, so a test never
runs into people arriving early or staying late.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .contract import parse_utc


@dataclass(frozen=True)
class Meeting:
    id: str
    title: str
    start: datetime
    end: datetime

    @classmethod
    def of(cls, item: dict[str, Any]) -> Meeting:
        return cls(item["id"], item["title"], parse_utc(item["start"]), parse_utc(item["end"]))


class Schedule:
    def __init__(self, site: str, meetings: list[Meeting] | None = None):
        self.site = site
        self.meetings = meetings or []

    def accept(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """Take a validated schedule message; return the items that concern this site."""
        mine = [m for m in payload["meetings"] if not m["sites"] or self.site in m["sites"]]
        self.meetings = sorted((Meeting.of(m) for m in mine), key=lambda m: m.start)
        return mine

    def current(self, now: datetime, guard_s: float) -> Meeting | None:
        guard = timedelta(seconds=guard_s)
        for meeting in self.meetings:
            if meeting.start - guard <= now <= meeting.end + guard:
                return meeting
        return None

    def next(self, now: datetime) -> Meeting | None:
        return next((m for m in self.meetings if m.end >= now), None)

    # -- persistence (the state table holds the site's items as JSON) ---------------------

    def dumps(self, items: list[dict[str, Any]]) -> str:
        return json.dumps(items, ensure_ascii=False)

    @classmethod
    def loads(cls, site: str, text: str | None) -> Schedule:
        schedule = cls(site)
        if text:
            try:
                schedule.meetings = sorted(
                    (Meeting.of(m) for m in json.loads(text)), key=lambda m: m.start
                )
            except (ValueError, KeyError, TypeError):
                schedule.meetings = []  # a damaged copy: the hub's retained one comes again
        return schedule


@dataclass(frozen=True)
class Quiet:
    """Why no active test may run now: a stable code (a refused command's error), the text's
    reason code and its values, so the button, the hub's console and the CLI say the real
    reason in both languages, not always "meeting mode"."""

    code: str  # meeting_scheduled, meeting_mode, room_active, clock_unsynced
    values: tuple[tuple[str, str], ...] = ()

    @property
    def reason(self) -> str:
        return f"quiet.{self.code}"

    def text(self) -> dict[str, str]:
        from .texts import text

        return text(self.reason, **dict(self.values))

    def __str__(self) -> str:
        return self.text()["en"]


def why_no_active_tests(
    meeting_mode: bool, schedule: Schedule, now: datetime, guard_s: float,
    clock_synced: bool, room_active: bool = False,
) -> Quiet | None:  # fmt: skip
    """Rule 1 in one place: why no tone and no heavy line test may run now, or None.

    The daemon asks before every active test and while one runs; ``roomprobe
    audio test`` and ``roomprobe ready`` ask with the daemon's persisted state.
    With meetings on the schedule and a clock not yet synchronised (a Pi without
    RTC after a power cut), nobody knows whether one is on: wait.
    """
    meeting = schedule.current(now, guard_s)
    if meeting is not None:
        return Quiet("meeting_scheduled", (("meeting", meeting.title or meeting.id),))
    if meeting_mode:
        return Quiet("meeting_mode")
    if room_active:
        return Quiet("room_active")
    if schedule.meetings and not clock_synced:
        return Quiet("clock_unsynced")
    return None
