"""docs/contract.md is the contract's readable form: it must match the schemas."""

from __future__ import annotations

from pathlib import Path

from roomprobe.contract import document, schema_names, topics

DOC = Path(__file__).parents[2] / "docs" / "contract.md"


def test_contract_page_is_generated_from_the_current_schemas():
    assert DOC.read_text(encoding="utf-8") == document.render_markdown(), (
        "docs/contract.md is stale: run python -m roomprobe.contract.document > docs/contract.md"
    )


def test_every_schema_has_a_topic_and_every_topic_a_schema():
    assert set(topics.TOPIC_PATTERNS) == set(schema_names())
    for name in schema_names():
        assert f"## `{name}`" in document.render_markdown()
