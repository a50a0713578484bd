"""Room acoustics from an impulse response, checked against the theory of an exponential decay.

A diffuse room's impulse response is modelled as Gaussian noise under an
energy envelope exp(-13.82 t / T) (amplitude exp(-6.91 t / T)): its Schroeder
curve falls 60 dB in T, so EDT = T20 = T30 = T; its C50 is
10 log10((1 - a) / a) with a = exp(-13.82 * 0.05 / T); its modulation transfer
function is m(F) = 1 / sqrt(1 + (2 pi F T / 13.8)^2) (Houtgast & Steeneken),
from which the test computes the STI itself. The noise carrier makes every
estimate fluctuate a little, so each check runs on several seeds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from roomprobe.audio import decay as D

FS = 48000
SEEDS = (0, 1, 2, 3)
T_VALUES = (0.3, 0.6, 1.2)


def exponential_ir(t60: float, seed: int, noise_db: float | None = None) -> np.ndarray:
    """Noise under an exp decay; ``noise_db``: steady noise re the decay's start (power)."""
    rng = np.random.default_rng(seed)
    n = int(max(1.5 * t60, 0.5) * FS)  # long enough for a noise tail after a -50 dB crossing
    t = np.arange(n) / FS
    h = rng.standard_normal(n) * np.exp(-6.91 * t / t60)
    if noise_db is not None:
        h += rng.standard_normal(n) * 10 ** (noise_db / 20)
    return h


def expected_sti(t60: float, snr_db: float | None = None) -> float:
    """IEC 60268-16 from the closed-form MTF, written out here independently of the module."""
    f = np.array([0.63, 0.8, 1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0, 10.0, 12.5])
    m = 1 / np.sqrt(1 + (2 * np.pi * f * t60 / 13.8) ** 2)
    if snr_db is not None:
        m = m / (1 + 10 ** (-snr_db / 10))
    snr_app = np.clip(10 * np.log10(m / (1 - m)), -15, 15)
    mti = np.full(7, np.mean((snr_app + 15) / 30))  # the same decay in every band
    alpha = [0.085, 0.127, 0.230, 0.233, 0.309, 0.224, 0.173]
    beta = [0.085, 0.078, 0.065, 0.011, 0.047, 0.095]
    return float(np.dot(alpha, mti) - np.dot(beta, np.sqrt(mti[:-1] * mti[1:])))


def naive_schroeder_db(ir: np.ndarray) -> np.ndarray:
    """Backward integration of everything to the end: what the noise handling must beat."""
    e = ir[D.find_onset(ir) :] ** 2
    curve = np.cumsum(e[::-1])[::-1]
    return 10 * np.log10(curve / curve[0])


# --- decay times -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("t60", T_VALUES)
def test_edt_t20_t30_of_an_exponential_decay_are_its_t(t60: float, seed: int):
    r = D.room_decay(exponential_ir(t60, seed), FS, bands=False)
    assert r.edt_s == pytest.approx(t60, rel=0.05)
    assert r.t20_s == pytest.approx(t60, rel=0.05)
    assert r.t30_s == pytest.approx(t60, rel=0.05)
    assert r.limited_by_noise == ()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("t60", T_VALUES)
def test_noise_compensation_keeps_t30_where_naive_integration_bends(t60: float, seed: int):
    """Noise 50 dB under the start: compensated T30 within 10 %, the naive one clearly long."""
    ir = exponential_ir(t60, seed, noise_db=-50)
    r = D.room_decay(ir, FS, bands=False)
    assert r.t30_s == pytest.approx(t60, rel=0.10)
    assert r.t20_s == pytest.approx(t60, rel=0.10)
    assert r.limited_by_noise == ()
    assert D.decay_time(D.schroeder_db(ir, FS), FS, -5, -35) == pytest.approx(r.t30_s)

    naive = D.decay_time(naive_schroeder_db(ir), FS, -5, -35)
    assert naive is not None
    assert naive > 1.03 * t60  # the noise's energy props the bottom of the curve up
    assert abs(naive - t60) > 2 * abs(r.t30_s - t60)


def test_the_compensated_curve_stays_straight_to_5_db_above_the_noise():
    """A fit from -5 to -45 dB, noise at -50: both halves of the compensation are needed.

    On these decays plain truncation leaves T ~1.8 % long on average (the noise
    before the cut props the curve up more than the missing tail pulls it
    down), subtracting the noise without the tail ~1.4 % short, the tail
    without the subtraction ~3.7 % long; with both the mean error is ~0.1 %.
    """
    errors = []
    for t60 in T_VALUES:
        for seed in SEEDS:
            curve = D.schroeder_db(exponential_ir(t60, seed, noise_db=-50), FS)
            assert curve[0] == 0.0 and curve[-1] == pytest.approx(-50, abs=2)  # cut at the noise
            errors.append(D.decay_time(curve, FS, -5, -45) / t60 - 1)
    assert abs(np.mean(errors)) < 0.008
    assert np.max(np.abs(errors)) < 0.02


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("t60", T_VALUES)
def test_lundeby_cuts_where_the_decay_meets_the_noise(t60: float, seed: int):
    noise_power = 10 ** (-50 / 10)
    ir = exponential_ir(t60, seed, noise_db=-50)
    tr = D.lundeby(ir**2, FS)
    assert tr.noise_power == pytest.approx(noise_power, rel=0.10)
    assert tr.index / FS == pytest.approx(t60 * 50 / 60, rel=0.05)  # envelope = noise there
    assert tr.decay_db_per_s == pytest.approx(-60 / t60, rel=0.10)
    # the fitted tail beyond the cut: noise power x the decay's time constant T / 13.8
    assert tr.tail_energy == pytest.approx(noise_power * FS * t60 / 13.82, rel=0.15)


