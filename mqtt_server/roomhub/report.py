"""The hub's monthly report: the figures, computed from stored messages (no I/O here).

One pass over one local calendar month of stored messages, each
``{"received_at": <RFC 3339 UTC>, "payload": <contract payload>}``, ordered by
``received_at`` within each site (the order across sites does not matter, so
the store may hand them over one site after another), gives per site (commune
meeting room) and for all sites together:

- the line: tests, shares meeting the district's download / upload targets,
  spread of the speeds, median latency, jitter and loss, per day as well;
- availability: how much of the month the probe was online, from its status
  messages (the Last Will is ``online = false``) and its silences;
- audio faults: when each opened and was fixed, per component.
- meetings: each meeting that started in the month, from its stored summary
  (``meeting_summary``): how many rooms were ready before it, and which had
  line trouble or an audio fault during it.

Rendering (CSV, PDF) is in ``report_pdf``. Every word a person reads is in
``LABELS`` below (Vietnamese, English), following shared/GLOSSARY.md. The
definitions are written out for operators in docs/operators/reports.md; keep
the two in step.

What the store must pass (schemas ``SCHEMAS``, ``received_at`` from
``window.query_start`` to ``window.query_end``):

- every message received during the month;
- a lead-in (``LEAD_IN``) before it: status messages tell the state at the
  month's start (only the last one per site matters), audio results and
  ``fault`` / ``fault_cleared`` events tell which faults were already open.
  Line results of the lead-in are ignored (it may leave them out);
- a lead-out (``LEAD_OUT``) after it: a line result measured before midnight
  but delivered after it (the probe's outbox holds results while the line is
  down) still belongs to this month. Results are placed by when they were
  measured, so each is counted in exactly one month.

Keys read besides ``schema`` and ``site``: status ``online`` (and
``heartbeat_s`` if a future status carries it); results ``ts``,
``clock_synced``, ``simulated``, ``verdict``, ``metrics`` (line:
``download_mbps``, ``upload_mbps``, ``rtt_ms``, ``jitter_ms``, ``loss_pct``),
``components`` (audio); events ``event``, ``message``, ``details``. A store
may trim payloads to these keys.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .texts import in_language
from .timing import placed_at

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
# Messages before the month that tell the state at its start (status, open faults).
LEAD_IN = timedelta(days=31)
# Messages after the month: results measured in it but delivered late.
LEAD_OUT = timedelta(days=2)
# A silence longer than this many heartbeats counts as offline ...
SILENCE_HEARTBEATS = 3
# ... or, when the status does not say its heartbeat, longer than this.
DEFAULT_SILENCE_S = 30 * 60.0
# Audio verdicts that open a fault: both call for someone to act (see reports.md).
FAULT_STATUSES: tuple[str, ...] = ("fail", "degraded")
# Grades of a share of tests meeting a target, and of availability (good at or above).
SHARE_GOOD, SHARE_FAIR = 0.95, 0.80
AVAILABILITY_GOOD, AVAILABILITY_FAIR = 0.99, 0.95

NET = "roomprobe.result.net"
AUDIO = "roomprobe.result.audio"
STATUS = "roomprobe.status"
EVENT = "roomprobe.event"
SCHEMAS = (STATUS, NET, AUDIO, EVENT)  # the only ones the report reads

# -- words -----------------------------------------------------------------------------


LABELS: dict[str, tuple[str, str]] = {
    "report": ("Báo cáo tháng", "Monthly report"),
    "title": (
        "Báo cáo tháng {month:02d}/{year}: phòng họp trực tuyến của xã",
        "Monthly report, {month_name} {year}: commune meeting rooms",
    ),
    "district": ("Tất cả điểm cầu", "All conference points"),
    "site": ("Điểm cầu", "Conference point"),
    "site_id": ("Mã điểm cầu", "Site id"),
    "no_data": ("Không có dữ liệu", "No data"),
    "simulated": ("mô phỏng", "simulated"),
    "simulated_note": (
        "* mô phỏng: kết quả từ thiết bị chạy thử, không phải đo thật",
        "* simulated: results from a simulated probe, not real measurements",
    ),
    "not_configured": ("chưa có trong cấu hình", "not in the configuration"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    "times_in": ("Giờ theo múi giờ", "Times in"),
    "generated": ("Lập lúc", "Generated"),
    "skipped": (
        "{n} tin nhắn không đọc được đã bị bỏ qua; báo cán bộ CNTT",
        "{n} messages could not be read and were left out; tell IT staff",
    ),
    "partial_month": ("Tháng chưa kết thúc: số liệu đến", "Month not over: figures up to"),
    "targets": (
        "Yêu cầu đường truyền: tải xuống {down:g} Mbps, tải lên {up:g} Mbps",
        "Line requirement: download {down:g} Mbps, upload {up:g} Mbps",
    ),
    "summary": ("Tổng hợp các điểm cầu", "Summary of all conference points"),
    "continued": ("(tiếp)", "(continued)"),
    "page": ("Trang {n}/{total}", "Page {n} of {total}"),
    "legend": (
        "Màu: xanh = đạt, vàng = gần đạt, đỏ = không đạt, xám = không có dữ liệu",
        "Colours: green = meets, yellow = close, red = below, grey = no data",
    ),
    # line
    "line": ("Đường truyền", "Line"),
    "tests": ("Lần đo", "Tests"),
    "not_measured": ("Không kiểm tra được", "Could not test"),
    "download": ("Tải xuống", "Download"),
    "upload": ("Tải lên", "Upload"),
    "download_speed": ("Tốc độ tải xuống", "Download speed"),
    "upload_speed": ("Tốc độ tải lên", "Upload speed"),
    "meets_download": ("Đạt tải xuống", "Meets download"),
    "meets_upload": ("Đạt tải lên", "Meets upload"),
    "meets_both": ("Đạt cả hai", "Meets both"),
    "median": ("trung vị", "median"),
    "p10": ("P10", "P10"),
    "latency": ("Độ trễ", "Latency"),
    "jitter": ("Độ biến thiên độ trễ (jitter)", "Jitter"),
    "jitter_short": ("Jitter", "Jitter"),
    "loss": ("Mất gói", "Packet loss"),
    "target_line": ("Yêu cầu {value:g} Mbps", "Required {value:g} Mbps"),
    "day": ("Ngày", "Day"),
    "daily_speed": (
        "Tốc độ trung vị mỗi ngày (Mbps)",
        "Median speed per day (Mbps)",
    ),
    "daily_quality": (
        "Độ trễ, jitter (trung vị mỗi ngày, ms) và mất gói (trung bình mỗi ngày, %)",
        "Latency, jitter (median per day, ms) and packet loss (mean per day, %)",
    ),
    "speed_spread": (
        "Tốc độ đo được theo điểm cầu (hộp: P25-P75, vạch: trung vị, râu: P10-P90)",
        "Measured speeds per conference point (box: P25-P75, bar: median, whiskers: P10-P90)",
    ),
    # availability
    "availability": ("Tỷ lệ trực tuyến", "Availability"),
    "availability_chart": (
        "Tỷ lệ trực tuyến trong tháng (phần có dữ liệu)",
        "Availability over the month (time with data)",
    ),
    "online": ("Trực tuyến", "Online"),
    "offline": ("Mất kết nối", "Offline"),
    "outages": ("Số lần mất kết nối", "Outages"),
    "longest_outage": ("Lần mất kết nối dài nhất", "Longest outage"),
    # audio
    "audio": ("Âm thanh", "Audio"),
    "audio_tests": ("Lần kiểm tra âm thanh", "Audio tests"),
    "faults": ("Sự cố âm thanh", "Audio faults"),
    "faults_short": ("Sự cố", "Faults"),
    "fault_list": ("Danh sách sự cố âm thanh", "Audio faults"),
    "no_faults": ("Không có sự cố âm thanh trong tháng", "No audio fault this month"),
    "no_audio_tests": (
        "Không có lần kiểm tra âm thanh nào trong tháng",
        "No audio test this month",
    ),
    "fixed": ("Đã khắc phục", "Fixed"),
    "time_to_fix": ("Thời gian khắc phục", "Time to fix"),
    "fix_median": ("Khắc phục (trung vị)", "Time to fix (median)"),
    "fix_max": ("Khắc phục (lâu nhất)", "Time to fix (longest)"),
    "open_at_start": ("Còn từ tháng trước", "Open at month start"),
    "open_at_end": ("Chưa khắc phục cuối tháng", "Still open at month end"),
    "opened_at": ("Bắt đầu", "Opened"),
    "closed_at": ("Khắc phục lúc", "Fixed at"),
    "still_open": ("chưa khắc phục", "still open"),
    "component": ("Bộ phận", "Component"),
    "problem": ("Lỗi", "Problem"),
    "share_of_month": ("Phần thời gian trong tháng", "Share of the month"),
    "ms": ("ms", "ms"),
    "pct": ("%", "%"),
    "mbps": ("Mbps", "Mbps"),
    "by_test": ("kiểm tra", "test"),
    "by_event": ("theo dõi", "watch"),
    "component.audio": ("Hệ thống âm thanh", "Audio chain"),
    "component.audio.probe": ("Thiết bị kiểm tra và card âm thanh", "Probe and audio interface"),
    "component.audio.cabling": ("Dây tín hiệu", "Signal cables"),
    "component.audio.mixer": ("Bàn trộn âm (mixer)", "Mixer"),
    "component.audio.speakers": ("Loa và âm li", "Speakers and amplifier"),
    "component.audio.microphones": ("Micro", "Microphones"),
    # the summary table's headers (line breaks where they fit)
    "table.site": ("Điểm cầu", "Conference point"),
    "table.tests": ("Lần đo\n(không kiểm\ntra được)", "Tests\n(could\nnot test)"),
    "table.meets_download": ("Đạt\ntải xuống\n(%)", "Meets\ndownload\n(%)"),
    "table.meets_upload": ("Đạt\ntải lên\n(%)", "Meets\nupload\n(%)"),
    "table.meets_both": ("Đạt\ncả hai\n(%)", "Meets\nboth\n(%)"),
    "table.download": ("Tải xuống\n(Mbps)\ntrung vị / P10", "Download\n(Mbps)\nmedian / P10"),
    "table.upload": ("Tải lên\n(Mbps)\ntrung vị / P10", "Upload\n(Mbps)\nmedian / P10"),
    "table.latency": ("Độ trễ\n(ms)", "Latency\n(ms)"),
    "table.jitter": ("Jitter\n(ms)", "Jitter\n(ms)"),
    "table.loss": ("Mất gói\n(%)", "Loss\n(%)"),
    "table.availability": ("Tỷ lệ\ntrực tuyến\n(%)", "Avail-\nability\n(%)"),
    "table.no_data": ("Không có\ndữ liệu\n(%)", "No data\n(%)"),
    "table.faults": ("Sự cố\nâm thanh", "Audio\nfaults"),
    "table.fix_median": ("Khắc phục\n(trung vị)", "Time to fix\n(median)"),
    "table.open_at_end": ("Chưa khắc\nphục cuối\ntháng", "Open at\nmonth end"),
    "fault_list_count": (
        "Danh sách sự cố âm thanh ({shown} đầu tiên trong {n}; đủ cả trong tệp sự cố CSV)",
        "Audio faults (the first {shown} of {n}; all of them in the fault list CSV)",
    ),
    # meetings (from the stored meeting summaries)
    "meetings": ("Các cuộc họp trong tháng", "Meetings this month"),
    "no_meetings": (
        "Không có cuộc họp nào trong tháng (hoặc chưa có tổng kết)",
        "No meeting this month (or none summarised yet)",
    ),
    "meetings_note": (
        "Sẵn sàng: lần kiểm tra cuối trước giờ họp. Sự cố trong họp: đường truyền kém hoặc "
        "lỗi trong khoảng đo, lỗi âm thanh. Chi tiết từng cuộc họp: trang /meetings trên "
        "bảng theo dõi.",
        "Ready: the last check before the start. Trouble during: line windows degraded or "
        "failing, audio faults. Each meeting in detail: the dashboard's /meetings page.",
    ),
    "meetings_continued": ("Các cuộc họp trong tháng (tiếp)", "Meetings this month (continued)"),
    "table.when": ("Thời gian", "When"),
    "table.meeting": ("Cuộc họp", "Meeting"),
    "table.rooms": ("Điểm\ncầu", "Confer-\nence\npoints"),
    "table.ready": ("Sẵn\nsàng", "Ready"),
    "table.not_ready": ("Chưa\nsẵn sàng", "Not\nready"),
    "table.unknown": ("Không\nkiểm tra\nđược", "Could\nnot test"),
    "table.no_check": ("Không có\nlần kiểm\ntra", "No\ncheck"),
    "table.line_trouble": ("Đường\ntruyền kém\ntrong họp", "Line\ntrouble\nduring"),
    "table.audio_trouble": ("Lỗi âm\nthanh\ntrong họp", "Audio\nfaults\nduring"),
    "table.troubled": ("Điểm cầu có sự cố trong họp", "Conference points with trouble during"),
    # CSV headers (lang="vi"); in English the header is the column's id itself
    "csv.month": ("Tháng", "month"),
    "csv.site": ("Mã điểm cầu", "site"),
    "csv.name": ("Điểm cầu", "name"),
    "csv.simulated": ("Mô phỏng", "simulated"),
    "csv.download_target_mbps": ("Yêu cầu tải xuống (Mbps)", "download_target_mbps"),
    "csv.upload_target_mbps": ("Yêu cầu tải lên (Mbps)", "upload_target_mbps"),
    "csv.net_tests": ("Số lần đo đường truyền", "net_tests"),
    "csv.net_not_measured": ("Không kiểm tra được", "net_not_measured"),
    "csv.net_simulated": ("Lần đo mô phỏng", "net_simulated"),
    "csv.share_download_ok_pct": ("Đạt yêu cầu tải xuống (%)", "share_download_ok_pct"),
    "csv.share_upload_ok_pct": ("Đạt yêu cầu tải lên (%)", "share_upload_ok_pct"),
    "csv.share_both_ok_pct": ("Đạt cả hai chiều (%)", "share_both_ok_pct"),
    "csv.download_median_mbps": ("Tải xuống trung vị (Mbps)", "download_median_mbps"),
    "csv.download_p10_mbps": ("Tải xuống P10 (Mbps)", "download_p10_mbps"),
    "csv.upload_median_mbps": ("Tải lên trung vị (Mbps)", "upload_median_mbps"),
    "csv.upload_p10_mbps": ("Tải lên P10 (Mbps)", "upload_p10_mbps"),
    "csv.rtt_median_ms": ("Độ trễ trung vị (ms)", "rtt_median_ms"),
    "csv.jitter_median_ms": ("Jitter trung vị (ms)", "jitter_median_ms"),
    "csv.loss_median_pct": ("Mất gói trung vị (%)", "loss_median_pct"),
    "csv.availability_pct": ("Tỷ lệ trực tuyến (%)", "availability_pct"),
    "csv.online_h": ("Trực tuyến (giờ)", "online_h"),
    "csv.offline_h": ("Mất kết nối (giờ)", "offline_h"),
    "csv.no_data_h": ("Không có dữ liệu (giờ)", "no_data_h"),
    "csv.outages": ("Số lần mất kết nối", "outages"),
    "csv.longest_outage_h": ("Mất kết nối dài nhất (giờ)", "longest_outage_h"),
    "csv.audio_tests": ("Lần kiểm tra âm thanh", "audio_tests"),
    "csv.audio_faults": ("Sự cố âm thanh mới", "audio_faults"),
    "csv.audio_faults_by_component": ("Sự cố theo bộ phận", "audio_faults_by_component"),
    "csv.faults_fixed": ("Sự cố đã khắc phục", "faults_fixed"),
    "csv.fix_median_h": ("Thời gian khắc phục trung vị (giờ)", "fix_median_h"),
    "csv.fix_max_h": ("Thời gian khắc phục lâu nhất (giờ)", "fix_max_h"),
    "csv.faults_open_at_start": ("Còn từ tháng trước", "faults_open_at_start"),
    "csv.faults_open_at_end": ("Chưa khắc phục cuối tháng", "faults_open_at_end"),
    "csv.notes": ("Ghi chú", "notes"),
    "csv.component": ("Bộ phận", "component"),
    "csv.reason": ("Mã lỗi", "reason"),
    "csv.message": ("Lỗi", "message"),
    "csv.source": ("Phát hiện qua", "source"),
    "csv.opened_at": ("Bắt đầu", "opened_at"),
    "csv.closed_at": ("Khắc phục lúc", "closed_at"),
    "csv.time_to_fix_h": ("Thời gian khắc phục (giờ)", "time_to_fix_h"),
    "csv.meeting_id": ("Mã cuộc họp", "meeting_id"),
    "csv.title": ("Cuộc họp", "title"),
    "csv.start": ("Giờ bắt đầu", "start"),
    "csv.end": ("Giờ kết thúc", "end"),
    "csv.rooms": ("Số điểm cầu", "rooms"),
    "csv.ready": ("Sẵn sàng", "ready"),
    "csv.not_ready": ("Chưa sẵn sàng", "not_ready"),
    "csv.unknown": ("Không kiểm tra được", "unknown"),
    "csv.no_check": ("Không có lần kiểm tra", "no_check"),
    "csv.line_trouble": ("Đường truyền kém trong họp (số điểm cầu)", "line_trouble"),
    "csv.audio_trouble": ("Lỗi âm thanh trong họp (số điểm cầu)", "audio_trouble"),
    "csv.troubled": ("Điểm cầu có sự cố trong họp", "troubled"),
    # units
    "unit.h": ("giờ", "h"),
    "unit.min": ("phút", "min"),
    "unit.d": ("ngày", "d"),
}

MONTH_NAMES_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def labels(lang: str) -> dict[str, str]:
    """The catalogue in one language (Vietnamese for anything but ``"en"``)."""
    return in_language(LABELS, lang)


def component_label(component: str, lang: str) -> str:
    words = labels(lang)
    return words.get(f"component.{component}", component)


# -- the month -------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One local calendar month, as UTC instants."""

    year: int
    month: int
    timezone: str
    start: datetime  # local midnight of the 1st, in UTC
    end: datetime  # local midnight of the next month's 1st, in UTC

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def query_start(self) -> datetime:
        """The first ``received_at`` the store should pass (lead-in included)."""
        return self.start - LEAD_IN

    @property
    def query_end(self) -> datetime:
        """The ``received_at`` the store should stop before (lead-out included)."""
        return self.end + LEAD_OUT

    def day_starts(self) -> list[datetime]:
        """Each local day's midnight in UTC, and the month's end last."""
        zone = self.zone
        first = date(self.year, self.month, 1)
        out = []
        day = first
        while day.month == self.month:
            out.append(datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC))
            day += timedelta(days=1)
        out.append(self.end)
        return out


