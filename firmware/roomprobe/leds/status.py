"""What each indicator shows, from the probe's state: pure, so every rule is testable.

LEDs derive from verdicts only (DESIGN.md), plus the few facts about the box
itself that are not measurements: a test running, meeting mode, booting, the
broker connection. The meeting light shows the latest readiness run's state
(itself a verdict of the parts) while its meeting is ahead or on, and "checking"
while a run is under way. A verdict whose actor is the probe and which fails (the
audio interface missing, say) also lights the system indicator's probe fault:
the room's staff must call IT, not the ISP or the mixer's owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..verdicts import Verdict
from .legend import LedState, strongest

#: Which verdict each measured indicator shows, and the test kind that runs for it.
MEASURED: dict[str, tuple[str, str]] = {"network": ("network", "net"), "audio": ("audio", "audio")}


@dataclass(frozen=True)
class Snapshot:
    verdicts: dict[str, Verdict]  # "network", "audio", "system"
    running: frozenset[str] = field(default_factory=frozenset)  # test kinds: "net", "audio"
    meeting_mode: bool = False
    booting: bool = False
    broker_connected: bool = True
    readiness: str | None = None  # ready, not-ready, unknown: the run shown; None: none
    checking: bool = False  # a readiness run is under way


def keys(s: Snapshot) -> dict[str, set[str]]:
    """Every state that applies to each indicator (the legend's priority picks one)."""
    meeting = {"idle"}
    if s.readiness is not None:
        meeting.add(s.readiness.replace("-", "_"))
    if s.checking:
        meeting.add("checking")
    out: dict[str, set[str]] = {"meeting": meeting}
    for indicator, (part, kind) in MEASURED.items():
        v = s.verdicts.get(part)
        applies = {v.status if v is not None else "unknown"}
        if kind in s.running:
            applies.add("test_running")
        out[indicator] = applies
    system = {"ok"}
    if s.booting:
        system.add("booting")
    if s.meeting_mode:
        system.add("meeting_mode")
    if not s.broker_connected:
        system.add("no_broker")
    sv = s.verdicts.get("system")
    if sv is not None and sv.reason == "system.config_rejected":
        system.add("config_error")
    if any(v.actor == "probe" and v.status == "fail" for v in s.verdicts.values()):
        system.add("probe_fault")
    out["system"] = system
    return out


def showing(s: Snapshot) -> dict[str, LedState]:
    """The state each indicator shows now."""
    return {indicator: strongest(indicator, applies) for indicator, applies in keys(s).items()}
