"""Exponential sine sweep (Farina), synchronised-phase variant, and its deconvolution.

The sweep goes from ``f1`` to ``f2`` at a constant rate per octave. Played
through the room's chain and recorded, it is deconvolved into an impulse
response: the linear response appears at the chain's latency, and each
harmonic n of a distortion appears *before* it, at ``L * ln(n)`` seconds
earlier, so distortion is separated from the linear response in time
(Farina 2000). The synchronised variant (Novak et al. 2015) rounds the sweep
rate so that every harmonic's phase is aligned, which makes those positions
exact. Pure functions: the same code analyses a live capture, a WAV file and
a simulated room.

Harmonic levels are read per frequency (Novak et al.), not from peak heights:
each harmonic's separated response is transformed, and its energy over an
output band is compared with the linear response's energy over the same
output band. A peak-based first try read H3 25 % high, because a harmonic's
response is spread differently in time from the linear one. Comparing at the
same output frequency also cancels a linear filter after the distortion (the
loudspeaker's and the room's response), so a distorting amplifier reads the
same through any room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sweep:
    fs: int
    f1: float
    f2: float
    rate_l: float  # L: seconds per e-fold of frequency
    signal: np.ndarray  # float64, peak = 10 ** (level_dbfs / 20)
    level_dbfs: float

    @property
    def duration_s(self) -> float:
        return len(self.signal) / self.fs

    @property
    def wire_peak(self) -> float:
        """The height of a straight wire's response: a band-limited impulse, B / (fs / 2)."""
        return (self.f2 - self.f1) / (self.fs / 2)

    def harmonic_advance_s(self, n: int) -> float:
        """How much earlier than the linear response harmonic ``n`` appears."""
        return self.rate_l * math.log(n)


