"""The contract's JSON Schemas, the validator around them and the envelope helpers."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import Any

import pytest

from roomprobe.contract import (
    ContractError,
    Stamp,
    decode,
    encode,
    parse_utc,
    schema_document,
    schema_names,
    schemas,
    utc_iso,
    validate,
)
from roomprobe.contract.schemas import BASE_URI, SCHEMA_VERSION

MESSAGE_SCHEMAS = {
    "roomprobe.status",
    "roomprobe.result.net",
    "roomprobe.result.audio",
    "roomprobe.result.monitor",
    "roomprobe.result.readiness",
    "roomprobe.event",
    "roomprobe.cmd",
    "roomprobe.cmd-reply",
    "roomprobe.schedule",
}
ENVELOPE_KEYS = {
    "schema",
    "schema_version",
    "msg_id",
    "site",
    "boot_id",
    "seq",
    "ts",
    "clock_synced",
}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")


def example(name: str) -> dict[str, Any]:
    return copy.deepcopy(schema_document(name)["examples"][0])


def all_examples() -> list[tuple[str, int, dict[str, Any]]]:
    return [
        (name, i, ex)
        for name in sorted(MESSAGE_SCHEMAS)
        for i, ex in enumerate(schema_document(name)["examples"])
    ]


# -- the schema files -----------------------------------------------------------------


def test_schema_names_lists_every_message_type() -> None:
    names = schema_names()
    assert set(names) == MESSAGE_SCHEMAS
    assert len(names) == len(MESSAGE_SCHEMAS)
    assert names == sorted(names)


def test_every_schema_file_is_loaded_with_a_matching_id() -> None:
    folder = resources.files("roomprobe.contract") / "schemas"
    files = sorted(e.name for e in folder.iterdir() if e.name.endswith(".json"))
    assert "common.json" in files
    titles = set()
    for name in files:
        doc = json.loads((folder / name).read_text(encoding="utf-8"))
        assert doc["$id"] == BASE_URI + name
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        if name != "common.json":
            titles.add(doc["title"])
            # file name follows the title: roomprobe.result.net -> result-net.json
            assert name == doc["title"].removeprefix("roomprobe.").replace(".", "-") + ".json"
    assert titles == MESSAGE_SCHEMAS


@pytest.mark.parametrize("name", sorted(MESSAGE_SCHEMAS))
def test_every_message_schema_is_closed_and_has_examples(name: str) -> None:
    doc = schema_document(name)
    assert doc["title"] == name
    assert doc["unevaluatedProperties"] is False
    assert doc["properties"]["schema"] == {"const": name}
    assert doc["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert doc["examples"], f"{name} has no examples"


@pytest.mark.parametrize(("name", "index", "payload"), all_examples())
def test_every_example_validates(name: str, index: int, payload: dict[str, Any]) -> None:
    assert payload["schema"] == name
    assert validate(payload) is payload
    assert validate(payload, name) is payload
    assert decode(encode(payload), name) == payload


def test_unknown_schema_document_names_the_known_ones() -> None:
    with pytest.raises(ContractError) as exc:
        schema_document("roomprobe.video")
    message = str(exc.value)
    assert "'roomprobe.video'" in message
    for name in MESSAGE_SCHEMAS:
        assert name in message


def test_contract_error_is_a_value_error() -> None:
    assert issubclass(ContractError, ValueError)


# -- rejected payloads ----------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = payload
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = payload
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


MUTATIONS = [
    # (schema, mutation, words the error must contain)
    ("roomprobe.result.net", _delete("msg_id"), ["'msg_id' is a required property"]),
    ("roomprobe.status", _delete("msg_id"), ["'msg_id' is a required property"]),
    ("roomprobe.result.net", _set("msg_id", "not-a-uuid"), ["msg_id:", "'not-a-uuid'"]),
    (
        "roomprobe.event",
        _set("msg_id", "9D8C7B6A-5F4E-4D3C-8B2A-1F0E9D8C7B6A"),
        ["msg_id:", "9D8C7B6A"],
    ),
    ("roomprobe.event", _set("boot_id", "6c9b1e0a"), ["boot_id:", "'6c9b1e0a'"]),
    ("roomprobe.cmd-reply", _set("request_id", "r-1"), ["request_id:", "'r-1'"]),
    ("roomprobe.result.net", _set("seq", -1), ["seq:", "-1", "minimum of 0"]),
    ("roomprobe.status", _set("seq", -1), ["seq:", "-1"]),
    ("roomprobe.result.net", _set("seq", 1.5), ["seq:", "1.5", "integer"]),
    ("roomprobe.result.net", _set("seq", "42"), ["seq:", "'42'"]),
    ("roomprobe.result.net", _set("colour", "blue"), ["(top level)", "'colour'"]),
    ("roomprobe.status", _set("debug", True), ["(top level)", "'debug'"]),
    ("roomprobe.schedule", _set("extra", 1), ["(top level)", "'extra'"]),
    ("roomprobe.result.net", _set("verdict.status", "great"), ["verdict.status:", "'great'"]),
    ("roomprobe.result.audio", _set("verdict.status", "OK"), ["verdict.status:", "'OK'"]),
    (
        "roomprobe.status",
        _set("verdicts.network.status", "bad"),
        ["verdicts.network.status:", "'bad'"],
    ),
    (
        "roomprobe.result.readiness",
        _set("parts.audio.status", "broken"),
        ["parts.audio.status:", "'broken'"],
    ),
    ("roomprobe.result.net", _set("verdict.actor", "district"), ["verdict.actor:", "'district'"]),
    ("roomprobe.result.net", _delete("verdict.actor"), ["verdict:", "'actor'"]),
    ("roomprobe.result.net", _set("verdict.reason", "Net OK"), ["verdict.reason:", "'Net OK'"]),
    ("roomprobe.result.net", _delete("verdict.message.en"), ["verdict.message:", "'en'"]),
    ("roomprobe.result.net", _set("verdict.message.vi", ""), ["verdict.message.vi:"]),
    ("roomprobe.result.net", _set("site", "Đắk Ang"), ["site:", "'Đắk Ang'"]),
    ("roomprobe.result.net", _set("site", "dak-ang\n"), ["site:"]),
    ("roomprobe.result.net", _set("ts", "2026-11-29 07:31:12"), ["ts:", "'2026-11-29 07:31:12'"]),
    ("roomprobe.result.net", _set("ts", "2026-11-29T07:31:12+07:00"), ["ts:"]),
    ("roomprobe.result.net", _set("schema_version", 2), ["schema_version:", "1"]),
    ("roomprobe.result.net", _set("clock_synced", "yes"), ["clock_synced:", "'yes'"]),
    ("roomprobe.result.net", _set("kind", "audio"), ["kind:", "'net'"]),
    ("roomprobe.result.net", _set("simulated", None), ["simulated:"]),
    ("roomprobe.result.net", _set("duration_s", -0.5), ["duration_s:", "-0.5"]),
    ("roomprobe.result.net", _set("metrics.loss_pct", 101), ["metrics.loss_pct:", "101"]),
    ("roomprobe.result.net", _set("metrics.mos", 0.99), ["metrics.mos:", "0.99"]),
    ("roomprobe.result.net", _set("metrics.download_mbps", -1), ["metrics.download_mbps:"]),
    ("roomprobe.result.net", _set("metrics.method", "ookla"), ["metrics.method:", "'ookla'"]),
    ("roomprobe.result.net", _set("metrics.video_mbps", 3), ["metrics:", "'video_mbps'"]),
    ("roomprobe.result.net", _delete("metrics.rtt_ms"), ["metrics:", "'rtt_ms'"]),
    ("roomprobe.result.net", _set("metrics.download_mbps", float("nan")), ["download_mbps"]),
    ("roomprobe.result.audio", _set("metrics.level_dbfs", 3.0), ["metrics.level_dbfs:", "3.0"]),
    (
        "roomprobe.result.audio",
        _set("metrics.channels_present", [0, -1]),
        ["metrics.channels_present.1:", "-1"],
    ),
    ("roomprobe.result.monitor", _delete("metrics.rtt_ms.p95"), ["metrics.rtt_ms:", "'p95'"]),
    ("roomprobe.result.monitor", _set("metrics.room_active", 1), ["metrics.room_active:"]),
    ("roomprobe.result.readiness", _set("readiness", "maybe"), ["readiness:", "'maybe'"]),
    ("roomprobe.result.readiness", _delete("parts.system"), ["parts:", "'system'"]),
    ("roomprobe.result.readiness", _set("metrics.x", 1), ["metrics:", "'x'"]),
    ("roomprobe.status", _set("outbox_pending", -3), ["outbox_pending:", "-3"]),
    ("roomprobe.status", _set("leds.network", "Green!"), ["leds.network:", "'Green!'"]),
    ("roomprobe.status", _delete("online"), ["'online' is a required property"]),
    ("roomprobe.event", _set("event", "exploded"), ["event:", "'exploded'"]),
    ("roomprobe.event", _set("details", []), ["details:", "[]"]),
    ("roomprobe.cmd", _set("command", "reboot"), ["command:", "'reboot'"]),
    ("roomprobe.cmd", _delete("expires_at"), ["'expires_at' is a required property"]),
    ("roomprobe.cmd-reply", _set("error", "Bad Args"), ["error:", "'Bad Args'"]),
    ("roomprobe.cmd-reply", _set("ok", "true"), ["ok:", "'true'"]),
    (
        "roomprobe.schedule",
        _set("meetings.0.sites", ["Đắk Ang"]),
        ["meetings.0.sites.0:", "'Đắk Ang'"],
    ),
    ("roomprobe.schedule", _set("meetings.0.title", ""), ["meetings.0.title:"]),
    ("roomprobe.schedule", _set("meetings.0.end", "tomorrow"), ["meetings.0.end:", "'tomorrow'"]),
]


@pytest.mark.parametrize(
    ("name", "mutate", "words"),
    MUTATIONS,
    ids=[f"{n.removeprefix('roomprobe.')}-{'-'.join(w)[:40]}" for n, _, w in MUTATIONS],
)
def test_mutated_example_is_rejected_naming_the_field(
    name: str, mutate: Callable[[dict[str, Any]], None], words: list[str]
) -> None:
    payload = example(name)
    validate(payload, name)  # the example itself is fine
    mutate(payload)
    with pytest.raises(ContractError) as exc:
        validate(payload, name)
    message = str(exc.value)
    assert message.startswith(f"{name} payload is invalid: "), message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_many_problems_are_summarised() -> None:
    payload = example("roomprobe.result.net")
    keys = ["download_mbps", "upload_mbps", "rtt_ms", "jitter_ms", "loss_pct", "bytes_used"]
    keys += ["gateway_rtt_ms", "gateway_loss_pct"]
    for key in keys:
        payload["metrics"][key] = -1
    with pytest.raises(ContractError) as exc:
        validate(payload)
    message = str(exc.value)
    assert message.count("is less than the minimum of 0") == 5
    assert message.endswith("(and 3 more)")


@pytest.mark.parametrize(
    ("name", "mutate", "word"),
    [
        ("roomprobe.result.net", _set("seq", -1), "seq:"),
        ("roomprobe.result.net", _delete("msg_id"), "'msg_id' is a required property"),
        ("roomprobe.result.net", _set("verdict.status", "great"), "verdict.status:"),
        ("roomprobe.status", _set("ts", "now"), "ts:"),
    ],
    ids=["seq-minus-1", "msg_id-missing", "verdict-status", "status-ts"],
)
def test_one_bad_field_is_one_problem_and_valid_fields_are_not_blamed(
    name: str, mutate: Callable[[dict[str, Any]], None], word: str
) -> None:
    """A failed envelope/result $ref must not make its valid fields "unexpected".

    JSON Schema drops the annotations of a failing allOf branch, so
    unevaluatedProperties then reports every envelope field as unknown; the
    quarantine reason would blame boot_id, ts... for a bad seq.
    """
    payload = example(name)
    mutate(payload)
    with pytest.raises(ContractError) as exc:
        validate(payload)
    message = str(exc.value)
    assert word in message
    assert "Unevaluated properties" not in message, message
    assert message.count("; ") == 0, message


@pytest.mark.parametrize("payload", [[], "status", 42, None, [{"schema": "roomprobe.status"}]])
def test_a_payload_that_is_not_an_object_is_rejected(payload: Any) -> None:
    with pytest.raises(ContractError, match="must be a JSON object, got"):
        validate(payload)


@pytest.mark.parametrize("schema", [None, 1, ["roomprobe.status"]])
def test_a_payload_without_a_schema_name_is_rejected(schema: Any) -> None:
    payload = example("roomprobe.status")
    if schema is None:
        del payload["schema"]
    else:
        payload["schema"] = schema
    with pytest.raises(ContractError, match="no 'schema' field"):
        validate(payload)


@pytest.mark.parametrize("schema", ["roomprobe.video", "roomprobe.result", "status", ""])
def test_an_unknown_schema_name_is_rejected(schema: str) -> None:
    payload = example("roomprobe.status")
    payload["schema"] = schema
    with pytest.raises(ContractError, match=re.escape(f"unknown schema {schema!r}")):
        validate(payload)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("roomprobe.status", "roomprobe.event"),
        ("roomprobe.result.net", "roomprobe.result.audio"),
        ("roomprobe.cmd", "roomprobe.cmd-reply"),
        ("roomprobe.schedule", "roomprobe.status"),
    ],
)
def test_a_valid_payload_on_the_wrong_topic_is_rejected(name: str, expected: str) -> None:
    payload = example(name)
    validate(payload)  # valid on its own
    with pytest.raises(ContractError) as exc:
        validate(payload, expected)
    assert str(exc.value) == f"payload says schema {name!r} but its topic needs {expected!r}"


def test_a_payload_claiming_another_schema_is_judged_by_the_claim() -> None:
    payload = example("roomprobe.result.net")
    payload["schema"] = "roomprobe.result.audio"
    with pytest.raises(ContractError) as exc:
        validate(payload, "roomprobe.result.audio")
    message = str(exc.value)
    assert message.startswith("roomprobe.result.audio payload is invalid")
    assert "kind" in message


# -- decode and encode ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\xff\xfe{}", ["not UTF-8", "at byte 0"]),
        (b'{"schema": "roomprobe.status", "x": "\xc3"}', ["not UTF-8", "at byte 37"]),
        ("Đắk".encode("utf-16"), ["not UTF-8"]),
        (b"{not json", ["not JSON", "line 1 column 2"]),
        (b"", ["not JSON"]),
        (b'{"a": 1}\n{"b": 2}', ["not JSON", "line 2 column 1"]),
        (b"[]", ["must be a JSON object, got list"]),
        (b'"roomprobe.status"', ["must be a JSON object, got str"]),
        (b"null", ["must be a JSON object, got NoneType"]),
    ],
)
def test_decode_rejects_bad_bytes_with_a_reason(raw: bytes, words: list[str]) -> None:
    with pytest.raises(ContractError) as exc:
        decode(raw)
    for word in words:
        assert word in str(exc.value)
    # the exception does not chain a decoder's traceback
    assert exc.value.__cause__ is None


def test_decode_checks_the_expected_schema() -> None:
    raw = encode(example("roomprobe.event"))
    assert decode(raw)["schema"] == "roomprobe.event"
    with pytest.raises(ContractError, match=r"its topic needs 'roomprobe\.status'"):
        decode(raw, "roomprobe.status")


def test_decode_validates_the_payload() -> None:
    payload = example("roomprobe.result.net")
    payload["seq"] = -1
    with pytest.raises(ContractError, match="seq: -1"):
        decode(json.dumps(payload).encode())


def test_decode_rejects_non_finite_numbers() -> None:
    """NaN is not JSON (RFC 8259) and defeats every minimum/maximum in the schemas."""
    payload = example("roomprobe.result.net")
    raw = encode(payload).replace(b'"download_mbps":47.8', b'"download_mbps":NaN')
    assert b"NaN" in raw
    with pytest.raises(ContractError):
        decode(raw, "roomprobe.result.net")


def test_encode_is_compact_utf8_with_readable_vietnamese() -> None:
    payload = example("roomprobe.status")
    raw = encode(payload)
    assert isinstance(raw, bytes)
    text = raw.decode("utf-8")
    assert "Đường truyền đạt yêu cầu" in text
    assert "\\u" not in text
    assert json.loads(text) == payload
    assert raw == json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert len(raw) < len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


# -- envelope -------------------------------------------------------------------------


def _body(name: str) -> dict[str, Any]:
    return {k: v for k, v in example(name).items() if k not in ENVELOPE_KEYS}


@pytest.mark.parametrize("name", sorted(MESSAGE_SCHEMAS))
@pytest.mark.parametrize("synced", [True, False])
def test_stamp_envelope_produces_valid_payloads(name: str, synced: bool) -> None:
    boot_id = str(uuid.uuid4())
    stamp = Stamp("dak-ang", boot_id, lambda: synced)
    before = datetime.now(UTC)
    payload = stamp.envelope(name, 7, **_body(name))
    after = datetime.now(UTC)
    assert validate(payload, name) is payload
    assert payload["schema"] == name
    assert payload["schema_version"] == SCHEMA_VERSION
    assert payload["site"] == "dak-ang"
    assert payload["boot_id"] == boot_id
    assert payload["seq"] == 7
    assert payload["clock_synced"] is synced
    assert UUID_RE.match(payload["msg_id"])
    assert uuid.UUID(payload["msg_id"]).version == 4
    assert UTC_RE.match(payload["ts"])
    ts = parse_utc(payload["ts"])
    assert before - timedelta(milliseconds=1) <= ts <= after


def test_stamp_gives_every_message_its_own_id_and_asks_the_clock_each_time() -> None:
    answers = iter([True, False, True])
    stamp = Stamp("dak-ang", str(uuid.uuid4()), lambda: next(answers))
    body = _body("roomprobe.event")
    payloads = [stamp.envelope("roomprobe.event", seq, **body) for seq in (1, 2, 3)]
    assert len({p["msg_id"] for p in payloads}) == 3
    assert [p["clock_synced"] for p in payloads] == [True, False, True]
    assert [p["seq"] for p in payloads] == [1, 2, 3]


def test_stamp_envelope_with_seq_zero_is_valid() -> None:
    stamp = Stamp("dak-ang", str(uuid.uuid4()), lambda: False)
    validate(stamp.envelope("roomprobe.status", 0, **_body("roomprobe.status")))


def test_stamp_with_a_bad_site_produces_an_invalid_payload() -> None:
    stamp = Stamp("Đắk Ang", str(uuid.uuid4()), lambda: True)
    with pytest.raises(ContractError, match="site:"):
        validate(stamp.envelope("roomprobe.event", 1, **_body("roomprobe.event")))


# -- time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2026, 11, 29, 7, 31, 12, 250000, tzinfo=UTC), "2026-11-29T07:31:12.250Z"),
        (datetime(2026, 11, 29, 7, 31, 12, 250999, tzinfo=UTC), "2026-11-29T07:31:12.250Z"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05.000Z"),
        (datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "2026-12-31T23:59:59.999Z"),
        # Vietnam time (+07:00) is converted to UTC, across a day boundary
        (
            datetime(2026, 11, 30, 6, 0, 0, 5000, tzinfo=timezone(timedelta(hours=7))),
            "2026-11-29T23:00:00.005Z",
        ),
    ],
)
def test_utc_iso(when: datetime, text: str) -> None:
    assert utc_iso(when) == text


def test_utc_iso_now_matches_the_contract_time_format() -> None:
    before = datetime.now(UTC)
    text = utc_iso()
    assert UTC_RE.match(text)
    assert abs(parse_utc(text) - before) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-29T07:31:12.250Z",
        "2026-11-29T07:31:12.000Z",
        "2000-02-29T00:00:00.001Z",
        "2026-12-31T23:59:59.999Z",
    ],
)
def test_utc_round_trip_from_text(text: str) -> None:
    parsed = parse_utc(text)
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)
    assert utc_iso(parsed) == text


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 29, 7, 31, 12, 250000, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        datetime(2026, 6, 1, 12, 0, 0, 123000, tzinfo=timezone(timedelta(hours=7))),
    ],
)
def test_utc_round_trip_from_datetime(when: datetime) -> None:
    assert parse_utc(utc_iso(when)) == when


def test_parse_utc_converts_offsets_and_microseconds() -> None:
    assert parse_utc("2026-11-30T06:00:00+07:00") == datetime(2026, 11, 29, 23, tzinfo=UTC)
    assert parse_utc("2026-11-29T07:31:12.123456Z") == datetime(
        2026, 11, 29, 7, 31, 12, 123456, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        parse_utc("yesterday")


# -- the fast validator agrees with the wording one ------------------------------------

_ODD_VALUES: list[object] = [None, "", "x", "dak-ang\n", -1, 0, 2**70, 1e300, True, [], {}, [1]]


def _mutations(example: dict[str, object]) -> list[dict[str, object]]:
    """Every example with each field (and each field one level down) removed or replaced."""
    out: list[dict[str, object]] = [dict(example, extra=1)]
    for key, value in example.items():
        out.append({k: v for k, v in example.items() if k != key})
        out.extend(dict(example, **{key: odd}) for odd in _ODD_VALUES)
        if isinstance(value, dict):
            for inner in value:
                out.extend(dict(example, **{key: {**value, inner: odd}}) for odd in _ODD_VALUES)
    return out


@pytest.mark.parametrize("name", schemas.schema_names())
def test_fast_validator_agrees_with_jsonschema(name: str) -> None:
    """jsonschema-rs only short-cuts "valid": it must never pass what jsonschema refuses."""
    example = schemas.schema_document(name)["examples"][0]
    payloads = _mutations(example)
    disagree = [
        p
        for p in payloads
        if schemas._quickly_valid(p, name) != (not list(schemas._validator(name).iter_errors(p)))
    ]
    assert len(payloads) > 50
    assert disagree == []


def test_a_sequence_number_past_64_bits_is_refused_by_name():
    """The stores keep seq as a signed 64-bit integer: larger ones never reach them."""
    example = schema_document("roomprobe.result.net")["examples"][0]
    validate(dict(example, seq=2**63 - 1))
    with pytest.raises(ContractError, match="seq"):
        validate(dict(example, seq=2**63))
