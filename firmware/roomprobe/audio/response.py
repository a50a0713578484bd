"""Frequency response in 1/3-octave bands, and how it differs from the room's reference.

A damaged loudspeaker rarely goes silent: a tweeter dies and the top octaves
drop, a cone rubs and a band dips. Those show as a change of *shape*, so the
comparison with the commissioned reference removes the overall level first
(the median difference over the bands, which a volume knob explains) and
reports the largest remaining deviation and where it is. Bands follow IEC
61260's base-ten series (centres 10^(k/10) kHz), labelled with their nominal
names (31.5, 63, 125, ... Hz).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Nominal 1/3-octave centre frequencies (IEC 61260), the labels used in results.
NOMINAL_HZ: tuple[float, ...] = (
    20, 25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800,
    1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000, 20000,
)  # fmt: skip


def exact_centre(nominal: float) -> float:
    """The exact base-ten centre behind a nominal label."""
    k = round(10 * math.log10(nominal / 1000))
    return 1000.0 * 10 ** (k / 10)


def band_levels(
    ir: np.ndarray, fs: int, lo_hz: float = 50.0, hi_hz: float = 16000.0, nfft: int | None = None
) -> dict[float, float]:
    """Level (dB re a straight wire) of the response ``ir`` in each band within ``lo_hz..hi_hz``.

    Power-averaged over the band's FFT bins; a band narrower than two bins is
    skipped (a short window cannot resolve low bands).
    """
    n = nfft or max(1 << (len(ir) - 1).bit_length(), 2)
    spectrum = np.abs(np.fft.rfft(ir, n)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / fs)
    out: dict[float, float] = {}
    for nominal in NOMINAL_HZ:
        if not lo_hz <= nominal <= hi_hz:
            continue
        centre = exact_centre(nominal)
        band = (freqs >= centre * 2 ** (-1 / 6)) & (freqs < centre * 2 ** (1 / 6))
        if band.sum() < 2:
            continue
        out[nominal] = 10 * math.log10(max(float(spectrum[band].mean()), 1e-30))
    return out


@dataclass(frozen=True)
class Deviation:
    offset_db: float  # overall level change against the reference (median over bands)
    max_db: float  # largest deviation of shape, signed, after the offset is removed
    worst_hz: float | None  # the band where it is
    bands_db: dict[float, float]  # per band, after the offset is removed

    def to_dict(self) -> dict[str, object]:
        return {
            "offset_db": round(self.offset_db, 1),
            "max_db": round(self.max_db, 1),
            "worst_hz": self.worst_hz,
            "bands_db": {f"{k:g}": round(v, 1) for k, v in self.bands_db.items()},
        }


def compare(levels: dict[float, float], reference: dict[float, float]) -> Deviation:
    """Shape and level of ``levels`` against ``reference``, over the bands both have."""
    common = [hz for hz in levels if hz in reference]
    if not common:
        raise ValueError("no band in common with the reference")
    diff = {hz: levels[hz] - reference[hz] for hz in common}
    offset = float(np.median(list(diff.values())))
    shape = {hz: d - offset for hz, d in diff.items()}
    worst = max(shape, key=lambda hz: abs(shape[hz]))
    return Deviation(offset, shape[worst], worst, shape)
