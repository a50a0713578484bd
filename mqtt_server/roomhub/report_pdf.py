"""Rendering the monthly report: CSV for spreadsheets, a PDF with charts.

The figures come from ``report.build_report``; every word from its
catalogue (``report.LABELS``), Vietnamese unless ``lang="en"``.

CSV: UTF-8 with a byte-order mark (Excel then reads Vietnamese correctly),
one row per site and a last row for all sites together; the header is in
Vietnamese for ``lang="vi"`` and the columns' English ids for ``lang="en"``.
Numbers use "." as the decimal separator; a figure without data is an empty
cell, never NaN. A second CSV lists the audio faults, a third the month's
meetings (one row each, from the stored meeting summaries).

PDF: matplotlib's object API (no pyplot state, no backend switch) into
``PdfPages``, with DejaVu Sans (shipped with matplotlib; it has every
Vietnamese letter) embedded as TrueType so the text can be searched and
copied. Page 1 is the summary of all sites (table coloured against the
targets, speeds per site, availability); then the month's meetings (readiness
before each, rooms in trouble during it); then one page per site.
"""

from __future__ import annotations

import csv
import io
import math
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .report import (
    FAIR,
    GOOD,
    MONTH_NAMES_EN,
    NONE,
    PLAIN,
    POOR,
    MeetingFigures,
    MonthReport,
    SiteReport,
    component_label,
    grades,
    labels,
)

A4_LANDSCAPE = (11.69, 8.27)
A4_PORTRAIT = (8.27, 11.69)
# Up to this many sites, page 1 holds the summary table and the charts; with more, the
# table has pages of its own (TABLE_ROWS sites each) and the charts follow on one page.
CHARTS_WITH_TABLE = 12
TABLE_ROWS = 30
# Faults listed on a site's page before "… and N more".
FAULT_ROWS = 10
# Meetings a page: a meeting every working day fits on one.
MEETING_ROWS = 30

COLOURS = {GOOD: "#c8e6c9", FAIR: "#fff2a8", POOR: "#f5c2bd", NONE: "#e6e6e6", PLAIN: "white"}
DOWN_COLOUR, UP_COLOUR = "#1f5fa8", "#e07b00"
RC = {
    "font.family": "DejaVu Sans",
    "pdf.fonttype": 42,  # TrueType: text stays text (searchable, copyable)
    "axes.titlesize": 10,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
}

# -- numbers and words -----------------------------------------------------------------


