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
    "clock.unsynced": (
        "Đồng hồ của thiết bị chưa đồng bộ: đây là giờ máy chủ nhận kết quả",
        "The probe's clock was not synchronised: this is when the hub received it",
    ),
    "store.failing": (
        "Máy chủ không lưu được kết quả (ổ đĩa đầy hoặc cơ sở dữ liệu lỗi). Kết quả đang chờ "
        "trên máy chủ MQTT và sẽ được lưu khi sửa xong. Cán bộ CNTT cần xử lý ngay",
        "The hub cannot store results (disk full or database failing). They wait on the MQTT "
        "broker and will be stored once it is fixed. IT staff must act now",
    ),
    "dropped_on_probe": (
        "thiết bị đã bỏ vì hàng đợi đầy khi mất kết nối lâu",
        "dropped by the probe, its queue full during a long outage",
    ),
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
    "nav.board": ("Bảng tổng hợp", "Board"),
    "nav.readiness": ("Sẵn sàng cho cuộc họp", "Meeting readiness"),
    "nav.meetings": ("Lịch họp", "Meeting schedule"),
    "nav.quarantine": ("Tin nhắn bị cách ly", "Quarantine"),
    "nav.reports": ("Báo cáo tháng", "Monthly reports"),
    "alerts.open": ("Cảnh báo đang mở", "Open alerts"),
    "alerts.since": ("từ", "since"),
    "reports.about": (
        "Báo cáo theo từng xã và toàn huyện: tỷ lệ lần đo đạt 50 Mbps, thời gian hoạt động, "
        "lỗi âm thanh và thời gian khắc phục. Tạo khi tải về (vài giây).",
        "Per commune and for the district: share of line tests meeting 50 Mbps, availability, "
        "audio faults and time to fix. Built when downloaded (a few seconds).",
    ),
    "reports.month": ("Tháng", "Month"),
    "reports.current": ("tháng này, đến nay", "this month so far"),
    "reports.faults": ("Danh sách lỗi (CSV)", "Fault list (CSV)"),
    "reports.meetings": ("Các cuộc họp (CSV)", "Meetings (CSV)"),
    "meeting_light": ("Đèn cuộc họp trên hộp", "The box's meeting light"),
    "firmware": ("phần mềm", "firmware"),
    "commands": ("Lệnh cho thiết bị đo", "Commands to the probe"),
    "cmd.run_all": ("Kiểm tra ngay (đường truyền và âm thanh)", "Test now (line and audio)"),
    "cmd.run_net": ("Chỉ kiểm tra đường truyền", "Line test only"),
    "cmd.run_audio": ("Chỉ kiểm tra âm thanh", "Audio test only"),
    "cmd.meeting_on": ("Bật chế độ đang họp", "Turn meeting mode on"),
    "cmd.meeting_off": ("Tắt chế độ đang họp", "Turn meeting mode off"),
    "cmd.sent": ("Gửi lúc", "Sent"),
    "cmd.command": ("Lệnh", "Command"),
    "cmd.state": ("Trạng thái", "State"),
    "cmd.reply": ("Trả lời của thiết bị", "The probe's reply"),
    "cmd.state.waiting": ("Đang chờ trả lời", "Waiting for the reply"),
    "cmd.state.replied": ("Đã trả lời", "Replied"),
    "cmd.state.expired": ("Hết hạn, không có trả lời", "Expired without a reply"),
    "cmd.sent_notice": (
        "Đã gửi lệnh; trang tự cập nhật khi có trả lời.",
        "Command sent; this page updates when the reply arrives.",
    ),
    "history": ("Lịch sử", "History"),
    "days.1": ("24 giờ", "24 hours"),
    "days.7": ("7 ngày", "7 days"),
    "days.30": ("30 ngày", "30 days"),
    "recent": ("Kết quả gần đây", "Recent results"),
    "time": ("Thời gian", "Time"),
    "kind": ("Loại", "Kind"),
    "verdict": ("Kết luận", "Verdict"),
    "figures": ("Số liệu", "Figures"),
    "kind.net": ("Đường truyền", "Line"),
    "kind.audio": ("Âm thanh", "Audio"),
    "kind.readiness": ("Sẵn sàng", "Readiness"),
    "kind.monitor": ("Theo dõi", "Monitor"),
    "meeting.title": ("Tên cuộc họp", "Title"),
    "meeting.start": ("Bắt đầu", "Starts"),
    "meeting.end": ("Kết thúc", "Ends"),
    "meeting.sites": ("Điểm cầu", "Conference points"),
    "meeting.all_sites": ("Tất cả điểm cầu", "Every conference point"),
    "meeting.delete": ("Xóa", "Delete"),
    "meeting.none": ("Chưa có cuộc họp nào sắp tới", "No meeting ahead"),
    "meeting.add": ("Thêm cuộc họp", "Add a meeting"),
    "meeting.date": ("Ngày", "Date"),
    "meeting.from": ("Từ", "From"),
    "meeting.to": ("Đến", "To"),
    "meeting.none_ticked": ("không chọn điểm nào nghĩa là tất cả", "none ticked means all"),
    "meeting.save": ("Lưu và gửi lịch cho các điểm cầu", "Save and send the schedule to the rooms"),
    "meeting.saved": (
        "Đã lưu cuộc họp và gửi lịch mới cho các điểm cầu.",
        "Meeting saved; the new schedule was sent to the rooms.",
    ),
    "meeting.deleted": ("Đã xóa cuộc họp và gửi lịch mới.", "Meeting deleted; new schedule sent."),
    "meeting.unsent": (
        "Đã lưu, nhưng chưa gửi được lịch (mất kết nối máy chủ MQTT); "
        "lịch sẽ được gửi khi kết nối lại.",
        "Saved, but the schedule could not be sent (no broker connection); "
        "it goes out when the hub reconnects.",
    ),
    "ready.no_meeting": (
        "Chưa có cuộc họp nào sắp tới: bảng cho thấy tình trạng hiện tại",
        "No meeting ahead: the board shows every room as it is now",
    ),
    "ready.ready": ("Sẵn sàng", "Ready"),
    "ready.not-ready": ("Chưa sẵn sàng", "Not ready"),
    "ready.unknown": ("Chưa rõ", "Unknown"),
    "ready.state": ("Tình trạng", "State"),
    "ready.reasons": ("Lý do", "Reasons"),
    "ready.who": ("Ai cần xử lý", "Who must act"),
    "quarantine.about": (
        "Tin nhắn không đúng định dạng được giữ lại kèm lý do, không làm gián đoạn các tin khác.",
        "Messages that break the contract are kept with the reason; they never hold up the others.",
    ),
    "quarantine.topic": ("Chủ đề MQTT", "MQTT topic"),
    "quarantine.size": ("Kích thước (byte)", "Size (bytes)"),
    "quarantine.reason": ("Lý do", "Reason"),
    "quarantine.payload": ("Nội dung (đầu)", "Payload (start)"),
    "quarantine.empty": ("Không có tin nhắn nào bị cách ly", "Nothing is in quarantine"),
    "error.no_site": ("Không có điểm cầu này", "No such conference point"),
}


def in_language(catalogue: dict[str, tuple[str, str]], lang: str) -> dict[str, str]:
    """A (vi, en) catalogue in one language: Vietnamese for anything but ``"en"``."""
    index = LANGS.index(lang) if lang in LANGS else 0
    return {key: pair[index] for key, pair in catalogue.items()}


def labels(lang: str) -> dict[str, str]:
    return in_language(LABELS, lang)
