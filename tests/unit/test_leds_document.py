"""The card, the page and the pin table say what the legend and the config say, and are current."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from roomprobe.config import HardwareConfig
from roomprobe.leds import document as D
from roomprobe.leds import legend as L

REGEN = "stale: python -m roomprobe.leds.document"


def test_the_committed_card_page_and_pin_table_are_current():
    assert D.CARD.read_text(encoding="utf-8") == D.card(), REGEN
    assert D.PAGE.read_text(encoding="utf-8") == D.page(), REGEN
    readme = D.README.read_text(encoding="utf-8")
    assert D.readme_with_pins(readme) == readme, REGEN


def test_the_card_is_an_a6_svg_with_every_state_vietnamese_first():
    svg = D.card()
    root = ET.fromstring(svg.split("\n", 1)[1])
    assert root.get("width") == "148mm" and root.get("height") == "210mm"  # A5
    for s in L.STATES:
        vi, en = escape(s.meaning[0]), escape(s.meaning[1])
        assert vi in svg and en in svg
        assert svg.index(vi) < svg.index(en)  # Vietnamese first
    for colour in {s.colour for s in L.STATES}:
        assert D._HEX[colour] in svg


def test_the_page_gives_each_state_its_colour_pattern_and_action():
    page = D.page()
    for s in L.STATES:
        assert s.meaning[0] in page and s.meaning[1] in page
        assert L.COLOUR_NAMES[s.colour][0] in page
        if s.action[0]:
            assert s.action[0] in page
    assert f"{HardwareConfig().hold_s:g}" in page


def test_the_pin_table_follows_the_config_defaults():
    table = D.pin_table()
    hw = HardwareConfig()
    for pins in hw.pins().values():
        assert " | ".join(f"GPIO {p}" for p in pins) in table
    assert f"GPIO {hw.button_pin} to ground" in table


def test_a_readme_without_the_section_gets_it_appended():
    text = D.readme_with_pins("# hardware\n")
    assert text.startswith("# hardware\n") and D.BEGIN in text and D.END in text
    assert D.readme_with_pins(text) == text
