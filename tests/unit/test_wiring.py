"""The wiring diagram: a valid SVG drawn from the pin map, with a correct header table, and
the copy in hardware/ kept current.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from roomprobe.config import HardwareConfig
from roomprobe.leds import wiring

HARDWARE = Path(__file__).resolve().parents[2] / "hardware"
SVG = HARDWARE / "wiring.svg"
NS = {"svg": "http://www.w3.org/2000/svg"}
OTHER = HardwareConfig(
    meeting_pins=(5, 6, 11),
    network_pins=(12, 16, 20),
    audio_pins=(19, 21, 7),
    system_pins=(8, 9, 10),
    button_pin=4,
)


def _tree(hw: HardwareConfig | None = None) -> ET.Element:
    return ET.fromstring(wiring.render_svg(hw).encode())


def _texts(el: ET.Element) -> list[str]:
    return [t.text or "" for t in el.iter(f"{{{NS['svg']}}}text")]


def _rows(root: ET.Element) -> dict[int, ET.Element]:
    """The schematic's wire rows by physical pin."""
    rows = root.findall(".//svg:g[@class='wire-row']", NS)
    return {int(g.get("data-physical")): g for g in rows}


def _signal_pins(hw: HardwareConfig) -> list[int]:
    return [*(b for pins in hw.pins().values() for b in pins), hw.button_pin]


# --- the SVG ----------------------------------------------------------------------------------


def test_the_diagram_is_an_a4_landscape_svg():
    root = _tree()
    assert root.tag == f"{{{NS['svg']}}}svg"
    assert root.get("viewBox") == "0 0 297 210"
    assert (root.get("width"), root.get("height")) == ("297mm", "210mm")
    assert root.find("svg:title", NS) is not None


def test_everything_is_drawn_on_the_page():
    root = _tree()
    for el in root.iter():
        for attr, limit in (("x", 297), ("cx", 297), ("x1", 297), ("x2", 297),
                            ("y", 210), ("cy", 210), ("y1", 210), ("y2", 210)):  # fmt: skip
            if el.get(attr) is not None:
                assert 0 <= float(el.get(attr)) <= limit, (el.tag, attr, el.get(attr))


def test_every_default_pin_shows_its_bcm_and_physical_number():
    hw = HardwareConfig()
    root = _tree(hw)
    rows = _rows(root)
    header = {
        int(g.get("data-physical")): g for g in root.findall(".//svg:g[@class='header-pin']", NS)
    }
    assert sorted(header) == list(range(1, 41))  # the whole header is drawn
    for bcm in _signal_pins(hw):
        phys = wiring.BCM_TO_PHYSICAL[bcm]
        row = rows[phys]
        assert row.get("data-bcm") == str(bcm)
        assert {str(phys), f"BCM{bcm}"} <= set(_texts(row)), (bcm, _texts(row))
        assert any(t.startswith(f"BCM{bcm} · ") for t in _texts(header[phys]))
    for group, gnd in wiring.grounds(hw).items():
        assert rows[gnd].get("data-bcm") == "GND" and rows[gnd].get("data-group") == group


def test_the_known_default_wiring_is_drawn():
    """The defaults written out by hand, from the Pi's pinout: a second look at the table."""
    rows = _rows(_tree())
    expected = {11: "17", 13: "27", 15: "22", 16: "23", 18: "24", 22: "25",
                29: "5", 31: "6", 33: "13", 37: "26"}  # fmt: skip
    for phys, bcm in expected.items():
        assert rows[phys].get("data-bcm") == bcm
    assert {p for p, g in rows.items() if g.get("data-bcm") == "GND"} <= set(wiring.GND_PINS)


def test_labels_are_vietnamese_first_with_english():
    texts = _texts(_tree())
    for vi, en in (
        ("Đèn mạng (đường truyền)", "Network light (the line)"),
        ("Đèn âm thanh", "Audio light"),
        ("Đèn thiết bị", "System light"),
        ("Card âm thanh USB", "USB audio interface"),
        ("Bàn trộn âm", "mixer"),
        ("dây nối vòng ngắn", "short loopback cable"),
    ):
        assert texts.index(vi) < texts.index(en)
    for part in ("OUT1", "IN1", "OUT2", "IN2", "LINE IN", "REC/AUX OUT", "MAIN OUT"):
        assert part in texts


def test_a_different_pin_map_gives_a_different_diagram():
    default, other = wiring.render_svg(), wiring.render_svg(OTHER)
    assert default != other
    rows = _rows(_tree(OTHER))
    for bcm in _signal_pins(OTHER):
        assert rows[wiring.BCM_TO_PHYSICAL[bcm]].get("data-bcm") == str(bcm)
    assert 11 not in rows  # BCM17 is no longer wired
    assert wiring.render_svg(HardwareConfig(hold_s=5.0)) != default
    assert any("giữ 5 s" in t for t in _texts(_tree(HardwareConfig(hold_s=5.0))))


