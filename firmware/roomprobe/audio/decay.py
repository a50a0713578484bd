"""Room acoustics from an impulse response: decay times, clarity and STI.

The sweep test (``sweep.py``) gives the impulse response of the whole chain,
loudspeaker and room together. This module turns it into the figures a
commune can act on: how long the room rings (EDT, T20, T30; ISO 3382-1), how
clear speech is at the microphone (C50, D50) and how intelligible (STI by the
indirect method of IEC 60268-16). Pure functions, numpy and scipy in, frozen
dataclasses out, so a live capture, a WAV file and a simulated room go through
the same code.

The input ``ir`` starts at, or shortly before, the direct sound and is already
windowed to its acoustic part; its end is usually noise. That noise is a
*measurement* artefact (the room's ambient noise after the sweep's processing
gain), not the noise a listener hears, so it is removed rather than counted:

* Where the decay meets the noise is found by Lundeby et al.'s iterative method
  (Acustica 81, 1995), see :func:`lundeby`. The squared IR is integrated
  backwards (Schroeder, ISO 3382-1) only up to that point, the noise's mean
  power is subtracted from every sample before integrating, and the energy the
  decay would have had beyond the point is added from the fitted late slope.
  Without this a noisy IR bends the curve upward at the bottom and T30 comes out
  long.
* A decay time is reported only if the compensated curve falls at least
  ``NOISE_MARGIN_DB`` below the end of its fit range before it is cut
  (ISO 3382's 35 / 45 dB of range above the noise for T20 / T30); otherwise
  it is ``None`` and named in ``limited_by_noise``. C50, D50 and a band's MTI
  need the EDT's 20 dB. An IR whose decay does not rise 20 dB above its noise
  gives no figures at all rather than figures that describe the noise.
* The noise listeners hear enters the STI separately, as a per-band speech to
  noise ratio (``snr_db``), which the caller measures (speech level against the
  probe's recording of the room's silence; :func:`octave_band_levels_db`).

Octave bands are filtered *time-reversed* (filter the reversed IR with a causal
Butterworth, reverse back): the filter's own ringing then lies before each
arrival, not after it, so it does not lengthen short decays at low frequencies
(Jacobsen & Rindel, J. Sound Vib. 117, 1987). The
band's share of the direct sound that the filter moves before the onset is
added back at the onset, where it arrived.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import signal

OCTAVE_BANDS_HZ: tuple[int, ...] = (125, 250, 500, 1000, 2000, 4000, 8000)
# IEC 60268-16: the 14 modulation frequencies, 1/3-octave steps from 0.63 to 12.5 Hz.
STI_MODULATION_HZ: tuple[float, ...] = (
    0.63, 0.8, 1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0, 10.0, 12.5,
)  # fmt: skip
# IEC 60268-16 (ed. 4), male speech: octave weights and redundancy corrections.
STI_ALPHA_MALE: tuple[float, ...] = (0.085, 0.127, 0.230, 0.233, 0.309, 0.224, 0.173)
STI_BETA_MALE: tuple[float, ...] = (0.085, 0.078, 0.065, 0.011, 0.047, 0.095)
# IEC 60268-16 (ed. 4) qualification bands: lower limit of each class.
_STI_CLASSES: tuple[tuple[float, str], ...] = (
    (0.76, "A+"), (0.72, "A"), (0.68, "B"), (0.64, "C"), (0.60, "D"), (0.56, "E"),
    (0.52, "F"), (0.48, "G"), (0.44, "H"), (0.40, "I"), (0.36, "J"),
)  # fmt: skip

MIN_LENGTH_S = 0.2  # C50 needs 50 ms, the 125 Hz filter ~45 ms, the noise estimate a tail
ONSET_THRESHOLD_DB = -20.0  # ISO 3382-1 Annex A: the IR starts where it first rises to -20 dB
NOISE_MARGIN_DB = 10.0  # the curve must go this far below a fit's end before it is cut
FLOOR_DB = -200.0  # the Schroeder curve of a noiseless IR ends in exact zeros; floor it here

# name, fit start, fit end (dB on the Schroeder curve); T = -60 dB / slope for all three
_FITS: tuple[tuple[str, float, float], ...] = (
    ("edt", 0.0, -10.0),
    ("t20", -5.0, -25.0),
    ("t30", -5.0, -35.0),
)
_BUTTER_ORDER = 3  # 6th-order band-pass: the usual realisation of an IEC 61260 class 1 octave
_FOLD_ENERGY = 1 - 1e-4  # the part of the filter's response folded back onto the onset


@dataclass(frozen=True)
class Truncation:
    """Where the decay meets the noise, and the energy the decay has beyond that point."""

    index: int  # samples kept from the onset; the integration stops here
    noise_power: float  # mean square of the noise per sample (subtracted before integrating)
    decay_db_per_s: float | None  # late decay slope; None if no decay rises above the noise
    tail_energy: float  # Σ of the fitted decay from ``index`` on (added to the integral)
    noise_dominated: bool = False  # no decay rises 20 dB above the noise: nothing to measure


@dataclass(frozen=True)
class Decay:
    """The figures of one energy decay: the broadband IR or one octave band."""

    edt_s: float | None
    t20_s: float | None
    t30_s: float | None
    c50_db: float | None  # +inf when nothing arrives after 50 ms (a Dirac); null in JSON
    d50: float | None
    noise_floor_db: float  # noise re the peak of the squared IR (−peak-to-noise ratio)
    dynamic_range_db: float  # how far the compensated Schroeder curve falls before the cut
    truncation_s: float  # where the decay meets the noise, from the onset
    limited_by_noise: tuple[str, ...]  # figures withheld because the decay sank into noise
    mti: float | None = None  # modulation transfer index (octave bands only; feeds the STI)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready, rounded to what the measurement can resolve."""
        d: dict[str, object] = {
            "edt_s": _round(self.edt_s, 3),
            "t20_s": _round(self.t20_s, 3),
            "t30_s": _round(self.t30_s, 3),
            "c50_db": _round(self.c50_db, 1),
            "d50": _round(self.d50, 3),
            "noise_floor_db": _round(self.noise_floor_db, 1),
            "dynamic_range_db": _round(self.dynamic_range_db, 1),
            "truncation_s": _round(self.truncation_s, 3),
            "limited_by_noise": list(self.limited_by_noise),
        }
        if self.mti is not None:
            d["mti"] = _round(self.mti, 3)
        return d


