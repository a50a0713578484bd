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
    "net.link_lost": (
        "Cổng mạng của thiết bị kiểm tra bị mất kết nối trong lúc đo đường truyền nên không có "
        "kết quả đo. Kiểm tra mạng nội bộ của xã (dây mạng, switch)",
        "The probe's network port lost its link during the line test, so nothing was measured. "
        "Check the commune's own network (cable, switch)",
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
        "Kiểm tra mức khuếch đại của bàn trộn âm (mixer) và dây tín hiệu",
        "Too much noise: signal-to-noise {value:.0f} dB, below {limit:.0f} dB. "
        "Check the mixer's gain settings and the signal cables",
    ),
    "audio.test_aborted": (
        "Đã dừng kiểm tra âm thanh vì trong phòng có người nói. Sẽ kiểm tra lại sau",
        "The audio test was stopped because people started talking. It will run again later",
    ),
    # audio, per component: the probe and its interface
    "audio.probe_ok": ("Bộ thu âm của thiết bị hoạt động tốt", "The probe's audio interface works"),
    "audio.probe_unknown": (
        "Chưa rõ bộ thu âm của thiết bị",
        "The probe's audio interface is not known yet",
    ),
    "audio.device_missing": (
        "Không thấy card âm thanh USB của thiết bị. Báo cán bộ CNTT. Chi tiết: {problem}",
        "The probe's USB audio interface is missing. Tell IT staff. Details: {problem}",
    ),
    "audio.device_busy": (
        "Card âm thanh của thiết bị đang bị chương trình khác dùng. Báo cán bộ CNTT. "
        "Chi tiết: {problem}",
        "The probe's audio interface is used by another program. Tell IT staff. Details: {problem}",
    ),
    "audio.rate_unsupported": (
        "Card âm thanh không hỗ trợ cấu hình đã chọn. Báo cán bộ CNTT. Chi tiết: {problem}",
        "The audio interface does not take the configured format. Tell IT staff. "
        "Details: {problem}",
    ),
    "audio.device_error": (
        "Lỗi card âm thanh của thiết bị. Báo cán bộ CNTT. Chi tiết: {problem}",
        "The probe's audio interface failed. Tell IT staff. Details: {problem}",
    ),
    "audio.overruns": (
        "Thiết bị bị mất dữ liệu âm thanh ({value:.0f} lần tràn bộ đệm). Báo cán bộ CNTT",
        "The probe lost audio ({value:.0f} buffer overruns). Tell IT staff",
    ),
    "audio.dropouts": (
        "Tín hiệu thu bị ngắt quãng ({value:.0f} lần). Kiểm tra cáp USB của card âm thanh; "
        "báo cán bộ CNTT",
        "The captured audio has {value:.0f} gaps. Check the audio interface's USB cable; "
        "tell IT staff",
    ),
    "audio.reference_missing": (
        "Dây nối vòng (kênh 2 ra → kênh 2 vào) của thiết bị bị tuột. Báo cán bộ CNTT",
        "The probe's loopback wire (output 2 to input 2) is unplugged. Tell IT staff",
    ),
    # cabling
    "audio.cabling_ok": ("Dây tín hiệu tốt", "The signal cables are fine"),
    "audio.cabling_unknown": (
        "Chưa kiểm tra được dây tín hiệu",
        "The signal cables could not be tested",
    ),
    "audio.no_return": (
        "Mất tiếng: tín hiệu thử không quay về từ bàn trộn âm. Kiểm tra dây tín hiệu giữa "
        "thiết bị và bàn trộn âm, và kênh của thiết bị trên bàn trộn âm đã bật chưa",
        "No sound: the test signal did not come back from the mixer. Check the signal cables "
        "between the probe and the mixer, and that the probe's channel on the mixer is on",
    ),
    "audio.hum": (
        "Có tiếng ù (nguồn điện 50 Hz) mức {value:.0f} dBFS. Kiểm tra dây tín hiệu và nối đất",
        "Mains hum at {value:.0f} dBFS. Check the signal cables and the earthing",
    ),
    # mixer
    "audio.mixer_ok": ("Bàn trộn âm (mixer) tốt", "The mixer is fine"),
    "audio.mixer_unknown": ("Chưa kiểm tra được bàn trộn âm", "The mixer could not be tested"),
    "audio.mixer_gain_changed": (
        "Mức khuếch đại của bàn trộn âm đã thay đổi {value:+.0f} dB so với khi lắp đặt. "
        "Kiểm tra các núm chỉnh trên bàn trộn âm",
        "The mixer's gain changed by {value:+.0f} dB since commissioning. Check the mixer's knobs",
    ),
    "audio.latency_changed": (
        "Độ trễ của bàn trộn âm đã thay đổi {value:+.1f} ms so với khi lắp đặt. "
        "Kiểm tra cài đặt bàn trộn âm",
        "The mixer's latency changed by {value:+.1f} ms since commissioning. "
        "Check the mixer's settings",
    ),
    "audio.mixer_distortion": (
        "Méo tiếng ở bàn trộn âm: méo hài {value:.1f}%, vượt mức {limit:.1f}%. "
        "Giảm mức khuếch đại đầu vào",
        "Distortion in the mixer: {value:.1f}% harmonic distortion, above {limit:.1f}%. "
        "Turn the input gain down",
    ),
    "audio.clipping": (
        "Tín hiệu quá lớn, bị cắt đỉnh. Giảm mức ra của bàn trộn âm",
        "The signal is too loud and clips. Turn the mixer's output down",
    ),
    "audio.feedback": (
        "Có tiếng hú (hú rít) ở {value:.0f} Hz. Giảm âm lượng micro hoặc đưa micro xa loa",
        "Acoustic feedback (howling) at {value:.0f} Hz. Turn the microphones down or move "
        "them away from the speakers",
    ),
    # speakers and amplifier
    "audio.speakers_ok": ("Loa và âm li tốt", "The speakers and amplifier are fine"),
    "audio.speakers_unknown": (
        "Chưa kiểm tra được loa và âm li",
        "The speakers and amplifier could not be tested",
    ),
    "audio.speakers_silent": (
        "Mất tiếng loa: micro không nghe thấy tín hiệu thử. Kiểm tra âm li đã bật, "
        "dây loa và âm lượng",
        "No sound from the speakers: the microphones did not hear the test signal. Check that "
        "the amplifier is on, the speaker cables and the volume",
    ),
    "audio.speaker_missing": (
        "Một loa không phát tiếng (loa cách micro khoảng {value:.0f} m). Kiểm tra loa / âm li",
        "One speaker is silent (the one about {value:.0f} m from the microphones). "
        "Check the speakers / amplifier",
    ),
    "audio.amp_gain_changed": (
        "Âm lượng loa đã thay đổi {value:+.0f} dB so với khi lắp đặt. Kiểm tra núm âm lượng "
        "của âm li",
        "The speakers' volume changed by {value:+.0f} dB since commissioning. Check the "
        "amplifier's volume",
    ),
    "audio.response_changed": (
        "Tiếng loa bị biến dạng: dải {band:.0f} Hz lệch {value:+.0f} dB so với khi lắp đặt. "
        "Kiểm tra loa",
        "The speakers sound different: the {band:.0f} Hz band is {value:+.0f} dB off "
        "commissioning. Check the speakers",
    ),
    # microphones
    "audio.microphones_ok": ("Micro tốt", "The microphones are fine"),
    "audio.microphones_unknown": (
        "Chưa kiểm tra được micro (micro không có trong tín hiệu trả về)",
        "The microphones could not be tested (they are not in the mixer's return)",
    ),
    "audio.mics_silent": (
        "Mất tiếng micro: micro không thu được âm thanh trong phòng. Kiểm tra micro đã bật, "
        "dây micro và kênh micro trên bàn trộn âm",
        "The microphones are dead: they pick up nothing in the room. Check that they are on, "
        "their cables and their channels on the mixer",
    ),
    # readiness (before a meeting: the line, the audio chain and the probe, together)
    "readiness.ready": ("Phòng họp sẵn sàng cho cuộc họp", "The room is ready for the meeting"),
    "readiness.not_ready": (
        "Phòng họp chưa sẵn sàng cho cuộc họp",
        "The room is not ready for the meeting",
    ),
    "readiness.unknown": (
        "Không kiểm tra được phòng họp trước cuộc họp",
        "The room could not be tested before the meeting",
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
    "system.disk_full": (
        "Thẻ nhớ của thiết bị đầy hoặc hỏng, kết quả đo không được lưu. Báo cán bộ CNTT",
        "The probe's SD card is full or failing; results are not being kept. Tell IT staff",
    ),
    "system.outbox_full": (
        "Mất kết nối máy chủ quá lâu, thiết bị đã bỏ {value:.0f} kết quả cũ nhất. Báo cán bộ CNTT",
        "The hub has been unreachable too long: the probe dropped its {value:.0f} oldest "
        "results. Tell IT staff",
    ),
    # events
    "event.started": ("Thiết bị đã khởi động", "The probe has started"),
    "event.outbox_dropped": (
        "Trong lúc mất kết nối máy chủ, hàng đợi kết quả đã đầy ({mb:g} MB) nên thiết bị đã bỏ "
        "{count} kết quả cũ nhất",
        "While the hub was unreachable the probe's queue of results filled up ({mb:g} MB), so "
        "it dropped its {count} oldest results",
    ),
    "event.disk_full_cleared": (
        "Thẻ nhớ ghi được trở lại; {not_kept} kết quả trong lúc đầy không được lưu",
        "The SD card takes writes again; {not_kept} results from while it was full were not kept",
    ),
    "event.meeting_mode_on": ("Đã bật chế độ đang họp", "Meeting mode switched on"),
    "event.meeting_mode_off": ("Đã tắt chế độ đang họp", "Meeting mode switched off"),
    "event.button_test": (
        "Đã nhấn nút kiểm tra: đang kiểm tra đường truyền và âm thanh",
        "Test button pressed: testing the line and the audio now",
    ),
    "event.button_refused": (
        "Đã nhấn nút kiểm tra nhưng không kiểm tra: {why}",
        "Test button pressed, but no test: {why}",
    ),
    "event.button_long": (
        "Đã nhấn giữ nút kiểm tra: đổi chế độ đang họp",
        "Test button held: meeting mode switched",
    ),
    "event.config_rejected": (
        "Cấu hình có lỗi, đang dùng cấu hình cũ. Chi tiết (tiếng Anh) cho cán bộ CNTT: {problems}",
        "The configuration has errors, using the previous one: {problems}",
    ),
    "event.test_skipped_budget": (
        "Bỏ qua lần đo đường truyền: đã dùng hết lưu lượng cho phép ({used:.0f} / {limit:.0f} MB)",
        "Skipped the line test: its data budget is used up ({used:.0f} / {limit:.0f} MB)",
    ),
    # why no active test may run now (rule 1; roomprobe.meetings.Quiet)
    "quiet.meeting_scheduled": (
        'cuộc họp "{meeting}" đang diễn ra hoặc sắp bắt đầu',
        'the meeting "{meeting}" is on or about to start',
    ),
    "quiet.meeting_mode": ("đang bật chế độ đang họp", "meeting mode is on"),
    "quiet.room_active": ("trong phòng đang có người nói", "people are talking in the room"),
    "quiet.clock_unsynced": (
        "đồng hồ của thiết bị chưa được đồng bộ nên chưa biết có cuộc họp hay không",
        "the probe's clock is not synchronised, so it cannot tell whether a meeting is on",
    ),
    "quiet.state_unreadable": (
        "không đọc được trạng thái của thiết bị ({problem})",
        "the probe's state cannot be read ({problem})",
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
    "cmd.not_now": ("Không kiểm tra lúc này: {why}", "Not tested now: {why}"),
    "cmd.not_supported": (
        "Thiết bị chưa hỗ trợ lệnh này",
        "This probe's firmware does not support this command yet",
    ),
    # set-config (roomprobe.remote_config): what the hub may change, and why not the rest
    "cmd.config_applied": (
        "Đã áp dụng cấu hình mới và lưu trên thiết bị: {changes}",
        "New configuration applied and kept on the box: {changes}",
    ),
    "cmd.config_unchanged": (
        "Đã lưu; cấu hình đang chạy không đổi vì các giá trị này đang được dùng",
        "Kept; the running configuration did not change: these values are already in use",
    ),
    "cmd.config_forbidden": (
        "Không áp dụng, thiết bị giữ cấu hình cũ: {problems}",
        "Not applied; the probe keeps its last good configuration: {problems}",
    ),
    "cmd.config_rejected": (
        "Cấu hình mới có lỗi nên không áp dụng, thiết bị giữ cấu hình cũ. "
        "Chi tiết (tiếng Anh) cho cán bộ CNTT: {problems}",
        "The new configuration has errors and was not applied; the probe keeps its last good "
        "configuration: {problems}",
    ),
    "cmd.config_not_saved": (
        "Không lưu được cấu hình mới trên thiết bị nên không áp dụng ({problem}). Báo cán bộ CNTT",
        "The new configuration could not be kept on the box, so it was not applied "
        "({problem}). Tell IT staff",
    ),
    "cmd.config_cuts_off": (
        "không đổi được {key} từ máy chủ: đặt sai sẽ làm thiết bị mất kết nối; "
        "hãy đổi trên thiết bị",
        "{key} cannot be changed from the hub: a wrong value would cut the box off; "
        "change it on the box",
    ),
    "cmd.config_box_only": (
        "không đổi được {key} từ máy chủ: đây là cài đặt riêng của thiết bị (phần cứng, "
        "dây nối, mạng, cách đo); hãy đổi trên thiết bị",
        "{key} cannot be changed from the hub: it belongs to the box's own setup (hardware, "
        "wiring, network, how it measures); change it on the box",
    ),
    "event.config_applied": (
        "Máy chủ đã đổi cấu hình của thiết bị: {changes}",
        "The hub changed the probe's configuration: {changes}",
    ),
}


MAX_CHARS = 500  # the contract's limit for one language of a text (common.json)


def _clip(message: str) -> str:
    return message if len(message) <= MAX_CHARS else message[: MAX_CHARS - 1] + "…"


def text(reason: str, **values: Any) -> dict[str, str]:
    """The {vi, en} text for a reason code, filled with ``values``.

    A value that is itself a {vi, en} text (a refusal's reason, say) goes into each
    language's sentence in that language.
    """
    try:
        vi, en = TEXTS[reason]
    except KeyError:
        raise KeyError(f"no text for reason code {reason!r}: add it to roomprobe.texts") from None

    def filled(template: str, lang: str) -> str:
        mine = {k: v[lang] if isinstance(v, dict) else v for k, v in values.items()}
        return _clip(template.format(**mine))

    return {"vi": filled(vi, "vi"), "en": filled(en, "en")}