def test_a_separately_measured_noise_replaces_the_tail_estimate():
    ir = exponential_ir(0.6, 7, noise_db=-50)
    silence = np.random.default_rng(99).standard_normal(FS) * 10 ** (-50 / 20)
    r = D.room_decay(ir, FS, noise=silence)
    assert r.t30_s == pytest.approx(0.6, rel=0.10)
    assert r.bands[1000].t30_s == pytest.approx(0.6, rel=0.10)
    assert D.lundeby(ir**2, FS, noise_power=1e-5).noise_power == 1e-5


@pytest.mark.parametrize("seed", SEEDS)
def test_a_noisy_ir_withholds_t20_and_t30_and_says_why(seed: int):
    """Noise 30 dB under the start: 30 dB of decay, short of T30's 45 and T20's 35."""
    r = D.room_decay(exponential_ir(0.6, seed, noise_db=-30), FS)
    assert r.t30_s is None and r.t20_s is None
    assert "t30" in r.limited_by_noise and "t20" in r.limited_by_noise
    assert r.dynamic_range_db == pytest.approx(30, abs=3)
    assert r.edt_s == pytest.approx(0.6, rel=0.10)  # needs only 20 dB: still there
    assert r.to_dict()["t30_s"] is None


def test_a_decay_drowned_in_noise_gives_no_figures_at_all():
    r = D.room_decay(exponential_ir(0.6, 3, noise_db=-5), FS)
    assert (r.edt_s, r.t20_s, r.t30_s, r.c50_db, r.d50, r.sti) == (None,) * 6
    assert {"edt", "t20", "t30", "c50", "sti"} <= set(r.limited_by_noise)
    json.dumps(r.to_dict(), allow_nan=False)


@pytest.mark.parametrize("t60", (0.1, 0.3, 1.0))
def test_octave_filtering_neither_shortens_nor_lengthens_decays(t60: float):
    """A tone at each band centre under one exact exp decay: every band must find that T.

    Deterministic (no noise carrier), so the tolerance is tight; 0.1 s at
    125 Hz is a bandwidth x T of 9, where forward filtering starts to distort.
    """
    t = np.arange(FS) / FS
    tones = sum(np.sin(2 * np.pi * f * t + f) for f in D.OCTAVE_BANDS_HZ)
    r = D.room_decay(np.exp(-6.91 * t / t60) * tones, FS)
    assert set(r.bands) == set(D.OCTAVE_BANDS_HZ)
    for band, d in r.bands.items():
        assert d.t30_s == pytest.approx(t60, rel=0.03), band
        assert d.t20_s == pytest.approx(t60, rel=0.03), band
        assert d.edt_s == pytest.approx(t60, rel=0.06), band


def test_octave_band_decay_times_of_a_noise_decay():
    """High bands hold many degrees of freedom: each seed; low bands: the mean over seeds."""
    t60 = 0.6
    results = [D.room_decay(exponential_ir(t60, seed), FS) for seed in SEEDS]
    for band in D.OCTAVE_BANDS_HZ:
        t30 = [r.bands[band].t30_s for r in results]
        assert np.mean(t30) == pytest.approx(t60, rel=0.08), band
        if band >= 1000:
            assert t30 == pytest.approx([t60] * len(SEEDS), rel=0.08), band


# --- clarity -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("t60", T_VALUES)
def test_c50_and_d50_match_the_closed_form(t60: float, seed: int):
    late = math.exp(-13.82 * 0.05 / t60)  # share of the energy after 50 ms
    r = D.room_decay(exponential_ir(t60, seed), FS, bands=False)
    assert r.c50_db == pytest.approx(10 * math.log10((1 - late) / late), abs=0.3)
    assert r.d50 == pytest.approx(1 - late, abs=0.02)


# --- STI -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("t60", T_VALUES)
def test_modulation_transfer_of_an_exponential_decay(t60: float):
    f = np.array(D.STI_MODULATION_HZ)
    expected = 1 / np.sqrt(1 + (2 * np.pi * f * t60 / 13.8) ** 2)
    for seed in SEEDS:
        m = D.modulation_transfer(exponential_ir(t60, seed) ** 2, FS)
        np.testing.assert_allclose(m, expected, atol=0.03)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("t60", T_VALUES)
def test_sti_of_an_exponential_decay_matches_the_closed_form(t60: float, seed: int):
    r = D.room_decay(exponential_ir(t60, seed), FS)
    assert r.sti == pytest.approx(expected_sti(t60), abs=0.02)
    assert all(d.mti is not None for d in r.bands.values())


