"""A meeting summary's words: Vietnamese first, then English (shared/GLOSSARY.md).

Kept apart from the computation so that the summary's figures (room.py) stay
free of language, and the page, the console and the report read one catalogue.
"""

from __future__ import annotations

from typing import Any

#: What a summary says to a person: the overall line, the CLI and the page's cells.
TEXTS: dict[str, tuple[str, str]] = {
    "ready.ready": ("sẵn sàng", "ready"),
    "ready.not-ready": ("chưa sẵn sàng", "not ready"),
    "ready.unknown": ("không kiểm tra được", "could not test"),
    "ready.none": ("không có lần kiểm tra sẵn sàng", "no readiness check"),
    "line.none": (
        "không có số liệu đường truyền trong cuộc họp",
        "no line data during the meeting",
    ),
    "line.fine": ("đường truyền tốt trong cuộc họp", "line fine during the meeting"),
    "line.bad": (
        "đường truyền kém trong {bad}/{n} khoảng đo",
        "line degraded in {bad} of {n} windows",
    ),
    "line.failing": ("{n} khoảng lỗi", "{n} failing"),
    "audio.none": ("không có lỗi âm thanh", "no audio fault"),
    "audio.one": ("1 lỗi âm thanh", "1 audio fault"),
    "audio.many": ("{n} lỗi âm thanh", "{n} audio faults"),
    "other.faults": ("{n} lỗi khác", "{n} other faults"),
    "silent": ("hộp không gửi số liệu {m} phút", "probe silent for {m} min"),
    "offline": ("mất kết nối với máy chủ {m} phút", "cut off from the hub for {m} min"),
    "no_rooms": ("Cuộc họp không có điểm cầu nào", "The meeting has no conference point"),
    # the cells
    "at": ("lúc {time}", "at {time}"),
    "runs": ("{n} lần kiểm tra cho cuộc họp này", "{n} checks for this meeting"),
    "part": ("{part}: {status}", "{part}: {status}"),
    "part.network": ("Đường truyền", "Line"),
    "part.audio": ("Âm thanh", "Audio"),
    "part.system": ("Thiết bị", "Probe"),
    "status.ok": ("Đạt", "OK"),
    "status.degraded": ("Kém", "Degraded"),
    "status.fail": ("Lỗi", "Fail"),
    "status.unknown": ("Chưa rõ", "Unknown"),
    "windows": (
        "{n} khoảng đo: {ok} đạt, {degraded} kém, {fail} lỗi, {unknown} chưa rõ",
        "{n} windows: {ok} OK, {degraded} degraded, {fail} failing, {unknown} unknown",
    ),
    "rtt": (
        "Độ trễ: trung vị {median} ms, xấu nhất {worst} ms",
        "Latency: median {median} ms, worst {worst} ms",
    ),
    "jitter": (
        "Jitter: trung vị {median} ms, xấu nhất {worst} ms",
        "Jitter: median {median} ms, worst {worst} ms",
    ),
    "loss": (
        "Mất gói: trung vị {median}%, xấu nhất {worst}%",
        "Packet loss: median {median}%, worst {worst}%",
    ),
    "mos": (
        "Chất lượng cuộc gọi (MOS): thấp nhất {lowest}, trung vị {median}",
        "Call quality (MOS): lowest {lowest}, median {median}",
    ),
    "reason": ("{count} lần: {message}", "{count} times: {message}"),
    "level": (
        "Mức âm thanh thu được: trung vị {median} dBFS, cao nhất {max} dBFS",
        "Audio level picked up: median {median} dBFS, highest {max} dBFS",
    ),
    "watch": (
        "Theo dõi âm thanh: {clips} lần méo do quá mức, {dropouts} lần mất tiếng, "
        "{hum} khoảng có tiếng ù, {feedback} giây tiếng hú, {speech} giây có người nói",
        "Audio watch: {clips} clipping events, {dropouts} dropouts, {hum} windows with hum, "
        "{feedback} s of howling, {speech} s of speech",
    ),
    "fault": ("{time}: {message}", "{time}: {message}"),
    "fault.before": (
        "có từ trước giờ họp ({time}): {message}",
        "already there at the start ({time}): {message}",
    ),
    "fault.cleared": ("hết lúc {time}", "cleared at {time}"),
    "fault.standing": ("chưa hết khi cuộc họp kết thúc", "still there when the meeting ended"),
    "mode.on": ("{time}: bật chế độ đang họp", "{time}: meeting mode on"),
    "mode.off": ("{time}: tắt chế độ đang họp", "{time}: meeting mode off"),
    "skipped": ("{time}: bỏ qua bài đo: {message}", "{time}: test skipped: {message}"),
    "span": ("{start} – {end} ({m} phút)", "{start} – {end} ({m} min)"),
    "silent.title": ("Hộp không gửi số liệu", "Probe silent"),
    "offline.title": ("Máy chủ không nghe thấy hộp", "The hub heard nothing from the probe"),
    "late": (
        "{n} khoảng đo đến muộn (gửi lại sau khi mất kết nối)",
        "{n} windows arrived late (sent again after an outage)",
    ),
    "missing": (
        "{n} kết quả bị thiếu (số thứ tự không nhận được)",
        "{n} results missing (sequence numbers never received)",
    ),
    "unreadable": ("{n} tin không đọc được, đã bỏ qua", "{n} unreadable messages skipped"),
    "nothing": ("không có", "none"),
    "all_heard": ("Nghe thấy hộp suốt cuộc họp", "The probe was heard throughout"),
}

