"""The real ALSA path: pyalsaaudio through the ``pulse`` plugin into a PulseAudio null sink.

The null sink's monitor is a wire from the probe's outputs back to its
inputs, paced in real time, with PulseAudio's own (varying) start-up delay
between playback and capture: exactly what the loopback reference must
absorb. A wire has no room, so the analysis must find the electrical path
alone: no latency, unit gain, no distortion.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from pulse_rig import Pulse, pulse_session
from roomprobe.audio import active, device
from roomprobe.audio.signals import speech_like
from roomprobe.audio.watch import PassiveWatch
from roomprobe.config import AudioConfig

CFG = AudioConfig(
    capture_device="pulse", playback_device="pulse", sweep_s=3.0, pre_silence_s=0.5, tail_s=0.5
)


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulse]:
    yield from pulse_session(tmp_path_factory.mktemp("pulse"))


@pytest.fixture
def capture(pulse: Pulse) -> Iterator[device.CaptureLoop]:
    loop = device.CaptureLoop(
        device.DeviceSettings("pulse", CFG.rate, 2, CFG.period_frames, CFG.periods), retry_s=0.5
    )
    loop.start()
    try:
        assert loop.running.wait(15), f"capture did not start: {loop.error}"
        yield loop
    finally:
        loop.stop()


def watch_fed_by(capture: device.CaptureLoop) -> PassiveWatch:
    """A passive watch on the capture, given time to learn the room's quiet level."""
    watch = PassiveWatch(CFG.rate, 2)
    capture.add_listener(lambda frames, index: watch.feed(frames))
    time.sleep(1.5)
    return watch


def score_of(watch: PassiveWatch):
    return lambda block, exclude: watch.speech_score(block, exclude=exclude)


def test_capture_runs_in_real_time(capture: device.CaptureLoop):
    time.sleep(0.5)  # past PulseAudio's start-up burst
    t0, n0 = time.monotonic(), capture.frames_read
    time.sleep(2.0)
    rate = (capture.frames_read - n0) / (time.monotonic() - t0)
    assert rate == pytest.approx(CFG.rate, rel=0.05)
    assert capture.error is None


def test_the_sweep_comes_back_through_the_wire(capture: device.CaptureLoop):
    watch = watch_fed_by(capture)
    out = active.run_active_test(capture, CFG, score_of(watch))
    assert out.status == "done", out
    a = out.analysis
    assert a is not None and a.timing.present
    assert a.channels_present == [0, 1]
    assert a.electrical is not None and a.acoustic is None
    assert abs(a.electrical.latency_ms) < 0.05
    assert a.electrical.gain_db == pytest.approx(0.0, abs=0.3)
    assert a.electrical.harmonics.thd_pct < 0.1
    assert abs(a.timing.drift_ppm) < 2.0  # one clock on both sides
    assert a.level_dbfs == pytest.approx(CFG.level_dbfs - 3.0, abs=1.0)  # a sine's RMS: peak - 3 dB
    assert out.overruns == 0


def _play_talker(start_after_s: float, seconds: float, done: threading.Event) -> None:
    """People start talking in the room: speech on channel 0 only (the microphones' side)."""
    settings = device.DeviceSettings("pulse", CFG.rate, 2, CFG.period_frames, CFG.periods)
    time.sleep(start_after_s)
    voice = speech_like(seconds, CFG.rate, seed=4, level_dbfs=-20.0)
    frames = np.stack([voice, np.zeros_like(voice)], axis=1)
    device.Player(settings).run(frames)
    done.set()


def test_the_tone_stops_within_200_ms_when_people_talk(capture: device.CaptureLoop):
    """Measured in the capture itself: from the voice's first sample to the sweep's last.

    Both travel the same sink, so their distance in the capture is the
    reaction in real time, whatever PulseAudio's buffering. The voice is on
    channel 0 only; channel 1 (the reference) carries the sweep alone, and
    channel 0 minus channel 1 is the voice alone.
    """
    watch = watch_fed_by(capture)
    done = threading.Event()
    talker = threading.Thread(target=_play_talker, args=(2.5, 3.0, done), daemon=True)
    talker.start()
    out = active.run_active_test(capture, CFG, score_of(watch))
    talker.join(10)
    assert out.status == "aborted", "the tone played on while people talked"
    cap = out.capture
    voice = np.abs(cap[:, 0] - cap[:, 1])
    tone = np.abs(cap[:, 1])
    onset = int(np.flatnonzero(voice > 10 ** (-50 / 20))[0])
    last_tone = int(np.flatnonzero(tone > 10 ** (-60 / 20))[-1])
    reaction_ms = 1000 * (last_tone - onset) / CFG.rate
    print(f"tone stopped {reaction_ms:.0f} ms after the voice began "
          f"(guard to player: {1000 * out.reaction_s:.0f} ms)")  # fmt: skip
    assert 0 < reaction_ms <= 200
    assert out.reaction_s is not None and out.reaction_s < 0.1  # guard trigger -> player stopped


def test_a_missing_device_is_a_verdict_not_a_crash(pulse: Pulse):
    loop = device.CaptureLoop(device.DeviceSettings("hw:CARD=NoSuchCard"), retry_s=0.2)
    loop.start()
    try:
        deadline = time.monotonic() + 5
        while loop.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert loop.error is not None and loop.error.reason == "audio.device_missing"
        assert "NoSuchCard" in loop.error.detail
        out = active.run_active_test(loop, CFG, lambda block, exclude: -99.0)
        assert out.status == "failed" and out.error.reason == "audio.device_missing"
    finally:
        loop.stop()


def test_an_unsupported_rate_is_named(pulse: Pulse):
    with pytest.raises(device.AudioDeviceError) as err:
        device.Player(device.DeviceSettings("pulse", rate=1_234_567)).run(np.zeros((10, 2)))
    assert err.value.reason == "audio.rate_unsupported"
    assert "1234567" in str(err.value)


def test_a_stalled_reader_loses_nothing_on_pulse(pulse: Pulse):
    """A listener that blocks for 0.5 s (longer than ALSA's 11 ms buffer here) loses no audio.

    PulseAudio keeps the stream in the server's buffer and hands it over late,
    so the ``pulse`` plugin never reports an overrun (-EPIPE); on a real USB
    interface the same stall would overrun, which the capture loop counts
    (tests/unit/test_audio_device.py drives that branch).
    """
    loop = device.CaptureLoop(device.DeviceSettings("pulse", CFG.rate, 2, 256, 2))
    stalled = threading.Event()

    def stall(frames: np.ndarray, index: int) -> None:
        if index > CFG.rate and not stalled.is_set():
            stalled.set()
            time.sleep(0.5)

    loop.add_listener(stall)
    loop.start()
    try:
        assert loop.running.wait(15)
        assert stalled.wait(15)
        t0, n0 = time.monotonic(), loop.frames_read
        time.sleep(2.0)
        rate = (loop.frames_read - n0) / (time.monotonic() - t0)
        assert rate == pytest.approx(CFG.rate, rel=0.05)
        assert loop.overruns == 0 and loop.error is None
    finally:
        loop.stop()