@pytest.mark.parametrize("seed", SEEDS)
def test_background_noise_lowers_the_sti_as_the_standard_says(seed: int):
    ir = exponential_ir(0.6, seed)
    quiet = D.room_decay(ir, FS).sti
    assert quiet is not None
    at_15 = D.room_decay(ir, FS, snr_db=15).sti
    at_3 = D.room_decay(ir, FS, snr_db=3).sti
    assert at_15 is not None and at_3 is not None
    assert quiet > at_15 > at_3
    assert at_15 == pytest.approx(expected_sti(0.6, 15), abs=0.02)
    assert at_3 == pytest.approx(expected_sti(0.6, 3), abs=0.02)
    # noise in the most important band (2 kHz) alone costs less than noise in every band
    one_band = {b: (3.0 if b == 2000 else 60.0) for b in D.OCTAVE_BANDS_HZ}
    assert at_3 < D.room_decay(ir, FS, snr_db=one_band).sti < quiet


@pytest.mark.parametrize("seed", SEEDS)
def test_measurement_noise_in_the_ir_is_not_taken_for_background_noise(seed: int):
    """The IR's noise tail is removed (Lundeby); the listener's noise comes only via snr_db."""
    clean = D.room_decay(exponential_ir(0.6, seed), FS).sti
    noisy = D.room_decay(exponential_ir(0.6, seed, noise_db=-50), FS).sti
    assert noisy == pytest.approx(clean, abs=0.01)


@pytest.mark.parametrize("position", (0, 480))
def test_a_dirac_is_perfectly_intelligible(position: int):
    ir = np.zeros(FS)
    ir[position] = 1.0
    r = D.room_decay(ir, FS)
    assert r.sti is not None and r.sti >= 0.99
    assert r.sti_class == "A+"
    assert r.d50 == 1.0 and r.c50_db == math.inf
    json.dumps(r.to_dict(), allow_nan=False)  # inf and -inf become null


def test_sti_qualification_bands():
    cases = {
        1.0: "A+", 0.76: "A+", 0.759: "A", 0.72: "A", 0.70: "B", 0.66: "C", 0.62: "D",
        0.58: "E", 0.54: "F", 0.50: "G", 0.46: "H", 0.42: "I", 0.38: "J", 0.36: "J",
        0.359: "U", 0.0: "U",
    }  # fmt: skip
    for sti, expected in cases.items():
        assert D.sti_qualification(sti) == expected, sti


def test_sti_needs_every_band_and_a_seven_by_fourteen_mtf():
    with pytest.raises(ValueError, match="shape"):
        D.sti_from_mtf(np.ones((7, 13)))
    with pytest.raises(ValueError, match="octave bands"):
        D.sti_from_mtf(np.ones((7, 14)), {1000: 10.0})
    assert D.sti_from_mtf(np.ones((7, 14)))[0] == pytest.approx(1.0)
    assert D.sti_from_mtf(np.zeros((7, 14)))[0] == pytest.approx(0.0)


# --- refusals, output, helpers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ir", "message"),
    [
        (np.zeros(FS), "all zeros"),
        (np.ones(FS // 100), "too short"),
        (np.concatenate([np.zeros(FS), [1.0], np.zeros(100)]), "too short"),
        (np.ones((2, FS)), "1-D"),
        (np.array([]), "empty"),
        (np.concatenate([[1.0, np.nan], np.zeros(FS)]), "NaN"),
    ],
)
def test_unusable_irs_are_refused_with_a_reason(ir: np.ndarray, message: str):
    with pytest.raises(ValueError, match=message):
        D.room_decay(ir, FS)


def test_too_low_a_sample_rate_for_the_8k_band_is_refused():
    ir = exponential_ir(0.3, 0)[:16000]
    with pytest.raises(ValueError, match="8000 Hz octave"):
        D.room_decay(ir, 16000)
    assert D.room_decay(ir, 16000, bands=False).t30_s is not None


def test_to_dict_is_rounded_json():
    r = D.room_decay(exponential_ir(0.6, 0, noise_db=-50), FS)
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert set(d["bands"]) == {str(b) for b in D.OCTAVE_BANDS_HZ}
    assert d["t30_s"] == round(r.t30_s, 3) and d["sti"] == round(r.sti, 2)
    assert d["sti_class"] == D.sti_qualification(r.sti)
    assert d["bands"]["1000"]["mti"] == round(r.bands[1000].mti, 3)
    assert d["noise_floor_db"] < -50  # the peak of the squared IR lies above its start level


def test_octave_band_levels_of_white_noise_rise_3_db_per_octave():
    """Each octave is twice as wide as the one below: the helper behind snr_db."""
    levels = D.octave_band_levels_db(np.random.default_rng(0).standard_normal(10 * FS), FS)
    steps = np.diff([levels[b] for b in D.OCTAVE_BANDS_HZ])
    np.testing.assert_allclose(steps, 10 * math.log10(2), atol=0.4)  # 125 Hz: ±0.15 dB
