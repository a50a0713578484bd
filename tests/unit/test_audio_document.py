"""The operators' audio page is generated from the findings table and the texts, and current."""

from __future__ import annotations

from pathlib import Path

from roomprobe.audio import diagnosis, document
from roomprobe.texts import TEXTS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "operators" / "audio.md"


def test_the_page_is_current():
    assert PAGE.read_text(encoding="utf-8") == document.render(), (
        "docs/operators/audio.md is stale: python -m roomprobe.audio.document > "
        "docs/operators/audio.md"
    )


def test_every_finding_is_on_the_page_in_both_languages():
    page = document.render()
    for reason in diagnosis.FINDINGS:
        vi, en = TEXTS[reason]
        assert f"`{reason}`" in page
        assert document._plain(vi) in page and document._plain(en) in page


def test_every_component_has_a_name_and_its_ok_and_unknown_texts():
    for component in diagnosis.COMPONENTS:
        assert component in document.COMPONENT_NAMES
        assert f"audio.{component}_ok" in TEXTS and f"audio.{component}_unknown" in TEXTS
