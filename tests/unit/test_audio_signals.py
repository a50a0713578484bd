"""The test signals have the physics they claim: spectra, levels, growth and rhythm.

Every check is a property of the thing modelled (pink noise loses 3 dB per
octave, a ground loop puts energy at the mains frequency and its odd
harmonics, speech is modulated at the syllable rate), measured the way an
acoustician would, not a stored array.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal as sps

from roomprobe.audio import signals as S

FS = 48000


def rms_db(x: np.ndarray) -> float:
    return 20 * math.log10(float(np.sqrt(np.mean(x**2))))


def tone_rms_db(x: np.ndarray, f: float, fs: int = FS) -> float:
    """RMS level of the component at ``f`` (Hann window, amplitude-corrected, ±2 bins)."""
    w = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * w)) * 2 / w.sum()
    freqs = np.fft.rfftfreq(len(x), 1 / fs)
    k = int(np.argmin(np.abs(freqs - f)))
    return 20 * math.log10(spec[k - 2 : k + 3].max() / math.sqrt(2))


def test_white_noise_is_flat_at_its_level():
    x = S.white_noise(FS * 2, seed=1, level_dbfs=-30.0)
    assert rms_db(x) == pytest.approx(-30.0, abs=1e-9)
    f, p = sps.welch(x, FS, nperseg=4096)
    band = (f > 100) & (f < 20000)
    slope = np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0]
    assert abs(slope) < 0.3


def test_pink_noise_falls_3_db_per_octave_at_its_level():
    x = S.pink_noise(FS * 4, seed=2, level_dbfs=-20.0)
    assert x.dtype == np.float64
    assert rms_db(x) == pytest.approx(-20.0, abs=1e-9)
    f, p = sps.welch(x, FS, nperseg=8192)
    band = (f > 100) & (f < 10000)
    slope = np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0]
    assert slope == pytest.approx(-3.01, abs=0.3)


def test_generators_are_deterministic_for_a_seed():
    assert np.array_equal(S.pink_noise(1000, 5, -20), S.pink_noise(1000, 5, -20))
    assert not np.array_equal(S.pink_noise(1000, 5, -20), S.pink_noise(1000, 6, -20))
    assert np.array_equal(S.white_noise(1000, 5, -20), S.white_noise(1000, 5, -20))
    assert np.array_equal(S.speech_like(1.0, FS, 3), S.speech_like(1.0, FS, 3))
    assert not np.array_equal(S.speech_like(1.0, FS, 3), S.speech_like(1.0, FS, 4))


def test_hum_has_the_fundamental_at_its_level_and_the_harmonics_below_it():
    x = S.hum(FS * 2, FS, level_dbfs=-40.0)
    assert tone_rms_db(x, 50) == pytest.approx(-40.0, abs=0.2)
    assert tone_rms_db(x, 100) == pytest.approx(-52.0, abs=0.2)
    assert tone_rms_db(x, 150) == pytest.approx(-46.0, abs=0.2)
    assert tone_rms_db(x, 250) == pytest.approx(-55.0, abs=0.2)
    assert tone_rms_db(x, 200) < -100  # no 4th harmonic in the default set


def test_hum_at_60_hz_with_chosen_harmonics():
    x = S.hum(FS, FS, -30.0, mains_hz=60.0, harmonics={3: -3.0})
    assert tone_rms_db(x, 60) == pytest.approx(-30.0, abs=0.2)
    assert tone_rms_db(x, 180) == pytest.approx(-33.0, abs=0.2)
    assert tone_rms_db(x, 120) < -100


def test_howl_is_silent_before_onset_grows_then_holds_its_level():
    onset, growth = 0.5, 0.3
    x = S.howl(FS * 2, FS, 2500.0, -20.0, onset_s=onset, growth_s=growth)
    i0 = int(onset * FS)
    assert not x[:i0].any()
    early = rms_db(x[i0 : i0 + int(0.05 * FS)])
    mid = rms_db(x[i0 + int(0.15 * FS) : i0 + int(0.2 * FS)])
    steady = x[i0 + int(growth * FS) + 100 :]
    assert early < mid - 20 < rms_db(steady) - 40  # exponential growth: straight in dB
    assert rms_db(steady) == pytest.approx(-20.0, abs=0.1)
    f, p = sps.periodogram(steady, FS)
    assert abs(f[np.argmax(p)] - 2500.0) <= 1.0  # the wobble is only ±0.5 Hz


def _modulation_peak_hz(x: np.ndarray) -> float:
    """Peak of the intensity envelope's modulation spectrum in 1/3-octave bands (as for STI)."""
    env = sps.resample_poly(x**2, 1, 480)  # intensity at 100 Hz
    power = np.abs(np.fft.rfft(env - env.mean())) ** 2
    f = np.fft.rfftfreq(len(env), 1 / 100)
    centres = 0.5 * 2 ** (np.arange(16) / 3)  # 0.5 ... 16 Hz
    bands = [power[(f >= c * 2 ** (-1 / 6)) & (f < c * 2 ** (1 / 6))].sum() for c in centres]
    return float(centres[int(np.argmax(bands))])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_speech_is_modulated_at_the_syllable_rate_at_its_level(seed: int):
    x = S.speech_like(8.0, FS, seed, level_dbfs=-30.0)
    assert len(x) == 8 * FS
    assert 2.0 <= _modulation_peak_hz(x) <= 8.0
    active = x != 0  # pauses between phrases are silent
    assert rms_db(x[active]) == pytest.approx(-30.0, abs=0.01)
    assert 0.4 < active.mean() < 0.9  # there are pauses, and they do not dominate


def test_speech_has_pauses_between_phrases():
    x = S.speech_like(8.0, FS, 7)
    silent = np.concatenate([[False], x == 0, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(silent))
    runs = (edges[1::2] - edges[::2]) / FS
    assert (runs >= 0.2).sum() >= 2


def test_speech_pitch_and_formants_are_those_of_a_voice():
    x = S.speech_like(6.0, FS, 11)
    f, p = sps.welch(x, FS, nperseg=8192)
    # Most energy between the pitch and the top formant; almost none above 8 kHz.
    total = p.sum()
    assert p[(f >= 90) & (f <= 4000)].sum() > 0.8 * total
    assert p[f > 8000].sum() < 0.02 * total
    # The pitch of a loud voiced frame, by autocorrelation, is within 100-220 Hz.
    frame = 2048
    energies = [np.sum(x[i : i + frame] ** 2) for i in range(0, len(x) - frame, frame)]
    i = int(np.argmax(energies)) * frame
    seg = x[i : i + frame] * np.hanning(frame)
    ac = np.correlate(seg, seg, "full")[frame - 1 :]
    lo, hi = FS // 230, FS // 95
    f0 = FS / (lo + int(np.argmax(ac[lo:hi])))
    assert 95 <= f0 <= 230


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError, match="freq_hz"):
        S.howl(100, FS, 30000.0, -20.0)
    with pytest.raises(ValueError, match="seconds"):
        S.speech_like(-1.0, FS, 0)
    with pytest.raises(ValueError, match="mains_hz"):
        S.hum(100, FS, -40.0, mains_hz=0.0)
