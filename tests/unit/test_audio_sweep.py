"""The synchronised exponential sweep: latency, gain and harmonics recovered exactly.

A chain with a known delay, gain and memoryless distortion (y = g (x + a2 x^2
+ a3 x^3)) is applied to the sweep in numpy; the analysis must find what was
put in. For a sine of amplitude A, a2 x^2 makes a 2nd harmonic of a2 A / 2
relative to the fundamental, and a3 x^3 a 3rd of a3 A^2 / 4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from roomprobe.audio import sweep as S

FS = 48000


@pytest.fixture(scope="module")
def stimulus() -> S.Sweep:
    return S.synchronized_sweep(duration_s=3.0, fs=FS, level_dbfs=-6.0)


def chain(sw: S.Sweep, delay: int, gain: float, a2: float = 0.0, a3: float = 0.0,
          noise: float = 1e-4, seed: int = 1) -> np.ndarray:  # fmt: skip
    x = sw.signal
    y = gain * (x + a2 * x**2 + a3 * x**3)
    rec = np.concatenate([np.zeros(delay), y, np.zeros(FS // 2)])
    return rec + np.random.default_rng(seed).normal(0, noise, len(rec))


@pytest.mark.parametrize(("delay", "gain"), [(0, 1.0), (480, 0.5), (1234, 0.1), (9600, 2.0)])
def test_latency_and_gain_are_recovered(stimulus: S.Sweep, delay: int, gain: float):
    ir = S.deconvolve(stimulus, chain(stimulus, delay, gain))
    lin = S.linear_response(stimulus, ir)
    assert lin.peak_index == delay
    assert lin.latency_s == pytest.approx(delay / FS)
    assert lin.gain_db == pytest.approx(20 * math.log10(gain), abs=0.5)


def test_harmonics_land_before_the_linear_response_where_the_sweep_puts_them(stimulus):
    """The time separation harmonic analysis will rely on: harmonic n arrives L ln(n) early."""
    delay = 700
    clean = S.deconvolve(stimulus, chain(stimulus, delay, 0.5))
    bent = S.deconvolve(stimulus, chain(stimulus, delay, 0.5, a2=0.2))
    n = len(bent)
    where = (delay - round(stimulus.harmonic_advance_s(2) * FS)) % n
    window = np.arange(where - 200, where + 200) % n
    assert np.abs(bent[window]).max() > 20 * np.abs(clean[window]).max()
    assert S.linear_response(stimulus, bent).peak_index == delay


def test_the_sweep_is_faded_and_at_its_level():
    sw = S.synchronized_sweep(duration_s=2.0, fs=FS, level_dbfs=-18.0)
    assert abs(sw.signal[0]) < 1e-6 and abs(sw.signal[-1]) < 1e-3  # no click
    assert np.max(np.abs(sw.signal)) == pytest.approx(10 ** (-18 / 20), rel=1e-3)
    # synchronised: L is a whole number of periods of f1
    assert (sw.rate_l * sw.f1) == pytest.approx(round(sw.rate_l * sw.f1))


def test_bad_band_is_refused():
    with pytest.raises(ValueError, match="f1"):
        S.synchronized_sweep(f1=100, f2=50)
    with pytest.raises(ValueError, match="fs/2"):
        S.synchronized_sweep(f2=30000, fs=48000)


def test_snr_of_the_sweep_against_the_silence_before_it(stimulus: S.Sweep):
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 1e-3, FS)
    signal = stimulus.signal + rng.normal(0, 1e-3, len(stimulus.signal))
    rms = 10 ** (stimulus.level_dbfs / 20) / math.sqrt(2)
    assert S.snr_db(signal, noise) == pytest.approx(20 * math.log10(rms / 1e-3), abs=0.5)
