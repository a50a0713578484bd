"""Loading the contract's JSON Schema files and validating payloads against them.

The files in ``schemas/`` are the contract; probe and hub load the same files
through this module. A payload's ``schema`` field picks its schema, so a
validator never has to guess what a message is meant to be.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_VERSION = 1
BASE_URI = "https://schemas.roomprobe.org/v1/"


class ContractError(ValueError):
    """A payload that breaks the contract; the message says where and how."""


@cache
def _documents() -> dict[str, dict[str, Any]]:
    """All schema documents by file name (``status.json`` ...)."""
    folder = resources.files("roomprobe.contract") / "schemas"
    docs = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            docs[entry.name] = json.loads(entry.read_text(encoding="utf-8"))
    return docs


@cache
def _registry() -> Registry:
    resources_ = [
        (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012))
        for doc in _documents().values()
    ]
    return Registry().with_resources(resources_)


def schema_names() -> list[str]:
    """Every message schema name (``roomprobe.status`` ...), without the shared definitions."""
    return sorted(d["title"] for n, d in _documents().items() if n != "common.json")


def schema_document(name: str) -> dict[str, Any]:
    for doc in _documents().values():
        if doc.get("title") == name:
            return doc
    raise ContractError(f"unknown schema {name!r}; known: {', '.join(schema_names())}")


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema_document(name), registry=_registry())


def _where(path: Any) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


def validate(payload: Any, expected_schema: str | None = None) -> dict[str, Any]:
    """Check a decoded payload; return it, or raise ContractError naming every problem.

    ``expected_schema`` is the schema the topic demands: a payload that names
    another one is rejected even if it is valid on its own.
    """
    if not isinstance(payload, dict):
        raise ContractError(f"payload must be a JSON object, got {type(payload).__name__}")
    name = payload.get("schema")
    if not isinstance(name, str):
        raise ContractError("payload has no 'schema' field naming its schema")
    if expected_schema is not None and name != expected_schema:
        raise ContractError(f"payload says schema {name!r} but its topic needs {expected_schema!r}")
    if name not in schema_names():
        raise ContractError(f"unknown schema {name!r}")
    errors = sorted(_validator(name).iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(f"{_where(e.absolute_path)}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ContractError(f"{name} payload is invalid: {details}{more}")
    return payload


def decode(raw: bytes, expected_schema: str | None = None) -> dict[str, Any]:
    """Decode UTF-8 JSON bytes and validate them."""
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ContractError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return validate(payload, expected_schema)


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, Vietnamese left readable (no \\u escapes)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
