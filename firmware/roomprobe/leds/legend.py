"""The LED legend: every state of the four indicators, as data. The one place for it.

Room staff read the box from across the room, and some cannot tell colours
apart. So each state has a colour *and* a pattern, and within one indicator
the patterns differ wherever they can (the one pair told apart by colour
alone, the system light's steady green "ok" and steady blue "meeting mode",
is a state staff set themselves). The driver, ``roomprobe doctor``, the
docs and the printable card beside the box are all generated from this
module, so they cannot disagree.

When several states apply to one indicator, the one with the lowest
``priority`` number shows: what needs action or explains the others first
(a test running explains why a result is about to change; a probe fault
explains why nothing else can be trusted).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Pattern(Enum):
    STEADY = "steady"
    SLOW_BLINK = "slow blink"
    FAST_BLINK = "fast blink"
    PULSE = "pulse"
    FLASH = "flash"  # a short blip every two seconds: "alive, nothing to say yet"
    OFF = "off"  # dark: nothing to say (the meeting light with no meeting coming)


#: (on seconds, off seconds) of each pattern; for PULSE, (fade in, fade out).
#: Slow blink is 1 Hz and fast blink 4 Hz: told apart at a glance, and below the
#: 3 Hz-and-up flashing that the photosensitivity guidance worries about only for
#: large bright areas (a 5 mm LED is not one).
TIMING: dict[Pattern, tuple[float, float]] = {
    Pattern.SLOW_BLINK: (0.5, 0.5),
    Pattern.FAST_BLINK: (0.125, 0.125),
    Pattern.PULSE: (1.0, 1.0),
    Pattern.FLASH: (0.1, 1.9),
}

#: Colour name -> (red, green, blue) duty for an RGB LED (common cathode, 0..1).
COLOURS: dict[str, tuple[float, float, float]] = {
    "green": (0.0, 1.0, 0.0),
    "amber": (1.0, 0.45, 0.0),
    "red": (1.0, 0.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "white": (1.0, 1.0, 1.0),
    "off": (0.0, 0.0, 0.0),
}
COLOUR_NAMES: dict[str, tuple[str, str]] = {
    "green": ("xanh lá", "green"),
    "amber": ("vàng cam", "amber"),
    "red": ("đỏ", "red"),
    "blue": ("xanh dương", "blue"),
    "white": ("trắng", "white"),
    "off": ("tắt", "off"),
}
PATTERN_NAMES: dict[Pattern, tuple[str, str]] = {
    Pattern.STEADY: ("sáng liên tục", "steady"),
    Pattern.SLOW_BLINK: ("nháy chậm", "slow blink"),
    Pattern.FAST_BLINK: ("nháy nhanh", "fast blink"),
    Pattern.PULSE: ("sáng mờ dần rồi sáng dần (thở)", "pulse (breathing)"),
    Pattern.FLASH: ("chớp ngắn 2 giây một lần", "short flash every 2 s"),
    Pattern.OFF: ("không sáng", "dark"),
}

INDICATORS: tuple[str, ...] = ("meeting", "network", "audio", "system")
INDICATOR_NAMES: dict[str, tuple[str, str]] = {
    "meeting": ("Đèn cuộc họp (sẵn sàng chưa)", "Meeting light (ready or not)"),
    "network": ("Đèn mạng (đường truyền)", "Network light (the line)"),
    "audio": ("Đèn âm thanh", "Audio light"),
    "system": ("Đèn thiết bị", "System light"),
}


@dataclass(frozen=True)
class LedState:
    key: str
    indicator: str
    colour: str
    pattern: Pattern
    priority: int  # lower shows first
    meaning: tuple[str, str]  # (Vietnamese, English)
    action: tuple[str, str]  # what to do (Vietnamese, English); "" when nothing

    @property
    def rgb(self) -> tuple[float, float, float]:
        return COLOURS[self.colour]


def _verdict_states(ind: str, what: tuple[str, str], who: tuple[str, str]) -> list[LedState]:
    """The states a measured part (the line, the audio chain) shares."""
    vi, en = what
    who_vi, who_en = who
    return [
        LedState("test_running", ind, "blue", Pattern.PULSE, 10,
                 (f"Đang kiểm tra {vi}", f"Testing the {en} now"), ("", "")),
        LedState("fail", ind, "red", Pattern.FAST_BLINK, 20,
                 (f"{vi.capitalize()} có lỗi, chưa sẵn sàng cho cuộc họp",
                  f"The {en} has a fault: not ready for a meeting"),
                 (f"Báo {who_vi}", f"Call {who_en}")),
        LedState("degraded", ind, "amber", Pattern.SLOW_BLINK, 30,
                 (f"{vi.capitalize()} chưa đạt yêu cầu", f"The {en} is below the requirement"),
                 (f"Xem chi tiết bằng lệnh roomprobe doctor; báo {who_vi}",
                  f"See roomprobe doctor; tell {who_en}")),
        LedState("unknown", ind, "white", Pattern.FLASH, 40,
                 (f"Chưa kiểm tra {vi}", f"The {en} has not been tested yet"), ("", "")),
        LedState("ok", ind, "green", Pattern.STEADY, 50,
                 (f"{vi.capitalize()} tốt", f"The {en} is fine"), ("", "")),
    ]  # fmt: skip


# fmt: off
STATES: tuple[LedState, ...] = (
    # The meeting light: the latest readiness check (roomprobe.readiness), from its end
    # until its meeting is over. The one light to read before a meeting; the others say why.
    LedState("checking", "meeting", "blue", Pattern.PULSE, 10,
             ("Đang kiểm tra phòng họp trước cuộc họp (mạng, âm thanh, thiết bị)",
              "Checking the room before the meeting (line, audio, probe)"), ("", "")),
    LedState("not_ready", "meeting", "red", Pattern.FAST_BLINK, 20,
             ("Phòng họp chưa sẵn sàng cho cuộc họp sắp tới",
              "The room is not ready for the coming meeting"),
             ("Xem đèn nào nháy đỏ và báo người ghi ở dòng của đèn đó",
              "See which light blinks red and call whom its line names")),
    LedState("unknown", "meeting", "amber", Pattern.SLOW_BLINK, 30,
             ("Chưa kiểm tra được phòng họp trước cuộc họp",
              "The room could not be checked before the meeting"),
             ("Nhấn nút để kiểm tra lại; nếu vẫn vậy, báo cán bộ CNTT",
              "Press the button to check again; if it stays so, call IT staff")),
    LedState("ready", "meeting", "green", Pattern.STEADY, 40,
             ("Phòng họp sẵn sàng cho cuộc họp sắp tới",
              "The room is ready for the coming meeting"), ("", "")),
    LedState("idle", "meeting", "off", Pattern.OFF, 50,
             ("Không có cuộc họp sắp tới, hoặc chưa đến giờ kiểm tra",
              "No meeting coming, or not yet time to check"), ("", "")),
    *_verdict_states("network", ("đường truyền", "line"), ("nhà mạng", "the ISP")),
    *_verdict_states(
        "audio", ("âm thanh", "audio chain"),
        ("cán bộ phụ trách phòng họp", "the room's staff"),
    ),
    LedState("booting", "system", "white", Pattern.PULSE, 10,
             ("Thiết bị đang khởi động", "The probe is starting"), ("", "")),
    LedState("probe_fault", "system", "red", Pattern.FAST_BLINK, 20,
             ("Thiết bị kiểm tra bị lỗi (card âm thanh, ổ nhớ…)",
              "The probe itself has a fault (audio interface, storage…)"),
             ("Báo cán bộ CNTT", "Call IT staff")),
    LedState("config_error", "system", "red", Pattern.SLOW_BLINK, 30,
             ("Cấu hình có lỗi, thiết bị dùng cấu hình cũ",
              "The configuration has errors; the probe runs on the previous one"),
             ("Báo cán bộ CNTT", "Call IT staff")),
    LedState("no_broker", "system", "amber", Pattern.FLASH, 40,
             ("Mất kết nối máy chủ huyện (kết quả được giữ lại)",
              "No connection to the district's hub (results are kept)"),
             ("Kiểm tra mạng; nếu kéo dài, báo cán bộ CNTT",
              "Check the network; if it lasts, call IT staff")),
    LedState("meeting_mode", "system", "blue", Pattern.STEADY, 50,
             ("Chế độ đang họp: không phát tín hiệu thử", "Meeting mode: no test tones"),
             ("Nhấn giữ nút 3 giây để tắt", "Hold the button 3 s to switch it off")),
    LedState("ok", "system", "green", Pattern.STEADY, 60,
             ("Thiết bị hoạt động bình thường", "The probe is working normally"), ("", "")),
)
# fmt: on


def state(indicator: str, key: str) -> LedState:
    for s in STATES:
        if s.indicator == indicator and s.key == key:
            return s
    raise KeyError(f"no LED state {key!r} on the {indicator} indicator")


def states_of(indicator: str) -> list[LedState]:
    return sorted((s for s in STATES if s.indicator == indicator), key=lambda s: s.priority)


def strongest(indicator: str, keys: set[str]) -> LedState:
    """The state that shows when ``keys`` all apply: the lowest priority number."""
    candidates = [state(indicator, k) for k in keys]
    if not candidates:
        raise ValueError(f"no state applies to the {indicator} indicator")
    return min(candidates, key=lambda s: s.priority)
