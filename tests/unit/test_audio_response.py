"""1/3-octave band levels of a response, and its comparison with a reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from roomprobe.audio import response as R

FS = 48000


def impulse(n: int = 8192) -> np.ndarray:
    x = np.zeros(n)
    x[0] = 1.0
    return x


def test_a_wire_is_flat_at_zero_db():
    levels = R.band_levels(impulse(), FS)
    assert set(levels) >= {100, 1000, 10000}
    assert all(abs(v) < 1e-6 for v in levels.values())


def test_gain_and_filter_show_in_the_right_bands():
    sos = signal.butter(4, 2000, "lowpass", fs=FS, output="sos")
    ir = 0.5 * signal.sosfilt(sos, impulse())
    levels = R.band_levels(ir, FS)
    assert levels[250] == pytest.approx(20 * math.log10(0.5), abs=0.1)
    assert levels[8000] < levels[250] - 40  # 4th order: 24 dB/octave, two octaves up


def test_a_notch_is_a_change_of_shape_and_a_volume_change_is_not():
    ref = R.band_levels(impulse(), FS)
    quieter = R.band_levels(0.25 * impulse(), FS)
    dev = R.compare(quieter, ref)
    assert dev.offset_db == pytest.approx(-12.04, abs=0.05)
    assert abs(dev.max_db) < 0.01
    b, a = signal.iirpeak(2500, 3, fs=FS)  # a resonance; 1 - it is a notch at 2.5 kHz
    notched = impulse() - signal.lfilter(b, a, impulse())
    dev = R.compare(R.band_levels(notched, FS), ref)
    assert dev.worst_hz == 2500
    assert dev.max_db < -6  # a deep but narrow notch, power-averaged over a third of an octave
    assert abs(dev.offset_db) < 1.0


def test_short_windows_skip_bands_they_cannot_resolve():
    levels = R.band_levels(impulse(96), FS)  # 2 ms: bins 500 Hz apart
    assert 100 not in levels and 4000 in levels


def test_nothing_in_common_is_an_error():
    with pytest.raises(ValueError, match="no band in common"):
        R.compare({100.0: 0.0}, {200.0: 0.0})


def test_nominal_labels_map_to_base_ten_centres():
    assert R.exact_centre(1000) == 1000
    assert R.exact_centre(31.5) == pytest.approx(31.62, abs=0.01)
    assert R.exact_centre(16000) == pytest.approx(15849, abs=1)