def test_main_writes_the_diagram(capsys):
    assert wiring.main() == 0
    assert capsys.readouterr().out == wiring.render_svg()


def test_the_committed_diagram_is_current():
    assert SVG.read_text(encoding="utf-8") == wiring.render_svg(), (
        f"hardware/wiring.svg is stale: regenerate it with `{wiring.REGENERATE}`"
    )


# --- the header table -------------------------------------------------------------------------


def test_bcm_to_physical_is_a_bijection_over_the_gpio_pins():
    gpio = {b: p for b, p in wiring.BCM_TO_PHYSICAL.items() if 2 <= b <= 27}
    assert sorted(gpio) == list(range(2, 28))
    assert len(set(gpio.values())) == len(gpio)
    assert all(1 <= p <= 40 for p in wiring.BCM_TO_PHYSICAL.values())
    # GPIO pins, power pins and ground pins share out the 40 pins, none twice.
    assert set(wiring.BCM_TO_PHYSICAL.values()).isdisjoint(wiring.POWER_PINS)
    assert sorted([*wiring.BCM_TO_PHYSICAL.values(), *wiring.POWER_PINS]) == list(range(1, 41))
    assert {p: b for b, p in wiring.BCM_TO_PHYSICAL.items()} == wiring.PHYSICAL_TO_BCM


def test_bcm_to_physical_matches_well_known_entries():
    known = {2: 3, 3: 5, 4: 7, 14: 8, 15: 10, 17: 11, 18: 12, 27: 13, 22: 15, 23: 16,
             24: 18, 10: 19, 9: 21, 25: 22, 11: 23, 8: 24, 7: 26, 5: 29, 6: 31, 12: 32,
             13: 33, 19: 35, 16: 36, 26: 37, 20: 38, 21: 40}  # fmt: skip
    assert {b: wiring.BCM_TO_PHYSICAL[b] for b in known} == known
    assert wiring.GND_PINS == (6, 9, 14, 20, 25, 30, 34, 39)
    assert [p for p, n in wiring.POWER_PINS.items() if n == "3V3"] == [1, 17]
    assert sorted(p for p, n in wiring.POWER_PINS.items() if n == "5V") == [2, 4]


@pytest.mark.parametrize("revision", ["c03111", "a020d3", "902120"])  # 4B, 3B+, Zero 2 W
def test_the_header_table_agrees_with_gpiozero(revision: str):
    """gpiozero's own board data is an independent source for the header."""
    mock = pytest.importorskip("gpiozero.pins.mock")
    factory = mock.MockFactory(revision=revision)
    try:
        pins = factory.board_info.headers["J8"].pins
        for phys, info in pins.items():
            m = re.fullmatch(r"GPIO(\d+)", info.name)
            if m:
                assert wiring.BCM_TO_PHYSICAL[int(m[1])] == phys, info
            else:
                assert wiring.POWER_PINS[phys] == info.name, info
    finally:
        factory.close()


# --- the electrical budget -------------------------------------------------------------------


def test_the_leds_stay_within_the_pis_gpio_current_limits():
    for colour in wiring.CHANNELS:
        assert 2.0 <= wiring.channel_ma(colour) <= wiring.PIN_LIMIT_MA, colour
    assert wiring.worst_case_ma() <= wiring.TOTAL_LIMIT_MA


def test_each_group_has_its_own_ground_away_from_the_rtc():
    for hw in (HardwareConfig(), OTHER):
        gnd = wiring.grounds(hw)
        assert set(gnd) == {"meeting", "network", "audio", "system", "button"}
        assert len(set(gnd.values())) == len(gnd)
        assert set(gnd.values()) <= set(wiring.GND_PINS) - set(wiring.RTC_MODULE_PINS)


# --- the hand-written pages beside the diagram ------------------------------------------------


def test_the_bill_of_materials_lists_the_parts_drawn():
    bom = (HARDWARE / "bom.md").read_text(encoding="utf-8")
    hw = HardwareConfig()
    per_value = Counter(wiring.RESISTOR_OHM[c] for c in wiring.CHANNELS for _ in hw.pins())
    for ohm, count in per_value.items():
        assert f"{count} × {ohm} Ω" in bom, (ohm, count)
    assert f"{len(wiring.wires(hw))} dây / wires" in bom


@pytest.mark.parametrize("page", ["bom.md", "installation.md"])
def test_the_hardware_pages_link_to_files_that_exist(page: str):
    text = (HARDWARE / page).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert "audio-wiring.md" in links and "wiring.svg" in links
    for link in links:
        assert (HARDWARE / link).resolve().exists(), link