@dataclass(frozen=True)
class RoomDecay:
    """Broadband decay figures, the STI, and the same figures per octave band."""

    edt_s: float | None
    t20_s: float | None
    t30_s: float | None
    c50_db: float | None
    d50: float | None
    sti: float | None  # None when the bands were not analysed
    bands: dict[int, Decay]  # octave centre (Hz) → that band's figures; empty if not analysed
    noise_floor_db: float
    dynamic_range_db: float
    truncation_s: float
    limited_by_noise: tuple[str, ...]

    @property
    def sti_class(self) -> str | None:
        return None if self.sti is None else sti_qualification(self.sti)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: STI to 2 decimals (its just-noticeable difference is ~0.03)."""
        return {
            "edt_s": _round(self.edt_s, 3),
            "t20_s": _round(self.t20_s, 3),
            "t30_s": _round(self.t30_s, 3),
            "c50_db": _round(self.c50_db, 1),
            "d50": _round(self.d50, 3),
            "sti": _round(self.sti, 2),
            "sti_class": self.sti_class,
            "noise_floor_db": _round(self.noise_floor_db, 1),
            "dynamic_range_db": _round(self.dynamic_range_db, 1),
            "truncation_s": _round(self.truncation_s, 3),
            "limited_by_noise": list(self.limited_by_noise),
            "bands": {str(band): d.to_dict() for band, d in self.bands.items()},
        }


def _round(x: float | None, digits: int) -> float | None:
    """JSON has no inf/NaN: a noiseless IR's noise floor becomes null, not an invalid file."""
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


# --- the analysis --------------------------------------------------------------------------


