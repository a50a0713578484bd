"""The heavy tests' data budget, per day and per month, kept across restarts.

A test at 50 Mbps costs about 50 MB with the project's method and 120 MB
with speedtest-cli's; a probe testing every hour would spend gigabytes a
month of a line the commune may pay for. Before each heavy test the budget
says whether the expected cost still fits; after it, the bytes actually
used are added. Counts are stored in the probe's state table under the day
and month they belong to (UTC), so a restart or a power cut keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

MB = 1_000_000


@dataclass(frozen=True)
class Usage:
    day_used_mb: float
    day_limit_mb: float
    month_used_mb: float
    month_limit_mb: float

    def fits(self, cost_mb: float) -> bool:
        return (
            self.day_used_mb + cost_mb <= self.day_limit_mb
            and self.month_used_mb + cost_mb <= self.month_limit_mb
        )

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.__dict__.items()}


class DataBudget:
    def __init__(
        self,
        get: Callable[[str], str | None],
        put: Callable[[str, str], None],
        day_limit_mb: float,
        month_limit_mb: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._get, self._put, self._now = get, put, now
        self.day_limit_mb, self.month_limit_mb = day_limit_mb, month_limit_mb

    def _keys(self) -> tuple[str, str]:
        today = self._now()
        return f"budget-day:{today:%Y-%m-%d}", f"budget-month:{today:%Y-%m}"

    def usage(self) -> Usage:
        day_key, month_key = self._keys()
        day = int(self._get(day_key) or 0) / MB
        month = int(self._get(month_key) or 0) / MB
        return Usage(day, self.day_limit_mb, month, self.month_limit_mb)

    def spend(self, n_bytes: int) -> Usage:
        for key in self._keys():
            self._put(key, str(int(self._get(key) or 0) + n_bytes))
        return self.usage()
