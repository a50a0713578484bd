"""Every fault of the room model is found, on the right component, and a clean room is clean.

The room is commissioned healthy (seed 0), then each fault is injected and
the whole chain runs as on the box: the capture of a sweep through the
simulated room is analysed, the passive watch sees the same capture, and the
diagnosis names the component. Measured latency, gain, distortion and decay
are checked against what the model says they are.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from roomprobe.audio import active, analysis
from roomprobe.audio.diagnosis import COMPONENTS, diagnose
from roomprobe.audio.modelled import FAULT_CASES, FaultCase, measure_room
from roomprobe.audio.reference import Reference
from roomprobe.audio.room import Room
from roomprobe.config import AudioConfig, Thresholds

CFG = AudioConfig(sweep_s=4.0)
T = Thresholds()
SWEEP = active.make_sweep(CFG)
STIM = active.stimulus(SWEEP, CFG.pre_silence_s, CFG.tail_s)


def run(room: Room, seed: int, reference: Reference | None):
    """As on the box: the watch has heard the room for a while before the test, and during it."""
    a, summary = measure_room(room, SWEEP, STIM, seed, ambient_s=4.0)
    return a, diagnose(a, T, reference=reference, watch=summary)


@pytest.fixture(scope="module")
def reference() -> Reference:
    a, findings = run(Room(), 0, None)
    assert findings.overall.status == "ok", findings.to_list()
    return Reference.from_analysis(a, "2026-11-29T00:00:00.000Z")


@pytest.mark.parametrize("case", FAULT_CASES, ids=[c.name for c in FAULT_CASES])
@pytest.mark.parametrize("seed", [1, 2])
def test_each_fault_is_found_on_its_component(reference, case: FaultCase, seed: int):
    _, findings = run(case.room, seed, reference)
    got = findings.by_component()[case.component]
    assert got.reason == case.reason, (case.name, findings.to_list())
    assert got.status in ("degraded", "fail")
    expected_actor = "probe" if case.component == "probe" else "room-audio"
    assert got.actor == expected_actor
    assert findings.overall.status in ("degraded", "fail")
    assert got.message["vi"] and got.message["en"] and got.message["vi"] != got.message["en"]


@pytest.mark.parametrize("seed", range(1, 9))
def test_a_clean_room_raises_no_alarm(reference, seed):
    _, findings = run(Room(), seed, reference)
    assert findings.overall.status == "ok", findings.to_list()
    assert [v.status for v in findings.components] == ["ok"] * len(COMPONENTS)


def test_a_clean_room_with_drift_and_a_late_start_is_clean(reference):
    _, findings = run(Room(drift_ppm=120.0), 3, reference)
    assert findings.overall.status == "ok", findings.to_list()


@pytest.mark.parametrize(
    "room",
    [Room(), Room(speaker_distances_m=(3.0, 5.0), mixer_latency_ms=2.0), Room(drift_ppm=-90)],
)
def test_latency_and_gain_match_the_model(room: Room):
    a, _ = run(room, 4, None)
    truth = room.truth()
    assert a.electrical is not None and a.acoustic is not None
    assert a.electrical.latency_ms == pytest.approx(1000 * truth.electrical_latency_s, abs=0.05)
    assert a.acoustic.latency_ms == pytest.approx(1000 * truth.acoustic_latency_s, abs=0.1)
    assert a.electrical.gain_db == pytest.approx(truth.electrical_gain_db, abs=0.3)
    assert a.acoustic.gain_db == pytest.approx(truth.acoustic_gain_db, abs=1.0)
    for got, want in zip(a.arrivals_ms, truth.speaker_arrivals_s, strict=True):
        assert got == pytest.approx(1000 * want, abs=0.1)
    if truth.drift_ppm:
        assert a.timing.drift_ppm == pytest.approx(truth.drift_ppm, abs=1.0)


@pytest.mark.parametrize("rt60", [0.4, 0.6, 1.0])
def test_decay_times_match_the_model(rt60: float):
    room = Room(rt60_s=rt60, ambient_dbfs=-75.0)
    a, _ = run(room, 5, None)
    assert a.room is not None
    assert a.room.t20_s == pytest.approx(rt60, rel=0.1)
    assert a.room.t30_s == pytest.approx(rt60, rel=0.1)  # a quiet room: range enough for T30
    assert a.room.c50_db is not None and a.room.sti is not None


def _clipped_sine_harmonics(clip: float) -> float:
    """THD (H2-H5, per cent) of a steady sine hard-clipped at ``clip`` of its peak."""
    fs, f = 48000, 1000
    x = np.sin(2 * np.pi * f * np.arange(fs) / fs)
    spec = np.abs(np.fft.rfft(np.clip(x, -clip, clip)))
    h = [spec[n * f] / spec[f] for n in range(2, 6)]
    return 100 * math.sqrt(sum(v * v for v in h))


@pytest.mark.parametrize("clip", [0.3, 0.6])
def test_distortion_of_a_clipping_amplifier_matches_the_closed_form(clip: float):
    a, _ = run(Room().with_faults(amp_clip=clip), 6, None)
    assert a.acoustic is not None and a.acoustic.harmonics is not None
    assert a.acoustic.harmonics.thd_pct == pytest.approx(_clipped_sine_harmonics(clip), rel=0.1)
    # The mixer is clean: the amplifier is at fault. (The room's reverberation of the
    # loudspeakers' harmonics leaks a little into the electrical path's windows.)
    assert a.electrical.harmonics.thd_pct < 0.5


def test_without_a_reference_absolute_limits_still_find_silent_speakers():
    _, findings = run(Room(speaker_distances_m=(4.0,)).with_faults(dead_speaker=0), 7, None)
    assert findings.by_component()["speakers"].reason == "audio.speakers_silent"
    _, findings = run(Room().with_faults(dead_mic=True), 7, None)
    assert findings.by_component()["microphones"].status == "unknown"
    assert findings.overall.status == "ok"


def test_a_mono_wav_is_analysed_without_timing():
    cap = Room().render(STIM, seed=8)[:, 0]
    a = analysis.analyse(SWEEP, cap)
    assert not a.timing.present and math.isnan(a.timing.share)
    assert a.electrical is not None and a.acoustic is not None
    assert a.channels_present == [0]


def test_a_capture_shorter_than_the_sweep_is_refused():
    with pytest.raises(ValueError, match="shorter than the sweep"):
        analysis.analyse(SWEEP, np.zeros((1000, 2)))
    with pytest.raises(ValueError, match="mono or frames x 2"):
        analysis.analyse(SWEEP, np.zeros((len(SWEEP.signal) + 10, 3)))
