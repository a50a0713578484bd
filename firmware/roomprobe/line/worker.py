"""One heavy line test on a worker thread, so the daemon's loop keeps running.

The loop starts a :class:`LineJob`, keeps pinging the watchdog and answering
commands, and collects the outcome when the job is done. ``abort`` stops the
test within one sample when a meeting starts (rule 1). Before measuring, the
job looks at the interface's traffic: a line people are using is not tested
(the result would be wrong, and the test would spoil their call).
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..config import NetConfig
from . import linetest, multistream, pacing


@dataclass(frozen=True)
class Deferred:
    """The line carried other traffic: try again later."""

    iface: str
    kbps: float


class LineJob:
    def __init__(self, cfg: NetConfig, with_speedtest_cli: bool):
        self.cfg = cfg
        self.with_speedtest_cli = with_speedtest_cli
        self.iface = cfg.interface or pacing.default_interface()
        self.abort = threading.Event()
        self.started = time.time()
        # A daemon thread, not an executor's: a test stuck on a dead line must not hold
        # the process past systemd's stop timeout.
        self._future: Future[dict[str, Any] | Deferred] = Future()
        threading.Thread(target=self._work, name="line-test", daemon=True).start()

    def _work(self) -> None:
        try:
            self._future.set_result(self._run())
        except BaseException as exc:  # handed to the daemon's loop through result()
            self._future.set_exception(exc)

    def done(self) -> bool:
        return self._future.done()

    def result(self) -> dict[str, Any] | Deferred:
        """The metrics, a Deferred, or the test's exception (LineTestError, SpeedtestError)."""
        return self._future.result()

    def stop(self, wait_s: float = 5.0) -> None:
        self.abort.set()
        with contextlib.suppress(TimeoutError):
            self._future.exception(timeout=wait_s)

    def _run(self) -> dict[str, Any] | Deferred:
        if self.iface and self.cfg.busy_threshold_kbps > 0:
            activity = pacing.line_activity(self.iface)
            if activity is not None and activity.kbps > self.cfg.busy_threshold_kbps:
                return Deferred(activity.iface, activity.kbps)
        assert self.cfg.server_url is not None  # the config insists for backend "hub"
        if self.abort.is_set():
            raise multistream.LineTestAborted("stopped before it began")
        metrics = linetest.full_test(
            self.cfg.server_url,
            with_speedtest_cli=self.with_speedtest_cli,
            settings=multistream.Settings(streams=self.cfg.streams),
            abort=self.abort,
            speedtest_server_id=self.cfg.speedtest_server_id,
            speedtest_via_hub=self.cfg.speedtest_cli == "hub",
        )
        metrics["interface_mbps"] = pacing.interface_speed_mbps(self.iface) if self.iface else None
        return metrics