def month_window(year: int, month: int, timezone: str = DEFAULT_TIMEZONE) -> Window:
    """The month ``year-month`` in ``timezone`` (an IANA name); ValueError names a bad one."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1 to 12, got {month}")
    if not 1970 <= year <= 9998:
        raise ValueError(f"year {year} is out of range")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {timezone!r} (expected e.g. Asia/Ho_Chi_Minh)"
        ) from None
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(nxt[0], nxt[1], 1, tzinfo=zone).astimezone(UTC)
    return Window(year, month, timezone, start, end)


def last_full_month(
    now: datetime | None = None, timezone: str = DEFAULT_TIMEZONE
) -> tuple[int, int]:
    """(year, month) of the last local month that has ended: the usual report to make."""
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone))
    return (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)


# -- figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """The district's line requirement; the quality limits only colour the summary."""

    download_mbps: float
    upload_mbps: float
    rtt_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None


@dataclass(frozen=True)
class Spread:
    """Percentiles of one figure over a set of tests (linear interpolation)."""

    p10: float
    p25: float
    median: float
    p75: float
    p90: float

    @classmethod
    def of(cls, values: list[float]) -> Spread | None:
        if not values:
            return None
        ordered = sorted(values)
        return cls(*(quantile(ordered, q) for q in (0.10, 0.25, 0.50, 0.75, 0.90)))


