"""Building the envelope every payload carries.

Both sides stamp their messages here so the fields (ids, timestamps, the
clock flag) are made one way. A sender owns a :class:`Stamp` that knows its
site, boot and clock; the sequence number comes from the caller because only
the caller knows whether the message is durable (see common.json).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .schemas import SCHEMA_VERSION


def utc_iso(when: datetime | None = None) -> str:
    """RFC 3339 UTC with milliseconds and a Z, the contract's only time format."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Stamp:
    """Stamps messages for one sender (a probe's site, or the hub)."""

    site: str
    boot_id: str
    clock_synced: Callable[[], bool]

    def envelope(self, schema: str, seq: int, **body: Any) -> dict[str, Any]:
        return {
            "schema": schema,
            "schema_version": SCHEMA_VERSION,
            "msg_id": str(uuid.uuid4()),
            "site": self.site,
            "boot_id": self.boot_id,
            "seq": seq,
            "ts": utc_iso(),
            "clock_synced": self.clock_synced(),
            **body,
        }
