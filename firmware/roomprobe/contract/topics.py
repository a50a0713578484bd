"""The MQTT topic tree of contract v1: the one place that names topics.

Probe and hub both build and parse topics here, so a rename cannot leave one
side behind. Each topic maps to exactly one schema name, which the payload must
carry: a result published under ``result/net`` must say ``roomprobe.result.net``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "roomprobe/v1"
SCHEDULE = f"{PREFIX}/schedule"
RESULT_KINDS = ("net", "audio", "monitor", "readiness")
COMMANDS = ("run-test", "meeting-mode", "set-config", "ready")

_SITE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")


class TopicError(ValueError):
    """A topic that is not part of the contract."""


def is_site_id(site: str) -> bool:
    return bool(_SITE_RE.fullmatch(site))


def _check_site(site: str) -> str:
    """Return ``site`` if it is a valid site id, else raise TopicError saying what one is."""
    if not is_site_id(site):
        raise TopicError(
            "expected 2-63 lower-case ASCII letters, digits and hyphens, "
            "not starting or ending with a hyphen (e.g. dak-ang)"
        )
    return site


check_site_id = _check_site


def status(site: str) -> str:
    return f"{PREFIX}/{_check_site(site)}/status"


def result(site: str, kind: str) -> str:
    if kind not in RESULT_KINDS:
        raise TopicError(f"result kind {kind!r} is not one of {', '.join(RESULT_KINDS)}")
    return f"{PREFIX}/{_check_site(site)}/result/{kind}"


def event(site: str) -> str:
    return f"{PREFIX}/{_check_site(site)}/event"


def cmd(site: str, name: str) -> str:
    if name not in COMMANDS:
        raise TopicError(f"command {name!r} is not one of {', '.join(COMMANDS)}")
    return f"{PREFIX}/{_check_site(site)}/cmd/{name}"


def cmd_filter(site: str) -> str:
    """What a probe subscribes to for its own commands."""
    return f"{PREFIX}/{_check_site(site)}/cmd/+"


def cmd_reply(site: str) -> str:
    return f"{PREFIX}/{_check_site(site)}/cmd-reply"


# Every topic of the tree with the schema its payloads follow; QoS is 1 throughout.
TOPIC_PATTERNS: dict[str, str] = {
    "roomprobe.status": f"{PREFIX}/<site>/status",
    **{f"roomprobe.result.{k}": f"{PREFIX}/<site>/result/{k}" for k in RESULT_KINDS},
    "roomprobe.event": f"{PREFIX}/<site>/event",
    "roomprobe.cmd": f"{PREFIX}/<site>/cmd/<command>",
    "roomprobe.cmd-reply": f"{PREFIX}/<site>/cmd-reply",
    "roomprobe.schedule": SCHEDULE,
}
RETAINED = frozenset({"roomprobe.status", "roomprobe.schedule"})
FROM_HUB = frozenset({"roomprobe.cmd", "roomprobe.schedule"})

# What the hub's consumer subscribes to: everything probes send.
HUB_SUBSCRIPTIONS = (
    f"{PREFIX}/+/status",
    f"{PREFIX}/+/result/+",
    f"{PREFIX}/+/event",
    f"{PREFIX}/+/cmd-reply",
)


@dataclass(frozen=True)
class Topic:
    """A parsed topic: whose it is and which schema its payload must follow."""

    site: str | None
    schema: str
    subname: str | None = None  # the result kind or command name


def parse(topic: str) -> Topic:
    """Parse a contract topic; raise TopicError naming what is wrong."""
    if topic == SCHEDULE:
        return Topic(None, "roomprobe.schedule")
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != PREFIX:
        raise TopicError(f"topic {topic!r} is not under {PREFIX}/<site>/")
    site, rest = parts[2], parts[3:]
    if not is_site_id(site):
        raise TopicError(f"topic {topic!r} has an invalid site id {site!r}")
    match rest:
        case ["status"]:
            return Topic(site, "roomprobe.status")
        case ["event"]:
            return Topic(site, "roomprobe.event")
        case ["cmd-reply"]:
            return Topic(site, "roomprobe.cmd-reply")
        case ["result", kind] if kind in RESULT_KINDS:
            return Topic(site, f"roomprobe.result.{kind}", kind)
        case ["cmd", name] if name in COMMANDS:
            return Topic(site, "roomprobe.cmd", name)
    raise TopicError(f"topic {topic!r} is not part of contract v1")