@dataclass(frozen=True)
class LineFigures:
    tests: int  # every line test measured in the month
    measured: int  # tests whose verdict is not "unknown": the base of every share and spread
    not_measured: int  # verdict "unknown": the test could not run; not a failure
    simulated: int  # tests from a simulated line (counted like the others, flagged)
    download_ok: int
    upload_ok: int
    both_ok: int
    download: Spread | None
    upload: Spread | None
    rtt_median_ms: float | None
    jitter_median_ms: float | None
    loss_median_pct: float | None

    def _share(self, count: int) -> float | None:
        return count / self.measured if self.measured else None

    @property
    def share_download_ok(self) -> float | None:
        return self._share(self.download_ok)

    @property
    def share_upload_ok(self) -> float | None:
        return self._share(self.upload_ok)

    @property
    def share_both_ok(self) -> float | None:
        return self._share(self.both_ok)


@dataclass(frozen=True)
class DayLine:
    """One local day of one site's line tests (medians; loss is the day's mean)."""

    day: date
    tests: int
    download_median: float | None
    upload_median: float | None
    rtt_median: float | None
    jitter_median: float | None
    loss_mean: float | None


@dataclass(frozen=True)
class Availability:
    period_s: float  # the month (up to ``now`` for the current month)
    online_s: float
    offline_s: float
    no_data_s: float  # before anything was known about the probe
    outages: int  # offline stretches (one running across the month's start counts)
    longest_outage_s: float | None
    silence_s: float | None  # the silence limit used last (None: no status seen)

    @property
    def availability(self) -> float | None:
        """Online share of the time with data; None when there was no data at all."""
        known = self.online_s + self.offline_s
        return self.online_s / known if known > 0 else None

    @property
    def no_data_share(self) -> float | None:
        return self.no_data_s / self.period_s if self.period_s > 0 else None


