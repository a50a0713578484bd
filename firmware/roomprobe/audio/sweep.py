"""Exponential sine sweep (Farina), synchronised-phase variant, and its deconvolution.

The sweep goes from ``f1`` to ``f2`` at a constant rate per octave. Played
through the room's chain and recorded, it is deconvolved into an impulse
response: the linear response appears at the chain's latency, and each
harmonic n of a distortion appears *before* it, at ``L * ln(n)`` seconds
earlier, so distortion is separated from the linear response in time
(Farina 2000). The synchronised variant (Novak et al. 2015) rounds the sweep
rate so that every harmonic's phase is aligned, which makes those positions
exact. Pure functions: the same code analyses a live capture, a WAV file and
a simulated room. (This module is the first slice of the audio probe: the
sweep, the impulse response, latency, gain and SNR. Harmonic levels from the
separated responses come next; a peak-based first try read H3 25 % high, so
it needs the per-frequency method of Novak et al.)
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


def deconvolve(sweep: Sweep, recorded: np.ndarray) -> np.ndarray:
    """Impulse response of the chain: regularised spectral division within the sweep's band.

    The result has length ``N`` (a power of two); the linear response starts at
    index ``latency``, harmonic n's response at ``latency - L ln(n) fs`` wrapped
    round to the end of the array.
    """
    n = 1 << (len(recorded) + len(sweep.signal)).bit_length()
    x_f = np.fft.rfft(sweep.signal, n)
    y_f = np.fft.rfft(np.asarray(recorded, dtype=np.float64), n)
    freqs = np.fft.rfftfreq(n, 1 / sweep.fs)
    power = np.abs(x_f) ** 2
    in_band = (freqs >= sweep.f1) & (freqs <= sweep.f2)
    h_f = np.zeros_like(y_f)
    floor = 1e-6 * power[in_band].max()
    h_f[in_band] = y_f[in_band] * np.conj(x_f[in_band]) / (power[in_band] + floor)
    return np.fft.irfft(h_f, n)


@dataclass(frozen=True)
class Linear:
    latency_s: float
    gain_db: float  # level of the response relative to a straight wire
    peak_index: int


def linear_response(sweep: Sweep, ir: np.ndarray) -> Linear:
    """The linear response's arrival and gain, from the first half of the IR."""
    half = ir[: len(ir) // 2]
    peak = int(np.argmax(np.abs(half)))
    # A straight wire gives a band-limited impulse of height B/(fs/2); normalise by it.
    band = (sweep.f2 - sweep.f1) / (sweep.fs / 2)
    gain = abs(half[peak]) / band
    return Linear(peak / sweep.fs, 20 * math.log10(max(gain, 1e-12)), peak)


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """RMS of the recorded sweep against the RMS of the silence recorded before it."""
    s = float(np.sqrt(np.mean(np.square(signal))))
    q = float(np.sqrt(np.mean(np.square(noise))))
    return 20 * math.log10(s / q) if q > 0 else math.inf
