"""A room's history as charts (SVG), drawn on the server with matplotlib.

Drawn on the server so the dashboard needs no JavaScript library and the PDF
report can use the same drawing code; matplotlib's DejaVu Sans has every
Vietnamese letter. Each chart has its title in the page's language and times
in the hub's zone.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure

from .timing import placed_at

COLOURS = {"down": "#1f5fd6", "up": "#1a9e3a", "target": "#d7261e", "rtt": "#7a3b00",
           "jitter": "#f29d0a", "loss": "#d7261e", "level": "#1f5fd6", "noise": "#777777",
           "fault": "#d7261e"}  # fmt: skip

TITLES: dict[str, tuple[str, str]] = {
    "speed": ("Tốc độ tải xuống / tải lên (Mbps)", "Download / upload speed (Mbps)"),
    "down": ("Tải xuống", "Download"),
    "up": ("Tải lên", "Upload"),
    "target": ("Yêu cầu", "Required"),
    "quality": ("Độ trễ, dao động trễ (ms) và mất gói (%)", "Latency, jitter (ms) and loss (%)"),
    "rtt": ("Độ trễ", "Latency"),
    "jitter": ("Dao động trễ", "Jitter"),
    "loss": ("Mất gói (%)", "Loss (%)"),
    "audio": ("Âm thanh: mức tín hiệu và nền nhiễu (dBFS)", "Audio: level and noise floor (dBFS)"),
    "level": ("Mức tín hiệu", "Level"),
    "noise": ("Nền nhiễu", "Noise floor"),
    "fault": ("Lỗi âm thanh", "Audio fault"),
    "empty": ("Chưa có số liệu trong khoảng thời gian này", "No data in this period"),
}


def _t(key: str, lang: str) -> str:
    return TITLES[key][0 if lang == "vi" else 1]


def _figure() -> tuple[Figure, Any]:
    fig = Figure(figsize=(9, 2.8), dpi=96, layout="constrained")
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    return fig, ax


# Text stays text (not outlines): readable by screen readers, searchable, and smaller. Set
# once for the process: rc_context would flip a global setting under concurrent requests.
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["svg.hashsalt"] = "roomhub"  # stable ids: the same data, the same SVG


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the SVG goes inline in the page


def _times(ax: Any, zone: ZoneInfo, times: list[datetime]) -> None:
    if times and max(times) - min(times) < timedelta(minutes=10):
        middle = min(times) + (max(times) - min(times)) / 2  # one test: show the hour around it
        ax.set_xlim(middle - timedelta(minutes=30), middle + timedelta(minutes=30))
    ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8, tz=zone))
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M\n%d/%m", tz=zone))


def _series(messages: Iterable[dict[str, Any]], kind: str) -> list[tuple[datetime, dict]]:
    """(time, payload) of one result kind, measured ones only (a test that could not run
    has no figures to draw)."""
    out = []
    for m in messages:
        p = m["payload"]
        if p.get("kind") == kind and p["verdict"]["status"] != "unknown":
            out.append((placed_at(p, m["received_at"]), p))
    return out


def _empty(ax: Any, lang: str) -> None:
    ax.text(0.5, 0.5, _t("empty", lang), ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def speed_chart(messages: list[dict[str, Any]], target_down: float, target_up: float,
                lang: str, zone: ZoneInfo) -> str:  # fmt: skip
    """Download and upload of each line test against the district's requirement."""
    fig, ax = _figure()
    ax.set_title(_t("speed", lang), loc="left", fontsize=10)
    rows = _series(messages, "net")
    if not rows:
        _empty(ax, lang)
        return _svg(fig)
    times = [t for t, _ in rows]
    ax.plot(times, [p["metrics"]["download_mbps"] for _, p in rows], "o-", ms=3,
            color=COLOURS["down"], label=_t("down", lang))  # fmt: skip
    ax.plot(times, [p["metrics"]["upload_mbps"] for _, p in rows], "s-", ms=3,
            color=COLOURS["up"], label=_t("up", lang))  # fmt: skip
    ax.axhline(target_down, color=COLOURS["target"], ls="--", lw=1,
               label=f"{_t('target', lang)} {target_down:g} Mbps")  # fmt: skip
    if target_up != target_down:
        ax.axhline(target_up, color=COLOURS["target"], ls=":", lw=1)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    _times(ax, zone, times)
    return _svg(fig)


def quality_chart(messages: list[dict[str, Any]], lang: str, zone: ZoneInfo) -> str:
    """Latency and jitter of the light probes (every minute), loss on its own axis."""
    fig, ax = _figure()
    ax.set_title(_t("quality", lang), loc="left", fontsize=10)
    rows = _series(messages, "monitor")
    if not rows:
        _empty(ax, lang)
        return _svg(fig)
    times = [t for t, _ in rows]

    def rtt(p: dict[str, Any]) -> float:
        value = p["metrics"]["rtt_ms"]
        return value["median"] if isinstance(value, dict) else value

    ax.plot(times, [rtt(p) for _, p in rows], "-", color=COLOURS["rtt"], label=_t("rtt", lang))
    ax.plot(times, [p["metrics"]["jitter_ms"] for _, p in rows], "-", color=COLOURS["jitter"],
            label=_t("jitter", lang))  # fmt: skip
    ax.set_ylim(bottom=0)
    loss_ax = ax.twinx()
    loss_ax.fill_between(times, [p["metrics"]["loss_pct"] for _, p in rows], step="mid",
                         color=COLOURS["loss"], alpha=0.25, label=_t("loss", lang))  # fmt: skip
    loss_ax.set_ylim(0, max(5.0, max(p["metrics"]["loss_pct"] for _, p in rows) * 1.2))
    loss_ax.set_ylabel(_t("loss", lang), fontsize=8)
    handles = ax.get_legend_handles_labels()
    more = loss_ax.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8, ncols=3)
    _times(ax, zone, times)
    return _svg(fig)


def audio_chart(messages: list[dict[str, Any]], lang: str, zone: ZoneInfo) -> str:
    """The audio tests' return level and noise floor; failed tests marked red."""
    fig, ax = _figure()
    ax.set_title(_t("audio", lang), loc="left", fontsize=10)
    rows = [(t, p) for t, p in _series(messages, "audio") if "level_dbfs" in p["metrics"]]
    if not rows:
        _empty(ax, lang)
        return _svg(fig)
    times = [t for t, _ in rows]
    ax.plot(times, [p["metrics"]["level_dbfs"] for _, p in rows], "o-", ms=3,
            color=COLOURS["level"], label=_t("level", lang))  # fmt: skip
    noise = [(t, p["metrics"]["noise_floor_dbfs"]) for t, p in rows
             if "noise_floor_dbfs" in p["metrics"]]  # fmt: skip
    if noise:
        ax.plot([t for t, _ in noise], [v for _, v in noise], "-", color=COLOURS["noise"],
                label=_t("noise", lang))  # fmt: skip
    faults = [(t, p["metrics"]["level_dbfs"]) for t, p in rows
              if p["verdict"]["status"] == "fail"]  # fmt: skip
    if faults:
        ax.plot([t for t, _ in faults], [v for _, v in faults], "X", ms=9,
                color=COLOURS["fault"], label=_t("fault", lang), ls="none")  # fmt: skip
    ax.legend(loc="lower left", fontsize=8, ncols=3)
    _times(ax, zone, times)
    return _svg(fig)
