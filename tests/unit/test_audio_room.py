"""The simulated room obeys the physics it claims, and Room.truth() tells what is in a render.

Arrivals are found by cross-correlating the return with the reference (as
REW does), decay by Schroeder backward integration (ISO 3382), levels by
comparing renders that differ in one fault. A noiseless room driven by a
single impulse gives the chain's impulse response directly, so the room's
structure (direct sounds, tail) can be inspected without any estimator.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from roomprobe.audio import room as R
from roomprobe.audio import signals as S

FS = 48000
OFF_S = 0.2
OFF = int(OFF_S * FS)
QUIET = R.Room(ambient_dbfs=-300.0, electronic_noise_dbfs=-300.0)


def both(x: np.ndarray) -> np.ndarray:
    return np.stack([x, x], axis=1)


def noise_stimulus(seconds: float = 1.0, seed: int = 1) -> np.ndarray:
    return both(S.white_noise(int(seconds * FS), seed, -20.0))


def xcorr(ret: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Cross-correlation at lags >= 0 (return later than reference), normalised by ref energy."""
    n = 1 << (len(ret) + len(ref)).bit_length()
    c = np.fft.irfft(np.fft.rfft(ret, n) * np.conj(np.fft.rfft(ref, n)), n)
    return c[: len(ret)] / np.sum(ref**2)


def impulse_response(room: R.Room, seconds: float = 0.05) -> np.ndarray:
    """Return channel of a noiseless room after a unit impulse, from the moment it is played."""
    played = np.zeros((int(seconds * FS), 2))
    played[0] = 1.0
    return room.render(played, seed=0, start_offset_s=OFF_S)[OFF:, 0]


def rms_db(x: np.ndarray) -> float:
    return 20 * math.log10(float(np.sqrt(np.mean(x**2))))


def tone_rms_db(x: np.ndarray, f: float) -> float:
    w = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * w)) * 2 / w.sum()
    k = round(f * len(x) / FS)
    return 20 * math.log10(spec[k - 2 : k + 3].max() / math.sqrt(2))


def gain_at_db(h: np.ndarray, f: float) -> float:
    n = 1 << 16
    return 20 * math.log10(abs(np.fft.rfft(h, n)[round(f * n / FS)]))


# -- shape, determinism, the reference channel ---------------------------------------


def test_capture_has_pre_roll_and_tail_and_is_deterministic():
    room = R.Room()
    played = noise_stimulus(0.5)
    cap = room.render(played, seed=4, start_offset_s=0.2, tail_s=0.3)
    assert cap.shape == (int(0.2 * FS) + len(played) + int(0.3 * FS), 2)
    assert cap.dtype == np.float64
    assert np.array_equal(cap, room.render(played, seed=4, start_offset_s=0.2, tail_s=0.3))
    assert not np.array_equal(cap, room.render(played, seed=5, start_offset_s=0.2, tail_s=0.3))
    # Before playback only noise; the reference is the played signal plus electronic noise.
    assert rms_db(cap[: OFF - 10, 1]) == pytest.approx(room.electronic_noise_dbfs, abs=0.5)
    ref_err = cap[OFF : OFF + len(played), 1] - played[:, 1]
    assert rms_db(ref_err) == pytest.approx(room.electronic_noise_dbfs, abs=0.5)


def test_unplugged_reference_carries_only_noise():
    room = R.Room(reference_present=False)
    cap = room.render(noise_stimulus(0.5), seed=1)
    assert rms_db(cap[:, 1]) == pytest.approx(room.electronic_noise_dbfs, abs=0.5)


