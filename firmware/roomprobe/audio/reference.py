"""The commissioned reference: what a known-good room measured, kept to judge later tests.

Absolute limits cannot say that a speaker got 8 dB quieter or lost its top
octave: every room and mixer differs. District IT runs ``roomprobe audio
commission`` once the room is set up and sounds right; later tests are judged
against that. The file is small JSON in the state folder (it survives
reboots, and a person can read it); a damaged or foreign file is refused with
a message that says which field is wrong, and the probe then judges on
absolute limits only.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from .analysis import SPEED_OF_SOUND_M_S, Analysis

VERSION = 1


@dataclass(frozen=True)
class Reference:
    created: str  # UTC time of commissioning
    fs: int
    electrical_latency_ms: float | None
    electrical_gain_db: float | None
    acoustic_latency_ms: float | None
    acoustic_gain_db: float | None
    arrivals_ms: tuple[float, ...]
    arrival_levels_db: tuple[float, ...]
    bands_db: dict[float, float]  # acoustic 1/3-octave response (electrical if no acoustic)
    noise_floor_dbfs: float | None
    rt30_s: float | None = None

    @classmethod
    def from_analysis(cls, a: Analysis, created: str) -> Reference:
        if a.electrical is None:
            raise ValueError("cannot commission: no test signal came back on the return")
        main = a.acoustic or a.electrical
        return cls(
            created=created,
            fs=a.fs,
            electrical_latency_ms=a.electrical.latency_ms,
            electrical_gain_db=a.electrical.gain_db,
            acoustic_latency_ms=None if a.acoustic is None else a.acoustic.latency_ms,
            acoustic_gain_db=None if a.acoustic is None else a.acoustic.gain_db,
            arrivals_ms=a.arrivals_ms,
            arrival_levels_db=a.arrival_levels_db,
            bands_db=dict(main.bands_db),
            noise_floor_dbfs=a.noise_floor_dbfs,
            rt30_s=None if a.room is None else a.room.t30_s,
        )

    def distance_m(self, arrival_ms: float) -> float:
        """How far a loudspeaker is from the microphones, from its commissioned arrival.

        An arrival is counted from the reference and includes the mixer twice
        (the probe's channel out, the microphone's channel back), which the
        electrical path's latency measures once.
        """
        mixer_ms = self.electrical_latency_ms or 0.0
        return max(arrival_ms - 2 * mixer_ms, 0.0) * SPEED_OF_SOUND_M_S / 1000

    def to_json(self) -> str:
        d: dict[str, Any] = asdict(self)
        d["version"] = VERSION
        d["bands_db"] = {f"{k:g}": round(v, 2) for k, v in self.bands_db.items()}
        d["arrivals_ms"] = list(self.arrivals_ms)
        d["arrival_levels_db"] = list(self.arrival_levels_db)
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Reference:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        if not isinstance(d, dict) or d.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} audio reference")

        def num(key: str, optional: bool = True) -> float | None:
            v = d.get(key)
            if v is None and optional:
                return None
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{key}: expected a number, got {v!r}")
            return float(v)

        def nums(key: str) -> tuple[float, ...]:
            v = d.get(key, [])
            if not isinstance(v, list):
                raise ValueError(f"{key}: expected a list of numbers")
            for x in v:
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    raise ValueError(f"{key}: expected a list of numbers, found {x!r}")
            return tuple(float(x) for x in v)

        bands = d.get("bands_db", {})
        if not isinstance(bands, dict):
            raise ValueError("bands_db: expected an object of band -> dB")
        try:
            bands_db = {float(k): float(v) for k, v in bands.items()}
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bands_db: {exc}") from exc
        fs = d.get("fs")
        if not isinstance(fs, int) or fs <= 0:
            raise ValueError(f"fs: expected a positive whole number, got {fs!r}")
        return cls(
            created=str(d.get("created", "")),
            fs=fs,
            electrical_latency_ms=num("electrical_latency_ms"),
            electrical_gain_db=num("electrical_gain_db"),
            acoustic_latency_ms=num("acoustic_latency_ms"),
            acoustic_gain_db=num("acoustic_gain_db"),
            arrivals_ms=nums("arrivals_ms"),
            arrival_levels_db=nums("arrival_levels_db"),
            bands_db=bands_db,
            noise_floor_dbfs=num("noise_floor_dbfs"),
            rt30_s=num("rt30_s"),
        )

    def save(self, path: Path) -> None:
        """Atomically (write, fsync, rename): a power cut leaves the old file or the new one."""
        write_atomic(path, self.to_json().encode("utf-8"))


def load(path: Path) -> Reference | None:
    """The reference at ``path``; None when there is none. A bad file raises ValueError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    try:
        return Reference.from_json(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
