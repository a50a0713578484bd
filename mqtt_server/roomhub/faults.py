"""When a probe's fault ends: the one rule the alert watcher and the meeting summary share.

A probe reports trouble it notices by itself (the passive audio watch) as a
``fault`` event and its end as a ``fault_cleared`` event. The ``fault`` names
its check (``details.check``) and usually its reason (``details.reason``);
the ``fault_cleared`` names the reason it clears (``details.cleared``). A
``fault_cleared`` ends the fault with that reason, and every fault that names
none: those cannot be matched, and keeping them open for ever would raise an
alert no probe can close. A reboot ends them all (the caller reads one boot).

The alert watcher asks which audio faults stand now; the meeting summary asks
which faults stood when a meeting began and when each of those raised during
it ended. Written once here so the two never disagree about a room.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def is_audio(details: Mapping[str, Any]) -> bool:
    """A fault of the audio chain; a fault that names no check is the audio watch's."""
    return str(details.get("check") or "audio").startswith("audio")


def clears(cleared: Any, reason: Any) -> bool:
    """Does a ``fault_cleared`` naming ``cleared`` end a fault whose reason is ``reason``?"""
    return not reason or reason == cleared


def standing(
    events: Iterable[tuple[str, Mapping[str, Any], T]],
    counts: Callable[[Mapping[str, Any]], bool] = lambda details: True,
) -> list[T]:
    """The faults that no later ``fault_cleared`` ended, oldest first.

    ``events``: ``(event, details, item)`` oldest first, ``item`` being what the
    caller wants back; ``counts``: which faults (by their details) to keep at all.
    """
    open_: dict[str, tuple[Mapping[str, Any], T]] = {}
    for n, (event, details, item) in enumerate(events):
        if event == "fault" and counts(details):
            open_[str(details.get("reason") or f"#{n}")] = (details, item)
        elif event == "fault_cleared":
            cleared = details.get("cleared")
            open_ = {k: v for k, v in open_.items() if not clears(cleared, v[0].get("reason"))}
    return [item for _, item in open_.values()]