def test_capture_clips_like_an_adc():
    room = R.Room(mixer_gain_db=20.0)
    cap = room.render(both(S.white_noise(FS // 2, 1, -6.0)), seed=1)
    assert np.abs(cap).max() == 1.0
    assert (np.abs(cap[:, 0]) == 1.0).sum() > 100


# -- arrivals --------------------------------------------------------------------------


@pytest.mark.parametrize("extra_ms", [0.0, 3.3, 12.0])
def test_electrical_arrival_is_where_truth_says(extra_ms: float):
    room = R.Room().with_faults(extra_latency_ms=extra_ms)
    cap = room.render(noise_stimulus(), seed=2)
    lag = int(np.argmax(np.abs(xcorr(cap[:, 0], cap[:, 1]))))
    truth = room.truth()
    assert truth.electrical_latency_s == pytest.approx((0.5 + extra_ms) / 1000)
    assert abs(lag - truth.electrical_latency_s * FS) <= 1


def test_acoustic_direct_sounds_arrive_after_distance_over_speed_of_sound():
    room = R.Room(speaker_distances_m=(4.0, 6.5, 9.0))
    truth = room.truth()
    cap = room.render(noise_stimulus(), seed=3)
    c = np.abs(xcorr(cap[:, 0], cap[:, 1]))
    electrical = int(np.argmax(c))
    found = []
    for t in truth.speaker_arrivals_s:
        k = round(t * FS)
        local = k - 5 + int(np.argmax(c[k - 5 : k + 6]))
        assert c[local] > 10 * np.median(c[k + 300 : k + 3000])  # a real peak, not the tail
        assert abs(local - t * FS) <= 1
        found.append(local)
    # The acoustic path goes through the mixer twice (to the amp, then mic to record out).
    for d, k in zip(room.speaker_distances_m, found, strict=True):
        expected = d / 343.0 + room.mixer_latency_ms / 1000
        assert abs((k - electrical) / FS - expected) <= 1.5 / FS
    assert truth.acoustic_latency_s == truth.speaker_arrivals_s[0]


def test_dead_speaker_removes_its_arrival():
    full = impulse_response(QUIET)
    dead = impulse_response(QUIET.with_faults(dead_speaker=1))
    t_all = QUIET.truth().speaker_arrivals_s
    t_dead = QUIET.with_faults(dead_speaker=1).truth().speaker_arrivals_s
    assert t_dead == t_all[:1]
    k = round(t_all[1] * FS)
    near = slice(k - 3, k + 4)
    assert np.abs(full[near]).max() > 10 * np.abs(dead[near]).max()
    # The other speaker's direct sound is untouched.
    k0 = round(t_all[0] * FS)
    assert np.allclose(full[k0 - 3 : k0 + 4], dead[k0 - 3 : k0 + 4], rtol=1e-9, atol=1e-12)


def test_dead_nearest_speaker_moves_the_first_arrival_to_the_next():
    truth = R.Room().with_faults(dead_speaker=0).truth()
    assert truth.acoustic_latency_s == pytest.approx(0.5e-3 + 6.5 / 343 + 0.5e-3)
    # 1/r: the far speaker is 20 log10(6.5 / 4) dB below where the near one was.
    assert truth.acoustic_gain_db == pytest.approx(-10.0 - 20 * math.log10(6.5 / 4))


@pytest.mark.parametrize("room", [R.Room().with_faults(dead_mic=True), R.Room(mic_in_return=False)])
def test_no_microphones_no_acoustic_arrival_no_ambient(room: R.Room):
    truth = room.truth()
    assert truth.acoustic_latency_s is None and truth.speaker_arrivals_s == ()
    assert truth.acoustic_gain_db is None and truth.rt60_s is None
    cap = room.render(noise_stimulus(), seed=3)
    c = np.abs(xcorr(cap[:, 0], cap[:, 1]))
    k = round(R.Room().truth().acoustic_latency_s * FS)
    assert c[k - 5 : k + 6].max() < 0.01  # the live room has a -10 dB (0.3) peak here
    idle = room.ambient(1.0, seed=1, talkers_from_s=0.0)
    assert rms_db(idle[:, 0]) == pytest.approx(room.electronic_noise_dbfs, abs=0.5)


def test_live_room_ambient_is_pink_at_its_level_on_the_return_only():
    room = R.Room()
    idle = room.ambient(2.0, seed=1)
    assert idle.shape == (2 * FS, 2)
    # ambient and electronic noise add in power
    expected = 10 * math.log10(10 ** (-6.2) + 10 ** (-9.2))
    assert rms_db(idle[:, 0]) == pytest.approx(expected, abs=0.3)
    assert rms_db(idle[:, 1]) == pytest.approx(room.electronic_noise_dbfs, abs=0.5)


# -- levels ---------------------------------------------------------------------------


def test_electrical_and_acoustic_gains_match_truth():
    room = QUIET
    h = impulse_response(room)
    truth = room.truth()
    ke = round(truth.electrical_latency_s * FS)
    assert 20 * math.log10(abs(h[ke])) == pytest.approx(truth.electrical_gain_db, abs=1e-6)
    # Direct sound, cut before the first reflection (>= 1 m later), read at 1 kHz.
    ka = truth.acoustic_latency_s * FS
    direct = h[int(ka) - 48 : int(ka) + 130]
    assert gain_at_db(direct, 1000) == pytest.approx(truth.acoustic_gain_db, abs=1.0)


def test_mixer_gain_shifts_both_paths_amp_gain_only_the_acoustic():
    truth = QUIET.truth()
    ke, ka = round(truth.electrical_latency_s * FS), round(truth.acoustic_latency_s * FS)
    base = impulse_response(QUIET)
    for faults, de, da in (({"mixer_gain_db": -6.0}, -6.0, -6.0), ({"amp_gain_db": 4.0}, 0, 4.0)):
        room = QUIET.with_faults(**faults)
        h = impulse_response(room)
        assert 20 * math.log10(abs(h[ke] / base[ke])) == pytest.approx(de, abs=1e-6)
        assert 20 * math.log10(abs(h[ka] / base[ka])) == pytest.approx(da, abs=1e-6)
        t = room.truth()
        assert t.electrical_gain_db - truth.electrical_gain_db == pytest.approx(de)
        assert t.acoustic_gain_db - truth.acoustic_gain_db == pytest.approx(da)


def test_direct_to_reverberant_ratio_is_a_few_db():
    h = impulse_response(QUIET, seconds=1.0)
    truth = QUIET.truth()
    ka = round(truth.acoustic_latency_s * FS)
    direct = np.sum(h[ka - 20 : ka + 20] ** 2)
    reverb = np.sum(h[round(truth.speaker_arrivals_s[-1] * FS) + 250 :] ** 2)  # after reflections
    assert -6.0 < 10 * math.log10(direct / reverb) < 6.0


def test_notch_and_tilt_change_the_loudspeaker_response():
    truth = QUIET.truth()
    ke = round(truth.electrical_latency_s * FS)

    def acoustic(room: R.Room) -> np.ndarray:
        h = impulse_response(room, seconds=0.3)
        h[ke] = 0.0  # leave only the acoustic path
        return h

    base = acoustic(QUIET)
    notched = acoustic(QUIET.with_faults(notch_hz=2000.0, notch_db=20.0, notch_q=2.0))
    tilted = acoustic(QUIET.with_faults(tilt_db_per_octave=-3.0))
    for f, want in ((500.0, 0.0), (2000.0, -20.0), (8000.0, 0.0)):
        assert gain_at_db(notched, f) - gain_at_db(base, f) == pytest.approx(want, abs=1.0)
    for f, want in ((250.0, 6.0), (1000.0, 0.0), (4000.0, -6.0), (8000.0, -9.0)):
        assert gain_at_db(tilted, f) - gain_at_db(base, f) == pytest.approx(want, abs=0.5)
    # Minimum phase: the tilt does not put sound ahead of the direct arrival.
    ka = round(truth.acoustic_latency_s * FS)
    assert np.sum(tilted[: ka - 20] ** 2) < 1e-6 * np.sum(tilted**2)


# -- reverberation ------------------------------------------------------------------------


@pytest.mark.parametrize("rt60", [0.4, 0.6, 1.2])
def test_tail_decays_at_the_rooms_rt60(rt60: float):
    room = R.Room(rt60_s=rt60, ambient_dbfs=-300.0, electronic_noise_dbfs=-300.0)
    played = np.zeros((FS // 10, 2))
    played[0] = 1.0
    h = room.render(played, seed=0, tail_s=2.0 * rt60)[OFF:, 0]
    start = round(room.truth().speaker_arrivals_s[-1] * FS) + 250  # past the reflections
    edc = np.cumsum(h[start:][::-1] ** 2)[::-1]  # Schroeder backward integration
    edc_db = 10 * np.log10(edc / edc[0])
    fit = (edc_db <= -5) & (edc_db >= -35)  # T30 range
    slope_db_per_s = np.polyfit(np.arange(len(edc_db))[fit] / FS, edc_db[fit], 1)[0]
    assert -60 / slope_db_per_s == pytest.approx(rt60, rel=0.10)
    assert room.truth().rt60_s == rt60


# -- faults on the return -------------------------------------------------------------------


def test_hum_puts_energy_at_mains_and_its_odd_harmonics():
    room = R.Room().with_faults(hum_dbfs=-40.0)
    x = room.ambient(2.0, seed=1)[:, 0]
    clean = R.Room().ambient(2.0, seed=1)[:, 0]
    assert tone_rms_db(x, 50) == pytest.approx(-40.0, abs=0.5)
    assert tone_rms_db(x, 150) == pytest.approx(-46.0, abs=0.5)
    assert tone_rms_db(x, 50) > tone_rms_db(clean, 50) + 30
    assert tone_rms_db(x, 150) > tone_rms_db(clean, 150) + 30


def test_hiss_raises_the_noise_floor_to_its_level():
    x = R.Room(mic_in_return=False).with_faults(noise_dbfs=-50.0).ambient(1.0, seed=2)
    assert rms_db(x[:, 0]) == pytest.approx(-50.0, abs=0.1)


def test_amplifier_clipping_raises_harmonics():
    t = np.arange(FS) / FS
    tone = both(0.5 * np.sin(2 * np.pi * 1000 * t))

    def harmonic_db(room: R.Room) -> float:
        ret = room.render(tone, seed=1, tail_s=0.1)[OFF + FS // 4 : OFF + FS, 0]
        fund = tone_rms_db(ret, 1000)
        return max(tone_rms_db(ret, k * 1000) for k in (2, 3, 5)) - fund

    clean = harmonic_db(R.Room())
    clipped = harmonic_db(R.Room().with_faults(amp_clip=0.3))
    assert clean < -60
    assert clipped > clean + 30
    assert clipped > -40


def test_feedback_howl_appears_on_the_return_from_its_onset():
    room = R.Room().with_faults(feedback_hz=2500.0, feedback_dbfs=-20.0, feedback_onset_s=0.5)
    x = room.ambient(1.5, seed=1)[:, 0]
    assert tone_rms_db(x[: FS // 2], 2500.0) < -60
    assert tone_rms_db(x[FS:], 2500.0) == pytest.approx(-20.0, abs=0.5)
    silent = R.Room().with_faults(feedback_hz=2500.0, dead_mic=True).ambient(1.5, seed=1)
    assert tone_rms_db(silent[FS:, 0], 2500.0) < -80  # no mics, no loop


def test_talkers_start_when_asked_and_only_through_live_mics():
    x = R.Room().ambient(6.0, seed=3, talkers_from_s=3.0)[:, 0]
    before, after = rms_db(x[: 3 * FS]), rms_db(x[3 * FS :])
    assert before == pytest.approx(-62.0, abs=0.5)
    assert -40 < after < -28  # about -30 dBFS while talking, pauses included
    dead = R.Room().with_faults(dead_mic=True).ambient(6.0, seed=3, talkers_from_s=3.0)
    assert rms_db(dead[3 * FS :, 0]) < -85


# -- the interface: dropouts and clock drift -------------------------------------------


def test_dropouts_are_exact_zero_runs_of_the_stated_length_during_playback():
    room = R.Room().with_faults(dropouts=3, dropout_ms=20.0)
    played = noise_stimulus(2.0)
    cap = room.render(played, seed=5)
    zero = np.concatenate([[0], ((cap[:, 0] == 0) & (cap[:, 1] == 0)).astype(int), [0]])
    edges = np.flatnonzero(np.diff(zero))
    starts, ends = edges[::2], edges[1::2]
    assert len(starts) == 3
    assert list(ends - starts) == [round(0.020 * FS)] * 3
    assert starts.min() >= OFF and ends.max() <= OFF + len(played)
    other = room.render(played, seed=6)
    assert not np.array_equal(other == 0, cap == 0)  # seeded positions


def test_clock_drift_stretches_the_capture():
    played = np.zeros((10 * FS, 2))
    played[1000, 1] = played[-1000, 1] = 0.5
    room = R.Room(mic_in_return=False, drift_ppm=100.0)
    cap = room.render(played, seed=1, start_offset_s=0.0, tail_s=0.0)
    assert len(cap) - len(played) == round(0.001 * FS)  # 100 ppm of 10 s = 1 ms
    ref = cap[:, 1]

    def peak(k: int) -> float:  # sub-sample position by parabolic interpolation
        i = k - 50 + int(np.argmax(ref[k - 50 : k + 50]))
        a, b, c = ref[i - 1 : i + 2]
        return i + 0.5 * (a - c) / (a - 2 * b + c)

    spacing = peak(len(cap) - 1000) - peak(1000)
    assert spacing == pytest.approx((len(played) - 2000) * (1 + 100e-6), abs=0.2)
    assert room.truth().drift_ppm == 100.0


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: R.Room(speaker_distances_m=(4.0, -1.0)), "speaker_distances_m"),
        (lambda: R.Room(speaker_distances_m=()), "speaker_distances_m"),
        (lambda: R.Room(rt60_s=0.0), "rt60_s"),
        (lambda: R.Room(rt60_s=-0.5), "rt60_s"),
        (lambda: R.Room().with_faults(dead_speaker=2), "dead_speaker"),
        (lambda: R.Room().with_faults(dead_speaker=-1), "dead_speaker"),
        (lambda: R.Room().with_faults(amp_clip=0.0), "amp_clip"),
        (lambda: R.Room().with_faults(amp_clip=1.5), "amp_clip"),
        (lambda: R.Room().with_faults(dropouts=-1), "dropouts"),
        (lambda: R.Room().with_faults(notch_hz=30000.0), "notch_hz"),
        (lambda: R.Room().with_faults(extra_latency_ms=-1.0), "extra_latency_ms"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_them(make, name: str):
    with pytest.raises(ValueError, match=name):
        make()


def test_render_refuses_a_mono_signal_and_too_many_dropouts():
    with pytest.raises(ValueError, match="played"):
        R.Room().render(np.zeros(100), seed=0)
    with pytest.raises(ValueError, match="dropouts"):
        R.Room().with_faults(dropouts=50).render(np.zeros((FS // 2, 2)), seed=0)
