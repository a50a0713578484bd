"""A job run now and then every interval in a daemon thread: the alert watcher's rounds and
the meeting summaries'. A failing round (the store away, a bug) is logged and kept as the
last error for /api/health, and the next round tries again; ``stop`` waits for the round
under way to end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Rounds:
    def __init__(self, name: str, job: Callable[[], object], interval_s: Callable[[], float]):
        self.name = name
        self.job = job
        self.interval_s = interval_s  # read each round: a test may change it on the fly
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.job()
                self.last_error = None
            except Exception as exc:  # the store down, a bug: log, and try again next round
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("%s: the round failed", self.name)
            self._stop.wait(max(0.0, self.interval_s() - (time.monotonic() - began)))

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
