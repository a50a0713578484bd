"""The safety guard on the room model: people talking over the tone stop it, the tone alone never.

The capture of a test through the simulated room is fed period by period to
the passive watch and the guard, as the capture loop does on the box. The
voice's onset is exact: the same render without talkers, subtracted. The
real ALSA path adds its buffering on top (tests/audio/test_alsa_path.py
measures the whole: 60 ms); here the detection itself must take at most
150 ms wherever in the sweep people begin.
"""

from __future__ import annotations

import numpy as np
import pytest

from roomprobe.audio import active
from roomprobe.audio.room import Room
from roomprobe.audio.watch import PassiveWatch
from roomprobe.config import AudioConfig

CFG = AudioConfig()
SWEEP = active.make_sweep(CFG)
PLAYED = active.stimulus(SWEEP, CFG.pre_silence_s, CFG.tail_s)
OFFSET_S = 0.3
PERIOD = CFG.period_frames


def guard_run(capture: np.ndarray, room: Room, seed: int) -> int | None:
    """Index of the block at which the guard fired, or None."""
    watch = PassiveWatch(CFG.rate, 2)
    watch.feed(room.ambient(6.0, seed=seed + 7))  # the always-on watch knows the quiet room
    fired: list[int] = []
    guard = active.Guard(
        SWEEP, lambda block, exclude: watch.speech_score(block, exclude=exclude),
        lambda: fired.append(1),
    )  # fmt: skip
    for i in range(0, len(capture), PERIOD):
        block = capture[i : i + PERIOD]
        watch.feed(block)
        guard(block, i)
        if fired:
            return guard.triggered_index
    return None


def sweep_start() -> float:
    return OFFSET_S + CFG.pre_silence_s


@pytest.mark.parametrize("into_sweep_s", [0.3, 1.2, 2.0, 2.6, 3.1, 3.6, 4.4, 5.2, 5.8])
def test_people_talking_anywhere_in_the_sweep_stop_it_within_150_ms(into_sweep_s: float):
    room = Room()
    start = sweep_start() + into_sweep_s
    talk = room.render(PLAYED, seed=3, start_offset_s=OFFSET_S, talkers_from_s=start)
    quiet = room.render(PLAYED, seed=3, start_offset_s=OFFSET_S)
    voice = np.abs(talk[:, 0] - quiet[:, 0])
    onset = int(np.flatnonzero(voice > 10 ** (-50 / 20))[0])
    at = guard_run(talk, room, 3)
    assert at is not None, f"nobody noticed people talking {into_sweep_s} s into the sweep"
    latency_ms = 1000 * (at + PERIOD - onset) / CFG.rate
    assert 0 < latency_ms <= 150, latency_ms


@pytest.mark.parametrize("rt60", [0.3, 0.6, 1.0, 1.5, 2.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_tone_alone_never_stops_itself(rt60: float, seed: int):
    room = Room(rt60_s=rt60)
    capture = room.render(PLAYED, seed=seed, start_offset_s=OFFSET_S)
    assert guard_run(capture, room, seed) is None


def test_without_the_loopback_wire_the_tone_is_read_from_the_return():
    room = Room(reference_present=False)
    capture = room.render(PLAYED, seed=4, start_offset_s=OFFSET_S)
    assert guard_run(capture, room, 4) is None
    talk = room.render(PLAYED, seed=4, start_offset_s=OFFSET_S,
                       talkers_from_s=sweep_start() + 2.5)  # fmt: skip
    assert guard_run(talk, room, 4) is not None


def test_a_click_on_the_reference_does_not_move_the_exclusion():
    click = np.zeros((PERIOD, 2))
    click[100, 1] = 0.9
    assert active.tone_frequency(click[:, 1], CFG.rate) is None
    tone = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(PERIOD) / CFG.rate)
    assert active.tone_frequency(tone, CFG.rate) == pytest.approx(1000, abs=CFG.rate / PERIOD)


def test_the_excluded_bands_leave_speech_room_at_every_frequency():
    lo, hi = 300.0, 3400.0
    for f in np.geomspace(SWEEP.f1, SWEEP.f2, 60):
        bands = active.excluded_bands(float(f), SWEEP, 1.0)
        grid = np.linspace(lo, hi, 2000)
        free = np.ones_like(grid, dtype=bool)
        for a, b in bands:
            free &= ~((grid >= a) & (grid <= b))
        assert free.mean() > 0.2, f"at {f:.0f} Hz only {free.mean():.0%} of the speech band is left"
