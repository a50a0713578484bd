"""Talking to systemd: readiness and watchdog notifications, and journald logging.

Through systemd-python (the design card's choice). Off systemd (a developer's
shell, a test) every call here is a no-op and logs go to stderr, so the same
daemon runs anywhere. The watchdog is pinged at half the interval systemd
asks for (``WATCHDOG_USEC``); the Pi's hardware watchdog caps that at 15 s.
"""

from __future__ import annotations

import logging
import os
import sys

try:  # systemd-python is in the probe extra; the hub and plain dev installs may lack it.
    from systemd import daemon as sd_daemon
    from systemd import journal as sd_journal
except ImportError:  # pragma: no cover - depends on the install
    sd_daemon = None
    sd_journal = None


def under_systemd() -> bool:
    """True when systemd started us with a journal stream or notify socket."""
    return bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))


def setup_logging(level: int = logging.INFO, name: str = "roomprobe") -> logging.Handler:
    """Log to journald under systemd (structured, with priorities), else to stderr."""
    if sd_journal is not None and under_systemd():
        handler: logging.Handler = sd_journal.JournalHandler(SYSLOG_IDENTIFIER=name)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return handler


def notify(state: str) -> bool:
    """Send one sd_notify line (READY=1, WATCHDOG=1, STATUS=..., STOPPING=1)."""
    if sd_daemon is None or not os.environ.get("NOTIFY_SOCKET"):
        return False
    return bool(sd_daemon.notify(state))


def watchdog_interval_s() -> float | None:
    """How often to ping the watchdog (half systemd's timeout), or None when it is off."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6 / 2
    except ValueError:
        return None