def _num(value: float | None, decimals: int, lang: str = "en") -> str:
    """A number for people: "" for no data; a comma decimal in Vietnamese."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    text = f"{value:.{decimals}f}"
    return text.replace(".", ",") if lang == "vi" else text


def _pct(share: float | None, decimals: int = 1, lang: str = "en") -> str:
    return "" if share is None else _num(share * 100, decimals, lang)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def duration(seconds: float | None, lang: str) -> str:
    """A time to fix or an outage for people: minutes, hours or days."""
    if seconds is None:
        return "—"
    w = labels(lang)
    if seconds < 3600:
        return f"{round(seconds / 60):d} {w['unit.min']}"
    if seconds < 48 * 3600:
        return f"{_num(seconds / 3600, 1, lang)} {w['unit.h']}"
    return f"{_num(seconds / 86400, 1, lang)} {w['unit.d']}"


def _local(when: datetime | None, report: MonthReport, fmt: str = "%d/%m %H:%M") -> str:
    return "" if when is None else when.astimezone(report.window.zone).strftime(fmt)


def month_title(report: MonthReport, lang: str) -> str:
    w = report.window
    return labels(lang)["title"].format(
        month=w.month, year=w.year, month_name=MONTH_NAMES_EN[w.month - 1]
    )


def _site_name(r: SiteReport, lang: str) -> str:
    name = r.name or labels(lang)["district"]
    return f"{name} *" if r.simulated and r.site else name


def _notes(r: SiteReport, lang: str) -> str:
    w = labels(lang)
    notes = []
    if not r.has_data:
        notes.append(w["no_data"])
    if r.simulated:
        notes.append(w["simulated"])
    if not r.configured:
        notes.append(w["not_configured"])
    return "; ".join(notes)


# -- CSV -------------------------------------------------------------------------------

# (column id, value for one row); the Vietnamese headers are report.LABELS["csv.<id>"].
_COLUMNS: list[tuple[str, Any]] = [
    ("month", lambda rep, r, lang: f"{rep.window.year}-{rep.window.month:02d}"),
    ("site", lambda rep, r, lang: r.site or "*"),
    ("name", lambda rep, r, lang: r.name or labels(lang)["district"]),
    ("simulated", lambda rep, r, lang: labels(lang)["yes" if r.simulated else "no"]),
    ("download_target_mbps", lambda rep, r, lang: f"{rep.targets.download_mbps:g}"),
    ("upload_target_mbps", lambda rep, r, lang: f"{rep.targets.upload_mbps:g}"),
    ("net_tests", lambda rep, r, lang: str(r.line.tests)),
    ("net_not_measured", lambda rep, r, lang: str(r.line.not_measured)),
    ("net_simulated", lambda rep, r, lang: str(r.line.simulated)),
    ("share_download_ok_pct", lambda rep, r, lang: _pct(r.line.share_download_ok)),
    ("share_upload_ok_pct", lambda rep, r, lang: _pct(r.line.share_upload_ok)),
    ("share_both_ok_pct", lambda rep, r, lang: _pct(r.line.share_both_ok)),
    ("download_median_mbps", lambda rep, r, lang: _spread(r.line.download, "median")),
    ("download_p10_mbps", lambda rep, r, lang: _spread(r.line.download, "p10")),
    ("upload_median_mbps", lambda rep, r, lang: _spread(r.line.upload, "median")),
    ("upload_p10_mbps", lambda rep, r, lang: _spread(r.line.upload, "p10")),
    ("rtt_median_ms", lambda rep, r, lang: _num(r.line.rtt_median_ms, 1)),
    ("jitter_median_ms", lambda rep, r, lang: _num(r.line.jitter_median_ms, 1)),
    ("loss_median_pct", lambda rep, r, lang: _num(r.line.loss_median_pct, 2)),
    ("availability_pct", lambda rep, r, lang: _pct(r.availability.availability, 2)),
    ("online_h", lambda rep, r, lang: _num(_hours(r.availability.online_s), 2)),
    ("offline_h", lambda rep, r, lang: _num(_hours(r.availability.offline_s), 2)),
    ("no_data_h", lambda rep, r, lang: _num(_hours(r.availability.no_data_s), 2)),
    ("outages", lambda rep, r, lang: str(r.availability.outages)),
    ("longest_outage_h", lambda rep, r, lang: _num(_hours(r.availability.longest_outage_s), 2)),
    ("audio_tests", lambda rep, r, lang: str(r.faults.audio_tests)),
    ("audio_faults", lambda rep, r, lang: str(r.faults.opened)),
    ("audio_faults_by_component", lambda rep, r, lang: _by_component(r, lang)),
    ("faults_fixed", lambda rep, r, lang: str(r.faults.fixed)),
    ("fix_median_h", lambda rep, r, lang: _num(_hours(r.faults.fix_median_s), 2)),
    ("fix_max_h", lambda rep, r, lang: _num(_hours(r.faults.fix_max_s), 2)),
    ("faults_open_at_start", lambda rep, r, lang: str(r.faults.open_at_start)),
    ("faults_open_at_end", lambda rep, r, lang: str(r.faults.open_at_end)),
    ("notes", lambda rep, r, lang: _notes(r, lang)),
]
CSV_COLUMNS = tuple(name for name, _ in _COLUMNS)
FAULT_CSV_COLUMNS = (
    "site",
    "name",
    "component",
    "reason",
    "message",
    "source",
    "opened_at",
    "closed_at",
    "time_to_fix_h",
)

MEETING_CSV_COLUMNS = (
    "meeting_id",
    "title",
    "start",
    "end",
    "rooms",
    "ready",
    "not_ready",
    "unknown",
    "no_check",
    "line_trouble",
    "audio_trouble",
    "troubled",
)


def _spread(spread: Any, which: str) -> str:
    return "" if spread is None else _num(getattr(spread, which), 1)


def _by_component(r: SiteReport, lang: str) -> str:
    """ "audio.speakers=2; audio.mixer=1" in English, the components' names in Vietnamese."""
    if lang == "en":
        return "; ".join(f"{c}={n}" for c, n in r.faults.by_component.items())
    return "; ".join(f"{component_label(c, lang)}: {n}" for c, n in r.faults.by_component.items())


def _header(columns: tuple[str, ...], lang: str) -> list[str]:
    if lang == "en":
        return list(columns)
    w = labels("vi")
    return [w[f"csv.{c}"] for c in columns]


def csv_rows(report: MonthReport, lang: str = "vi") -> list[list[str]]:
    """The summary CSV as rows: the header, one row per site, the all-sites row last."""
    rows = [_header(CSV_COLUMNS, lang)]
    for r in (*report.sites, report.district):
        rows.append([value(report, r, lang) for _, value in _COLUMNS])
    return rows


def fault_rows(report: MonthReport, lang: str = "vi") -> list[list[str]]:
    """Every audio fault of the month (opened in it or open at its start), oldest first.

    Times are RFC 3339 in the report's time zone (with its offset), so a
    spreadsheet and a person read the same local time.
    """
    w = labels(lang)
    names = {r.site: r.name for r in report.sites}
    zone = report.window.zone
    rows = [_header(FAULT_CSV_COLUMNS, lang)]
    for f in report.district.faults.faults:
        rows.append(
            [
                f.site,
                names.get(f.site, f.site),
                f.component if lang == "en" else component_label(f.component, lang),
                f.reason or "",
                str(f.message.get(lang) or f.message.get("vi") or ""),
                w["by_test"] if f.source == "test" else w["by_event"],
                f.opened_at.astimezone(zone).isoformat(timespec="seconds"),
                f.closed_at.astimezone(zone).isoformat(timespec="seconds") if f.closed_at else "",
                _num(_hours(f.time_to_fix_s), 2),
            ]
        )
    return rows


