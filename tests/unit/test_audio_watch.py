"""The passive watch: levels, faults, hum, howling and people talking, from known signals.

Every signal is made by ``roomprobe.audio.signals`` (or the probe's own sweep),
so what the watch should report is known: a howl's frequency and length, a
dropout's position, a hum's level. Each detector is also shown the things it
must NOT fire on: speech for feedback, a fan, hum and a howl for speech, a
silent input for dropouts.
"""

from __future__ import annotations

import json
import math
import threading
import time
from functools import cache

import numpy as np
import pytest
from scipy import signal as sps

from roomprobe.audio import signals as S
from roomprobe.audio import watch as W
from roomprobe.audio.sweep import synchronized_sweep

FS = 48000
#: Seeds 12, 24, 30 and 49 are talkers whose pitch holds in one bin across syllables: without
#: the peak-to-harmonic test (12, 30) or the no-fading test (24, 49) they read as howling.
SPEECH_SEEDS = [0, 1, 2, 3, 4, 5, 6, 7, 12, 24, 30, 49]


@cache
def talker(seed: int, seconds: float = 8.0, level_dbfs: float = -25.0) -> np.ndarray:
    """One person talking (generated once per seed: speech_like is the slow part)."""
    x = S.speech_like(seconds, FS, seed, level_dbfs)
    x.setflags(write=False)  # shared between tests
    return x


def summary_of(ret: np.ndarray, ref: np.ndarray | None = None, **kw) -> W.WatchSummary:
    """Feed a return (and a loopback reference, silent unless given) and summarise."""
    w = W.PassiveWatch(FS, 2, **kw)
    w.feed(np.stack([ret, np.zeros_like(ret) if ref is None else ref], axis=1))
    return w.summary()


def ret_of(x: np.ndarray, **kw) -> W.ChannelSummary:
    return summary_of(x, **kw).channels[0]


def activity(x: np.ndarray, step: int = 4800) -> np.ndarray:
    """``active`` after each ``step`` frames: what the scheduler would see."""
    w = W.PassiveWatch(FS, 1)
    out = []
    for i in range(0, len(x) - step + 1, step):
        w.feed(x[i : i + step, None])
        out.append(w.active)
    return np.array(out)


# --- levels -----------------------------------------------------------------------------------


@pytest.mark.parametrize("amp", [0.5, 0.01])
def test_sine_levels(amp: float):
    t = np.arange(2 * FS) / FS
    c = ret_of(amp * np.sin(2 * np.pi * 997 * t))
    assert c.rms_dbfs == pytest.approx(20 * math.log10(amp / math.sqrt(2)), abs=0.05)
    assert c.peak_dbfs == pytest.approx(20 * math.log10(amp), abs=0.05)
    assert c.clip_events == 0 and not c.silent


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noise_level_and_floor(seed: int):
    c = ret_of(S.white_noise(3 * FS, seed, -40.0))
    assert c.rms_dbfs == pytest.approx(-40.0, abs=0.05)
    # White noise's 20 ms frames hardly vary: the floor is its level.
    assert c.noise_floor_dbfs == pytest.approx(-40.0, abs=0.5)
    assert c.peak_dbfs > c.rms_dbfs + 9  # Gaussian: peaks 4 sigma and more in 144000 samples


def test_the_reference_channel_is_silent_when_nothing_plays():
    s = summary_of(S.pink_noise(2 * FS, 1, -60.0))
    ref = s.channels[1]
    assert ref.silent and ref.rms_dbfs == -math.inf and ref.noise_floor_dbfs == -math.inf
    assert ref.hum_dbfs is None and not ref.hum and ref.feedback == () and ref.dropouts == 0
    assert not s.channels[0].silent
    assert s.seconds == pytest.approx(2.0)


def test_very_quiet_input_counts_as_silent():
    assert ret_of(S.white_noise(FS, 1, -110.0)).silent
    assert not ret_of(S.white_noise(FS, 1, -90.0)).silent


