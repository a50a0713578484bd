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
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import AudioConfig, Thresholds
from ..contract import utc_iso
from . import reference as reference_mod
from .active import make_sweep, stimulus
from .analysis import analyse
from .diagnosis import Findings, diagnose
from .probe import REFERENCE_FILE
from .room import Faults, Room
from .watch import PassiveWatch

#: Each simulation profile's room: the faults a district meets. The line profiles have a
#: healthy audio chain; "broken-speaker" has one of its two loudspeakers dead.
PROFILE_FAULTS: dict[str, Faults] = {
    "good": Faults(),
    "slow-line": Faults(),
    "flaky-lan": Faults(),
    "broken-speaker": Faults(dead_speaker=1),
}


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

    def _test(self, room: Room, seed: int) -> tuple[Any, PassiveWatch]:
        capture = room.render(self._played, seed=seed, start_offset_s=0.1 + self._rng.random())
        watch = PassiveWatch(self.cfg.rate, 2, mains_hz=self.cfg.mains_hz)
        watch.feed(room.ambient(2.0, seed=seed + 1))
        watch.feed(capture)
        return analyse(self._sweep, capture), watch

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
        a, watch = self._test(self.room, self._rng.randrange(1 << 30))
        summary = watch.summary()
        metrics = a.to_dict()
        metrics["watch"] = summary.to_dict()
        return metrics, diagnose(a, self.thresholds, reference=ref, watch=summary)