@dataclass(frozen=True)
class Fault:
    site: str
    component: str  # "audio.speakers" ...; "audio" when the result names no component
    reason: str | None  # the verdict's reason code, when known
    message: Mapping[str, str]  # the probe's words for it, {"vi": ..., "en": ...}
    source: str  # "test" (an active audio test) or "event" (the passive watch)
    opened_at: datetime
    closed_at: datetime | None  # None: still open at the month's end

    @property
    def time_to_fix_s(self) -> float | None:
        if self.closed_at is None:
            return None
        return (self.closed_at - self.opened_at).total_seconds()


@dataclass(frozen=True)
class FaultFigures:
    audio_tests: int  # audio results measured in the month (any verdict)
    opened: int  # faults that opened in the month
    by_component: Mapping[str, int]  # of those, per component
    fixed: int  # faults fixed in the month (whenever they opened)
    fix_median_s: float | None  # over the faults fixed in the month
    fix_max_s: float | None
    open_at_start: int
    open_at_end: int
    faults: tuple[Fault, ...]  # opened in the month or open at its start, oldest first


@dataclass(frozen=True)
class SiteReport:
    site: str  # "" for the district row
    name: str
    configured: bool  # listed in the hub's sites
    has_data: bool  # any message of the site within the month
    simulated: bool  # some result or status of the month came from a simulation
    line: LineFigures
    availability: Availability
    faults: FaultFigures
    daily: tuple[DayLine, ...] = ()


