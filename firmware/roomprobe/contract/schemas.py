"""Loading the contract's JSON Schema files and validating payloads against them.

The files in ``schemas/`` are the contract; probe and hub load the same files
through this module. A payload's ``schema`` field picks its schema, so a
validator never has to guess what a message is meant to be.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
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
    return list(_schema_names())


@cache
def _schema_names() -> tuple[str, ...]:
    return tuple(sorted(d["title"] for n, d in _documents().items() if n != "common.json"))


def schema_document(name: str) -> dict[str, Any]:
    for doc in _documents().values():
        if doc.get("title") == name:
            return doc
    raise ContractError(f"unknown schema {name!r}; known: {', '.join(schema_names())}")


def _anchored_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    """JSON Schema ``pattern`` where a final ``$`` really ends the string.

    Python's ``$`` also matches before a trailing newline, so ``"dak-ang\\n"``
    would pass ``^[a-z-]+$`` and end up inside a topic. ``\\Z`` does not.
    """
    if not validator.is_type(instance, "string"):
        return
    python_pattern = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if not re.search(python_pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(Draft202012Validator, {"pattern": _anchored_pattern})
_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _real_date_time(value: object) -> bool:
    """A pattern cannot see that 2026-02-30 does not exist; the calendar can."""
    if isinstance(value, str):
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@cache
def _validator(name: str) -> Any:
    return _Validator(schema_document(name), registry=_registry(), format_checker=_FORMATS)


@cache
def _fast_validator(name: str) -> Any:
    """The same schema compiled by jsonschema-rs: only to say "valid" quickly.

    The hub checks every message, thousands a second; jsonschema takes 0.6-1.5 ms
    per message, jsonschema-rs 20-30 us. Its regexes anchor ``$`` at the true end
    and it checks date-times against the calendar, as the Python validator here
    does. Anything it does not call valid goes to the Python validator, which
    decides and words the errors, so a disagreement can only cost time.
    """
    docs = _documents().values()
    registry = jsonschema_rs.Registry([(doc["$id"], doc) for doc in docs])
    return jsonschema_rs.Draft202012Validator(
        schema_document(name), registry=registry, validate_formats=True
    )


def _quickly_valid(payload: dict[str, Any], name: str) -> bool:
    try:
        return bool(_fast_validator(name).is_valid(payload))
    except (ValueError, TypeError, OverflowError):  # e.g. an integer past 64 bits
        return False


@cache
def _shared_keys() -> frozenset[str]:
    """Top-level keys the envelope and result definitions declare."""
    defs = _documents()["common.json"]["$defs"]
    return frozenset(defs["envelope"]["properties"]) | frozenset(defs["result"]["properties"])


def _non_finite(value: Any, path: str = "") -> str | None:
    """The path of a NaN or infinity (JSON has neither; NaN passes every range check)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(top level)"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _non_finite(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _readable(errors: list[ValidationError], payload: dict[str, Any], name: str) -> list[str]:
    """One line per real problem.

    When one envelope field fails, the whole shared ``allOf`` branch fails and
    ``unevaluatedProperties`` then blames every valid envelope field as
    unknown. Those lines are noise: report the keys that are unknown to every
    part of the schema instead.
    """
    # One line per field: a bad time fails both its pattern and its format check.
    seen: set[tuple[str, ...]] = set()
    unique = []
    for error in errors:
        where = tuple(str(p) for p in error.absolute_path)
        if where and where in seen:
            continue
        seen.add(where)
        unique.append(error)
    errors = unique
    real = [e for e in errors if e.validator != "unevaluatedProperties"]
    if len(real) == len(errors) or not real:
        return [f"{_where(e.absolute_path)}: {e.message}" for e in errors]
    declared = set(schema_document(name).get("properties", {})) | _shared_keys()
    unknown = sorted(k for k in payload if k not in declared)
    lines = [f"{_where(e.absolute_path)}: {e.message}" for e in real]
    if unknown:
        lines.insert(0, f"(top level): unknown keys {', '.join(unknown)}")
    return lines


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
    if name not in _schema_names():
        raise ContractError(f"unknown schema {name!r}")
    problems: list[str] = []
    if not _quickly_valid(payload, name):
        errors = sorted(
            _validator(name).iter_errors(payload), key=lambda e: [str(p) for p in e.absolute_path]
        )
        problems = _readable(errors, payload, name) if errors else []
    bad_number = _non_finite(payload)
    if bad_number:
        problems.append(f"{bad_number}: NaN and infinity are not numbers JSON can carry")
    if problems:
        details = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ContractError(f"{name} payload is invalid: {details}{more}")
    return payload


def _refuse_constant(name: str) -> Any:
    raise ContractError(f"payload contains {name}, which is not valid JSON")


def decode(raw: bytes, expected_schema: str | None = None) -> dict[str, Any]:
    """Decode UTF-8 JSON bytes and validate them."""
    try:
        payload = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise ContractError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ContractError("payload is nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer past Python's 4300-digit limit
        raise ContractError(f"payload cannot be read: {exc}") from None
    try:
        return validate(payload, expected_schema)
    except RecursionError:
        raise ContractError("payload is nested too deeply to check") from None


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, Vietnamese left readable (no \\u escapes)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )
