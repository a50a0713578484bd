"""When a stored message happened, as well as the hub can tell: one rule for every view.

A Pi has no real-time clock. Until chrony synchronises it, a probe's ``ts`` may be
anything (the last shutdown's time, 1970), and its envelope says so
(``clock_synced`` false). Then the hub places the message at its own receive time:
exact for what arrives at once, late by the outage for what waited in the outbox,
but never years off. The order of a probe's messages is never taken from either
clock: it is (boot_id, seq), which no clock jump can disturb.

The store writes this placement into the ``ts`` column at ingest (the payload keeps
the probe's own ``ts``), so the charts, the meeting summaries and the reports all see
one time for one message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from roomprobe.contract import parse_utc


def placed_at(payload: Mapping[str, Any], received_at: str | datetime) -> datetime:
    """The probe's ``ts`` when its clock was synchronised, the hub's receive time otherwise."""
    if payload.get("clock_synced") and payload.get("ts"):
        return parse_utc(payload["ts"])
    return received_at if isinstance(received_at, datetime) else parse_utc(received_at)