# --- clipping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("freq", [997.0, 203.0])
def test_clipped_sine_counts_one_event_per_half_cycle(freq: float):
    t = np.arange(FS) / FS  # one second: 2 f half cycles
    x = np.clip(1.3 * np.sin(2 * np.pi * freq * t), -1.0, 1.0)
    c = ret_of(x)
    assert c.clip_events == pytest.approx(2 * freq, abs=1)
    assert c.clipped_samples == np.count_nonzero(np.abs(x) >= W.CLIP_LEVEL)


def test_no_clipping_at_0_9_full_scale_nor_for_single_peaks():
    t = np.arange(FS) / FS
    assert ret_of(0.9 * np.sin(2 * np.pi * 997 * t)).clip_events == 0
    x = S.white_noise(FS, 1, -30.0)
    x[[1000, 20000, 20001]] = [1.0, -1.0, 1.0]  # one and two samples at full scale: legal peaks
    c = ret_of(x)
    assert c.clip_events == 0 and c.clipped_samples == 0


def test_clipping_that_straddles_blocks_and_summaries_is_counted_once():
    x = S.white_noise(FS, 2, -30.0)
    x[4790:4810] = 1.0  # across the first block boundary
    w = W.PassiveWatch(FS, 1)
    w.feed(x[:4805, None])  # the run is still going when the summary is taken
    first = w.summary().channels[0]
    w.feed(x[4805:, None])
    second = w.summary().channels[0]
    assert (first.clip_events, second.clip_events) == (1, 0)
    assert first.clipped_samples + second.clipped_samples == 20


# --- dropouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_zero_runs_in_noise_are_dropouts(seed: int):
    rng = np.random.default_rng(seed)
    x = S.pink_noise(6 * FS, seed, -60.0)
    lengths_ms = [3.0, 10.0, 21.3, 48.0, 250.0]
    starts = np.sort(rng.choice(np.arange(1, 11), len(lengths_ms), replace=False)) * FS // 2
    starts += rng.integers(0, 4800, len(starts))  # anywhere in a block, some across two
    total = 0
    for s, ms in zip(starts, lengths_ms, strict=True):
        n = round(ms * FS / 1000)
        x[s : s + n] = 0.0
        total += n
    c = ret_of(x)
    assert c.dropouts == len(lengths_ms)
    assert c.dropout_ms == pytest.approx(total / FS * 1000, abs=0.1)
    assert not c.silent


def test_continuous_noise_has_no_dropouts_even_as_int16():
    x = S.pink_noise(4 * FS, 5, -60.0)
    assert ret_of(x).dropouts == 0
    # In 16 bits, -60 dBFS noise is about +-33 LSB: single zero samples are common, not gaps.
    pcm = np.round(x * 32768).astype(np.int16)
    assert np.count_nonzero(pcm == 0) > 100
    w = W.PassiveWatch(FS, 1)
    w.feed(pcm[:, None])
    assert w.summary().channels[0].dropouts == 0


def test_short_runs_muted_input_and_start_up_zeros_are_not_dropouts():
    x = S.pink_noise(8 * FS, 6, -60.0)
    x[:2000] = 0.0  # the device starting: nothing before it
    x[FS : FS + 48] = 0.0  # 1 ms: below the 2 ms that a lost USB packet train makes
    x[3 * FS : 5 * FS] = 0.0  # 2 s muted: no signal, not a gap
    c = ret_of(x)
    assert c.dropouts == 0 and c.dropout_ms == 0


def test_an_all_zero_input_is_silent_not_dropouts():
    w = W.PassiveWatch(FS, 2)
    w.feed(np.zeros((3 * FS, 2)))
    for c in w.summary().channels:
        assert c.silent and c.dropouts == 0 and c.rms_dbfs == -math.inf
        assert c.peak_dbfs == -math.inf and c.hum_dbfs is None and c.feedback == ()


def test_zeros_after_near_silence_are_not_dropouts():
    """A muted 16-bit input that ticks one LSB now and then is not a live signal."""
    x = np.zeros(3 * FS)
    x[::9000] = 1 / 32768
    assert ret_of(x).dropouts == 0


# --- noise floor ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_noise_floor_is_the_room_not_the_talkers(seed: int):
    sp = talker(seed)
    x = S.pink_noise(len(sp), seed + 20, -60.0) + sp
    c = ret_of(x)
    assert c.rms_dbfs > -35  # the talkers dominate the level...
    assert c.noise_floor_dbfs == pytest.approx(-60.0, abs=2.0)  # ...but not the quiet moments