#: Who must act, short, for the overall line ("not ready (ISP)").
ACTORS: dict[str, tuple[str, str]] = {
    "isp": ("nhà mạng", "ISP"),
    "room-lan": ("mạng nội bộ của xã", "the commune's network"),
    "room-audio": ("loa / micro / âm li", "speakers / microphones / amplifier"),
    "probe": ("hộp kiểm tra", "the probe"),
}

#: The dashboard's words for summaries and the readiness button. They live here, beside
#: the summary's own words, and pages.py adds them to texts.LABELS when it renders.
LABELS: dict[str, tuple[str, str]] = {
    "summary.title": ("Tổng kết cuộc họp", "Meeting summary"),
    "summary.link": ("Tổng kết", "Summary"),
    "summary.upcoming": ("Cuộc họp chưa kết thúc", "Meetings not yet over"),
    "summary.past": ("Cuộc họp đã qua (30 ngày gần đây)", "Past meetings (last 30 days)"),
    "summary.past_none": (
        "Chưa có cuộc họp nào trong 30 ngày qua",
        "No meeting in the last 30 days",
    ),
    "summary.rooms": ("Điểm cầu", "Conference points"),
    "summary.counts": ("Sẵn sàng / chưa / không rõ", "Ready / not ready / unknown"),
    "summary.trouble": ("Có sự cố trong họp", "Trouble during"),
    "summary.not_computed": ("chưa tổng kết", "not summarised yet"),
    "summary.overall": ("Tóm tắt", "In short"),
    "summary.before": ("Sẵn sàng trước giờ họp", "Readiness before the start"),
    "summary.line": ("Đường truyền trong cuộc họp", "Line during the meeting"),
    "summary.audio": ("Âm thanh trong cuộc họp", "Audio during the meeting"),
    "summary.gaps": ("Mất liên lạc, thiếu số liệu", "Silences and gaps"),
    "summary.events": ("Sự kiện khác", "Other events"),
    "summary.who": ("Ai cần xử lý", "Who must act"),
    "summary.state.not-started": (
        "Cuộc họp chưa bắt đầu: chưa có tổng kết. Dưới đây là các lần kiểm tra sẵn sàng đến nay.",
        "The meeting has not started: no summary yet. Below, the readiness checks so far.",
    ),
    "summary.state.in-progress": (
        "Cuộc họp đang diễn ra: chưa có tổng kết. Số liệu dưới đây tính đến lúc này.",
        "The meeting is on: the summary is not ready yet. The figures below are up to now.",
    ),
    "summary.state.provisional": (
        "Cuộc họp vừa kết thúc: tổng kết được lưu sau vài phút. Số liệu dưới đây tính lúc này.",
        "The meeting has just ended: the summary is stored in a few minutes. "
        "The figures below are as of now.",
    ),
    "summary.state.stored": (
        "Tổng kết lưu lúc {at}. Kết quả đến muộn trong 24 giờ sau cuộc họp được tính thêm.",
        "Summary stored at {at}. Results that arrive late, up to 24 hours after the meeting, "
        "are added.",
    ),
    "summary.state.final": ("Tổng kết lưu lúc {at}.", "Summary stored at {at}."),
    "summary.no_meeting": ("Không có cuộc họp này", "No such meeting"),
    "summary.no_rooms": TEXTS["no_rooms"],
    "ready.none": ("Không có lần kiểm tra", "No check"),
    "cmd.ready": ("Kiểm tra sẵn sàng", "Check readiness"),
    "cmd.ready_sent": (
        "Đã gửi lệnh kiểm tra sẵn sàng. Kết quả hiện trên bảng khi hộp kiểm tra xong "
        "(vài phút); hộp từ chối nếu phòng đang họp hoặc có người nói.",
        "Readiness check sent. The result shows on the board when the probe has finished "
        "(a few minutes); the probe refuses while a meeting is on or people are talking.",
    ),
}


def say(key: str, lang: int, **values: Any) -> str:
    """A text of TEXTS in one language (0 Vietnamese, 1 English), its values filled in."""
    return TEXTS[key][lang].format(**values)


def num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def minutes(seconds: float) -> int:
    """A span for people, in whole minutes; never "0 min" for a span that was there."""
    return max(1, round(seconds / 60))
