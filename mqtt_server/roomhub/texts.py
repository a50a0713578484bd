"""Every label the hub shows a person, in Vietnamese and English: one catalogue.

Verdict messages come from the probes (roomprobe.texts); these are the
dashboard's own words. Vietnamese is the default; ``?lang=en`` switches.
Words follow shared/GLOSSARY.md.
"""

from __future__ import annotations

LANGS = ("vi", "en")

LABELS: dict[str, tuple[str, str]] = {
    "title": ("Bảng theo dõi phòng họp trực tuyến", "Meeting room dashboard"),
    "site": ("Điểm cầu", "Conference point"),
    "connection": ("Kết nối", "Connection"),
    "online": ("Trực tuyến", "Online"),
    "offline": ("Mất kết nối", "Offline"),
    "never": ("Chưa kết nối", "Never connected"),
    "last_seen": ("Lần cuối", "Last seen"),
    "line": ("Đường truyền", "Line"),
    "audio": ("Âm thanh", "Audio"),
    "system": ("Thiết bị", "Probe"),
    "speed": ("Tải xuống / tải lên", "Download / upload"),
    "mos": ("Chất lượng cuộc gọi (MOS)", "Call quality (MOS)"),
    "missing": ("Kết quả bị thiếu", "Missing results"),
    "simulated": ("mô phỏng", "simulated"),
    "meeting_mode": ("chế độ đang họp", "meeting mode"),
    "quarantine": ("Tin nhắn bị cách ly", "Quarantined messages"),
    "no_sites": ("Chưa có điểm cầu nào gửi dữ liệu", "No conference point has reported yet"),
    "times_in": ("Giờ hiển thị theo múi giờ", "Times are shown in"),
    "switch_lang": ("English", "Tiếng Việt"),
    "status.ok": ("Đạt", "OK"),
    "status.degraded": ("Kém", "Degraded"),
    "status.fail": ("Lỗi", "Fail"),
    "status.unknown": ("Chưa rõ", "Unknown"),
    "actor.isp": ("Liên hệ nhà mạng", "Call the ISP"),
    "actor.room-lan": ("Kiểm tra mạng nội bộ của xã", "Check the commune's own network"),
    "actor.room-audio": (
        "Kiểm tra loa / micro / âm li",
        "Check the speakers / microphones / amplifier",
    ),
    "actor.probe": ("Báo cán bộ CNTT", "Tell IT staff"),
}


def labels(lang: str) -> dict[str, str]:
    index = LANGS.index(lang) if lang in LANGS else 0
    return {key: pair[index] for key, pair in LABELS.items()}
