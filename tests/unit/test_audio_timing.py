"""The loopback reference: where the sweep starts in a capture, and the clocks' drift.

A drifting interface is modelled exactly: the sweep is evaluated from its
closed form at the playback times each capture sample corresponds to,
``(i - offset) / (1 + drift)``, so no resampler's error enters the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from roomprobe.audio import sweep as S
from roomprobe.audio import timing as T

FS = 48000


@pytest.fixture(scope="module")
def sw() -> S.Sweep:
    return S.synchronized_sweep(duration_s=4.0, fs=FS, level_dbfs=-12.0)


def captured(sw: S.Sweep, offset: float, ppm: float, noise: float = 1e-4, seed: int = 0):
    ratio = 1 + ppm * 1e-6
    m = int(offset + len(sw.signal) * ratio) + FS // 2
    t = (np.arange(m) - offset) / ratio / FS
    inside = (t >= 0) & (t < sw.duration_s)
    phase = 2 * np.pi * sw.f1 * sw.rate_l * (np.exp(np.where(inside, t, 0) / sw.rate_l) - 1)
    x = np.where(inside, np.sin(phase), 0.0) * 10 ** (sw.level_dbfs / 20)
    return x + np.random.default_rng(seed).normal(0, noise, m)


@pytest.mark.parametrize("ppm", [0.0, 35.0, -80.0, 250.0])
@pytest.mark.parametrize("offset", [480.0, 20123.4])
def test_start_and_drift_are_found(sw: S.Sweep, ppm: float, offset: float):
    t = T.reference_timing(sw, captured(sw, offset, ppm))
    assert t.present and t.share > 0.9
    assert t.drift_ppm == pytest.approx(ppm, abs=1.0)
    assert t.start_index == pytest.approx(offset, abs=0.5)


def test_correcting_the_drift_sharpens_the_response(sw: S.Sweep):
    rec = captured(sw, 1000.0, 150.0)
    t = T.reference_timing(sw, rec)
    fixed = T.correct_drift(rec, t.drift_ppm)
    after = T.reference_timing(sw, fixed)
    assert abs(after.drift_ppm) < 2.0
    assert after.start_index == pytest.approx(1000.0 / 1.00015, abs=1.0)
    # Corrected, the response is as sharp as without drift; uncorrected it is not.
    clean = np.abs(S.deconvolve(sw, captured(sw, 1000.0 / 1.00015, 0.0))).max()
    assert np.abs(S.deconvolve(sw, fixed)).max() == pytest.approx(clean, rel=0.01)
    assert np.abs(S.deconvolve(sw, rec)).max() < 0.97 * clean


def test_stereo_capture_is_resampled_per_channel(sw: S.Sweep):
    rec = captured(sw, 100.0, 100.0)
    both = np.stack([rec, rec * 0.5], axis=1)
    fixed = T.correct_drift(both, 100.0)
    assert fixed.shape[1] == 2
    assert fixed.shape[0] == round(len(rec) / 1.0001)
    np.testing.assert_allclose(fixed[:, 1], 0.5 * fixed[:, 0], atol=1e-9)


def test_no_reference_wire_is_reported_not_guessed(sw: S.Sweep):
    noise = np.random.default_rng(5).normal(0, 1e-3, len(sw.signal) + FS)
    t = T.reference_timing(sw, noise)
    assert not t.present
    assert t.share < T.REFERENCE_MIN_SHARE


def test_small_drift_is_left_alone_and_absurd_drift_refused():
    x = np.arange(10.0)
    assert T.correct_drift(x, 0.1) is x
    with pytest.raises(ValueError, match="ppm"):
        T.correct_drift(x, 5000.0)
