"""Facts about the machine the probe runs on: boot id, clock sync, uptime.

A Pi has no real-time clock, so every timestamp says whether the kernel
believed its clock synchronised when it was taken; the kernel's own answer
(adjtimex, kept by chrony or systemd-timesyncd) is used rather than asking a
daemon, so it works whichever time daemon the image ships.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
import uuid
from functools import cache
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
#: Tests only: a file standing for the kernel's flag ("1" synchronised, "0" not). The flag
#: belongs to the whole machine, and a test must not unsynchronise the machine it runs on;
#: the wall clock itself is moved by libfaketime (tests/integration/test_clock.py).
_TEST_SYNC_FILE = os.environ.get("ROOMPROBE_TEST_CLOCK_SYNCED_FILE")
_TIME_ERROR = 5  # adjtimex() return value: clock not synchronised
_STARTED = time.monotonic()


@cache
def boot_id() -> str:
    """The kernel's id for this boot, so sequence numbers restart exactly at a reboot."""
    try:
        return str(uuid.UUID(_BOOT_ID.read_text().strip()))
    except (OSError, ValueError):
        # Not Linux, or /proc hidden: one id per process is the next best thing.
        return str(uuid.uuid4())


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None


def clock_synced() -> bool:
    """True when the kernel reports its clock synchronised (adjtimex state != TIME_ERROR)."""
    if _TEST_SYNC_FILE:
        try:
            return Path(_TEST_SYNC_FILE).read_text().strip() == "1"
        except OSError:
            return False
    libc = _libc()
    if libc is None or not hasattr(libc, "adjtimex"):
        return False
    buf = ctypes.create_string_buffer(512)  # struct timex, modes=0: read only
    state = libc.adjtimex(buf)
    return state not in (-1, _TIME_ERROR)


def process_uptime_s() -> float:
    return time.monotonic() - _STARTED