def meeting_rows(report: MonthReport, lang: str = "vi") -> list[list[str]]:
    """Every meeting that started in the month, oldest first; times as in the fault list."""
    zone = report.window.zone
    rows = [_header(MEETING_CSV_COLUMNS, lang)]
    for m in report.meetings:
        rows.append(
            [
                m.meeting_id,
                m.title,
                m.start.astimezone(zone).isoformat(timespec="seconds"),
                m.end.astimezone(zone).isoformat(timespec="seconds"),
                *(str(n) for n in _meeting_counts(m)),
                "; ".join(m.troubled),
            ]
        )
    return rows


def _meeting_counts(m: MeetingFigures) -> tuple[int, ...]:
    """rooms, ready, not ready, unknown, no check, line trouble, audio trouble: CSV and PDF."""
    return (m.rooms, m.ready, m.not_ready, m.unknown, m.no_check, m.line_trouble, m.audio_trouble)


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # the BOM: Excel reads the file as UTF-8
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def render_csv(report: MonthReport, lang: str = "vi") -> str:
    """The summary CSV as text, BOM first; encode it as UTF-8."""
    return _csv_text(csv_rows(report, lang))


def render_faults_csv(report: MonthReport, lang: str = "vi") -> str:
    return _csv_text(fault_rows(report, lang))


def render_meetings_csv(report: MonthReport, lang: str = "vi") -> str:
    return _csv_text(meeting_rows(report, lang))


def write_csv(report: MonthReport, target: str | Path | IO[bytes], lang: str = "vi") -> None:
    """The summary CSV into a file name or a binary stream."""
    _write(render_csv(report, lang).encode("utf-8"), target)


def write_faults_csv(report: MonthReport, target: str | Path | IO[bytes], lang: str = "vi") -> None:
    _write(render_faults_csv(report, lang).encode("utf-8"), target)


def write_meetings_csv(
    report: MonthReport, target: str | Path | IO[bytes], lang: str = "vi"
) -> None:
    _write(render_meetings_csv(report, lang).encode("utf-8"), target)


def _write(data: bytes, target: str | Path | IO[bytes]) -> None:
    if isinstance(target, str | Path):
        Path(target).write_bytes(data)
    else:
        target.write(data)


# -- PDF -------------------------------------------------------------------------------


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(RC):
        yield


def pdf_pages(report: MonthReport) -> int:
    """How many pages the PDF has: the summary page(s), the meetings, then one per site."""
    chunks, charts_apart = _layout(len(report.sites))
    return len(chunks) + charts_apart + len(_meeting_chunks(report)) + len(report.sites)


def _meeting_chunks(report: MonthReport) -> list[range]:
    """The meetings' rows per page; one page saying there were none when there were none."""
    n = len(report.meetings)
    return [range(i, min(n, i + MEETING_ROWS)) for i in range(0, n, MEETING_ROWS)] or [range(0)]


def _layout(n: int) -> tuple[list[range], bool]:
    """The summary table's rows per page, and whether the charts need a page of their own."""
    if n <= CHARTS_WITH_TABLE:
        return [range(n)], False
    return [range(i, min(n, i + TABLE_ROWS)) for i in range(0, n, TABLE_ROWS)], True


def render_pdf(report: MonthReport, lang: str = "vi") -> bytes:
    out = io.BytesIO()
    write_pdf(report, out, lang)
    return out.getvalue()


def write_pdf(report: MonthReport, target: str | Path | IO[bytes], lang: str = "vi") -> None:
    """The report as a PDF into a file name or a binary stream."""
    w = labels(lang)
    title = month_title(report, lang)
    total = pdf_pages(report)
    metadata = {
        "Title": title,
        "Subject": report.hub_name or w["report"],
        "Creator": "roomhub",
        "CreationDate": report.generated_at,
    }
    with _style(), PdfPages(target, metadata=metadata) as pdf:
        page = 0
        chunks, charts_apart = _layout(len(report.sites))
        for index, chunk in enumerate(chunks):
            page += 1
            fig = Figure(figsize=A4_LANDSCAPE)
            last = index == len(chunks) - 1
            _summary_page(fig, report, lang, chunk, index == 0, last, charts=not charts_apart)
            _footer(fig, report, lang, page, total)
            pdf.savefig(fig)
            fig.clear()
        if charts_apart:
            page += 1
            fig = Figure(figsize=A4_LANDSCAPE)
            _charts_page(fig, report, lang)
            _footer(fig, report, lang, page, total)
            pdf.savefig(fig)
            fig.clear()
        for index, chunk in enumerate(_meeting_chunks(report)):
            page += 1
            fig = Figure(figsize=A4_LANDSCAPE)
            _meetings_page(fig, report, lang, chunk, index == 0)
            _footer(fig, report, lang, page, total)
            pdf.savefig(fig)
            fig.clear()
        for r in report.sites:
            page += 1
            fig = Figure(figsize=A4_PORTRAIT)
            _site_page(fig, report, r, lang)
            _footer(fig, report, lang, page, total)
            pdf.savefig(fig)
            fig.clear()