def room_decay(
    ir: np.ndarray,
    fs: int,
    *,
    noise: np.ndarray | None = None,
    snr_db: float | Mapping[int, float] | None = None,
    bands: bool = True,
) -> RoomDecay:
    """Decay times, C50/D50 and (with ``bands``) per-band figures and the STI of one IR.

    ``noise``: optionally a stretch of the measurement noise alone, in the IR's
    domain (e.g. a deconvolved recording of silence); without it the noise is
    estimated from the IR's own tail by :func:`lundeby`. ``snr_db``: the speech
    to background noise ratio at the listener per octave band (or one value for
    all), for the STI's noise correction; ``None`` gives the STI of the room's
    reverberation alone.
    """
    x = _check_ir(ir, fs)
    onset = find_onset(x)
    if (len(x) - onset) < MIN_LENGTH_S * fs:
        raise ValueError(
            f"impulse response too short: {(len(x) - onset) / fs:.3f} s after the direct sound, "
            f"need at least {MIN_LENGTH_S} s (C50's 50 ms, the band filters and a noise tail)"
        )
    noise_power = None if noise is None else float(np.mean(_check_noise(noise) ** 2))
    broad, _ = _analyse(x[onset:] ** 2, fs, noise_power, mtf=False)

    per_band: dict[int, Decay] = {}
    sti: float | None = None
    limited = broad.limited_by_noise
    if bands:
        mtfs = []
        for band in OCTAVE_BANDS_HZ:
            energy, band_noise = _band_energy(x, fs, band, onset, noise)
            per_band[band], m = _analyse(energy, fs, band_noise, mtf=True)
            mtfs.append(m)
        if all(m is not None for m in mtfs):
            sti, mti = sti_from_mtf(np.array(mtfs), snr_db)
            per_band = {b: _with_mti(d, mti[i]) for i, (b, d) in enumerate(per_band.items())}
        else:  # a band whose decay is lost in the noise has no MTF; the STI needs all seven
            limited = (*limited, "sti")
    return RoomDecay(
        edt_s=broad.edt_s,
        t20_s=broad.t20_s,
        t30_s=broad.t30_s,
        c50_db=broad.c50_db,
        d50=broad.d50,
        sti=sti,
        bands=per_band,
        noise_floor_db=broad.noise_floor_db,
        dynamic_range_db=broad.dynamic_range_db,
        truncation_s=broad.truncation_s,
        limited_by_noise=limited,
    )


def _with_mti(d: Decay, mti: float) -> Decay:
    return replace(d, mti=float(mti))


def _check_ir(ir: np.ndarray, fs: int) -> np.ndarray:
    """Refuse what would give numbers without meaning rather than return them."""
    if fs <= 0:
        raise ValueError(f"sample rate must be positive, got {fs}")
    x = np.asarray(ir, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"impulse response must be 1-D, got shape {x.shape}")
    if x.size == 0:
        raise ValueError("impulse response is empty")
    if not np.all(np.isfinite(x)):
        raise ValueError("impulse response contains NaN or infinity")
    if not np.any(x):
        raise ValueError("impulse response is all zeros: nothing was recorded")
    return x


def _check_noise(noise: np.ndarray) -> np.ndarray:
    n = np.asarray(noise, dtype=np.float64)
    if n.ndim != 1 or n.size == 0 or not np.all(np.isfinite(n)):
        raise ValueError("noise must be a non-empty 1-D array of finite samples")
    return n


def find_onset(ir: np.ndarray, threshold_db: float = ONSET_THRESHOLD_DB) -> int:
    """Index of the direct sound: where the squared IR first reaches ``threshold_db`` re its peak.

    ISO 3382-1's rule (Annex A). C50 and the EDT are measured from this point, so
    a few samples of silence or rise before it do not count as early energy.
    """
    e = np.asarray(ir, dtype=np.float64) ** 2
    return int(np.argmax(e >= e.max() * 10 ** (threshold_db / 10)))


