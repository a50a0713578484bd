"""The capture loop's and player's handling of what ALSA returns, on scripted PCMs.

The real ALSA path is tested in tests/audio/ (PulseAudio's null sink). Two
conditions cannot be produced there: the ``pulse`` plugin never reports an
overrun (PulseAudio buffers a stalled reader server-side), and a device
cannot be unplugged mid-read. Machines here have no sound card and no
snd-aloop module, so these branches are driven by a scripted PCM that
returns exactly what pyalsaaudio 0.11 returns: ``(-32, b'')`` on an overrun
(-EPIPE), and ``ALSAAudioError`` when the device goes away.
"""

from __future__ import annotations

import threading
import time

import alsaaudio
import numpy as np
import pytest

from roomprobe.audio import device

SETTINGS = device.DeviceSettings("scripted", 48000, 2, 480, 4)


class ScriptedPcm:
    """Replays read() results; then blocks like an idle device until closed."""

    def __init__(self, script: list):
        self.script = list(script)
        self.closed = threading.Event()
        self.written: list[bytes] = []
        self.dropped = False

    def read(self):
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        self.closed.wait(0.01)
        return 0, b""

    def write(self, data: bytes) -> int:
        self.written.append(data)
        return len(data) // 4

    def drop(self) -> None:
        self.dropped = True

    def drain(self) -> None:
        pass

    def close(self) -> None:
        self.closed.set()


def frames_bytes(n: int, value: int = 1000) -> bytes:
    return np.full((n, 2), value, dtype="<i2").tobytes()


def wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_overruns_are_counted_and_capture_goes_on():
    pcm = ScriptedPcm([(480, frames_bytes(480)), (-32, b""), (-32, b""), (480, frames_bytes(480))])
    loop = device.CaptureLoop(SETTINGS, opener=lambda s, capture: pcm)
    got: list[int] = []
    loop.add_listener(lambda frames, index: got.append(index))
    loop.start()
    try:
        wait(lambda: len(got) == 2)
        assert loop.overruns == 2
        assert got == [0, 480 + 2 * 480]  # each overrun lost at least a period: the index skips it
        assert loop.error is None
    finally:
        loop.stop()


def test_a_device_that_vanishes_mid_read_is_reported_and_reopened():
    first = ScriptedPcm([(480, frames_bytes(480)), alsaaudio.ALSAAudioError("No such device")])
    second = ScriptedPcm([(480, frames_bytes(480))])
    pcms = [first, second]
    loop = device.CaptureLoop(SETTINGS, retry_s=0.05, opener=lambda s, capture: pcms.pop(0))
    got: list[int] = []
    loop.add_listener(lambda frames, index: got.append(index))
    loop.start()
    try:
        wait(lambda: len(got) == 2)
        assert first.closed.is_set()
        assert got == [0, 480]
    finally:
        loop.stop()


def test_a_failing_listener_does_not_stop_the_capture(caplog):
    pcm = ScriptedPcm([(480, frames_bytes(480)), (480, frames_bytes(480))])
    loop = device.CaptureLoop(SETTINGS, opener=lambda s, capture: pcm)
    got: list[int] = []

    def broken(frames, index):
        raise RuntimeError("bug")

    loop.add_listener(broken)
    loop.add_listener(lambda frames, index: got.append(index))
    loop.start()
    try:
        wait(lambda: len(got) == 2)
        assert "audio listener failed" in caplog.text
    finally:
        loop.stop()


def test_a_test_spliced_across_an_overrun_is_not_analysed():
    """The recorder sees the skipped index; run_active_test reports 'overrun', not a verdict."""
    pcm = ScriptedPcm([(480, frames_bytes(480)), (-32, b""), (480, frames_bytes(480))])
    loop = device.CaptureLoop(SETTINGS, opener=lambda s, capture: pcm)
    rec = device.Recorder()
    loop.add_listener(rec)
    loop.start()
    try:
        wait(lambda: rec.frames == 960)
        assert rec.gaps == 1
    finally:
        loop.stop()


def test_the_recorder_notes_a_gap_in_the_frame_index():
    rec = device.Recorder()
    rec(np.zeros((10, 2)), 0)
    rec(np.zeros((10, 2)), 10)
    rec(np.zeros((10, 2)), 50)  # 30 frames lost
    assert rec.gaps == 1 and rec.frames == 30 and rec.first_index == 0


def test_an_abort_fades_the_tone_and_drops_the_buffer():
    pcm = ScriptedPcm([])
    player = device.Player(SETTINGS, opener=lambda s, capture: pcm)
    tone = np.full((48000, 2), 0.5)
    player.abort()
    assert player.run(tone) is False
    assert pcm.dropped and pcm.closed.is_set()
    last = np.frombuffer(pcm.written[-1], dtype="<i2").reshape(-1, 2)
    assert abs(int(last[0, 0])) > 10000 and int(last[-1, 0]) == 0  # faded, then silence
    assert np.all(np.abs(np.diff(last[:, 0].astype(int))) < 200)  # no step: no click


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("No such device [hw:CARD=Nope]", "audio.device_missing"),
        ("No such file or directory [nosuchdev]", "audio.device_missing"),
        ("Device or resource busy [hw:1]", "audio.device_busy"),
        ("Invalid argument [hw:1]", "audio.rate_unsupported"),
        ("Input/output error", "audio.device_error"),
    ],
)
def test_alsa_errors_become_reasons(message: str, reason: str):
    err = device.classify(alsaaudio.ALSAAudioError(message), "hw:1", 48000)
    assert err.reason == reason
    assert message.split(" [")[0] in err.detail
