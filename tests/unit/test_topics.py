"""The MQTT topic tree of contract v1: building, parsing and rejecting topics."""

from __future__ import annotations

import pytest

from roomprobe.contract import schema_names, topics
from roomprobe.contract.topics import Topic, TopicError

SITE = "dak-ang"

VALID_SITES = ["dak-ang", "ab", "x1", "00", "a" * 63, "ngoc-hoi-2", "a-b-c"]
INVALID_SITES = [
    "",
    "a",  # too short
    "a" * 64,  # too long
    "-dak",
    "dak-",
    "Dak-ang",
    "DAK",
    "đắk-ang",
    "Đắk Ang",
    "dak_ang",
    "dak ang",
    "dak.ang",
    "dak/ang",
    "dak+ang",
    "#",
    " dak-ang",
    "dak-ang ",
    "dak-ang\n",  # a trailing newline must not slip through the pattern's "$"
]


def _mqtt_match(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching (+ one level, # the rest)."""
    pat, top = pattern.split("/"), topic.split("/")
    for i, level in enumerate(pat):
        if level == "#":
            return True
        if i >= len(top) or (level != "+" and level != top[i]):
            return False
    return len(pat) == len(top)


# -- site ids -------------------------------------------------------------------------


@pytest.mark.parametrize("site", VALID_SITES)
def test_valid_site_ids_are_accepted(site: str) -> None:
    assert topics.is_site_id(site)
    assert topics.check_site_id(site) == site


@pytest.mark.parametrize("site", INVALID_SITES)
def test_invalid_site_ids_are_rejected(site: str) -> None:
    assert not topics.is_site_id(site)
    with pytest.raises(TopicError, match="lower-case ASCII letters, digits and hyphens"):
        topics.check_site_id(site)


@pytest.mark.parametrize(
    "build",
    [
        topics.status,
        topics.event,
        topics.cmd_reply,
        topics.cmd_filter,
        lambda s: topics.result(s, "net"),
        lambda s: topics.cmd(s, "run-test"),
    ],
    ids=["status", "event", "cmd_reply", "cmd_filter", "result", "cmd"],
)
@pytest.mark.parametrize("site", ["Đắk Ang", "", "dak-", "a/b", "+", "#"])
def test_every_builder_rejects_an_invalid_site(build, site: str) -> None:
    with pytest.raises(TopicError, match=r"e\.g\. dak-ang"):
        build(site)


def test_topic_error_is_a_value_error() -> None:
    assert issubclass(TopicError, ValueError)


# -- building -------------------------------------------------------------------------


def test_builders_produce_the_documented_topics() -> None:
    assert topics.status(SITE) == "roomprobe/v1/dak-ang/status"
    assert topics.event(SITE) == "roomprobe/v1/dak-ang/event"
    assert topics.cmd_reply(SITE) == "roomprobe/v1/dak-ang/cmd-reply"
    assert topics.cmd_filter(SITE) == "roomprobe/v1/dak-ang/cmd/+"
    assert topics.result(SITE, "net") == "roomprobe/v1/dak-ang/result/net"
    assert topics.cmd(SITE, "meeting-mode") == "roomprobe/v1/dak-ang/cmd/meeting-mode"
    assert topics.SCHEDULE == "roomprobe/v1/schedule"


def test_result_kinds_and_commands_are_the_contract_ones() -> None:
    assert set(topics.RESULT_KINDS) == {"net", "audio", "monitor", "readiness"}
    assert set(topics.COMMANDS) == {"run-test", "meeting-mode", "set-config", "ready"}


@pytest.mark.parametrize("kind", ["video", "Net", "", "net/x", "+", "status"])
def test_unknown_result_kind_is_rejected_by_name(kind: str) -> None:
    with pytest.raises(TopicError) as exc:
        topics.result(SITE, kind)
    message = str(exc.value)
    assert repr(kind) in message
    for known in topics.RESULT_KINDS:
        assert known in message


@pytest.mark.parametrize("name", ["reboot", "Run-Test", "", "run_test", "+", "#"])
def test_unknown_command_is_rejected_by_name(name: str) -> None:
    with pytest.raises(TopicError) as exc:
        topics.cmd(SITE, name)
    message = str(exc.value)
    assert repr(name) in message
    for known in topics.COMMANDS:
        assert known in message


def test_the_kind_is_checked_even_when_the_site_is_valid_and_vice_versa() -> None:
    with pytest.raises(TopicError, match="kind"):
        topics.result(SITE, "video")
    with pytest.raises(TopicError, match="lower-case"):
        topics.result("Bad Site", "net")


# -- parsing --------------------------------------------------------------------------


def test_parse_schedule() -> None:
    assert topics.parse(topics.SCHEDULE) == Topic(None, "roomprobe.schedule")


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (topics.status(SITE), Topic(SITE, "roomprobe.status")),
        (topics.event(SITE), Topic(SITE, "roomprobe.event")),
        (topics.cmd_reply(SITE), Topic(SITE, "roomprobe.cmd-reply")),
    ]
    + [
        (topics.result(SITE, k), Topic(SITE, f"roomprobe.result.{k}", k))
        for k in topics.RESULT_KINDS
    ]
    + [(topics.cmd(SITE, c), Topic(SITE, "roomprobe.cmd", c)) for c in topics.COMMANDS],
)
def test_parse_round_trips_every_built_topic(topic: str, expected: Topic) -> None:
    assert topics.parse(topic) == expected