def _analyse(
    energy: np.ndarray, fs: int, noise_power: float | None, *, mtf: bool
) -> tuple[Decay, np.ndarray | None]:
    """All figures of one squared IR that starts at the onset (MTF only for the bands)."""
    trunc = lundeby(energy, fs, noise_power)
    peak = float(energy.max())
    noise_floor_db = (
        10 * math.log10(trunc.noise_power / peak) if trunc.noise_power > 0 else -math.inf
    )
    curve = _schroeder(energy, trunc)
    e0 = float(curve[0])
    if e0 <= 0 or trunc.noise_dominated:
        # No decay rises 20 dB above the noise: any number would describe the noise.
        names = ("edt", "t20", "t30", "c50", *(("mti",) if mtf else ()))
        decay = Decay(None, None, None, None, None, noise_floor_db, 0.0, trunc.index / fs, names)
        return decay, None

    curve_db = _level_db(curve / e0)
    # How far the measured decay falls before the cut: down to the fitted tail's energy.
    # (Not the curve's last sample: after the noise is subtracted that one fluctuates.)
    if trunc.tail_energy > 0:
        dynamic_range = 10 * math.log10(e0 / trunc.tail_energy)
    else:
        dynamic_range = -float(curve_db[-1])
    limited: list[str] = []

    def enough(name: str, stop_db: float) -> bool:
        if dynamic_range >= -stop_db + NOISE_MARGIN_DB:
            return True
        limited.append(name)
        return False

    times = {
        name: decay_time(curve_db, fs, start_db, stop_db) if enough(name, stop_db) else None
        for name, start_db, stop_db in _FITS
    }
    # C50 and the MTF need the energy after 50 ms and the late tail well measured: the same
    # 20 dB of range as the EDT (below that, the extrapolated tail would be a guess).
    c50_db, d50 = None, None
    e50 = _energy_after(curve, trunc, round(0.050 * fs), fs)
    if enough("c50", -10.0) and e50 is not None:
        early = max(e0 - e50, 0.0)
        d50 = early / e0
        c50_db = 10 * math.log10(early / e50) if e50 > 0 and early > 0 else math.inf
    m = modulation_transfer(energy, fs, trunc) if mtf and enough("mti", -10.0) else None

    decay = Decay(
        edt_s=times["edt"],
        t20_s=times["t20"],
        t30_s=times["t30"],
        c50_db=c50_db,
        d50=d50,
        noise_floor_db=noise_floor_db,
        dynamic_range_db=dynamic_range,
        truncation_s=trunc.index / fs,
        limited_by_noise=tuple(limited),
    )
    return decay, m


def _level_db(ratio: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.maximum(ratio, 10 ** (FLOOR_DB / 10)))


# --- noise: Lundeby's truncation point, Schroeder with compensation ------------------------