def synchronized_sweep(
    f1: float = 20.0, f2: float = 20000.0, duration_s: float = 5.0, fs: int = 48000,
    level_dbfs: float = -18.0, fade_s: float = 0.05,
) -> Sweep:  # fmt: skip
    """The sweep, faded in and out (no click through the room's speakers)."""
    if not 0 < f1 < f2 <= fs / 2:
        raise ValueError(f"need 0 < f1 < f2 <= fs/2, got f1={f1}, f2={f2}, fs={fs}")
    rate_l = round(f1 * duration_s / math.log(f2 / f1)) / f1
    n = round(rate_l * math.log(f2 / f1) * fs)
    t = np.arange(n) / fs
    x = np.sin(2 * np.pi * f1 * rate_l * (np.exp(t / rate_l) - 1))
    fade = min(int(fade_s * fs), n // 4)
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
        x[:fade] *= ramp
        x[-fade:] *= ramp[::-1]
    return Sweep(fs, f1, f2, rate_l, x * 10 ** (level_dbfs / 20), level_dbfs)


def transfer(sweep: Sweep, recorded: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The chain's transfer function on an ``n``-point grid: ``(H(f), f)``.

    Regularised spectral division within the sweep's band (outside it the
    sweep has no energy to divide by), zero elsewhere.
    """
    x_f = np.fft.rfft(sweep.signal, n)
    y_f = np.fft.rfft(np.asarray(recorded, dtype=np.float64), n)
    freqs = np.fft.rfftfreq(n, 1 / sweep.fs)
    power = np.abs(x_f) ** 2
    in_band = (freqs >= sweep.f1) & (freqs <= sweep.f2)
    h_f = np.zeros_like(y_f)
    floor = 1e-6 * power[in_band].max()
    h_f[in_band] = y_f[in_band] * np.conj(x_f[in_band]) / (power[in_band] + floor)
    return h_f, freqs


def fft_length(sweep: Sweep, recorded: np.ndarray) -> int:
    """A power of two that holds the linear deconvolution without wrapping."""
    return 1 << (len(recorded) + len(sweep.signal)).bit_length()


def deconvolve(sweep: Sweep, recorded: np.ndarray) -> np.ndarray:
    """Impulse response of the chain.

    The result has length ``N`` (a power of two); the linear response starts at
    index ``latency``, harmonic n's response at ``latency - L ln(n) fs`` wrapped
    round to the end of the array.
    """
    n = fft_length(sweep, recorded)
    return np.fft.irfft(transfer(sweep, recorded, n)[0], n)


@dataclass(frozen=True)
class Linear:
    latency_s: float
    gain_db: float  # level of the response relative to a straight wire
    peak_index: int


def linear_response(sweep: Sweep, ir: np.ndarray) -> Linear:
    """The linear response's arrival and gain, from the first half of the IR."""
    half = ir[: len(ir) // 2]
    peak = int(np.argmax(np.abs(half)))
    gain = abs(half[peak]) / sweep.wire_peak
    return Linear(peak / sweep.fs, 20 * math.log10(max(gain, 1e-12)), peak)


@dataclass(frozen=True)
class Harmonics:
    """Harmonic levels relative to the fundamental, in per cent of amplitude."""

    levels_pct: dict[int, float]  # harmonic order (2..) -> level
    thd_pct: float
    input_band_hz: tuple[float, float]


def noise_region(sweep: Sweep, peak_index: int, clear_order: int = 8) -> tuple[int, int]:
    """Where the deconvolved IR holds only the capture's noise: ``(start, stop)``, may be < 0.

    Noise convolved with the inverse sweep lands from one sweep length before
    the capture's start onwards; the part before the capture's start (the
    IR's non-causal end, indices wrapping round) holds nothing else but the
    harmonics, which sit at ``peak - L ln(n)``. So the stretch from one sweep
    length back to just before harmonic ``clear_order`` is noise alone.
    Empty (start >= stop) when the sweep is too short for one.
    """
    margin = round(0.05 * sweep.fs)
    start = -len(sweep.signal) + margin
    stop = min(0, peak_index - round(sweep.harmonic_advance_s(clear_order) * sweep.fs)) - margin
    return start, stop


def circular_window(ir: np.ndarray, start: int, length: int) -> np.ndarray:
    """``length`` samples from ``start``, wrapping round the circular IR."""
    return ir[np.arange(start, start + length) % len(ir)]


def harmonics(
    sweep: Sweep, ir: np.ndarray, peak_index: int, *, window_s: float | None = None,
    pre_s: float = 0.001, orders: tuple[int, ...] = (2, 3, 4, 5),
    input_band_hz: tuple[float, float] = (200.0, 2000.0),
) -> Harmonics:  # fmt: skip
    """Levels of harmonics ``orders`` of the path whose linear response peaks at ``peak_index``.

    Every response is cut with the same window (``pre_s`` before its start,
    ``window_s`` long), so each is smoothed alike in frequency. The window must
    be shorter than the gap between neighbouring harmonics, ``L ln((n+1)/n)``;
    by default it is 80 % of the smallest gap. Noise is measured with the same
    window in the IR's noise-only stretch (:func:`noise_region`) and its
    energy subtracted, so a noisy capture does not read as distortion.
    """
    fs = sweep.fs
    top = max(orders)
    gap = sweep.rate_l * math.log((top + 1) / top)
    length = round((window_s if window_s is not None else 0.8 * gap) * fs)
    if length <= 0 or length > gap * fs:
        raise ValueError(f"window_s must be positive and under {gap:.3f} s for harmonic {top}")
    lo, hi = input_band_hz
    if hi * top > sweep.f2 or lo < sweep.f1:
        raise ValueError(
            f"input band {lo:g}-{hi:g} Hz: harmonic {top} must stay within the sweep "
            f"{sweep.f1:g}-{sweep.f2:g} Hz"
        )
    pre = round(pre_s * fs)
    nfft = 1 << max(length - 1, 1).bit_length()
    freqs = np.fft.rfftfreq(nfft, 1 / fs)

    def spectrum(start: int) -> np.ndarray:
        return np.abs(np.fft.rfft(circular_window(ir, start - pre, length + pre), nfft)) ** 2

    linear = spectrum(peak_index)
    # Noise: windows in the IR's noise-only stretch, the ones nearest the
    # harmonics (the deconvolved noise's spectrum changes along the stretch:
    # far back, only part of the sweep overlaps the capture).
    lo_n, hi_n = noise_region(sweep, peak_index, top + 3)
    count = min(8, (hi_n - lo_n) // (length + pre))
    starts = [hi_n - length - k * (length + pre) for k in range(max(count, 0))]
    noise = np.mean([spectrum(int(s)) for s in starts], axis=0) if len(starts) else 0 * linear
    levels: dict[int, float] = {}
    for order in orders:
        start = peak_index - round(sweep.harmonic_advance_s(order) * fs)
        power = spectrum(start)
        band = (freqs >= order * lo) & (freqs <= order * hi)
        h = max(float(np.sum(power[band] - noise[band])), 0.0)
        ref = float(np.sum(linear[band] - noise[band]))
        levels[order] = 100 * math.sqrt(h / ref) if ref > 0 else math.nan
    thd = math.sqrt(sum(v * v for v in levels.values()))
    return Harmonics(levels, thd, input_band_hz)