def _footer(fig: Figure, report: MonthReport, lang: str, page: int, total: int) -> None:
    w = labels(lang)
    left = f"{report.hub_name + ' · ' if report.hub_name else ''}{month_title(report, lang)}"
    fig.text(0.03, 0.015, left, fontsize=6.5, color="#555555")
    fig.text(
        0.97,
        0.015,
        w["page"].format(n=page, total=total),
        fontsize=6.5,
        color="#555555",
        ha="right",
    )


def _heading(fig: Figure, report: MonthReport, lang: str, top: float = 0.965) -> float:
    """Title, owner, requirement, time zone and when it was made; returns the next free y."""
    w = labels(lang)
    fig.text(0.03, top, month_title(report, lang), fontsize=14, weight="bold", va="top")
    lines = []
    if report.hub_name:
        lines.append(report.hub_name)
    t = report.targets
    lines.append(w["targets"].format(down=t.download_mbps, up=t.upload_mbps))
    made = _local(report.generated_at, report, "%d/%m/%Y %H:%M")
    lines.append(f"{w['times_in']} {report.window.timezone} · {w['generated']} {made}")
    if not report.complete:
        lines.append(f"{w['partial_month']} {_local(report.until, report, '%d/%m/%Y %H:%M')}")
    if report.skipped:
        lines.append(w["skipped"].format(n=report.skipped))
    fig.text(0.03, top - 0.035, "\n".join(lines), fontsize=7.5, va="top", linespacing=1.4)
    return top - 0.035 - 0.022 * len(lines) - 0.01


# The summary table: (header label keys, cell text, grade key or None).
def _summary_columns(lang: str) -> list[tuple[str, Any, str | None]]:
    w = labels(lang)

    def speed(spread: Any) -> str:
        if spread is None:
            return "—"
        return f"{_num(spread.median, 1, lang)} / {_num(spread.p10, 1, lang)}"

    def pct(share: float | None, decimals: int = 0) -> str:
        return "—" if share is None else _pct(share, decimals, lang)

    def num(value: float | None, decimals: int) -> str:
        return "—" if value is None else _num(value, decimals, lang)

    def faults_text(r: SiteReport) -> str:
        if r.faults.audio_tests == 0 and not r.faults.faults:
            return "—"
        return str(r.faults.opened)

    return [
        (w["table.site"], lambda r: _site_name(r, lang), None),
        (w["table.tests"], lambda r: f"{r.line.tests} ({r.line.not_measured})", None),
        (w["table.meets_download"], lambda r: pct(r.line.share_download_ok), "share_download_ok"),
        (w["table.meets_upload"], lambda r: pct(r.line.share_upload_ok), "share_upload_ok"),
        (w["table.meets_both"], lambda r: pct(r.line.share_both_ok), "share_both_ok"),
        (w["table.download"], lambda r: speed(r.line.download), "download"),
        (w["table.upload"], lambda r: speed(r.line.upload), "upload"),
        (w["table.latency"], lambda r: num(r.line.rtt_median_ms, 0), "rtt"),
        (w["table.jitter"], lambda r: num(r.line.jitter_median_ms, 1), "jitter"),
        (w["table.loss"], lambda r: num(r.line.loss_median_pct, 2), "loss"),
        (w["table.availability"], lambda r: pct(r.availability.availability, 1), "availability"),
        (w["table.no_data"], lambda r: pct(r.availability.no_data_share, 1), None),
        (w["table.faults"], faults_text, None),
        (w["table.fix_median"], lambda r: duration(r.faults.fix_median_s, lang), None),
        (w["table.open_at_end"], lambda r: str(r.faults.open_at_end), "faults"),
    ]


_COL_WIDTHS = [2.4, 1.0, 0.8, 0.8, 0.8, 1.25, 1.25, 0.7, 0.7, 0.7, 0.9, 0.8, 0.7, 0.9, 0.8]


