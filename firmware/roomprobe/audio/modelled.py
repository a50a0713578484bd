"""The room model as an audio backend: real analysis of a simulated room, for the demo.

``audio.backend = "model"`` runs the whole audio pipeline (sweep, analysis,
diagnosis, per-component verdicts) on captures rendered by :mod:`.room`
instead of a USB interface, so a demo fleet shows real findings: the
simulation profile picks the room's faults. The healthy version of the same
room is commissioned on first use, as district IT would at installation, and
kept in the state folder like a real reference. Each test costs about half a
second of CPU, spent in the daemon's loop (the demo's rooms test every 30 s).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import AudioConfig, Thresholds
from ..contract import utc_iso
from . import reference as reference_mod
from .active import make_sweep, stimulus
from .analysis import Analysis, analyse
from .diagnosis import Findings
from .probe import REFERENCE_FILE, report
from .room import Faults, Room
from .sweep import Sweep
from .watch import WatchSummary, summary_of

#: Each simulation profile's room: the faults a district meets. The line profiles have a
#: healthy audio chain; "broken-speaker" has one of its two loudspeakers dead, "dead-mic" its
#: microphones (switched off, unplugged: they pick up nothing).
PROFILE_FAULTS: dict[str, Faults] = {
    "good": Faults(),
    "slow-line": Faults(),
    "flaky-lan": Faults(),
    "broken-speaker": Faults(dead_speaker=1),
    "dead-mic": Faults(dead_mic=True),
}


@dataclass(frozen=True)
class FaultCase:
    """A fault of the room model, and what the diagnosis must say about it."""

    name: str
    room: Room
    component: str
    reason: str


#: Every fault the room model injects, with the component and reason code it must give
#: against the healthy room's reference. The tests and bench/audio_detection.py use it.
FAULT_CASES: tuple[FaultCase, ...] = (
    FaultCase("dead microphones", Room(faults=Faults(dead_mic=True)), "microphones",
              "audio.mics_silent"),
    FaultCase("microphones not on the record out", Room(mic_in_return=False), "microphones",
              "audio.mics_silent"),
    FaultCase("one loudspeaker silent", Room(faults=Faults(dead_speaker=1)), "speakers",
              "audio.speaker_missing"),
    FaultCase("the only loudspeaker silent",
              Room(speaker_distances_m=(4.0,), faults=Faults(dead_speaker=0)), "speakers",
              "audio.speakers_silent"),
    FaultCase("amplifier turned down 9 dB", Room(faults=Faults(amp_gain_db=-9)), "speakers",
              "audio.amp_gain_changed"),
    FaultCase("mixer turned down 10 dB", Room(faults=Faults(mixer_gain_db=-10)), "mixer",
              "audio.mixer_gain_changed"),
    FaultCase("ground-loop hum -50 dBFS", Room(faults=Faults(hum_dbfs=-50)), "cabling",
              "audio.hum"),
    FaultCase("hiss -45 dBFS", Room(faults=Faults(noise_dbfs=-45)), "mixer", "audio.noise_high"),
    FaultCase("amplifier clipping at 30 %", Room(faults=Faults(amp_clip=0.3)), "speakers",
              "audio.distortion"),
    FaultCase("3 USB dropouts", Room(faults=Faults(dropouts=3)), "probe", "audio.dropouts"),
    FaultCase("howling at 2.5 kHz", Room(faults=Faults(feedback_hz=2500, feedback_dbfs=-30)),
              "mixer", "audio.feedback"),
    FaultCase("mixer latency +5 ms", Room(faults=Faults(extra_latency_ms=5)), "mixer",
              "audio.latency_changed"),
    FaultCase("damaged driver (notch at 2 kHz)", Room(faults=Faults(notch_hz=2000)), "speakers",
              "audio.response_changed"),
    FaultCase("dull loudspeaker (-4 dB/octave)", Room(faults=Faults(tilt_db_per_octave=-4)),
              "speakers", "audio.response_changed"),
    FaultCase("loopback wire unplugged", Room(reference_present=False), "probe",
              "audio.reference_missing"),
    FaultCase("return cable unplugged", Room(faults=Faults(mixer_gain_db=-150)), "cabling",
              "audio.no_return"),
)  # fmt: skip


def measure_room(
    room: Room, sweep: Sweep, played: np.ndarray, seed: int, *, mains_hz: float = 50.0,
    start_offset_s: float = 0.3, ambient_s: float = 2.0,
) -> tuple[Analysis, WatchSummary]:  # fmt: skip
    """One active test of a simulated room, as the box runs it.

    The watch has heard the room for ``ambient_s`` before the test (as the
    daemon's always-on watch has) and hears the test's capture too.
    """
    capture = room.render(played, seed=seed, start_offset_s=start_offset_s)
    before = room.ambient(ambient_s, seed=seed + 100_003)
    return analyse(sweep, capture), summary_of(before, capture, fs=room.fs, mains_hz=mains_hz)


class ModelAudio:
    def __init__(
        self, profile: str, site: str, seed: int | None, cfg: AudioConfig,
        thresholds: Thresholds, state_dir: Path,
    ) -> None:  # fmt: skip
        if profile not in PROFILE_FAULTS:
            raise ValueError(f"unknown simulation profile {profile!r}")
        self.cfg = cfg.model_copy(update={"rate": 48000})
        self.thresholds = thresholds
        self.room = Room(faults=PROFILE_FAULTS[profile])
        self._rng = random.Random(seed if seed is not None else zlib.crc32(site.encode()))
        self._sweep = make_sweep(self.cfg)
        self._played = stimulus(self._sweep, self.cfg.pre_silence_s, self.cfg.tail_s)
        self.reference_path = Path(state_dir) / REFERENCE_FILE

    def _test(self, room: Room, seed: int) -> tuple[Analysis, WatchSummary]:
        return measure_room(
            room, self._sweep, self._played, seed, mains_hz=self.cfg.mains_hz,
            start_offset_s=0.1 + self._rng.random(),
        )  # fmt: skip

    def reference(self) -> reference_mod.Reference:
        """The commissioned reference: the healthy room, measured once and kept."""
        try:
            ref = reference_mod.load(self.reference_path)
        except ValueError:
            ref = None
        if ref is None:
            healthy = replace(self.room, faults=Faults())
            a, _ = self._test(healthy, 0)
            ref = reference_mod.Reference.from_analysis(a, utc_iso())
            self.reference_path.parent.mkdir(parents=True, exist_ok=True)
            ref.save(self.reference_path)
        return ref

    def audio_test(self) -> tuple[dict[str, Any], Findings]:
        ref = self.reference()
        a, summary = self._test(self.room, self._rng.randrange(1 << 30))
        return report(a, summary, self.thresholds, ref)