def lundeby(energy: np.ndarray, fs: int, noise_power: float | None = None) -> Truncation:
    """Where the decay meets the noise, by Lundeby et al.'s iteration (Acustica 81, 1995).

    ``energy`` is the squared IR from the onset. The steps, as in the paper:
    average the squared IR in 10 ms intervals; take the noise from the last
    10 %; fit a line from the peak to 10 dB above the noise; its crossing with
    the noise level is the first cut. Then, until the cut moves by less than
    one interval (at most 10 times): re-average in intervals of a fifth of the
    time the decay needs for 10 dB (so a slow decay is smoothed more than a
    fast one), re-estimate the noise from 10 dB of decay after the cut (but at
    least from the last 10 %), fit the late decay over the 20 dB ending 10 dB
    above the noise, and cut where that line meets the noise. The paper's
    ranges (5-10 dB, 3-10 intervals per 10 dB) were fixed at one value each.
    A given ``noise_power`` replaces the estimates. If the smoothed peak is not
    20 dB above the noise there is no decay to fit (``noise_dominated``).

    The decay's energy beyond the cut is the fitted line summed to infinity:
    the compensation ISO 3382-1 asks for when the integration is truncated.
    """
    e = np.asarray(energy, dtype=np.float64)
    n = len(e)
    given = noise_power is not None
    noise = float(noise_power) if given else float(np.mean(e[-max(n // 10, 1) :]))
    if noise <= e.max() * 10 ** (FLOOR_DB / 10):  # noiseless: integrate everything
        return Truncation(n, max(noise, 0.0), None, 0.0)
    noise_db = 10 * math.log10(noise)
    max_win = max(n // 10, 1)

    win = min(max(round(0.010 * fs), 1), max_win)
    t, level = _intervals(e, win, fs)
    peak = int(np.argmax(level))
    end = _first_at_or_below(level, noise_db + 10, peak)
    if level[peak] < noise_db + 20 or end - peak < 2:  # under 10 dB of decay to fit
        return _noise_dominated(noise, min(end * win, n))
    a, slope = _line(t[peak:end], level[peak:end])
    if slope >= 0:
        return _noise_dominated(noise, min(end * win, n))
    cut = (noise_db - a) / slope

    for _ in range(10):
        win = min(max(round(fs * 10 / -slope / 5), max(fs // 1000, 1)), max_win)
        t, level = _intervals(e, win, fs)
        if not given:
            start = min(round((cut + 10 / -slope) * fs), n - max(n // 10, 1))
            noise = float(np.mean(e[max(start, 0) :]))
            if noise <= 0:
                break
            noise_db = 10 * math.log10(noise)
        peak = int(np.argmax(level))
        upper = min(noise_db + 30, float(level[peak]))
        i0 = _first_at_or_below(level, upper, peak)
        i1 = _first_at_or_below(level, noise_db + 10, i0)
        if i1 - i0 < 2:
            i0 = peak
        if i1 - i0 < 2:
            break
        a_new, slope_new = _line(t[i0:i1], level[i0:i1])
        if slope_new >= 0:
            break
        a, slope = a_new, slope_new
        new_cut = (noise_db - a) / slope
        moved = abs(new_cut - cut)
        cut = new_cut
        if moved < win / fs:
            break

    index = int(min(max(round(cut * fs), 1), n))
    level_at_cut = 10 ** ((a + slope * index / fs) / 10)
    q = 10 ** (slope / (10 * fs))  # the fitted decay's ratio from one sample to the next
    return Truncation(index, noise, float(slope), level_at_cut / (1 - q))


def _noise_dominated(noise: float, index: int) -> Truncation:
    """No decay rises 20 dB above the noise: cut after the peak, compensate nothing."""
    return Truncation(max(index, 1), noise, None, 0.0, noise_dominated=True)


def _intervals(e: np.ndarray, win: int, fs: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean square in consecutive intervals, in dB, with the intervals' centre times."""
    m = len(e) // win
    means = e[: m * win].reshape(m, win).mean(axis=1)
    level = 10 * np.log10(np.maximum(means, np.finfo(float).tiny))
    return (np.arange(m) + 0.5) * win / fs, level


def _first_at_or_below(level: np.ndarray, db: float, start: int) -> int:
    """First interval from ``start`` at or below ``db``; ``len(level)`` if none is."""
    hits = np.flatnonzero(level[start:] <= db)
    return start + int(hits[0]) if hits.size else len(level)


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares intercept and slope (closed form: cheaper than polyfit on 100k points)."""
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    slope = float(np.dot(dx, y - ym) / np.dot(dx, dx))
    return ym - slope * xm, slope


def _schroeder(energy: np.ndarray, trunc: Truncation) -> np.ndarray:
    """E(k) = Σ_{i=k}^{cut-1} (e_i − noise) + tail: the backward integral, noise removed.

    Subtracting the noise's mean power removes the noise that lies *before* the
    cut (Chu's method); truncating and adding the fitted tail removes the noise
    after it (Lundeby). With both, a line fitted down to 5 dB above the noise
    finds T within ~1 %; plain truncation, or either half alone, leaves a bend
    that errs by 1.5-4 % on the same decays (tests/unit/test_audio_decay.py).
    """
    w = energy[: trunc.index] - trunc.noise_power
    return np.cumsum(w[::-1])[::-1] + trunc.tail_energy


def _energy_after(curve: np.ndarray, trunc: Truncation, k: int, fs: int) -> float | None:
    """E(k), beyond the cut from the fitted decay; None if there is no decay to extend."""
    if k < len(curve):
        return float(curve[k])
    if trunc.decay_db_per_s is None:
        return None if trunc.noise_power > 0 else 0.0
    q = 10 ** (trunc.decay_db_per_s / (10 * fs))
    return trunc.tail_energy * q ** (k - trunc.index)


def schroeder_db(ir: np.ndarray, fs: int, *, noise: np.ndarray | None = None) -> np.ndarray:
    """The noise-compensated Schroeder curve of a broadband IR, in dB re its start.

    Starts at the onset and stops at the truncation point; for plots and for
    comparing with other tools.
    """
    x = _check_ir(ir, fs)
    energy = x[find_onset(x) :] ** 2
    noise_power = None if noise is None else float(np.mean(_check_noise(noise) ** 2))
    trunc = lundeby(energy, fs, noise_power)
    curve = _schroeder(energy, trunc)
    if curve[0] <= 0:
        raise ValueError("the noise estimate exceeds the impulse response's energy")
    return _level_db(curve / curve[0])


def decay_time(curve_db: np.ndarray, fs: int, start_db: float, stop_db: float) -> float | None:
    """Reverberation time from a least-squares line on a Schroeder curve between two levels.

    The fit runs from the first sample at or below ``start_db`` to the first at
    or below ``stop_db``; the time is the line's −60 dB extrapolation (EDT: 0 to
    −10 dB, T20: −5 to −25, T30: −5 to −35; ISO 3382-1). ``None`` if the curve
    never reaches ``stop_db`` or does not fall.
    """
    c = np.asarray(curve_db, dtype=np.float64)
    below_stop = np.flatnonzero(c <= stop_db)
    if not below_stop.size:
        return None
    i0 = int(np.argmax(c <= start_db))
    i1 = int(below_stop[0])
    if i1 - i0 < 2:
        return None
    _, slope = _line(np.arange(i0, i1 + 1) / fs, c[i0 : i1 + 1])
    return -60.0 / slope if slope < 0 else None


# --- octave bands ----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _octave_filter(fs: int, band_hz: int) -> tuple[np.ndarray, int]:
    """Butterworth octave band-pass (SOS) and how many samples of its response hold ~all energy.

    The second number is both how far before the onset the time-reversed
    filter spreads the direct sound (folded back onto the onset) and how much
    of the band signal's end is spoilt by the filter starting from rest.
    """
    lo, hi = band_hz / math.sqrt(2), band_hz * math.sqrt(2)
    if hi >= fs / 2:
        raise ValueError(
            f"sample rate {fs} Hz is too low for the {band_hz} Hz octave (up to {hi:.0f} Hz)"
        )
    sos = signal.butter(_BUTTER_ORDER, [lo, hi], btype="bandpass", fs=fs, output="sos")
    impulse = np.zeros(max(fs // 2, 1))
    impulse[0] = 1.0
    cum = np.cumsum(signal.sosfilt(sos, impulse) ** 2)
    span = int(np.searchsorted(cum, _FOLD_ENERGY * cum[-1])) + 1
    return sos, span


def _reverse_filter(x: np.ndarray, fs: int, band_hz: int) -> np.ndarray:
    sos, _ = _octave_filter(fs, band_hz)
    return signal.sosfilt(sos, x[::-1])[::-1]


def _band_energy(
    x: np.ndarray, fs: int, band_hz: int, onset: int, noise: np.ndarray | None
) -> tuple[np.ndarray, float | None]:
    """The band's squared IR from the onset (direct sound folded back), and its noise power."""
    _, span = _octave_filter(fs, band_hz)
    # Zeros in front: the reversed filter spreads the direct sound up to `span` samples
    # earlier, and an IR that starts right at the direct sound has no room for that.
    e = _reverse_filter(np.concatenate([np.zeros(span), x]), fs, band_hz) ** 2
    onset += span
    end = len(e) - span  # the last `span` samples lack what the filter would bring from later
    band = e[onset:end].copy()
    band[0] += e[onset - span : onset].sum()
    noise_power = None
    if noise is not None:
        y = _reverse_filter(_check_noise(noise), fs, band_hz)
        y = y[: len(y) - span] if len(y) > 2 * span else y
        noise_power = float(np.mean(y**2))
    return band, noise_power


def octave_band_levels_db(x: np.ndarray, fs: int) -> dict[int, float]:
    """Mean-square level per octave band, dB re full scale (1.0²).

    For the STI's ``snr_db``: the same filters on a speech (or sweep) recording
    and on the room's silence give the per-band speech-to-noise ratio as a
    difference of these levels.
    """
    s = np.asarray(x, dtype=np.float64)
    levels = {}
    for band in OCTAVE_BANDS_HZ:
        _, span = _octave_filter(fs, band)
        y = _reverse_filter(s, fs, band)
        y = y[: len(y) - span] if len(y) > 2 * span else y
        ms = float(np.mean(y**2))
        levels[band] = 10 * math.log10(ms) if ms > 0 else -math.inf
    return levels


# --- speech transmission index ---------------------------------------------------------------


def modulation_transfer(energy: np.ndarray, fs: int, trunc: Truncation | None = None) -> np.ndarray:
    """m(F) = |Σ h² e^(−j2πFt)| / Σ h² at the 14 STI modulation frequencies (IEC 60268-16).

    Over the same noise-compensated energy as the Schroeder curve: the noise
    power is subtracted up to the cut and the fitted exponential tail is added
    beyond it in closed form, so the IR's measurement noise does not pass for
    the room's background noise (that is ``snr_db``'s job).
    """
    e = np.asarray(energy, dtype=np.float64)
    tr = lundeby(e, fs) if trunc is None else trunc
    w = e[: tr.index] - tr.noise_power
    omega = 2 * np.pi * np.asarray(STI_MODULATION_HZ) / fs  # radians per sample
    num = _fourier_sum(w, omega)
    den = float(w.sum()) + tr.tail_energy
    if tr.decay_db_per_s is not None:
        # Σ_{k≥cut} p_cut q^(k−cut) e^(−jωk) = p_cut e^(−jω cut) / (1 − q e^(−jω))
        q = 10 ** (tr.decay_db_per_s / (10 * fs))
        p_cut = tr.tail_energy * (1 - q)
        num = num + p_cut * np.exp(-1j * omega * tr.index) / (1 - q * np.exp(-1j * omega))
    if den <= 0:
        return np.zeros(len(STI_MODULATION_HZ))
    return np.clip(np.abs(num) / den, 0.0, 1.0)


def _fourier_sum(w: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """Σ_k w_k e^(−jωk) for a few ω, exactly, as two small matrix products.

    k = bB + i splits e^(−jωk) into e^(−jωbB) e^(−jωi): 14 × (N/B + B) complex
    exponentials instead of 14 × N, which made this the slowest step (40 ms a
    second of IR on a PC, several times that on the Pi).
    """
    block = 256
    nb = -(-len(w) // block)
    padded = np.zeros(nb * block)
    padded[: len(w)] = w
    inner = padded.reshape(nb, block) @ np.exp(-1j * np.outer(np.arange(block), omega))
    outer = np.exp(-1j * np.outer(np.arange(nb) * block, omega))
    return (inner * outer).sum(axis=0)


def sti_from_mtf(
    mtf: np.ndarray, snr_db: float | Mapping[int, float] | None = None
) -> tuple[float, tuple[float, ...]]:
    """STI and the per-band MTI from a 7 × 14 MTF (IEC 60268-16, indirect method).

    Per band the background noise scales m by 1 / (1 + 10^(−SNR/10)); each m
    becomes an apparent SNR 10 log10(m / (1 − m)), clipped to ±15 dB, and a
    transmission index (SNR + 15) / 30; their mean is the band's MTI; the STI
    is Σ α_k MTI_k − Σ β_k √(MTI_k MTI_k+1) with the male weights.

    Not applied: the standard's auditory masking (upward spread of loud low
    bands) and absolute reception threshold. Both need calibrated sound
    pressure levels, which a digital IR does not carry; both only lower the
    STI, for loud speech or for speech near the threshold of hearing, so this
    STI is the ideal-level value, an upper bound in those cases.
    """
    m = np.asarray(mtf, dtype=np.float64)
    shape = (len(OCTAVE_BANDS_HZ), len(STI_MODULATION_HZ))
    if m.shape != shape:
        raise ValueError(f"MTF must have shape {shape} (bands × modulation frequencies)")
    m = m * _noise_factor(snr_db)[:, None]
    m = np.clip(m, 1e-12, 1 - 1e-12)  # m = 1 is an infinite SNR: clipped to +15 dB anyway
    snr_app = np.clip(10 * np.log10(m / (1 - m)), -15.0, 15.0)
    mti = ((snr_app + 15) / 30).mean(axis=1)
    alpha, beta = np.array(STI_ALPHA_MALE), np.array(STI_BETA_MALE)
    sti = float(alpha @ mti - beta @ np.sqrt(mti[:-1] * mti[1:]))
    return min(max(sti, 0.0), 1.0), tuple(float(v) for v in mti)


def _noise_factor(snr_db: float | Mapping[int, float] | None) -> np.ndarray:
    if snr_db is None:
        return np.ones(len(OCTAVE_BANDS_HZ))
    if isinstance(snr_db, Mapping):
        missing = [b for b in OCTAVE_BANDS_HZ if b not in snr_db]
        if missing:
            raise ValueError(f"snr_db has no value for the octave bands {missing}")
        snr = np.array([float(snr_db[b]) for b in OCTAVE_BANDS_HZ])
    else:
        snr = np.full(len(OCTAVE_BANDS_HZ), float(snr_db))
    return 1 / (1 + 10 ** (-snr / 10))


def sti_qualification(sti: float) -> str:
    """IEC 60268-16 qualification band: A+ (≥ 0.76) down to J (≥ 0.36), U below."""
    for lower, name in _STI_CLASSES:
        if sti >= lower:
            return name
    return "U"
