"""The thread that keeps the stored summaries up to date.

It is its own thread, not a step of the alert watcher's round, because the
summary must be kept when alerts are switched off (``[alerts] enabled =
false``), and a round of alerts can wait many seconds on a mail server that
does not answer, which the summaries have no reason to share.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from roomprobe.contract import utc_iso

from ..database import open_engine
from ..rounds import Rounds
from .compute import compute
from .storage import due, save

log = logging.getLogger(__name__)

ROUND_S = 60.0


class Summarizer:
    """Keeps the stored summaries up to date: ``run_once(now)`` does one round (the tests
    call it with their own time); ``start()`` runs one every ``interval_s`` in a thread."""

    def __init__(self, engine: Engine, names: dict[str, str], interval_s: float = ROUND_S):
        self.engine = engine
        self.names = names
        self.interval_s = interval_s
        # Reads go through a read-only engine on SQLite: the writer BEGINs IMMEDIATE, and
        # a round reading a day of messages must not hold up the consumer's commits.
        self.reader = engine
        if engine.dialect.name == "sqlite":
            self.reader = open_engine(engine.url.render_as_string(hide_password=False), True)
        self.last_round: str | None = None
        self.computed = 0
        self._round = threading.Lock()
        self._rounds = Rounds("roomhub-summaries", self.run_once, lambda: self.interval_s)

    def run_once(self, now: datetime | None = None) -> list[str]:
        """Compute and store what is due at ``now``; the ids of the meetings stored."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        with self._round:
            with self.reader.connect() as conn:
                made = [compute(conn, m, self.names, now) for m in due(conn, now)]
                conn.rollback()
            for summary in made:  # a meeting per transaction: the writer's lock stays short
                with self.engine.begin() as conn:
                    save(conn, summary)
                log.info(
                    "meeting %s summarised (%d rooms)",
                    summary["meeting"]["id"],
                    len(summary["rooms"]),
                )
            self.computed += len(made)
            self.last_round = utc_iso(now)
        return [s["meeting"]["id"] for s in made]

    def start(self) -> Summarizer:
        self._rounds.start()
        return self

    @property
    def last_error(self) -> str | None:
        return self._rounds.last_error

    def stop(self, timeout: float = 30.0) -> None:
        self._rounds.stop(timeout)
        if self.reader is not self.engine:
            self.reader.dispose()

    def state(self) -> dict[str, Any]:
        """For /api/health."""
        return {
            "running": self._rounds.running,
            "last_round": self.last_round,
            "last_error": self.last_error,
            "computed": self.computed,
        }