def _table(
    fig: Figure,
    rect: tuple[float, float, float, float],
    header: list[str],
    cells: list[list[str]],
    colours: list[list[str]],
    widths: list[float],
    header_share: float,
    left: tuple[int, ...] = (0,),
) -> Any:
    """A summary-style table filling ``rect``: the header row shaded and bold and
    ``header_share`` of the height, the rows sharing the rest, the columns ``left``
    (names, titles) aligned left. The summary and the meetings look alike so."""
    ax = fig.add_axes(rect)
    ax.set_axis_off()
    table = ax.table(
        cellText=cells,
        cellColours=colours,
        colLabels=header,
        colWidths=[c / sum(widths) for c in widths],
        cellLoc="center",
        bbox=(0, 0, 1, 1),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(6.5)
    for (row, col), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        if row == 0:
            cell.set_height(header_share)
            cell.set_facecolor("#dfe6ee")
            cell.get_text().set_fontsize(6)
            cell.get_text().set_weight("bold")
        else:
            cell.set_height((1 - header_share) / len(cells))
            if col in left:
                cell.get_text().set_ha("left")
                cell.PAD = 0.02
    return table


def _continued(fig: Figure, lang: str) -> float:
    w = labels(lang)
    fig.text(0.03, 0.965, f"{w['summary']} {w['continued']}", fontsize=11, weight="bold", va="top")
    return 0.93


def _summary_page(
    fig: Figure,
    report: MonthReport,
    lang: str,
    chunk: range,
    first: bool,
    last: bool,
    charts: bool,
) -> None:
    w = labels(lang)
    y = _heading(fig, report, lang) if first else _continued(fig, lang)
    rows = [report.sites[i] for i in chunk]
    if last:
        rows.append(report.district)
    columns = _summary_columns(lang)
    n_rows = len(rows) + 1
    row_h = 0.0205
    header_h = 0.065
    table_h = header_h + row_h * len(rows)
    bottom = y - table_h
    cells = [[text(r) for _, text, _ in columns] for r in rows]
    colours = []
    for r in rows:
        g = grades(r, report.targets)
        colours.append([COLOURS[g[key]] if key else "white" for _, _, key in columns])
    header = [head for head, _, _ in columns]
    rect = (0.03, bottom, 0.94, table_h)
    table = _table(fig, rect, header, cells, colours, _COL_WIDTHS, header_h / table_h)
    for (row, _col), cell in table.get_celld().items():
        if row == n_rows - 1 and last:
            cell.get_text().set_weight("bold")
    notes = [w["legend"]]
    if any(r.simulated for r in report.sites):
        notes.append(w["simulated_note"])
    fig.text(0.03, bottom - 0.012, "   ".join(notes), fontsize=6.5, va="top", color="#333333")
    if charts:
        height = max(0.12, bottom - 0.05 - 0.19)
        _spread_chart(fig, report, lang, (0.06, 0.15, 0.56, height))
        _availability_chart(fig, report, lang, (0.75, 0.15, 0.2, height))


def _charts_page(fig: Figure, report: MonthReport, lang: str) -> None:
    top = _continued(fig, lang)
    height = top - 0.06 - 0.2
    _spread_chart(fig, report, lang, (0.06, 0.2, 0.58, height))
    _availability_chart(fig, report, lang, (0.77, 0.2, 0.18, height))


def _short(name: str, limit: int = 18) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _spread_chart(
    fig: Figure, report: MonthReport, lang: str, rect: tuple[float, float, float, float]
) -> None:
    w = labels(lang)
    ax = fig.add_axes(rect)
    ax.set_title(w["speed_spread"], fontsize=8, loc="left", pad=16)
    stats, positions, colours = [], [], []
    for i, r in enumerate(report.sites):
        for offset, spread, colour in (
            (-0.2, r.line.download, DOWN_COLOUR),
            (0.2, r.line.upload, UP_COLOUR),
        ):
            if spread is None:
                continue
            stats.append(
                {
                    "med": spread.median,
                    "q1": spread.p25,
                    "q3": spread.p75,
                    "whislo": spread.p10,
                    "whishi": spread.p90,
                    "fliers": [],
                }
            )
            positions.append(i + offset)
            colours.append(colour)
    if stats:
        boxes = ax.bxp(
            stats,
            positions=positions,
            widths=0.32,
            patch_artist=True,
            showfliers=False,
            medianprops={"color": "black", "linewidth": 1},
        )
        for patch, colour in zip(boxes["boxes"], colours, strict=True):
            patch.set_facecolor(colour)
            patch.set_alpha(0.75)
            patch.set_linewidth(0.5)
    else:
        ax.text(0.5, 0.5, w["no_data"], transform=ax.transAxes, ha="center", va="center")
    t = report.targets
    ax.axhline(t.download_mbps, color=DOWN_COLOUR, linestyle="--", linewidth=0.9)
    if t.upload_mbps != t.download_mbps:
        ax.axhline(t.upload_mbps, color=UP_COLOUR, linestyle="--", linewidth=0.9)
    ax.set_xticks(range(len(report.sites)))
    ax.set_xticklabels(
        [_short(r.name) for r in report.sites],
        rotation=40,
        ha="right",
        fontsize=6.5 if len(report.sites) <= 12 else 5.5,
    )
    ax.set_xlim(-0.6, max(0.6, len(report.sites) - 0.4))
    top = max([t.download_mbps, t.upload_mbps, *(s["whishi"] for s in stats)])
    ax.set_ylim(0, top * 1.1)
    ax.set_ylabel("Mbps")
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    ax.legend(
        handles=[
            Patch(facecolor=DOWN_COLOUR, alpha=0.75, label=w["download"]),
            Patch(facecolor=UP_COLOUR, alpha=0.75, label=w["upload"]),
            Line2D(
                [],
                [],
                color="#444444",
                linestyle="--",
                linewidth=0.9,
                label=w["target_line"].format(value=t.download_mbps),
            ),
        ],
        loc="lower right",
        frameon=False,
        ncols=3,
        fontsize=6.5,
        bbox_to_anchor=(1.0, 1.0),
        borderaxespad=0.2,
    )


def _availability_chart(
    fig: Figure, report: MonthReport, lang: str, rect: tuple[float, float, float, float]
) -> None:
    """One bar per site: online, offline and no data as shares of the month."""
    w = labels(lang)
    ax = fig.add_axes(rect)
    ax.set_title(w["availability"], fontsize=8, loc="left", pad=16)
    sites = list(report.sites)
    ys = list(range(len(sites)))[::-1]
    period = [r.availability.period_s or 1.0 for r in sites]
    online = [r.availability.online_s / p * 100 for r, p in zip(sites, period, strict=True)]
    offline = [r.availability.offline_s / p * 100 for r, p in zip(sites, period, strict=True)]
    nodata = [r.availability.no_data_s / p * 100 for r, p in zip(sites, period, strict=True)]
    ax.barh(ys, online, color="#4caf50", label=w["online"], height=0.7)
    ax.barh(ys, offline, left=online, color="#e53935", label=w["offline"], height=0.7)
    lefts = [a + b for a, b in zip(online, offline, strict=True)]
    ax.barh(ys, nodata, left=lefts, color="#bdbdbd", label=w["no_data"], height=0.7)
    for y, r in zip(ys, sites, strict=True):
        share = r.availability.availability
        text = "—" if share is None else f"{_pct(share, 1, lang)}%"
        ax.text(101, y, text, va="center", fontsize=6)
    ax.set_yticks(ys)
    ax.set_yticklabels(
        [_short(r.name, 16) for r in sites], fontsize=6.5 if len(sites) <= 12 else 5.5
    )
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"{w['share_of_month']} (%)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.4, -0.1), ncols=3, frameon=False, fontsize=6)


_MEETING_WIDTHS = [1.1, 2.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.8, 0.8, 2.6]


def _meetings_page(fig: Figure, report: MonthReport, lang: str, chunk: range, first: bool) -> None:
    """The month's meetings: readiness before each, the rooms in trouble during it.

    Counts are coloured as the summary's figures: not ready or in trouble red,
    could not test or no check yellow; a count of none stays white.
    """
    w = labels(lang)
    heading = w["meetings"] if first else w["meetings_continued"]
    fig.text(0.03, 0.965, heading, fontsize=13, weight="bold", va="top")
    fig.text(0.03, 0.93, w["meetings_note"], fontsize=7, va="top", color="#333333", wrap=True)
    meetings = [report.meetings[i] for i in chunk]
    if not meetings:
        fig.text(0.03, 0.88, w["no_meetings"], fontsize=9, va="top")
        return
    keys = ["when", "meeting", "rooms", "ready", "not_ready", "unknown", "no_check"]
    header = [w[f"table.{k}"] for k in (*keys, "line_trouble", "audio_trouble", "troubled")]
    # The colour of each count's column when it is not 0 (rooms and ready: never).
    alarm = [None, None, POOR, FAIR, FAIR, POOR, POOR]
    cells, colours = [], []
    for m in meetings:
        end = _local(m.end, report, "%H:%M" if _same_day(m, report) else "%d/%m %H:%M")
        counts = _meeting_counts(m)
        cells.append(
            [
                f"{_local(m.start, report)}–{end}",
                _short(m.title, 40),
                *(str(n) for n in counts),
                _short(", ".join(m.troubled), 45) or "—",
            ]
        )
        colours.append(
            ["white", "white"]
            + [COLOURS[a] if a and n else "white" for a, n in zip(alarm, counts, strict=True)]
            + ["white"]
        )
    row_h, header_h = 0.0205, 0.06
    height = header_h + row_h * len(cells)
    rect = (0.03, 0.86 - height, 0.94, height)
    left = (0, 1, len(header) - 1)  # when, the title, the names
    _table(fig, rect, header, cells, colours, _MEETING_WIDTHS, header_h / height, left)


def _same_day(m: MeetingFigures, report: MonthReport) -> bool:
    zone = report.window.zone
    return m.start.astimezone(zone).date() == m.end.astimezone(zone).date()


def _site_page(fig: Figure, report: MonthReport, r: SiteReport, lang: str) -> None:
    w = labels(lang)
    title = f"{r.name} ({r.site})"
    fig.text(0.06, 0.965, title, fontsize=13, weight="bold", va="top")
    sub = [month_title(report, lang)]
    if r.simulated:
        sub.append(w["simulated_note"].lstrip("* "))
    if not r.configured:
        sub.append(w["not_configured"])
    if not r.has_data:
        sub.append(w["no_data"])
    fig.text(0.06, 0.94, " · ".join(sub), fontsize=7.5, va="top", color="#333333")
    _key_figures(fig, report, r, lang, top=0.915)
    _daily_speed_chart(fig, report, r, lang, (0.09, 0.49, 0.85, 0.16))
    _daily_quality_chart(fig, report, r, lang, (0.09, 0.275, 0.78, 0.15))
    _fault_list(fig, report, r, lang, top=0.215)


def _key_figures(fig: Figure, report: MonthReport, r: SiteReport, lang: str, top: float) -> None:
    """The site's figures in two columns: the line on the left, availability and audio right."""
    w = labels(lang)
    line, a, f = r.line, r.availability, r.faults
    t = report.targets
    none = w["no_data"].lower()

    def pct(share: float | None, decimals: int = 1) -> str:
        return none if share is None else f"{_pct(share, decimals, lang)} %"

    def speed(spread: Any) -> str:
        if spread is None:
            return none
        return f"{_num(spread.median, 1, lang)} / {_num(spread.p10, 1, lang)} Mbps"

    def num(value: float | None, decimals: int, unit: str) -> str:
        return none if value is None else f"{_num(value, decimals, lang)} {unit}"

    left = [
        (w["line"], None),
        (w["tests"], str(line.tests)),
        (w["not_measured"], str(line.not_measured)),
        *([(w["simulated"].capitalize(), str(line.simulated))] if line.simulated else []),
        (f"{w['meets_download']} ≥ {t.download_mbps:g} Mbps", pct(line.share_download_ok)),
        (f"{w['meets_upload']} ≥ {t.upload_mbps:g} Mbps", pct(line.share_upload_ok)),
        (w["meets_both"], pct(line.share_both_ok)),
        (f"{w['download']} ({w['median']} / P10)", speed(line.download)),
        (f"{w['upload']} ({w['median']} / P10)", speed(line.upload)),
        (f"{w['latency']} ({w['median']})", num(line.rtt_median_ms, 0, "ms")),
        (f"{w['jitter_short']} ({w['median']})", num(line.jitter_median_ms, 1, "ms")),
        (f"{w['loss']} ({w['median']})", num(line.loss_median_pct, 2, "%")),
    ]
    right = [
        (w["availability"], None),
        (w["availability"], pct(a.availability, 2)),
        (w["online"], duration(a.online_s, lang)),
        (w["offline"], duration(a.offline_s, lang)),
        (w["no_data"], duration(a.no_data_s, lang)),
        (w["outages"], str(a.outages)),
        (w["longest_outage"], duration(a.longest_outage_s, lang)),
        (w["audio"], None),
        (w["audio_tests"], str(f.audio_tests)),
        (w["faults"], str(f.opened)),
        (w["fixed"], str(f.fixed)),
        (w["fix_median"], duration(f.fix_median_s, lang)),
        (w["fix_max"], duration(f.fix_max_s, lang)),
        (w["open_at_start"], str(f.open_at_start)),
        (w["open_at_end"], str(f.open_at_end)),
    ]
    step = 0.0142
    for x, offset, items in ((0.06, 0.22, left), (0.53, 0.26, right)):
        y = top
        for head, value in items:
            if value is None:
                if y != top:
                    y -= 0.004
                fig.text(x, y, head, fontsize=8.5, weight="bold", va="top")
            else:
                fig.text(x, y, head, fontsize=7, va="top", color="#444444")
                fig.text(x + offset, y, value, fontsize=7, va="top")
            y -= step
    if f.by_component:
        parts = ", ".join(f"{component_label(c, lang)}: {n}" for c, n in f.by_component.items())
        text = textwrap.fill(f"{w['component']}: {parts}", 62)
        fig.text(0.06, top - step * len(left) - 0.01, text, fontsize=7, va="top", color="#444444")


def _daily_speed_chart(
    fig: Figure, report: MonthReport, r: SiteReport, lang: str, rect: tuple[float, ...]
) -> None:
    w = labels(lang)
    ax = fig.add_axes(rect)
    ax.set_title(w["daily_speed"], fontsize=9, loc="left")
    days = [d.day.day for d in r.daily]
    down = [math.nan if d.download_median is None else d.download_median for d in r.daily]
    up = [math.nan if d.upload_median is None else d.upload_median for d in r.daily]
    if any(d.tests for d in r.daily):
        ax.plot(
            days,
            down,
            marker="o",
            markersize=2.5,
            linewidth=1,
            color=DOWN_COLOUR,
            label=w["download"],
        )
        ax.plot(
            days, up, marker="s", markersize=2.5, linewidth=1, color=UP_COLOUR, label=w["upload"]
        )
    else:
        ax.text(0.5, 0.5, w["no_data"], transform=ax.transAxes, ha="center", va="center")
    t = report.targets
    ax.axhline(
        t.download_mbps,
        color="#b71c1c",
        linestyle="--",
        linewidth=0.9,
        label=w["target_line"].format(value=t.download_mbps),
    )
    if t.upload_mbps != t.download_mbps:
        ax.axhline(
            t.upload_mbps,
            color="#b71c1c",
            linestyle=":",
            linewidth=0.9,
            label=w["target_line"].format(value=t.upload_mbps),
        )
    _day_axis(ax, len(days), w)
    values = [v for v in down + up if not math.isnan(v)]
    ax.set_ylim(0, max([t.download_mbps, t.upload_mbps, *values]) * 1.15)
    ax.set_ylabel("Mbps")
    ax.legend(loc="best", ncols=3, frameon=True, framealpha=0.85)


def _daily_quality_chart(
    fig: Figure, report: MonthReport, r: SiteReport, lang: str, rect: tuple[float, ...]
) -> None:
    w = labels(lang)
    ax = fig.add_axes(rect)
    ax.set_title(w["daily_quality"], fontsize=9, loc="left")
    days = [d.day.day for d in r.daily]
    has = any(d.tests for d in r.daily)
    loss_ax = ax.twinx()
    if has:
        loss = [0.0 if d.loss_mean is None else d.loss_mean for d in r.daily]
        loss_ax.bar(days, loss, color="#9e9e9e", alpha=0.5, width=0.7, label=w["loss"])
        rtt = [math.nan if d.rtt_median is None else d.rtt_median for d in r.daily]
        jitter = [math.nan if d.jitter_median is None else d.jitter_median for d in r.daily]
        ax.plot(
            days, rtt, marker="o", markersize=2.5, linewidth=1, color="#6a1b9a", label=w["latency"]
        )
        ax.plot(
            days,
            jitter,
            marker="^",
            markersize=2.5,
            linewidth=1,
            color="#00897b",
            label=w["jitter_short"],
        )
        ax.set_zorder(loss_ax.get_zorder() + 1)
        ax.patch.set_visible(False)
        handles = ax.get_legend_handles_labels()
        loss_handles = loss_ax.get_legend_handles_labels()
        ax.legend(
            handles[0] + loss_handles[0],
            handles[1] + loss_handles[1],
            loc="best",
            ncols=3,
            frameon=True,
            framealpha=0.85,
        )
    else:
        ax.text(0.5, 0.5, w["no_data"], transform=ax.transAxes, ha="center", va="center")
    limits = report.targets
    if limits.rtt_ms is not None and has:
        ax.axhline(limits.rtt_ms, color="#6a1b9a", linestyle="--", linewidth=0.7)
    _day_axis(ax, len(days), w)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("ms")
    loss_ax.set_ylim(bottom=0, top=max(1.0, *(d.loss_mean or 0.0 for d in r.daily)) * 1.15)
    loss_ax.set_ylabel(f"{w['loss']} (%)")


def _day_axis(ax: Any, n_days: int, w: dict[str, str]) -> None:
    ax.set_xlim(0.4, n_days + 0.6)
    ax.set_xticks(range(1, n_days + 1))
    ax.set_xlabel(w["day"])
    ax.grid(linewidth=0.3, alpha=0.6)


def _fault_list(fig: Figure, report: MonthReport, r: SiteReport, lang: str, top: float) -> None:
    w = labels(lang)
    faults = r.faults.faults
    shown = faults[:FAULT_ROWS]
    heading = w["fault_list"]
    if len(faults) > len(shown):
        heading = w["fault_list_count"].format(shown=len(shown), n=len(faults))
    fig.text(0.06, top, heading, fontsize=9.5, weight="bold", va="top")
    if not faults:
        text = w["no_faults"] if r.faults.audio_tests else w["no_audio_tests"]
        fig.text(0.06, top - 0.025, text, fontsize=8, va="top")
        return
    header = [w["opened_at"], w["closed_at"], w["component"], w["problem"], w["time_to_fix"]]
    cells = []
    for f in shown:
        message = str(f.message.get(lang) or f.message.get("vi") or f.reason or "")
        closed = _local(f.closed_at, report) if f.closed_at else w["still_open"]
        fix = duration(f.time_to_fix_s, lang) if f.closed_at else "—"
        cells.append(
            [
                _local(f.opened_at, report),
                closed,
                component_label(f.component, lang),
                _short(message, 70),
                fix,
            ]
        )
    row_h = 0.0165
    height = row_h * (len(cells) + 1)
    ax = fig.add_axes((0.06, top - 0.02 - height, 0.88, height))
    ax.set_axis_off()
    table = ax.table(
        cellText=cells,
        colLabels=header,
        colWidths=[0.1, 0.12, 0.19, 0.44, 0.15],
        cellLoc="left",
        bbox=(0, 0, 1, 1),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(6.5)
    for (row, _col), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        cell.PAD = 0.03
        if row == 0:
            cell.set_facecolor("#dfe6ee")
            cell.get_text().set_weight("bold")
        elif shown[row - 1].closed_at is None:
            cell.set_facecolor(COLOURS[POOR])


# -- both ------------------------------------------------------------------------------


def write_report(report: MonthReport, folder: str | Path, lang: str = "vi") -> list[Path]:
    """The summary CSV, the fault list CSV, the PDF and the meetings CSV into ``folder``;
    returns their paths.

    Names: ``roomhub-report-<YYYY>-<MM>-<lang>.csv|.pdf``,
    ``roomhub-faults-<YYYY>-<MM>-<lang>.csv`` and (last, so the others keep their
    place) ``roomhub-meetings-<YYYY>-<MM>-<lang>.csv``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{report.window.year}-{report.window.month:02d}-{lang}"
    paths = [
        folder / f"roomhub-report-{stem}.csv",
        folder / f"roomhub-faults-{stem}.csv",
        folder / f"roomhub-report-{stem}.pdf",
        folder / f"roomhub-meetings-{stem}.csv",
    ]
    write_csv(report, paths[0], lang)
    write_faults_csv(report, paths[1], lang)
    write_pdf(report, paths[2], lang)
    write_meetings_csv(report, paths[3], lang)
    return paths
