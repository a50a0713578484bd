"""The box's wiring diagram (SVG, A4 landscape), generated from the pin map.

Everything on the page that depends on the pin map (which header pin each LED
channel, the button and their grounds use) is derived from a
:class:`~roomprobe.config.HardwareConfig`, so the diagram in ``hardware/`` cannot
disagree with the defaults the firmware drives. A test fails while the committed
copy is stale; regenerate it with::

    python -m roomprobe.leds.wiring > hardware/wiring.svg

Only the standard library is used (text goes through ``xml.sax.saxutils``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from ..config import HardwareConfig
from .legend import INDICATOR_NAMES, INDICATORS

REGENERATE = "python -m roomprobe.leds.wiring > hardware/wiring.svg"

# --- the Raspberry Pi's 40-pin header (J8) ------------------------------------------------------

#: BCM GPIO number -> physical pin of the 40-pin header. The same on every 40-pin Pi
#: (3B+, 4B, Zero 2 W). GPIO 0/1 (pins 27/28) are ID_SD/ID_SC, the HAT EEPROM's bus.
BCM_TO_PHYSICAL: dict[int, int] = {
    0: 27, 1: 28, 2: 3, 3: 5, 4: 7, 5: 29, 6: 31, 7: 26, 8: 24, 9: 21,
    10: 19, 11: 23, 12: 32, 13: 33, 14: 8, 15: 10, 16: 36, 17: 11, 18: 12, 19: 35,
    20: 38, 21: 40, 22: 15, 23: 16, 24: 18, 25: 22, 26: 37, 27: 13,
}  # fmt: skip
PHYSICAL_TO_BCM: dict[int, int] = {phys: bcm for bcm, phys in BCM_TO_PHYSICAL.items()}

#: The header's power and ground pins (physical number -> name).
POWER_PINS: dict[int, str] = {
    1: "3V3", 17: "3V3", 2: "5V", 4: "5V",
    6: "GND", 9: "GND", 14: "GND", 20: "GND", 25: "GND", 30: "GND", 34: "GND", 39: "GND",
}  # fmt: skip
GND_PINS: tuple[int, ...] = tuple(sorted(p for p, name in POWER_PINS.items() if name == "GND"))

#: Pins kept free of the lights and the button, and why (BCM -> short label on the header map).
KEPT_FREE: dict[int, str] = {
    2: "SDA · RTC",
    3: "SCL · RTC",
    14: "TX · console",
    15: "RX · console",
    0: "ID_SD · HAT",
    1: "ID_SC · HAT",
}

#: The small DS3231 modules made for the Pi plug straight onto physical pins 1, 3, 5, 7, 9
#: (3V3, SDA, SCL, GPIO4 unused, GND): no ground for the lights is taken from there.
RTC_MODULE_PINS: tuple[int, ...] = (1, 3, 5, 7, 9)

# --- the LEDs' electrical budget ------------------------------------------------------------------

CHANNELS: tuple[str, ...] = ("red", "green", "blue")  # the order of a light's pins in the config
CHANNEL_LETTER = {"red": "R", "green": "G", "blue": "B"}
CHANNEL_NAMES: dict[str, tuple[str, str]] = {
    "red": ("Đỏ", "red"),
    "green": ("Xanh lá", "green"),
    "blue": ("Xanh dương", "blue"),
}
#: GPIO output high level (V).
SUPPLY_V = 3.3
#: Forward voltage assumed at about 5 mA for a typical 5 mm diffused common-cathode RGB LED;
#: check the datasheet of the part bought (green and blue vary most, about 2.7-3.1 V).
FORWARD_V: dict[str, float] = {"red": 2.0, "green": 2.8, "blue": 2.8}
#: Series resistor of each colour channel (E12 values), one per channel. About 3-4 mA each:
#: all twelve channels on (white on every light, which the legend can show) must stay under
#: the ~50 mA the GPIO pins should source together. At ~5 mA (red 270 Ω, green and blue
#: 100 Ω, enough for three lights) four lights would draw ~59 mA; at red 330 Ω, green and blue
#: 150 Ω it is ~42 mA, and a diffused 5 mm LED at 3 mA is still plainly visible indoors.
RESISTOR_OHM: dict[str, int] = {"red": 330, "green": 150, "blue": 150}
#: The Pi's GPIO limits: per pin, and all pins together.
PIN_LIMIT_MA = 16.0
TOTAL_LIMIT_MA = 50.0


def channel_ma(colour: str) -> float:
    """Current through one channel fully on (mA), from the assumed forward voltage."""
    return (SUPPLY_V - FORWARD_V[colour]) / RESISTOR_OHM[colour] * 1000.0


def worst_case_ma(hw: HardwareConfig | None = None) -> float:
    """Every channel of every light fully on (white everywhere): the total from the GPIO pins."""
    hw = hw or HardwareConfig()
    return sum(channel_ma(c) for _pins in hw.pins().values() for c in CHANNELS)


# --- what each pin does in a given pin map -------------------------------------------------------

#: Short names of the lights for the header map.
SHORT_NAMES: dict[str, tuple[str, str]] = {
    "meeting": ("cuộc họp", "meeting"),
    "network": ("mạng", "network"),
    "audio": ("âm thanh", "audio"),
    "system": ("thiết bị", "system"),
    "button": ("nút", "button"),
}
GROUPS: tuple[str, ...] = (*INDICATORS, "button")

INK = "#222222"
MUTED = "#666666"
STROKE = {"red": "#d62728", "green": "#2ca02c", "blue": "#1f6fd1"}
BUTTON_INK = "#7b3fa0"
GND_INK = "#222222"
POWER_FILL = "#f2c14e"
FREE_FILL = "#d0d0d0"
AUDIO_INK = "#8c564b"
ARROWS = {INK: "arrow", AUDIO_INK: "arrow-audio"}  # arrowhead markers, one per ink


@dataclass(frozen=True)
class Wire:
    """One wire from the header: a light's channel, the button, or a group's ground."""

    group: str  # network | audio | system | button
    physical: int
    bcm: int | None  # None for a ground
    channel: str  # red | green | blue | button | gnd

    @property
    def ink(self) -> str:
        if self.channel == "gnd":
            return GND_INK
        if self.channel == "button":
            return BUTTON_INK
        return STROKE[self.channel]


def grounds(hw: HardwareConfig) -> dict[str, int]:
    """A ground pin for each group: the free GND pin nearest its signal pins.

    Any GND pin would do (they are all connected on the board); the nearest keeps the
    wires short, and each group gets its own so that every wire has a pin to itself.
    """
    signals = {**{g: list(p) for g, p in hw.pins().items()}, "button": [hw.button_pin]}
    taken: set[int] = set()
    chosen: dict[str, int] = {}
    for group in GROUPS:
        where = sum(BCM_TO_PHYSICAL[b] for b in signals[group]) / len(signals[group])
        free = [p for p in GND_PINS if p not in taken and p not in RTC_MODULE_PINS]
        pin = min(free, key=lambda p: (abs(p - where), p))
        chosen[group] = pin
        taken.add(pin)
    return chosen


def wires(hw: HardwareConfig) -> list[Wire]:
    """Every wire from the header, group by group (lights in legend order, then the button)."""
    gnd = grounds(hw)
    out: list[Wire] = []
    for group, pins in hw.pins().items():
        out += [Wire(group, BCM_TO_PHYSICAL[b], b, c) for b, c in zip(pins, CHANNELS, strict=True)]
        out.append(Wire(group, gnd[group], None, "gnd"))
    out.append(Wire("button", BCM_TO_PHYSICAL[hw.button_pin], hw.button_pin, "button"))
    out.append(Wire("button", gnd["button"], None, "gnd"))
    return out


# --- SVG drawing --------------------------------------------------------------------------------

WIDTH, HEIGHT = 297.0, 210.0  # A4 landscape, in millimetres (1 user unit = 1 mm)

STYLE = """
text { font-family: 'DejaVu Sans', 'Noto Sans', Arial, sans-serif; }
.title { font-size: 5.2px; font-weight: bold; }
.subtitle { font-size: 3.4px; fill: #555555; }
.h { font-size: 3.4px; font-weight: bold; }
.h-en { font-size: 2.7px; fill: #555555; }
.vi { font-size: 2.7px; }
.vi-b { font-size: 2.9px; font-weight: bold; }
.en { font-size: 2.3px; fill: #555555; }
.small { font-size: 2.4px; }
.tiny { font-size: 2.05px; }
.pad { font-size: 1.9px; font-weight: bold; }
.foot { font-size: 2.2px; fill: #666666; }
.box { fill: #ffffff; stroke: #222222; stroke-width: 0.35; }
.part { fill: #f6f6f6; stroke: #222222; stroke-width: 0.35; }
.wire { fill: none; stroke-width: 0.55; stroke-linecap: round; stroke-linejoin: round; }
"""


def _n(v: float) -> str:
    """A coordinate, short and stable (the output is committed and compared)."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class _Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, element: str) -> None:
        self.parts.append(element)

    @staticmethod
    def _attrs(attrs: dict[str, object]) -> str:
        out = []
        for key, value in attrs.items():
            if value is None:
                continue
            text = _n(value) if isinstance(value, float | int) else str(value)
            out.append(f"{key.rstrip('_').replace('_', '-')}={quoteattr(text)}")
        return " ".join(out)

    def el(self, tag: str, **attrs: object) -> None:
        self.add(f"<{tag} {self._attrs(attrs)}/>")

    def text(
        self, x: float, y: float, s: str, cls: str = "vi", anchor: str = "start", **attrs: object
    ) -> None:
        fill = attrs.pop("fill", None)  # as a style: the stylesheet's classes beat attributes
        style = f"fill:{fill}" if fill else None
        more = self._attrs(
            {"x": x, "y": y, "class_": cls, "text_anchor": anchor, "style": style, **attrs}
        )
        self.add(f"<text {more}>{escape(s)}</text>")

    def pair(
        self, x: float, y: float, vi: str, en: str, cls: str = "vi", anchor: str = "start"
    ) -> float:
        """Vietnamese, and the English under it; returns the y of the next line."""
        big = {"vi": 2.7, "vi-b": 2.9, "h": 3.4, "small": 2.4}[cls]
        small_cls = {"h": "h-en", "small": "tiny"}.get(cls, "en")
        self.text(x, y, vi, cls, anchor)
        self.text(x, y + big * 1.15, en, small_cls, anchor)
        return y + big * 1.15 + big * 1.35

    def line(self, x1: float, y1: float, x2: float, y2: float, ink: str, **attrs: object) -> None:
        self.el("line", x1=x1, y1=y1, x2=x2, y2=y2, class_="wire", stroke=ink, **attrs)

    def path(self, points: Iterable[tuple[float, float]], ink: str, **attrs: object) -> None:
        d = " ".join(f"{'M' if i == 0 else 'L'}{_n(x)},{_n(y)}" for i, (x, y) in enumerate(points))
        self.el("path", d=d, class_="wire", stroke=ink, **attrs)

    def box(
        self, x: float, y: float, w: float, h: float, cls: str = "part", r: float = 1.2
    ) -> None:
        self.el("rect", x=x, y=y, width=w, height=h, rx=r, class_=cls)

    def group(self, **attrs: object) -> None:
        self.add(f"<g {self._attrs(attrs)}>")

    def end(self) -> None:
        self.add("</g>")


def _roles(hw: HardwareConfig) -> dict[int, tuple[str, str]]:
    """Physical pin -> (fill colour, label) for every pin the pin map uses."""
    roles: dict[int, tuple[str, str]] = {}
    for w in wires(hw):
        vi = SHORT_NAMES[w.group][0]
        if w.channel == "gnd":
            roles[w.physical] = (GND_INK, f"GND · {vi}")
        elif w.channel == "button":
            roles[w.physical] = (BUTTON_INK, f"BCM{w.bcm} · {vi}")
        else:
            roles[w.physical] = (
                STROKE[w.channel],
                f"BCM{w.bcm} · {vi} {CHANNEL_LETTER[w.channel]}",
            )
    return roles


def _header_map(svg: _Svg, hw: HardwareConfig, x0: float, y0: float) -> None:
    """All 40 pins as they sit on the board, the used ones coloured and named."""
    svg.pair(x0, y0, "Đầu cắm 40 chân (J8)", "40-pin header (J8), seen from above", "vi-b")
    top, pitch = y0 + 9.5, 4.75
    left_x, right_x = x0 + 27.0, x0 + 32.0
    svg.box(left_x - 3.0, top - 3.0, 11.0, pitch * 19 + 6.0, cls="box", r=0.8)
    roles = _roles(hw)
    for phys in range(1, 41):
        row, odd = (phys - 1) // 2, phys % 2 == 1
        x, y = (left_x if odd else right_x), top + row * pitch
        if phys in roles:
            fill, label, cls, font_weight = *roles[phys], "tiny", "bold"
        elif phys in POWER_PINS:
            name = POWER_PINS[phys]
            fill = GND_INK if name == "GND" else POWER_FILL
            label, cls, font_weight = name, "tiny", None
        else:
            bcm = PHYSICAL_TO_BCM[phys]
            free = KEPT_FREE.get(bcm)
            fill = FREE_FILL if free else "#ffffff"
            label = f"BCM{bcm} · {free}" if free else f"BCM{bcm}"
            cls, font_weight = "tiny", None
        svg.group(class_="header-pin", data_physical=phys)
        if phys == 1:
            svg.el(
                "rect",
                x=x - 1.9,
                y=y - 1.9,
                width=3.8,
                height=3.8,
                fill=fill,
                stroke=INK,
                stroke_width=0.25,
            )
        else:
            svg.el("circle", cx=x, cy=y, r=1.9, fill=fill, stroke=INK, stroke_width=0.25)
        dark = fill in (GND_INK, BUTTON_INK, *STROKE.values())
        svg.text(x, y + 0.68, str(phys), "pad", "middle", fill="#ffffff" if dark else INK)
        if odd:
            svg.text(x - 3.4, y + 0.75, label, cls, "end", font_weight=font_weight)
        else:
            svg.text(x + 3.4, y + 0.75, label, cls, "start", font_weight=font_weight)
        svg.end()
    y = top + pitch * 19 + 6.5
    svg.pair(x0, y, "Chân 1 (vuông) ở đầu gần khe thẻ nhớ", "Pin 1 (square) is at the end", "small")
    svg.text(x0, y + 4.7, "nearest the microSD slot", "tiny")


def _resistor(svg: _Svg, x: float, y: float, label: str) -> None:
    svg.el(
        "rect",
        x=x,
        y=y - 1.3,
        width=11.0,
        height=2.6,
        fill="#ffffff",
        stroke=INK,
        stroke_width=0.35,
    )
    svg.text(x + 5.5, y - 1.9, label, "tiny", "middle")


def _schematic(svg: _Svg, hw: HardwareConfig, x0: float, y0: float) -> None:
    """Header pins -> resistors -> the three RGB LEDs; the button; every ground."""
    pitch, gap = 5.0, 2.8  # four lights and the button fit above the notes
    rows: list[tuple[float, Wire]] = []
    y = y0 + 13.5
    previous = None
    for w in wires(hw):
        if previous is not None:
            y += pitch + (gap if w.group != previous else 0.0)
        rows.append((y, w))
        previous = w.group
    term_x = x0 + 22.0  # the header's terminals
    svg.box(x0, y0 + 5.2, 22.0, rows[-1][0] - y0 - 1.0, cls="box", r=0.8)
    svg.text(x0 + 11.0, y0 + 4.0, "Raspberry Pi", "vi-b", "middle")
    svg.text(x0 + 6.0, y0 + 7.8, "chân", "tiny", "middle")
    svg.text(x0 + 6.0, y0 + 9.9, "pin", "tiny", "middle", fill=MUTED)
    svg.text(x0 + 16.0, y0 + 8.9, "BCM", "tiny", "middle")

    res_x, led_x, bus_x = x0 + 29.0, x0 + 50.0, x0 + 66.0
    by_group: dict[str, list[tuple[float, Wire]]] = {}
    for y, w in rows:
        by_group.setdefault(w.group, []).append((y, w))
        svg.group(
            class_="wire-row",
            data_physical=w.physical,
            data_bcm=w.bcm if w.bcm is not None else "GND",
            data_group=w.group,
            data_channel=w.channel,
        )
        svg.text(x0 + 6.0, y + 0.9, str(w.physical), "vi-b", "middle")
        svg.text(
            x0 + 16.0,
            y + 0.85,
            f"BCM{w.bcm}" if w.bcm is not None else "GND",
            "small",
            "middle",
            fill=w.ink,
            font_weight="bold",
        )
        svg.el("circle", cx=term_x, cy=y, r=0.7, fill=w.ink)
        if w.channel in CHANNELS:
            svg.line(term_x, y, res_x, y, w.ink)
            _resistor(svg, res_x, y, f"{CHANNEL_LETTER[w.channel]} · {RESISTOR_OHM[w.channel]} Ω")
            svg.line(res_x + 11.0, y, led_x, y, w.ink)
        svg.end()

    for group in INDICATORS:
        (y1, _), (_, _), (y3, _), (yg, _) = by_group[group]
        svg.group(class_="led", data_group=group)
        svg.box(led_x, y1 - 3.4, 20.0, y3 - y1 + 6.8)
        for y, w in by_group[group][:3]:
            tx = led_x + 6.0
            svg.line(led_x, y, tx, y, w.ink)
            svg.el(
                "path",
                d=f"M{_n(tx)},{_n(y - 1.5)} L{_n(tx)},{_n(y + 1.5)} L{_n(tx + 3.2)},{_n(y)} Z",
                fill=w.ink,
                stroke=w.ink,
                stroke_width=0.25,
            )
            svg.line(tx + 3.2, y - 1.5, tx + 3.2, y + 1.5, INK)
            svg.line(tx + 3.2, y, bus_x, y, INK)
        svg.line(bus_x, y1, bus_x, yg, GND_INK)
        svg.line(term_x, yg, bus_x, yg, GND_INK)
        for y, _w in by_group[group][1:3]:
            svg.el("circle", cx=bus_x, cy=y, r=0.55, fill=INK)  # the bus's T-joins
        vi, en = INDICATOR_NAMES[group]
        svg.text(led_x + 23.0, y1 + 0.9, vi, "vi-b")
        svg.text(led_x + 23.0, y1 + 4.1, en, "en")
        most = max(channel_ma(c) for c in CHANNELS)
        svg.text(
            led_x + 23.0, y3 + 1.4, f"LED RGB 5 mm · ≤ {most:.0f} mA mỗi màu / per colour", "tiny"
        )
        svg.text(led_x + 23.0, yg + 0.8, "cathode chung (−), chân dài nhất → GND", "tiny")
        svg.text(
            led_x + 23.0, yg + 3.0, "common cathode (−), the longest leg → GND", "tiny", fill=MUTED
        )
        svg.end()

    (yb, _), (yg, _) = by_group["button"]
    svg.group(class_="button", data_group="button")
    a, b = x0 + 31.0, x0 + 41.0
    svg.line(term_x, yb, a, yb, BUTTON_INK)
    svg.el("circle", cx=a, cy=yb, r=0.7, fill="#ffffff", stroke=INK, stroke_width=0.35)
    svg.el("circle", cx=b, cy=yb, r=0.7, fill="#ffffff", stroke=INK, stroke_width=0.35)
    svg.line(a - 1.0, yb - 2.2, b + 1.0, yb - 2.2, INK)
    svg.line((a + b) / 2, yb - 2.2, (a + b) / 2, yb - 4.4, INK)
    svg.line((a + b) / 2 - 1.4, yb - 4.4, (a + b) / 2 + 1.4, yb - 4.4, INK)
    svg.path([(b + 0.7, yb), (b + 5.0, yb), (b + 5.0, yg), (term_x, yg)], GND_INK)
    hold = f"{hw.hold_s:g}"
    tx = led_x + 2.0
    svg.text(tx, yb - 2.4, "Nút kiểm tra (nút nhấn nhả)", "vi-b")
    svg.text(tx, yb + 0.6, "Test button (momentary)", "en")
    svg.text(
        tx,
        yb + 3.3,
        f"nhấn ngắn: kiểm tra phòng họp ngay · giữ {hold} s: bật/tắt chế độ đang họp",
        "tiny",
    )
    svg.text(
        tx,
        yb + 5.5,
        f"short press: check the room now · hold {hold} s: meeting mode on/off",
        "tiny",
        fill=MUTED,
    )
    svg.text(tx, yg + 3.6, "điện trở kéo lên bên trong, không cần điện trở ngoài", "tiny")
    svg.text(tx, yg + 5.8, "internal pull-up: no resistor needed", "tiny", fill=MUTED)
    svg.end()


def _arrow_line(svg: _Svg, points: list[tuple[float, float]], ink: str, width: float = 0.6) -> None:
    svg.path(points, ink, stroke_width=width, marker_end=f"url(#{ARROWS[ink]})")


def _callout(svg: _Svg, x: float, y: float, n: int) -> None:
    svg.el("circle", cx=x, cy=y, r=1.8, fill="#ffffff", stroke=AUDIO_INK, stroke_width=0.35)
    svg.text(x, y + 0.75, str(n), "small", "middle", font_weight="bold", fill=AUDIO_INK)


def _audio(svg: _Svg, x0: float, y0: float) -> None:
    """The USB audio interface, its loopback, the mixer and the room's audio chain."""
    svg.group(class_="audio")
    # the Pi, its LAN and power
    svg.box(x0 + 24.0, y0, 38.0, 8.0)
    svg.text(x0 + 43.0, y0 + 5.2, "Raspberry Pi", "vi-b", "middle")
    svg.line(x0 + 62.0, y0 + 2.6, x0 + 66.0, y0 + 2.6, INK)
    svg.text(x0 + 67.0, y0 + 3.4, "Ethernet → LAN", "tiny")
    svg.line(x0 + 62.0, y0 + 5.6, x0 + 66.0, y0 + 5.6, INK)
    svg.text(x0 + 67.0, y0 + 6.4, "nguồn / PSU 5 V", "tiny")
    svg.line(x0 + 43.0, y0 + 8.0, x0 + 43.0, y0 + 16.0, INK, stroke_width=0.9)
    svg.text(x0 + 45.0, y0 + 13.0, "USB", "small")

    # the interface and its four jacks
    top = y0 + 16.0
    svg.box(x0 + 6.0, top, 80.0, 22.0)
    svg.text(x0 + 46.0, top + 5.6, "Card âm thanh USB", "vi-b", "middle")
    svg.text(x0 + 46.0, top + 8.9, "USB audio interface", "en", "middle")
    svg.text(x0 + 46.0, top + 12.2, "48 kHz · 16-bit · 2 vào, 2 ra / 2 in, 2 out", "tiny", "middle")
    jack_y = top + 22.0
    jacks = {"OUT1": x0 + 14.0, "IN1": x0 + 28.0, "OUT2": x0 + 62.0, "IN2": x0 + 76.0}
    for name, x in jacks.items():
        svg.text(x, jack_y - 2.6, name, "small", "middle", font_weight="bold")
        svg.el("circle", cx=x, cy=jack_y, r=1.2, fill="#ffffff", stroke=INK, stroke_width=0.35)

    # 3: the loopback, at the box, never through the mixer
    loop_y = jack_y + 7.0
    _arrow_line(
        svg,
        [
            (jacks["OUT2"], jack_y + 1.2),
            (jacks["OUT2"], loop_y),
            (jacks["IN2"], loop_y),
            (jacks["IN2"], jack_y + 2.4),
        ],
        AUDIO_INK,
        0.8,
    )
    _callout(svg, (jacks["OUT2"] + jacks["IN2"]) / 2, loop_y, 3)
    mid = (jacks["OUT2"] + jacks["IN2"]) / 2
    svg.text(mid, loop_y + 4.6, "dây nối vòng ngắn", "small", "middle")
    svg.text(mid, loop_y + 7.0, "short loopback cable", "tiny", "middle", fill=MUTED)

    # the mixer; 1: OUT1 -> its line input, 2: its record/aux out -> IN1
    mix_y = jack_y + 20.0
    _arrow_line(svg, [(jacks["OUT1"], jack_y + 1.2), (jacks["OUT1"], mix_y - 0.6)], AUDIO_INK, 0.8)
    _arrow_line(svg, [(jacks["IN1"], mix_y), (jacks["IN1"], jack_y + 2.4)], AUDIO_INK, 0.8)
    _callout(svg, jacks["OUT1"], jack_y + 9.0, 1)
    _callout(svg, jacks["IN1"], jack_y + 9.0, 2)
    svg.box(x0 + 2.0, mix_y, 92.0, 17.0)
    svg.text(jacks["OUT1"], mix_y + 3.2, "LINE IN", "tiny", "middle", font_weight="bold")
    svg.text(jacks["IN1"] + 1.5, mix_y + 3.2, "REC/AUX OUT", "tiny", "middle", font_weight="bold")
    svg.text(x0 + 62.0, mix_y + 7.0, "Bàn trộn âm", "vi-b", "middle")
    svg.text(x0 + 62.0, mix_y + 10.2, "mixer", "en", "middle")
    main_x = x0 + 78.0
    svg.text(main_x, mix_y + 15.4, "MAIN OUT", "tiny", "middle", font_weight="bold")

    # microphones into the mixer
    mic_y = mix_y + 26.0
    for i, x in enumerate((x0 + 9.0, x0 + 27.0), start=1):
        svg.box(x - 7.0, mic_y, 14.0, 8.5)
        svg.text(x, mic_y + 3.6, f"Micro {i}", "small", "middle", font_weight="bold")
        svg.text(x, mic_y + 6.4, "microphone", "tiny", "middle", fill=MUTED)
        _arrow_line(svg, [(x, mic_y), (x, mix_y + 17.6)], INK, 0.55)
        svg.text(x, mix_y + 15.4, "MIC", "tiny", "middle", font_weight="bold")

    # the amplifier and the speakers
    amp_y = mix_y + 23.0
    _arrow_line(svg, [(main_x, mix_y + 17.0), (main_x, amp_y - 0.6)], INK, 0.55)
    svg.box(main_x - 14.0, amp_y, 28.0, 8.5)
    svg.text(main_x, amp_y + 3.6, "Âm li (ampli)", "small", "middle", font_weight="bold")
    svg.text(main_x, amp_y + 6.4, "amplifier", "tiny", "middle", fill=MUTED)
    spk_y = amp_y + 16.0
    for i, x in enumerate((main_x - 22.0, main_x + 4.0), start=1):
        svg.box(x - 8.0, spk_y, 16.0, 8.5)
        svg.text(x, spk_y + 3.6, f"Loa {i}", "small", "middle", font_weight="bold")
        svg.text(x, spk_y + 6.4, "speaker", "tiny", "middle", fill=MUTED)
        _arrow_line(
            svg, [(main_x + (-3.0 if i == 1 else 3.0), amp_y + 8.5), (x, spk_y - 0.6)], INK, 0.55
        )

    # the acoustic path: speakers -> room -> microphones
    sx, sy = main_x - 30.0, spk_y + 4.2
    svg.el(
        "path",
        d=f"M{_n(sx)},{_n(sy)} Q{_n(x0 + 30.0)},{_n(sy + 2.0)} {_n(x0 + 27.0)},{_n(mic_y + 9.2)}",
        class_="wire",
        stroke=INK,
        stroke_dasharray="1.2 1.0",
        marker_end=f"url(#{ARROWS[INK]})",
    )
    mid = (sx + x0 + 27.0) / 2
    svg.text(mid, spk_y + 11.0, "âm thanh trong phòng", "tiny", "middle")
    svg.text(mid, spk_y + 13.3, "sound in the room", "tiny", "middle", fill=MUTED)
    svg.end()


def _notes(svg: _Svg, hw: HardwareConfig, y0: float) -> None:
    svg.line(8.0, y0 - 4.0, WIDTH - 8.0, y0 - 4.0, "#bbbbbb", stroke_width=0.3)

    # resistors and the current budget
    x = 10.0
    y = svg.pair(x, y0, "Điện trở nối tiếp và dòng điện", "Series resistors and current", "vi-b")
    y = svg.pair(
        x,
        y,
        "Mỗi kênh màu một điện trở riêng; cathode chung nối GND.",
        "One resistor per colour channel; the common cathode to GND.",
        "small",
    )
    for c in CHANNELS:
        vi, en = CHANNEL_NAMES[c]
        svg.text(
            x,
            y,
            f"{vi} / {en}: {RESISTOR_OHM[c]} Ω · Vf ≈ {FORWARD_V[c]:.1f} V "
            f"→ ≈ {channel_ma(c):.1f} mA",
            "small",
            fill=STROKE[c],
        )
        y += 3.1
    total, n = worst_case_ma(hw), len(CHANNELS) * len(hw.pins())
    svg.text(
        x,
        y,
        f"{n} kênh sáng hết / all {n} channels on: ≈ {total:.0f} mA ≤ {TOTAL_LIMIT_MA:.0f} mA",
        "small",
        font_weight="bold",
    )
    y += 3.1
    svg.pair(
        x,
        y,
        f"Mỗi chân ≤ {PIN_LIMIT_MA:.0f} mA. Vf là giả định: xem datasheet của LED.",
        f"Each pin ≤ {PIN_LIMIT_MA:.0f} mA. Vf is assumed: check the LED's datasheet.",
        "small",
    )

    # pins kept free, and the options
    x = 104.0
    y = svg.pair(x, y0, "Chân để trống, phụ kiện tùy chọn", "Pins kept free, options", "vi-b")
    rtc = ", ".join(str(BCM_TO_PHYSICAL[b]) for b in (2, 3))
    con = ", ".join(str(BCM_TO_PHYSICAL[b]) for b in (14, 15))
    lines = [
        (
            f"BCM2, BCM3 (chân {rtc}): I2C cho đồng hồ thời gian thực DS3231",
            f"BCM2, BCM3 (pins {rtc}): I2C, the optional DS3231 real-time clock",
        ),
        (
            "module RTC cắm vào chân 1–9 (hàng lẻ): 3V3, SDA, SCL, GND",
            "an RTC module plugs onto pins 1–9 (odd row): 3V3, SDA, SCL, GND",
        ),
        (
            f"BCM14, BCM15 (chân {con}): cổng console nối tiếp",
            f"BCM14, BCM15 (pins {con}): the serial console",
        ),
        (
            "PoE HAT (Pi 3B+/4B): cần đầu cắm nối dài để dùng GPIO",
            "PoE HAT (Pi 3B+/4B): needs a stacking header to reach the GPIO",
        ),
        (
            "Mọi chân GND đều nối chung trên mạch Pi",
            "All GND pins are connected together on the Pi",
        ),
    ]
    for vi, en in lines:
        y = svg.pair(x, y, vi, en, "small")

    # the audio cables
    x = 198.0
    y = svg.pair(x, y0, "Dây âm thanh", "Audio cables", "vi-b")
    cables = [
        (
            "OUT1 → LINE IN của mixer: kênh của thiết bị",
            "OUT1 → the mixer's line input: the probe's channel",
        ),
        (
            "REC/AUX OUT của mixer → IN1: tín hiệu quay về",
            "the mixer's record/aux out → IN1: the return",
        ),
        (
            "OUT2 → IN2: dây ngắn tại hộp, không qua mixer",
            "OUT2 → IN2: short cable at the box, never via the mixer",
        ),
    ]
    for n, (vi, en) in enumerate(cables, start=1):
        _callout(svg, x + 1.8, y - 0.8, n)
        y = svg.pair(x + 5.0, y, vi, en, "small")
    svg.pair(
        x,
        y + 0.6,
        "Mức tín hiệu, lý do từng dây: hardware/audio-wiring.md",
        "Levels and why each cable: hardware/audio-wiring.md",
        "small",
    )


def render_svg(hw: HardwareConfig | None = None) -> str:
    """The wiring diagram for ``hw``'s pin map (the defaults when None), as an SVG document."""
    hw = hw or HardwareConfig()
    svg = _Svg()
    svg.add('<?xml version="1.0" encoding="UTF-8"?>')
    svg.add(f"<!-- Generated by `{REGENERATE.split(' >')[0]}`; do not edit by hand. -->")
    svg.add(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(WIDTH)}mm" height="{_n(HEIGHT)}mm" '
        f'viewBox="0 0 {_n(WIDTH)} {_n(HEIGHT)}">'
    )
    svg.add("<title>Sơ đồ đấu nối thiết bị kiểm tra phòng họp / Room probe wiring</title>")
    svg.add(
        "<desc>Raspberry Pi 40-pin header, four common-cathode RGB status LEDs with their "
        "series resistors, the test button, the USB audio interface with its loopback "
        "cable, and the room's mixer, amplifier, speakers and microphones.</desc>"
    )
    svg.add(f"<style>{STYLE}</style>")
    svg.add("<defs>")
    for ink, name in ARROWS.items():
        svg.add(
            f'<marker id="{name}" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="4" '
            f'markerHeight="4" orient="auto"><path d="M0,0 L6,3 L0,6 Z" fill="{ink}"/>'
            "</marker>"
        )
    svg.add("</defs>")
    svg.el("rect", x=0, y=0, width=WIDTH, height=HEIGHT, fill="#ffffff")

    svg.text(10.0, 13.0, "Sơ đồ đấu nối thiết bị kiểm tra phòng họp trực tuyến", "title")
    svg.text(10.0, 18.5, "Room probe wiring diagram: status lights, test button, audio", "subtitle")

    svg.pair(10.0, 27.0, "Đèn trạng thái và nút kiểm tra", "Status lights and test button", "h")
    _header_map(svg, hw, 10.0, 36.0)
    _schematic(svg, hw, 72.0, 36.0)
    svg.pair(196.0, 27.0, "Âm thanh", "Audio", "h")
    _audio(svg, 196.0, 36.0)
    _notes(svg, hw, 160.0)

    svg.text(
        WIDTH / 2,
        HEIGHT - 4.0,
        f"Tạo tự động / generated by: {REGENERATE} · không sửa bằng tay / do not edit by hand",
        "foot",
        "middle",
    )
    svg.add("</svg>")
    return "\n".join(svg.parts) + "\n"


def main() -> int:
    sys.stdout.write(render_svg())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