# --- hum --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hum_under_room_noise_is_found_at_its_level(seed: int):
    n = 3 * FS
    x = S.pink_noise(n, seed, -60.0) + S.hum(n, FS, -50.0, seed=seed)
    c = ret_of(x)
    # Family level: fundamental -50 plus the default 2nd (-12), 3rd (-6) and 5th (-15).
    family = 10 * math.log10(sum(10 ** (d / 10) for d in (0.0, -12.0, -6.0, -15.0))) - 50.0
    assert c.hum and c.hum_dbfs == pytest.approx(family, abs=1.0)
    assert c.feedback == ()  # steady lines, but the hum family is not howling


def test_hum_is_found_in_a_window_the_test_sweep_passes_through():
    played = played_test_sweep(4.0)
    n = len(played) + 4 * FS
    ret = S.pink_noise(n, 3, -62.0) + S.hum(n, FS, -50.0, seed=3)
    ret[4 * FS :] += ringing(played, 3, 0.8)
    ref = np.zeros(n)
    ref[4 * FS :] = played
    c = summary_of(ret, ref=ref).channels[0]
    assert c.hum and c.hum_dbfs == pytest.approx(-48.7, abs=1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_hum_in_noise_or_speech(seed: int):
    n = 3 * FS
    assert not ret_of(S.pink_noise(n, seed, -60.0)).hum
    x = S.pink_noise(len(talker(seed)), seed, -60.0) + talker(seed)
    assert not ret_of(x).hum


def test_hum_too_quiet_to_matter_is_not_reported():
    n = 3 * FS
    c = ret_of(S.pink_noise(n, 1, -60.0) + S.hum(n, FS, -75.0))
    assert not c.hum


def test_sixty_hertz_mains():
    n = 3 * FS
    hum60 = S.pink_noise(n, 1, -60.0) + S.hum(n, FS, -50.0, mains_hz=60.0)
    hum50 = S.pink_noise(n, 1, -60.0) + S.hum(n, FS, -50.0, mains_hz=50.0)
    assert ret_of(hum60, mains_hz=60.0).hum
    assert not ret_of(hum60, mains_hz=50.0).hum  # lines between the 50 Hz family's bins
    assert not ret_of(hum50, mains_hz=60.0).hum
    # The grid is never exactly on frequency.
    assert ret_of(S.pink_noise(n, 2, -60.0) + S.hum(n, FS, -50.0, mains_hz=50.3)).hum


def test_hum_needs_half_a_second_of_spectra():
    x = S.hum(FS // 4, FS, -40.0)
    c = ret_of(x)
    assert c.hum_dbfs is None and not c.hum


# --- acoustic feedback ------------------------------------------------------------------------


@pytest.mark.parametrize(("freq", "level", "seed"), [(2500.0, -20.0, 0), (2500.0, -35.0, 1),
                                                     (2500.0, -10.0, 2), (640.0, -25.0, 3),
                                                     (7321.0, -30.0, 4)])  # fmt: skip
def test_howl_is_found_with_its_frequency_and_length(freq: float, level: float, seed: int):
    n, onset = 6 * FS, 1.0
    x = S.pink_noise(n, seed, -60.0) + S.howl(n, FS, freq, level, onset_s=onset)
    c = ret_of(x)
    assert len(c.feedback) == 1
    hz, seconds, dbfs = c.feedback[0]
    assert hz == pytest.approx(freq, abs=2 * FS / 4800)  # within two 10 Hz bins
    assert seconds == pytest.approx(n / FS - onset, abs=0.4)  # from its growth to the end
    assert dbfs == pytest.approx(level, abs=1.5)


def test_a_clipping_howl_is_one_howl_not_its_harmonics():
    n = 4 * FS
    x = np.clip(S.pink_noise(n, 1, -60.0) + S.howl(n, FS, 1500.0, -3.0), -0.5, 0.5)
    fb = ret_of(x).feedback
    assert [round(f[0] / 10) for f in fb] == [150]


def test_howl_over_talkers_is_found():
    sp = talker(3)
    n = len(sp)
    x = S.pink_noise(n, 3, -60.0) + sp + S.howl(n, FS, 2500.0, -25.0, onset_s=2.0)
    fb = ret_of(x).feedback
    assert len(fb) == 1 and fb[0][0] == pytest.approx(2500.0, abs=20.0)


def test_a_howl_that_stops_is_reported_once_and_not_in_the_next_window():
    n = 3 * FS
    x = S.pink_noise(2 * n, 1, -60.0)
    x[:n] += S.howl(n, FS, 1800.0, -20.0)
    w = W.PassiveWatch(FS, 1)
    w.feed(x[:, None])
    fb = w.summary().channels[0].feedback
    assert len(fb) == 1 and fb[0][1] == pytest.approx(3.0, abs=0.4)
    w.feed(S.pink_noise(n, 2, -60.0)[:, None])
    assert w.summary().channels[0].feedback == ()


@pytest.mark.parametrize("seed", SPEECH_SEEDS)
def test_speech_is_not_feedback(seed: int):
    sp = talker(seed)
    x = S.pink_noise(len(sp), seed + 100, -65.0) + sp
    assert ret_of(x).feedback == ()


@pytest.mark.parametrize("duration", [3.0, 5.0, 10.0])
def test_the_probes_own_sweep_is_not_feedback(duration: float):
    sw = synchronized_sweep(duration_s=duration, fs=FS, level_dbfs=-20.0).signal
    pad = np.zeros(FS // 2)
    played = np.concatenate([pad, sw, pad])
    ret = S.pink_noise(len(played), 1, -60.0) + 0.7 * played
    s = summary_of(ret, ref=played)
    assert s.channels[0].feedback == () and s.channels[1].feedback == ()
    assert s.channels[1].dropouts == 0  # silence around the sweep: not a dropout
    assert s.speech_s == 0.0


def test_hum_alone_is_not_feedback():
    n = 4 * FS
    assert ret_of(S.hum(n, FS, -30.0, harmonics={k: -10.0 for k in range(2, 9)})).feedback == ()


# --- meeting activity -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SPEECH_SEEDS)
def test_talkers_make_the_room_active_within_300_ms(seed: int):
    sp = talker(seed)
    quiet = 3 * FS
    x = S.pink_noise(quiet + len(sp), seed, -60.0)
    x[quiet:] += sp
    act = activity(x)
    assert not act[: quiet // 4800].any()
    first_voice = (quiet + int(np.flatnonzero(sp)[0])) / FS
    first_active = (int(np.flatnonzero(act)[0]) + 1) * 0.1
    assert first_active - first_voice <= 0.3
    assert act[-10:].all()  # still talking (or within the hangover) at the end


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hangover_then_quiet(seed: int):
    sp = talker(seed, seconds=3.0)
    end = int(np.flatnonzero(sp)[-1])
    x = S.pink_noise(len(sp) + 3 * FS, seed, -60.0)
    x[: len(sp)] += sp
    act = activity(x)
    t = (np.arange(len(act)) + 1) * 0.1
    last_active = t[np.flatnonzero(act)[-1]]
    assert last_active - end / FS == pytest.approx(1.0, abs=0.25)
    assert not act[t > end / FS + 1.3].any()
    w = W.PassiveWatch(FS, 1, hangover_s=0.3)
    w.feed(x[:, None])
    assert 0 < w.summary().speech_s < activity(x).sum() * 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_hum_and_howl_are_not_people(seed: int):
    n = 10 * FS
    pink = S.pink_noise(n, seed, -60.0)
    fan = pink.copy()
    fan[n // 2 :] += S.pink_noise(n - n // 2, seed + 9, -40.0)  # a fan switched on: a step
    cases = {
        "pink": pink,
        "white": S.white_noise(n, seed, -50.0),
        "hum": pink + S.hum(n, FS, -40.0, seed=seed),
        "howl": pink + S.howl(n, FS, 1000.0 + 700 * seed, -15.0, onset_s=3.0),
        "howl in silence": S.howl(n, FS, 2500.0, -20.0, onset_s=2.0),
        "fan": fan,
    }
    for name, x in cases.items():
        assert not activity(x).any(), name
        assert ret_of(x).silent is False


def ringing(x: np.ndarray, seed: int, rt60_s: float) -> np.ndarray:
    """``x`` through a room: the direct sound plus an exponentially decaying diffuse tail."""
    t = np.arange(round(1.5 * rt60_s * FS)) / FS
    ir = np.random.default_rng(seed).standard_normal(len(t)) * np.exp(-6.91 * t / rt60_s)
    ir /= np.sqrt(np.sum(ir**2))
    ir[0] += 1.0
    return sps.oaconvolve(x, ir)[: len(x)]


def played_test_sweep(seconds: float = 6.0) -> np.ndarray:
    """What the active test plays: 1 s of silence, the sweep, 1.5 s for the room's decay."""
    sw = synchronized_sweep(f1=40.0, f2=16000.0, duration_s=seconds, level_dbfs=-24.0, fade_s=0.2)
    return np.concatenate([np.zeros(FS), sw.signal, np.zeros(3 * FS // 2)])


@pytest.mark.parametrize(("seed", "rt60"), [(0, 0.6), (1, 1.2), (2, 0.8)])
def test_the_probes_sweep_in_a_ringing_room_is_not_people_but_talkers_over_it_are(
    seed: int, rt60: float
):
    """The reference channel says where the tone is; the rest of the speech band is listened to."""
    played = played_test_sweep()
    n = len(played)
    ref = played + S.white_noise(n, seed + 1, -92.0)
    ret = S.pink_noise(n, seed, -62.0) + ringing(played, seed, rt60)
    before = np.stack([S.pink_noise(4 * FS, seed + 5, -62.0), S.white_noise(4 * FS, 9, -92.0)], 1)

    def speech_s(ret: np.ndarray) -> float:
        w = W.PassiveWatch(FS, 2)
        w.feed(before)
        w.feed(np.stack([ret, ref], axis=1))
        return w.summary().speech_s

    assert speech_s(ret) == 0.0
    voice = np.zeros(n)
    talk = talker(seed, seconds=4.0, level_dbfs=-30.0)
    voice[3 * FS : 3 * FS + len(talk)] = talk
    assert speech_s(ret + voice) > 2.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_talkers_over_a_howl_are_heard(seed: int):
    sp = talker(seed, seconds=6.0, level_dbfs=-30.0)
    n = len(sp) + 3 * FS
    x = S.pink_noise(n, seed, -60.0) + S.howl(n, FS, 2000.0 + 100 * seed, -25.0)
    x[3 * FS :] += sp
    act = activity(x)
    assert not act[:30].any()
    assert act[30:].mean() > 0.25  # less than without the howl: it fills the talkers' pauses


def test_speech_seconds_in_the_summary():
    sp = talker(4)
    x = S.pink_noise(len(sp) + 4 * FS, 4, -60.0)
    x[2 * FS : 2 * FS + len(sp)] += sp
    s = summary_of(x)
    voiced = (np.flatnonzero(sp)[-1] - np.flatnonzero(sp)[0]) / FS
    assert voiced - 0.5 <= s.speech_s <= voiced + 1.5


# --- speech score with excluded bands ---------------------------------------------------------


@pytest.fixture(scope="module")
def learnt() -> W.PassiveWatch:
    w = W.PassiveWatch(FS, 1)
    w.feed(S.pink_noise(6 * FS, 11, -60.0)[:, None])
    return w


def loudest(x: np.ndarray, n: int) -> np.ndarray:
    e = np.convolve(x * x, np.ones(n), "valid")
    i = int(np.argmax(e))
    return x[i : i + n]


@pytest.mark.parametrize("n", [1024, 4800])
@pytest.mark.parametrize("seed", [0, 1, 3])
def test_speech_score_ignores_excluded_tones_but_hears_speech(
    learnt: W.PassiveWatch, n: int, seed: int
):
    t = np.arange(n) / FS
    tones = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (1000.0, 1500.0, 2000.0))
    quiet = S.pink_noise(n, seed + 30, -60.0)
    band = [(950.0, 2050.0)]
    assert learnt.speech_score(quiet) < 3.0
    # One tone (a howl, a tone the caller forgot) is not speech even when not excluded...
    assert learnt.speech_score(quiet + 0.1 * np.sin(2 * np.pi * 1500.0 * t)) < 3.0
    # Three loud tones in three bands: more than the score's tone tolerance can drop...
    assert learnt.speech_score(quiet + tones) > 20.0
    # ...but excluded, they are not there.
    assert learnt.speech_score(quiet + tones, exclude=band) < 3.0
    # People talking over the tones are heard in the rest of the speech band.
    voice = loudest(S.speech_like(2.0, FS, seed, -30.0), n)
    talking = quiet + tones + voice
    assert learnt.speech_score(talking, exclude=band) >= W.SPEECH_SCORE_DB
    # A 2-D frame (the capture block) is read on channel 0; int16 is scaled.
    both = np.stack([talking, np.zeros(n)], axis=1)
    assert learnt.speech_score(both, exclude=band) == learnt.speech_score(talking, exclude=band)
    pcm = np.round(np.clip(quiet + tones, -1, 1) * 32767).astype(np.int16)
    assert learnt.speech_score(pcm, exclude=band) < 3.0


def test_speech_score_edges():
    w = W.PassiveWatch(FS, 1)
    frame = S.pink_noise(1024, 1, -60.0)
    assert math.isnan(w.speech_score(frame))  # nothing learnt yet
    w.feed(S.pink_noise(FS, 2, -60.0)[:, None])
    assert w.speech_score(frame, exclude=[(0.0, 24000.0)]) == -math.inf
    with pytest.raises(ValueError, match="too short"):
        w.speech_score(frame[:100])


# --- feeding, formats, threads ----------------------------------------------------------------


def busy_capture(seconds: float = 6.0) -> np.ndarray:
    """Everything at once: talkers, hum, a howl, clipping and dropouts, on two channels."""
    n = round(seconds * FS)
    ret = S.pink_noise(n, 1, -60.0) + S.hum(n, FS, -50.0)
    ret[FS:] += talker(5)[: n - FS]
    ret += S.howl(n, FS, 3100.0, -25.0, onset_s=2.5)
    ret[int(1.2 * FS) : int(1.2 * FS) + 40] = 1.0
    ret[int(4.3 * FS) : int(4.3 * FS) + 700] = 0.0
    ref = S.white_noise(n, 2, -90.0)
    ref[int(4.3 * FS) : int(4.3 * FS) + 700] = 0.0
    return np.stack([ret, ref], axis=1)


def test_odd_chunks_give_the_same_summary_as_one_chunk():
    x = busy_capture()
    whole = W.PassiveWatch(FS, 2)
    whole.feed(x)
    w = W.PassiveWatch(FS, 2)
    rng = np.random.default_rng(0)
    i = 0
    while i < len(x):
        k = int(rng.choice([1, 7, 333, 1024, 4799, 4800, 4801, 12345]))
        w.feed(x[i : i + k])
        i += k
    a, b = whole.summary(), w.summary()
    assert a == b
    c = a.channels[0]
    assert c.hum and c.clip_events == 1 and c.dropouts == 1 and len(c.feedback) == 1
    assert a.channels[1].dropouts == 1 and a.speech_s > 2


def test_int16_input_reads_like_float():
    x = busy_capture(3.0)
    pcm = np.round(np.clip(x, -1, 32767 / 32768) * 32768).astype(np.int16)
    a, b = W.PassiveWatch(FS, 2), W.PassiveWatch(FS, 2)
    a.feed(x)
    b.feed(pcm)
    fa, fb = a.summary().channels[0], b.summary().channels[0]
    assert fb.rms_dbfs == pytest.approx(fa.rms_dbfs, abs=0.05)
    assert fb.noise_floor_dbfs == pytest.approx(fa.noise_floor_dbfs, abs=0.5)
    assert (fb.clip_events, fb.dropouts, fb.hum) == (fa.clip_events, fa.dropouts, fa.hum)


@pytest.mark.parametrize("shape", [(100, 3), (100, 1), (100,), (2, 100, 2)])
def test_wrong_shape_is_refused_naming_it(shape: tuple[int, ...]):
    w = W.PassiveWatch(FS, 2)
    with pytest.raises(ValueError, match=re_shape(shape)):
        w.feed(np.zeros(shape))
    assert w.summary().seconds == 0  # nothing was taken in


def re_shape(shape: tuple[int, ...]) -> str:
    return r"\(n, 2\).*" + str(shape).replace("(", r"\(").replace(")", r"\)")


def test_other_bad_input_and_settings():
    with pytest.raises(ValueError, match="dtype"):
        W.PassiveWatch(FS, 1).feed(np.zeros((10, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match="4 bins apart"):
        W.PassiveWatch(FS, 2, block_s=0.04)
    with pytest.raises(ValueError):
        W.PassiveWatch(FS, 0)


def test_summary_resets_the_window_and_counts_overruns():
    w = W.PassiveWatch(FS, 2)
    w.feed(busy_capture(3.0))
    w.note_overrun()
    w.note_overrun()
    first = w.summary(reset=False)
    assert first.overruns == 2 and w.summary().overruns == 2
    w.feed(np.zeros((FS, 2)) + 1e-3)
    second = w.summary()
    assert second.overruns == 0 and second.seconds == pytest.approx(1.0)
    assert second.channels[0].clip_events == 0 and second.channels[0].rms_dbfs == pytest.approx(-60)


def test_to_dict_is_json_with_rounded_levels_and_no_infinities():
    w = W.PassiveWatch(FS, 2)
    x = busy_capture(4.0)
    x[:, 1] = 0.0
    w.feed(x)
    d = w.summary().to_dict()
    text = json.dumps(d, allow_nan=False)
    assert "Infinity" not in text
    ret, ref = d["channels"]
    assert ref["rms_dbfs"] is None and ref["silent"] is True and ref["hum_dbfs"] is None
    assert ret["rms_dbfs"] == round(ret["rms_dbfs"], 1) and ret["hum"] is True
    assert ret["feedback"][0]["hz"] == pytest.approx(3100, abs=20)
    assert set(d) == {"seconds", "channels", "speech_s", "overruns"}


def test_a_reader_thread_sees_whole_blocks_only():
    """One thread feeds, another takes summaries: every block lands in exactly one window."""
    x = busy_capture(6.0)
    w = W.PassiveWatch(FS, 2)
    seconds: list[float] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seconds.append(w.summary().seconds)
            _ = w.active
            time.sleep(0.001)

    th = threading.Thread(target=reader)
    th.start()
    try:
        for i in range(0, len(x), 1024):
            w.feed(x[i : i + 1024])
    finally:
        done.set()
        th.join()
    seconds.append(w.summary().seconds)
    assert sum(seconds) == pytest.approx(len(x) // 4800 * 0.1)


# --- internals worth pinning ------------------------------------------------------------------


@pytest.mark.parametrize("n", [1024, 4800, 882])
@pytest.mark.parametrize("coeffs", [W._HANN, W._BH4])
def test_windowed_spectrum_from_the_plain_one_is_exact(n: int, coeffs: tuple[float, ...]):
    """The one-rfft trick: the windowed spectrum, edges included, equals a windowed rfft."""
    x = np.random.default_rng(n).standard_normal(n)
    i = np.arange(n)
    win = sum((-1) ** k * a * np.cos(2 * np.pi * k * i / n) for k, a in enumerate(coeffs))
    direct = np.fft.rfft(x * win)
    derived = W._window_spectrum(np.fft.rfft(x), coeffs, 0, n // 2 + 1)
    assert np.max(np.abs(derived - direct)) < 1e-12 * np.max(np.abs(direct))


@pytest.mark.parametrize("fs", [44100, 16000])
def test_other_sample_rates(fs: int):
    n = 4 * fs
    t = np.arange(n) / fs
    x = S.pink_noise(n, 1, -60.0, fs=fs) + S.hum(n, fs, -50.0)
    x += 0.05 * np.sin(2 * np.pi * 1234.0 * t) * (t > 1.0)
    w = W.PassiveWatch(fs, 1)
    w.feed(x[:, None])
    c = w.summary().channels[0]
    assert c.hum and len(c.feedback) == 1
    assert c.feedback[0][0] == pytest.approx(1234.0, abs=20.0)