@dataclass(frozen=True)
class MeetingFigures:
    """One meeting that started in the month, as its stored summary tells it."""

    meeting_id: str
    title: str
    start: datetime
    end: datetime
    rooms: int  # the conference points it concerned
    ready: int  # by the last readiness check before it
    not_ready: int
    unknown: int  # the check could not test
    no_check: int  # no readiness check for this meeting at all
    line_trouble: int  # rooms with monitor windows the probe called degraded or failing
    audio_trouble: int  # rooms with an audio fault during it (or standing at its start)
    troubled: tuple[str, ...]  # the names of the rooms with either, in the summary's order


@dataclass(frozen=True)
class MonthReport:
    window: Window
    targets: Targets
    hub_name: str
    generated_at: datetime
    until: datetime  # the end of the figures: the month's end, or now for the current month
    sites: tuple[SiteReport, ...]
    district: SiteReport
    skipped: int = 0  # messages that could not be read (should stay 0)
    meetings: tuple[MeetingFigures, ...] = ()  # the month's meetings, oldest first

    @property
    def complete(self) -> bool:
        return self.until >= self.window.end


# -- small helpers ---------------------------------------------------------------------


def quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, linear between ranks (numpy's default, R type 7)."""
    if not ordered:
        raise ValueError("no values")
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def _median(values: list[float]) -> float | None:
    return quantile(sorted(values), 0.5) if values else None


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(value).timestamp()  # RFC 3339 with Z (Python 3.11+)


def _when(message: Mapping[str, Any]) -> float:
    """When a result or event happened (roomhub.timing: the hub's receive time when the
    probe's clock was not synchronised)."""
    return placed_at(message["payload"], message["received_at"]).timestamp()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# -- availability ----------------------------------------------------------------------


class _Presence:
    """Online / offline / no data over the window, from status messages in arrival order.

    A status saying online counts the probe online from its arrival until the
    next status, for at most the silence limit; past that, offline until the
    next status. A status saying offline (the Last Will) counts offline until
    the next status. Before the first status: no data.
    """

    def __init__(self, start: float, end: float, silence_s: float | None):
        self.start, self.end = start, end
        self.override = silence_s
        self.last_t: float | None = None
        self.last_online = False
        self.lease = silence_s or DEFAULT_SILENCE_S
        self.online_s = 0.0
        self.offline_s = 0.0
        self.outages: list[list[float]] = []

    def _add(self, a: float, b: float, online: bool) -> None:
        a, b = max(a, self.start), min(b, self.end)
        if b <= a:
            return
        if online:
            self.online_s += b - a
        else:
            self.offline_s += b - a
            if self.outages and self.outages[-1][1] >= a:
                self.outages[-1][1] = b
            else:
                self.outages.append([a, b])

    def _close(self, t: float) -> None:
        a = self.last_t
        assert a is not None
        if self.last_online:
            until = min(t, a + self.lease)
            self._add(a, until, True)
            self._add(until, t, False)
        else:
            self._add(a, t, False)

    def status(self, t: float, online: bool, heartbeat_s: Any) -> None:
        if self.last_t is not None:
            t = max(t, self.last_t)  # arrival order is the contract; never count backwards
            self._close(t)
        self.last_t, self.last_online = t, online
        if self.override is not None:
            self.lease = self.override
        elif isinstance(heartbeat_s, int | float) and heartbeat_s > 0:
            self.lease = SILENCE_HEARTBEATS * float(heartbeat_s)
        else:
            self.lease = DEFAULT_SILENCE_S

    def figures(self) -> Availability:
        if self.last_t is not None and self.last_t < self.end:
            self._close(self.end)
            self.last_t = self.end
        period = max(0.0, self.end - self.start)
        longest = max((b - a for a, b in self.outages), default=None)
        return Availability(
            period_s=period,
            online_s=self.online_s,
            offline_s=self.offline_s,
            no_data_s=max(0.0, period - self.online_s - self.offline_s),
            outages=len(self.outages),
            longest_outage_s=longest,
            silence_s=self.lease if self.last_t is not None else None,
        )


# -- audio faults ----------------------------------------------------------------------


class _Faults:
    """Audio faults of one site, replayed in the order they happened.

    Opens: an audio result whose verdict is in ``fault_statuses`` (one fault
    per failing component, or "audio" when none is named), or a ``fault``
    event about the audio chain. One component has at most one open fault.
    Closes: an audio result with verdict ok (all of the site's faults), a
    component judged ok in a later result (that component's), or a
    ``fault_cleared`` event (the fault with its reason, else with its
    component, else the oldest one a ``fault`` event opened without a reason).
    """

    def __init__(self, site: str, fault_statuses: Collection[str]):
        self.site = site
        self.bad = frozenset(fault_statuses)
        self.items: list[tuple[float, int, Mapping[str, Any]]] = []
        self.open: dict[str, dict[str, Any]] = {}
        self.done: list[dict[str, Any]] = []

    def add(self, t: float, payload: Mapping[str, Any]) -> None:
        self.items.append((t, len(self.items), payload))

    def _open(self, t: float, component: str, reason: Any, message: Any, source: str) -> None:
        if component in self.open:
            if self.open[component]["reason"] is None and reason:
                self.open[component]["reason"] = reason
            return
        self.open[component] = {
            "component": component,
            "reason": reason or None,
            "message": message if isinstance(message, Mapping) else {},
            "source": source,
            "opened": t,
            "closed": None,
        }

    def _close(self, t: float, component: str) -> None:
        fault = self.open.pop(component, None)
        if fault is not None:
            fault["closed"] = t
            self.done.append(fault)

    def _result(self, t: float, p: Mapping[str, Any]) -> None:
        verdict = p.get("verdict") or {}
        status = verdict.get("status")
        if status == "unknown" or status is None:
            return  # the test could not run: it says nothing about the chain
        if status == "ok":
            for component in list(self.open):
                self._close(t, component)
            return
        components = [c for c in p.get("components") or [] if isinstance(c, Mapping)]
        for c in components:
            if c.get("status") == "ok":
                self._close(t, str(c.get("check")))
        if status in self.bad:
            named = [c for c in components if c.get("status") in self.bad]
            for c in named:
                self._open(t, str(c.get("check")), c.get("reason"), c.get("message"), "test")
            if not named:
                self._open(t, "audio", verdict.get("reason"), verdict.get("message"), "test")

    def _event(self, t: float, p: Mapping[str, Any]) -> None:
        details = p.get("details") or {}
        kind = p.get("event")
        if kind == "fault":
            check = str(details.get("check") or "audio")
            if not check.startswith("audio"):
                return
            if details.get("status", "fail") not in self.bad:
                return
            self._open(t, check, details.get("reason"), p.get("message"), "event")
        elif kind == "fault_cleared":
            reason = details.get("cleared") or details.get("reason")
            matches = [c for c, f in self.open.items() if reason and f["reason"] == reason]
            if not matches and details.get("check") in self.open:
                matches = [details["check"]]
            if not matches:
                unnamed = [
                    f for f in self.open.values() if f["source"] == "event" and f["reason"] is None
                ]
                if unnamed:
                    matches = [min(unnamed, key=lambda f: f["opened"])["component"]]
            for component in matches:
                self._close(t, component)

    def figures(self, start: float, end: float) -> FaultFigures:
        audio_tests = 0
        for t, _, p in sorted(self.items, key=lambda item: (item[0], item[1])):
            if t >= end:
                break  # a fix after the month's end: the fault was open at its end
            if p.get("schema") == AUDIO:
                audio_tests += start <= t
                self._result(t, p)
            else:
                self._event(t, p)
        every = self.done + list(self.open.values())
        opened = [f for f in every if start <= f["opened"] < end]
        at_start = [
            f for f in every if f["opened"] < start and (f["closed"] is None or f["closed"] > start)
        ]
        fixed = [f for f in every if f["closed"] is not None and start <= f["closed"] < end]
        at_end = [f for f in every if f["closed"] is None]
        fix_times = sorted(f["closed"] - f["opened"] for f in fixed)
        by_component: dict[str, int] = {}
        for f in sorted(opened, key=lambda f: f["component"]):
            by_component[f["component"]] = by_component.get(f["component"], 0) + 1
        listed = sorted(opened + at_start, key=lambda f: (f["opened"], f["component"]))
        return FaultFigures(
            audio_tests=audio_tests,
            opened=len(opened),
            by_component=by_component,
            fixed=len(fixed),
            fix_median_s=quantile(fix_times, 0.5) if fix_times else None,
            fix_max_s=fix_times[-1] if fix_times else None,
            open_at_start=len(at_start),
            open_at_end=len(at_end),
            faults=tuple(
                Fault(
                    site=self.site,
                    component=f["component"],
                    reason=f["reason"],
                    message=f["message"],
                    source=f["source"],
                    opened_at=_utc(f["opened"]),
                    closed_at=_utc(f["closed"]) if f["closed"] is not None else None,
                )
                for f in listed
            ),
        )


# -- the line --------------------------------------------------------------------------


@dataclass
class _Line:
    """A site's line tests in the month: (time, down, up, rtt, jitter, loss) per measured test."""

    tests: list[tuple[float, float, float, float, float, float]] = field(default_factory=list)
    not_measured: int = 0
    simulated: int = 0

    def figures(self, targets: Targets) -> LineFigures:
        return _line_figures(self.tests, self.not_measured, self.simulated, targets)

    def daily(self, day_starts: list[float], days: list[date]) -> tuple[DayLine, ...]:
        """Per local day; ``day_starts`` has each day's start and the month's end last."""
        per_day: list[list[tuple[float, ...]]] = [[] for _ in days]
        for test in self.tests:
            index = bisect.bisect_right(day_starts, test[0]) - 1
            if 0 <= index < len(per_day):
                per_day[index].append(test)
        out = []
        for day, tests in zip(days, per_day, strict=True):
            loss = [t[5] for t in tests]
            out.append(
                DayLine(
                    day=day,
                    tests=len(tests),
                    download_median=_median([t[1] for t in tests]),
                    upload_median=_median([t[2] for t in tests]),
                    rtt_median=_median([t[3] for t in tests]),
                    jitter_median=_median([t[4] for t in tests]),
                    loss_mean=sum(loss) / len(loss) if loss else None,
                )
            )
        return tuple(out)


def _line_figures(
    tests: list[tuple[float, float, float, float, float, float]],
    not_measured: int,
    simulated: int,
    targets: Targets,
) -> LineFigures:
    down = [t[1] for t in tests]
    up = [t[2] for t in tests]
    down_ok = [d >= targets.download_mbps for d in down]
    up_ok = [u >= targets.upload_mbps for u in up]
    return LineFigures(
        tests=len(tests) + not_measured,
        measured=len(tests),
        not_measured=not_measured,
        simulated=simulated,
        download_ok=sum(down_ok),
        upload_ok=sum(up_ok),
        both_ok=sum(d and u for d, u in zip(down_ok, up_ok, strict=True)),
        download=Spread.of(down),
        upload=Spread.of(up),
        rtt_median_ms=_median([t[3] for t in tests]),
        jitter_median_ms=_median([t[4] for t in tests]),
        loss_median_pct=_median([t[5] for t in tests]),
    )


# -- the report ------------------------------------------------------------------------


@dataclass
class _Site:
    presence: _Presence
    faults: _Faults
    line: _Line = field(default_factory=_Line)
    has_data: bool = False
    simulated: bool = False


def build_report(
    messages: Iterable[Mapping[str, Any]],
    sites: Mapping[str, str],
    month: tuple[int, int],
    *,
    timezone: str = DEFAULT_TIMEZONE,
    download_mbps: float = 50.0,
    upload_mbps: float = 50.0,
    rtt_ms: float | None = None,
    jitter_ms: float | None = None,
    loss_pct: float | None = None,
    silence_s: float | None = None,
    fault_statuses: Collection[str] = FAULT_STATUSES,
    hub_name: str = "",
    now: datetime | None = None,
    meetings: Iterable[Mapping[str, Any]] = (),
) -> MonthReport:
    """The month's figures per site and for all sites together.

    ``messages``: stored messages ``{"received_at", "payload"}`` ordered by
    ``received_at``, from ``window.query_start`` to ``window.query_end`` (see
    the module's doc); read once, so a generator over the database will do.
    ``sites``: the hub's sites, id to name (sites with messages but not listed
    are reported too, marked not configured). ``download_mbps`` /
    ``upload_mbps``: the district's line requirement; ``rtt_ms``,
    ``jitter_ms``, ``loss_pct``: limits that only colour the summary.
    ``silence_s``: a silence longer than this counts as offline (default:
    ``SILENCE_HEARTBEATS`` heartbeats when the status says its heartbeat,
    else ``DEFAULT_SILENCE_S``). ``now``: figures stop here for the current month.
    ``meetings``: stored meeting summaries (``meeting_summary.stored``); those
    that started in the month are listed.
    """
    window = month_window(month[0], month[1], timezone)
    generated = (now or datetime.now(UTC)).astimezone(UTC)
    until = min(window.end, max(window.start, generated))
    start, end = window.start.timestamp(), until.timestamp()
    month_end = window.end.timestamp()
    targets = Targets(download_mbps, upload_mbps, rtt_ms, jitter_ms, loss_pct)
    state: dict[str, _Site] = {}
    skipped = 0

    def site_state(site: str) -> _Site:
        entry = state.get(site)
        if entry is None:
            entry = state[site] = _Site(
                _Presence(start, end, silence_s), _Faults(site, fault_statuses)
            )
        return entry

    for message in messages:
        try:
            payload = message["payload"]
            schema = payload["schema"]
            if schema == STATUS:
                s = site_state(payload["site"])
                t = _epoch(message["received_at"])  # the Last Will's ts is its connect time
                s.presence.status(t, bool(payload["online"]), payload.get("heartbeat_s"))
                if start <= t < end:
                    s.has_data = True
                    s.simulated |= bool(payload.get("simulated"))
                continue
            if schema not in (NET, AUDIO, EVENT):
                continue
            t = _when(message)
            if t >= month_end or (schema == NET and t < start):
                continue  # the lead-out only brings late line results; the lead-in no line
            s = site_state(payload["site"])
            within = start <= t < end
            s.has_data |= within
            if schema == NET:
                if within:
                    _add_net(s, payload, t)
            elif schema == AUDIO or payload.get("event") in ("fault", "fault_cleared"):
                s.faults.add(t, payload)
                s.simulated |= within and bool(payload.get("simulated"))
        except (KeyError, TypeError, ValueError, AttributeError):
            skipped += 1

    day_starts = [d.timestamp() for d in window.day_starts()]
    days = [date(window.year, window.month, n) for n in range(1, len(day_starts))]
    ordered = list(sites) + sorted(set(state) - set(sites))
    reports = []
    for site in ordered:
        s = state.get(site) or _Site(
            _Presence(start, end, silence_s), _Faults(site, fault_statuses)
        )
        availability = s.presence.figures()
        reports.append(
            SiteReport(
                site=site,
                name=sites.get(site, site),
                configured=site in sites,
                # A probe silent all month after a Last Will is offline, not "no data".
                has_data=s.has_data or availability.availability is not None,
                simulated=s.simulated,
                line=s.line.figures(targets),
                availability=availability,
                faults=s.faults.figures(start, end),
                daily=s.line.daily(day_starts, days),
            )
        )
    return MonthReport(
        window=window,
        targets=targets,
        hub_name=hub_name,
        generated_at=generated,
        until=until,
        sites=tuple(reports),
        district=_district(reports, state, targets, end - start),
        skipped=skipped,
        meetings=_meetings(meetings, window),
    )


def _add_net(s: _Site, payload: Mapping[str, Any], t: float) -> None:
    line = s.line
    if payload.get("simulated"):
        line.simulated += 1
        s.simulated = True
    if payload["verdict"]["status"] == "unknown":
        line.not_measured += 1  # the test could not run: not a failure of the line
        return
    m = payload["metrics"]
    line.tests.append(
        (
            t,
            float(m["download_mbps"]),
            float(m["upload_mbps"]),
            float(m["rtt_ms"]),
            float(m["jitter_ms"]),
            float(m["loss_pct"]),
        )
    )


def _district(
    reports: list[SiteReport], state: Mapping[str, _Site], targets: Targets, period: float
) -> SiteReport:
    """All sites together: every test pooled, time summed, faults summed."""
    tests = [t for s in state.values() for t in s.line.tests]
    line = _line_figures(
        tests,
        sum(s.line.not_measured for s in state.values()),
        sum(s.line.simulated for s in state.values()),
        targets,
    )
    avail = [r.availability for r in reports]
    longest = [a.longest_outage_s for a in avail if a.longest_outage_s is not None]
    availability = Availability(
        period_s=period * len(reports),
        online_s=sum(a.online_s for a in avail),
        offline_s=sum(a.offline_s for a in avail),
        no_data_s=sum(a.no_data_s for a in avail),
        outages=sum(a.outages for a in avail),
        longest_outage_s=max(longest) if longest else None,
        silence_s=None,
    )
    faults = [f for r in reports for f in r.faults.faults]
    fix_times = sorted(
        f.time_to_fix_s for r in reports for f in _fixed_in_month(r) if f.time_to_fix_s is not None
    )
    by_component: dict[str, int] = {}
    for r in reports:
        for component, n in r.faults.by_component.items():
            by_component[component] = by_component.get(component, 0) + n
    return SiteReport(
        site="",
        name="",
        configured=True,
        has_data=any(r.has_data for r in reports),
        simulated=any(r.simulated for r in reports),
        line=line,
        availability=availability,
        faults=FaultFigures(
            audio_tests=sum(r.faults.audio_tests for r in reports),
            opened=sum(r.faults.opened for r in reports),
            by_component=dict(sorted(by_component.items())),
            fixed=sum(r.faults.fixed for r in reports),
            fix_median_s=quantile(fix_times, 0.5) if fix_times else None,
            fix_max_s=fix_times[-1] if fix_times else None,
            open_at_start=sum(r.faults.open_at_start for r in reports),
            open_at_end=sum(r.faults.open_at_end for r in reports),
            faults=tuple(sorted(faults, key=lambda f: (f.opened_at, f.site, f.component))),
        ),
    )


def _fixed_in_month(r: SiteReport) -> list[Fault]:
    """The faults listed for a site that were fixed inside the report's month."""
    return [f for f in r.faults.faults if f.closed_at is not None]


# -- meetings --------------------------------------------------------------------------


def _meetings(summaries: Iterable[Mapping[str, Any]], window: Window) -> tuple[MeetingFigures, ...]:
    """The meetings that started in the month, oldest first, from their stored summaries.

    The counts are the summary's own (the meeting page shows the same); the names
    of the rooms in trouble come from its rooms. A summary that cannot be read is
    left out: it is the hub's record, not a message, and the hub logged it.
    """
    out = []
    for summary in summaries:
        try:
            meeting, counts = summary["meeting"], summary["counts"]
            start = datetime.fromisoformat(meeting["start"])
            if not window.start <= start < window.end:
                continue
            troubled = tuple(
                str(room["name"])
                for room in summary.get("rooms") or ()
                if room["line"]["bad"] or room["audio"]["count"]
            )
            out.append(
                MeetingFigures(
                    meeting_id=str(meeting["id"]),
                    title=str(meeting["title"]),
                    start=start,
                    end=datetime.fromisoformat(meeting["end"]),
                    rooms=int(counts["rooms"]),
                    ready=int(counts["ready"]),
                    not_ready=int(counts["not-ready"]),
                    unknown=int(counts["unknown"]),
                    no_check=int(counts["none"]),
                    line_trouble=int(counts["line_trouble"]),
                    audio_trouble=int(counts["audio_trouble"]),
                    troubled=troubled,
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return tuple(sorted(out, key=lambda m: (m.start, m.meeting_id)))


# -- grades (the summary's colours) ----------------------------------------------------

GOOD, FAIR, POOR, NONE = "good", "fair", "poor", "none"
PLAIN = "plain"  # a figure with data but no limit to judge it by


def _share_grade(share: float | None) -> str:
    if share is None:
        return NONE
    return GOOD if share >= SHARE_GOOD else FAIR if share >= SHARE_FAIR else POOR


def _speed_grade(spread: Spread | None, target: float) -> str:
    if spread is None:
        return NONE
    if spread.p10 >= target:
        return GOOD
    return FAIR if spread.median >= target else POOR


def _limit_grade(value: float | None, limit: float | None) -> str:
    if value is None:
        return NONE
    if limit is None:
        return PLAIN
    return GOOD if value <= limit else POOR


def grades(r: SiteReport, targets: Targets) -> dict[str, str]:
    """How each key figure stands against the targets: good, fair, poor or none (no data).

    Shares meeting a target: good from ``SHARE_GOOD``, fair from ``SHARE_FAIR``.
    Speeds: good when even P10 meets the target, fair when the median does.
    Latency, jitter, loss: good within the limit; plain when no limit was given.
    Availability: good from ``AVAILABILITY_GOOD``, fair from ``AVAILABILITY_FAIR``.
    Audio: poor when a fault is still open at the month's end.
    """
    line, avail, faults = r.line, r.availability.availability, r.faults
    if avail is None:
        avail_grade = NONE
    else:
        avail_grade = (
            GOOD if avail >= AVAILABILITY_GOOD else FAIR if avail >= AVAILABILITY_FAIR else POOR
        )
    if faults.audio_tests == 0 and not faults.faults:
        fault_grade = NONE
    else:
        fault_grade = POOR if faults.open_at_end else GOOD
    return {
        "share_download_ok": _share_grade(line.share_download_ok),
        "share_upload_ok": _share_grade(line.share_upload_ok),
        "share_both_ok": _share_grade(line.share_both_ok),
        "download": _speed_grade(line.download, targets.download_mbps),
        "upload": _speed_grade(line.upload, targets.upload_mbps),
        "rtt": _limit_grade(line.rtt_median_ms, targets.rtt_ms),
        "jitter": _limit_grade(line.jitter_median_ms, targets.jitter_ms),
        "loss": _limit_grade(line.loss_median_pct, targets.loss_pct),
        "availability": avail_grade,
        "faults": fault_grade,
    }
