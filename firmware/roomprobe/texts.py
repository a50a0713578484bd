"""Every text the probe shows a person, in Vietnamese and English: one catalogue.

Keyed by reason code (the same code a verdict carries), so a native speaker
can review all wording here, and the hub, the LEDs card and ``doctor`` never
word the same fact differently. Templates take named values (``{value:.1f}``).
A filled text is clipped to the contract's 500 characters, so a long value
(a list of config problems) can never make a message the contract refuses.
Words follow shared/GLOSSARY.md.
"""

from __future__ import annotations

from typing import Any

# reason code -> (Vietnamese, English)
TEXTS: dict[str, tuple[str, str]] = {
    # line
    "net.ok": ("Đường truyền đạt yêu cầu", "The line meets the requirement"),
    "net.unknown": ("Chưa kiểm tra đường truyền", "The line has not been tested yet"),
    "net.download_low": (
        "Tốc độ tải xuống {value:.1f} Mbps, thấp hơn yêu cầu {limit:.0f} Mbps. Liên hệ nhà mạng",
        "Download speed {value:.1f} Mbps is below the required {limit:.0f} Mbps. Call the ISP",
    ),
    "net.upload_low": (
        "Tốc độ tải lên {value:.1f} Mbps, thấp hơn yêu cầu {limit:.0f} Mbps. Liên hệ nhà mạng",
        "Upload speed {value:.1f} Mbps is below the required {limit:.0f} Mbps. Call the ISP",
    ),
    "net.latency_high": (
        "Độ trễ {value:.0f} ms, vượt mức {limit:.0f} ms. Liên hệ nhà mạng",
        "Latency {value:.0f} ms is above {limit:.0f} ms. Call the ISP",
    ),
    "net.jitter_high": (
        "Độ biến thiên độ trễ (jitter) {value:.0f} ms, vượt mức {limit:.0f} ms. Liên hệ nhà mạng",
        "Jitter {value:.0f} ms is above {limit:.0f} ms. Call the ISP",
    ),
    "net.loss_high": (
        "Mất gói {value:.1f}%, vượt mức {limit:.1f}%. Liên hệ nhà mạng",
        "Packet loss {value:.1f}% is above {limit:.1f}%. Call the ISP",
    ),
    "net.mos_low": (
        "Chất lượng cuộc gọi video thấp: điểm MOS {value:.1f}, dưới {limit:.1f}. Liên hệ nhà mạng",
        "Video call quality is low: MOS {value:.1f}, below {limit:.1f}. Call the ISP",
    ),
    "net.lan_fault": (
        "Mạng nội bộ (LAN) của xã có lỗi: mất gói {value:.1f}% tới bộ định tuyến. "
        "Kiểm tra mạng nội bộ của xã",
        "The commune's own network is faulty: {value:.1f}% loss to the router. "
        "Check the commune's own network",
    ),
    "net.probe_interface_slow": (
        "Cổng mạng của thiết bị kiểm tra chỉ đạt {value:.0f} Mbps, dưới {limit:.0f} Mbps cần đo. "
        "Báo cán bộ CNTT",
        "The probe's own network port runs at {value:.0f} Mbps, below the {limit:.0f} Mbps "
        "it must measure. Tell IT staff",
    ),
    "net.probe_cpu_limited": (
        "Thiết bị kiểm tra quá tải ({value:.0f}% CPU) khi đo, kết quả tốc độ có thể thấp hơn "
        "thực tế. Báo cán bộ CNTT",
        "The probe was overloaded ({value:.0f}% CPU) while measuring; the speed may read low. "
        "Tell IT staff",
    ),
    "net.test_failed": (
        "Không đo được đường truyền: {problem}",
        "The line could not be tested: {problem}",
    ),
    # monitor
    "monitor.ok": ("Đường truyền ổn định", "The line is stable"),
    "monitor.unknown": ("Chưa theo dõi đường truyền", "The line has not been watched yet"),
    # audio
    "audio.ok": ("Âm thanh đạt yêu cầu", "The audio chain is working"),
    "audio.unknown": ("Chưa kiểm tra âm thanh", "The audio chain has not been tested yet"),
    "audio.no_signal": (
        "Mất tiếng: không nhận được tín hiệu thử. Kiểm tra loa / micro / âm li",
        "No sound: the test signal did not come back. Check the speakers / microphones / amplifier",
    ),
    "audio.level_low": (
        "Tiếng nhỏ: mức {value:.0f} dBFS, dưới {limit:.0f} dBFS. Kiểm tra bàn trộn âm (mixer)",
        "Level too low: {value:.0f} dBFS, below {limit:.0f} dBFS. Check the mixer",
    ),
    "audio.distortion": (
        "Méo tiếng: méo hài {value:.1f}%, vượt mức {limit:.1f}%. Kiểm tra loa / âm li",
        "Distortion: {value:.1f}% harmonic distortion, above {limit:.1f}%. "
        "Check the speakers / amplifier",
    ),
    "audio.noise_high": (
        "Nhiễu lớn: tỉ số tín hiệu/nhiễu {value:.0f} dB, dưới {limit:.0f} dB. "
        "Kiểm tra dây tín hiệu",
        "Too much noise: signal-to-noise {value:.0f} dB, below {limit:.0f} dB. "
        "Check the signal cables",
    ),
    # system
    "system.ok": ("Thiết bị hoạt động bình thường", "The probe is working normally"),
    "system.unknown": ("Chưa rõ tình trạng thiết bị", "The probe's state is not known yet"),
    "system.starting": ("Thiết bị đang khởi động", "The probe is starting"),
    "system.config_rejected": (
        "Cấu hình mới có lỗi, thiết bị dùng cấu hình cũ. Báo cán bộ CNTT",
        "The new configuration has errors; the probe keeps the previous one. Tell IT staff",
    ),
    "system.outbox_rejected": (
        "Máy chủ từ chối {value:.0f} kết quả. Báo cán bộ CNTT",
        "The hub's broker refused {value:.0f} results. Tell IT staff",
    ),
    # events
    "event.started": ("Thiết bị đã khởi động", "The probe has started"),
    "event.meeting_mode_on": ("Đã bật chế độ đang họp", "Meeting mode switched on"),
    "event.meeting_mode_off": ("Đã tắt chế độ đang họp", "Meeting mode switched off"),
    "event.config_rejected": (
        "Cấu hình có lỗi, đang dùng cấu hình cũ. Chi tiết (tiếng Anh) cho cán bộ CNTT: {problems}",
        "The configuration has errors, using the previous one: {problems}",
    ),
    "event.test_skipped_budget": (
        "Bỏ qua lần đo đường truyền: đã dùng hết lưu lượng cho phép ({used:.0f} / {limit:.0f} MB)",
        "Skipped the line test: its data budget is used up ({used:.0f} / {limit:.0f} MB)",
    ),
    # command replies
    "cmd.accepted": ("Đã nhận lệnh", "Command accepted"),
    "cmd.test_done": ("Đã kiểm tra xong", "Test finished"),
    "cmd.expired": ("Lệnh đã quá hạn, không thực hiện", "The command expired and was not run"),
    "cmd.bad_args": ("Lệnh có tham số sai: {problem}", "The command has bad arguments: {problem}"),
    "cmd.bad_command": (
        "Lệnh sai định dạng, không thực hiện: {problem}",
        "Malformed command, not run: {problem}",
    ),
    "cmd.meeting_mode": (
        "Không kiểm tra: đang ở chế độ đang họp",
        "Not tested: meeting mode is on",
    ),
    "cmd.not_supported": (
        "Thiết bị chưa hỗ trợ lệnh này",
        "This probe's firmware does not support this command yet",
    ),
}


MAX_CHARS = 500  # the contract's limit for one language of a text (common.json)


def _clip(message: str) -> str:
    return message if len(message) <= MAX_CHARS else message[: MAX_CHARS - 1] + "…"


def text(reason: str, **values: Any) -> dict[str, str]:
    """The {vi, en} text for a reason code, filled with ``values``."""
    try:
        vi, en = TEXTS[reason]
    except KeyError:
        raise KeyError(f"no text for reason code {reason!r}: add it to roomprobe.texts") from None
    return {"vi": _clip(vi.format(**values)), "en": _clip(en.format(**values))}
