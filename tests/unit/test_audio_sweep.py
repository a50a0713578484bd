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


def _fundamental_relative(a2: float, a3: float, amp: float) -> tuple[float, float]:
    """Closed-form H2 and H3 (per cent) of y = x + a2 x^2 + a3 x^3 for a sine of amplitude amp.

    a3 also adds 3/4 a3 amp^3 to the fundamental, which the ratio must include.
    """
    fundamental = amp + 0.75 * a3 * amp**3
    return 100 * a2 * amp**2 / 2 / fundamental, 100 * a3 * amp**3 / 4 / fundamental


@pytest.mark.parametrize(("a2", "a3"), [(0.2, 0.0), (0.0, 0.3), (0.1, 0.1), (0.02, 0.05)])
def test_harmonic_levels_match_the_closed_form(stimulus: S.Sweep, a2: float, a3: float):
    ir = S.deconvolve(stimulus, chain(stimulus, 700, 0.5, a2=a2, a3=a3))
    lin = S.linear_response(stimulus, ir)
    h = S.harmonics(stimulus, ir, lin.peak_index)
    amp = 10 ** (stimulus.level_dbfs / 20)
    h2, h3 = _fundamental_relative(a2, a3, amp)
    assert h.levels_pct[2] == pytest.approx(h2, rel=0.03, abs=0.03)
    assert h.levels_pct[3] == pytest.approx(h3, rel=0.03, abs=0.03)
    assert h.levels_pct[4] < 0.05 and h.levels_pct[5] < 0.05
    assert h.thd_pct == pytest.approx(math.hypot(h2, h3), rel=0.03, abs=0.03)


def test_a_filter_after_the_distortion_does_not_change_the_reading(stimulus: S.Sweep):
    """The loudspeaker and the room filter the amplifier's distortion products too."""
    from scipy import signal

    sos = signal.butter(2, [100, 8000], "bandpass", fs=FS, output="sos")
    bent = chain(stimulus, 700, 0.5, a3=0.3, noise=0.0)
    filtered = signal.sosfilt(sos, bent)
    readings = []
    for rec in (bent, filtered):
        ir = S.deconvolve(stimulus, rec)
        readings.append(S.harmonics(stimulus, ir, S.linear_response(stimulus, ir).peak_index))
    assert readings[1].levels_pct[3] == pytest.approx(readings[0].levels_pct[3], rel=0.02)


@pytest.mark.parametrize("seed", range(4))
def test_noise_is_not_read_as_distortion(stimulus: S.Sweep, seed: int):
    ir = S.deconvolve(stimulus, chain(stimulus, 700, 0.5, noise=3e-3, seed=seed))
    h = S.harmonics(stimulus, ir, S.linear_response(stimulus, ir).peak_index)
    assert h.thd_pct < 0.3


def test_harmonic_window_and_band_are_checked(stimulus: S.Sweep):
    ir = S.deconvolve(stimulus, chain(stimulus, 700, 0.5))
    with pytest.raises(ValueError, match="window_s"):
        S.harmonics(stimulus, ir, 700, window_s=5.0)
    with pytest.raises(ValueError, match="harmonic 5"):
        S.harmonics(stimulus, ir, 700, input_band_hz=(200.0, 8000.0))
