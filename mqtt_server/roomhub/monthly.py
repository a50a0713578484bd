"""The monthly report from the store: the one path for ``roomhub report`` and the dashboard.

report.py computes, report_pdf.py draws; this reads the month (with the
lead-in and lead-out report.py asks for) one site at a time, since a
district's month of statuses does not fit in memory at once, and the stored
summaries of the meetings that started in it (a month's meetings are few).
"""

from __future__ import annotations

import itertools

from sqlalchemy import Engine

from roomprobe.config import Thresholds
from roomprobe.contract import utc_iso

from . import meeting_summary, report, store
from .config import HubConfig


def build(cfg: HubConfig, engine: Engine, year_month: tuple[int, int]) -> report.MonthReport:
    """Raise ValueError for a month that does not exist, the store's error if it fails."""
    window = report.month_window(*year_month, cfg.web.timezone)
    names = {s.id: s.name for s in cfg.sites}
    limits = Thresholds()  # the probes' call-quality limits, as their verdicts use them
    with engine.connect() as conn:
        ids = list(names) + sorted(store.site_ids(conn) - set(names))
        start, end = utc_iso(window.query_start), utc_iso(window.query_end)
        messages = itertools.chain.from_iterable(
            store.messages_between(conn, start, end, report.SCHEMAS, site=site) for site in ids
        )
        meetings = meeting_summary.stored_starting(conn, window.start, window.end)
        return report.build_report(
            messages, names, year_month, timezone=cfg.web.timezone, meetings=meetings,
            download_mbps=cfg.line.target_download_mbps,
            upload_mbps=cfg.line.target_upload_mbps,
            rtt_ms=limits.rtt_ms, jitter_ms=limits.jitter_ms, loss_pct=limits.loss_pct,
            hub_name=cfg.name,
        )  # fmt: skip


def parse_month(text: str) -> tuple[int, int]:
    """'2026-11' -> (2026, 11); ValueError names what is wrong."""
    year, sep, month = text.partition("-")
    if not sep or not (year.isdigit() and month.isdigit()) or len(year) != 4:
        raise ValueError(f"{text!r} is not a month: expected YYYY-MM, e.g. 2026-11")
    if not 1 <= int(month) <= 12:
        raise ValueError(f"{text!r}: the month must be 01 to 12")
    return int(year), int(month)
