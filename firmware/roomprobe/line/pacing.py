"""When a heavy line test may run: randomised intervals, and whether the line is in use.

A district's probes must not all test at once (they would measure each other
at the hub), so intervals are drawn from an exponential distribution around
the configured mean and clamped to [mean/2, 2 x mean]. And a heavy test must
not compete with real traffic: the interface's byte counters are read over a
second, and above a small rate the test is deferred.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

SYS_NET = Path("/sys/class/net")


def next_interval(mean_s: float, rng: random.Random) -> float:
    """An exponentially distributed interval with the given mean, clamped to [mean/2, 2 mean]."""
    return min(max(rng.expovariate(1 / mean_s), mean_s / 2), 2 * mean_s)


def _default_route(route_file: Path) -> list[str] | None:
    """The IPv4 default route's fields in /proc/net/route (interface, destination, gateway ...)."""
    try:
        lines = route_file.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            return fields
    return None


def default_interface(route_file: Path = Path("/proc/net/route")) -> str | None:
    """The interface of the IPv4 default route (where the room's line is)."""
    fields = _default_route(route_file)
    return fields[0] if fields else None


def default_gateway(route_file: Path = Path("/proc/net/route")) -> str | None:
    """The IPv4 default route's gateway address (the room's router)."""
    fields = _default_route(route_file)
    if not fields or fields[2] == "00000000":
        return None
    raw = int(fields[2], 16)  # little-endian hex in /proc/net/route
    return ".".join(str((raw >> shift) & 0xFF) for shift in (0, 8, 16, 24))


def interface_speed_mbps(iface: str, sys_net: Path = SYS_NET) -> float | None:
    """The link speed the kernel reports (None for virtual or Wi-Fi links that report none)."""
    try:
        speed = int((sys_net / iface / "speed").read_text().strip())
    except (OSError, ValueError):
        return None
    return float(speed) if speed > 0 else None


def link_drops(iface: str, sys_net: Path = SYS_NET) -> int | None:
    """How many times ``iface`` has lost its link since it appeared; None when unreadable.

    The kernel counts every loss of carrier, a pulled cable as well as a port set
    down: two readings tell whether the link dropped in between, however briefly,
    where polling its state would miss a flap shorter than the poll.
    """
    try:  # since Linux 4.16; bookworm's kernels have it
        return int((sys_net / iface / "carrier_down_count").read_text())
    except (OSError, ValueError):
        return None


def link_up(iface: str, sys_net: Path = SYS_NET) -> bool | None:
    """Whether ``iface`` has its link now (its operstate); None when unreadable or not said."""
    try:
        state = (sys_net / iface / "operstate").read_text().strip()
    except OSError:
        return None
    # "unknown" is what drivers that do not track the link report (and loopback): no answer.
    return {"up": True, "down": False, "lowerlayerdown": False, "notpresent": False}.get(state)


def _counters(iface: str, sys_net: Path) -> int:
    stats = sys_net / iface / "statistics"
    return int((stats / "rx_bytes").read_text()) + int((stats / "tx_bytes").read_text())


@dataclass(frozen=True)
class Activity:
    iface: str
    kbps: float


def line_activity(iface: str, window_s: float = 1.0, sys_net: Path = SYS_NET) -> Activity | None:
    """Traffic through ``iface`` (both directions) over ``window_s``; None when unreadable."""
    try:
        before, t0 = _counters(iface, sys_net), time.monotonic()
        time.sleep(window_s)
        after, t1 = _counters(iface, sys_net), time.monotonic()
    except (OSError, ValueError):
        return None
    return Activity(iface, (after - before) * 8 / 1000 / max(t1 - t0, 1e-6))