@pytest.mark.parametrize("site", VALID_SITES)
def test_parse_keeps_the_site(site: str) -> None:
    assert topics.parse(topics.status(site)).site == site
    assert topics.parse(topics.result(site, "audio")).site == site


def test_every_parsed_schema_is_a_contract_schema() -> None:
    built = [topics.SCHEDULE, topics.status(SITE), topics.event(SITE), topics.cmd_reply(SITE)]
    built += [topics.result(SITE, k) for k in topics.RESULT_KINDS]
    built += [topics.cmd(SITE, c) for c in topics.COMMANDS]
    schemas = {topics.parse(t).schema for t in built}
    assert schemas == set(schema_names())


@pytest.mark.parametrize(
    ("topic", "says"),
    [
        ("", "not under roomprobe/v1/<site>/"),
        ("roomprobe", "not under"),
        ("roomprobe/v1", "not under"),
        ("roomprobe/v1/dak-ang", "not under"),
        ("roomprobe/v2/dak-ang/status", "not under"),
        ("other/v1/dak-ang/status", "not under"),
        ("/roomprobe/v1/dak-ang/status", "not under"),
        ("roomprobe/v1/Dak-Ang/status", "invalid site id 'Dak-Ang'"),
        ("roomprobe/v1/đắk-ang/status", "invalid site id"),
        ("roomprobe/v1/+/status", "invalid site id '+'"),
        ("roomprobe/v1//status", "invalid site id ''"),
        ("roomprobe/v1/dak-ang/status/extra", "not part of contract v1"),
        ("roomprobe/v1/dak-ang/statuses", "not part of contract v1"),
        ("roomprobe/v1/dak-ang/result", "not part of contract v1"),
        ("roomprobe/v1/dak-ang/result/video", "not part of contract v1"),
        ("roomprobe/v1/dak-ang/result/net/extra", "not part of contract v1"),
        ("roomprobe/v1/dak-ang/result/+", "not part of contract v1"),
        ("roomprobe/v1/dak-ang/cmd", "not part of contract v1"),
        ("roomprobe/v1/dak-ang/cmd/reboot", "not part of contract v1"),
        ("roomprobe/v1/dak-ang/cmd/+", "not part of contract v1"),
        ("roomprobe/v1/dak-ang/schedule", "not part of contract v1"),
        ("roomprobe/v1/schedule/extra", "invalid site id 'schedule'|not part of contract v1"),
        ("roomprobe/v1/dak-ang/status/", "not part of contract v1"),
    ],
)
def test_parse_rejects_topics_outside_the_contract(topic: str, says: str) -> None:
    with pytest.raises(TopicError, match=says.replace("+", r"\+")) as exc:
        topics.parse(topic)
    assert repr(topic) in str(exc.value)


def test_parse_rejects_a_site_with_a_trailing_newline() -> None:
    with pytest.raises(TopicError):
        topics.parse("roomprobe/v1/dak-ang\n/status")


# -- subscriptions --------------------------------------------------------------------


def test_hub_subscriptions_cover_everything_a_probe_sends() -> None:
    sent = [topics.status(SITE), topics.event(SITE), topics.cmd_reply(SITE)]
    sent += [topics.result(SITE, k) for k in topics.RESULT_KINDS]
    for topic in sent:
        assert any(_mqtt_match(f, topic) for f in topics.HUB_SUBSCRIPTIONS), topic


def test_hub_subscriptions_do_not_cover_commands_or_the_schedule() -> None:
    for topic in [topics.SCHEDULE] + [topics.cmd(SITE, c) for c in topics.COMMANDS]:
        assert not any(_mqtt_match(f, topic) for f in topics.HUB_SUBSCRIPTIONS), topic


def test_probe_command_filter_matches_only_its_own_commands() -> None:
    own = topics.cmd_filter(SITE)
    for name in topics.COMMANDS:
        assert _mqtt_match(own, topics.cmd(SITE, name))
        assert not _mqtt_match(own, topics.cmd("other-site", name))
    assert not _mqtt_match(own, topics.cmd_reply(SITE))
    assert not _mqtt_match(own, topics.status(SITE))
