"""One heavy line test on a worker thread, so the daemon's loop keeps running.

The loop starts a :class:`LineJob`, keeps pinging the watchdog and answering
commands, and collects the outcome when the job is done. ``abort`` stops the
test within one sample when a meeting starts (rule 1). Before measuring, the
job looks at the interface's traffic: a line people are using is not tested
(the result would be wrong, and the test would spoil their call).

While it measures, the job also watches the probe's own port: when its link
drops (a loose cable, a switch rebooting), the test stops measuring within
LINK_POLL_S and one sample, and ends in :class:`LinkLost`, naming the room's LAN
("the commune's own network", GLOSSARY). Figures measured across such an outage
are not the line's: stalls read as low speed, jitter and loss, and would blame
the ISP, in the verdict and in the ISP's monthly report (which counts raw figures).
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

LINK_POLL_S = 0.2  # how often the port's link counter is read while a test runs


class LinkLost(multistream.LineTestError):
    """The probe's own port lost its link during the test, or had no route when it began.

    The room's LAN must act (the probe's cable, the switch, its DHCP), not the
    ISP; no figures are kept. The text names who acts, since it becomes the
    verdict's message.
    """

    def __init__(self, iface: str | None, drops: int):
        self.iface, self.drops = iface, drops
        if iface is None:
            what = "the probe had no network route (no default route) when the test began"
        elif drops == 0:
            what = f"the probe's own network port {iface} was down when the test began"
        else:
            times = "once" if drops == 1 else f"{drops} times"
            what = f"the probe's own network port {iface} lost its link {times} during the test"
        super().__init__(
            f"{what}: check the commune's own network (the probe's cable, the switch); "
            "not the ISP's line, no figures kept"
        )


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
        drops = pacing.link_drops(self.iface) if self.iface else None
        if self.iface and pacing.link_up(self.iface) is False:
            raise LinkLost(self.iface, 0)  # nothing to measure through a port that is down
        stop = threading.Event()  # set on abort, or when the link drops: the test stops
        done = threading.Event()
        threading.Thread(
            target=self._watch, args=(drops, stop, done), name="line-link", daemon=True
        ).start()
        try:
            outcome = self._measure(stop)
        except Exception as exc:
            # A meeting's abort stays an abort; any other failure with the link lost meanwhile
            # is the link's (a socket error or a stopped test only says how it showed).
            lost = None if self.abort.is_set() else self._link_lost(drops, failed=True)
            if lost is None:
                raise
            raise lost from exc
        finally:
            done.set()
        lost = self._link_lost(drops, failed=False)
        if lost is not None:
            raise lost
        return outcome

    def _watch(self, drops: int | None, stop: threading.Event, done: threading.Event) -> None:
        """Stop the test at once on abort (rule 1), and within LINK_POLL_S of a link drop.

        Begun without a default route, the test is stopped when one appears: the port
        came up in the middle of it, so what it measured spans the outage.
        """
        while not done.is_set():
            if self.abort.wait(LINK_POLL_S):
                stop.set()
                return
            if self.iface is None:
                if pacing.default_interface() is not None:
                    stop.set()
                    return
            elif drops is not None and pacing.link_drops(self.iface) != drops:
                stop.set()  # dropped, or the port vanished (a USB adapter pulled)
                return

    def _link_lost(self, drops: int | None, failed: bool) -> LinkLost | None:
        """Whether the probe's own link failed the test (None: it did not, or cannot tell)."""
        if self.iface is None:
            # No default route when the test began. A test that failed anyway, or a route
            # that came up meanwhile, is the room's LAN; a success with no IPv4 default
            # route at all (an IPv6-only LAN) stands.
            if failed or pacing.default_interface() is not None:
                return LinkLost(None, 0)
            return None
        if drops is None:  # the counter was unreadable from the start: nothing to compare
            return None
        now = pacing.link_drops(self.iface)
        if now is None:
            return LinkLost(self.iface, 1)  # the port is gone
        return LinkLost(self.iface, now - drops) if now > drops else None

    def _measure(self, stop: threading.Event) -> dict[str, Any] | Deferred:
        if self.iface and self.cfg.busy_threshold_kbps > 0:
            activity = pacing.line_activity(self.iface)
            if activity is not None and activity.kbps > self.cfg.busy_threshold_kbps:
                return Deferred(activity.iface, activity.kbps)
        assert self.cfg.server_url is not None  # the config insists for backend "hub"
        if stop.is_set():
            raise multistream.LineTestAborted("stopped before it began")
        metrics = linetest.full_test(
            self.cfg.server_url,
            with_speedtest_cli=self.with_speedtest_cli,
            settings=multistream.Settings(streams=self.cfg.streams),
            abort=stop,
            speedtest_server_id=self.cfg.speedtest_server_id,
            speedtest_via_hub=self.cfg.speedtest_cli == "hub",
        )
        metrics["interface_mbps"] = pacing.interface_speed_mbps(self.iface) if self.iface else None
        return metrics
