"""The active test on the real interface: play the sweep, record it, stop if people talk.

Safety first (DESIGN.md rule 1). The caller only starts a test when no
meeting is scheduled or detected and meeting mode is off; while the tone
plays, :class:`Guard` listens to every captured block for people who start
talking anyway, and aborts the player within a couple of periods. The tone
itself is conservative (a configured peak level, -24 dBFS by default) and
ramped in and out, and an abort fades it over 5 ms before dropping ALSA's
buffer: no click, no burst.

The guard cannot simply look for sound: the tone is sound. The sweep is
narrow at any instant, so the guard finds the tone's current frequency on the
loopback reference channel, excludes it, its harmonics (distortion) and the
band the room is still ringing with (the frequencies played in the last
``reverb_s``), and asks the passive watch's speech detector about what is
left of the speech band. Speech is broadband and always leaves some of it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import AudioConfig
from .analysis import Analysis, analyse
from .device import AudioDeviceError, CaptureLoop, DeviceSettings, Player, Recorder
from .sweep import Sweep, synchronized_sweep

log = logging.getLogger(__name__)

#: Speech this far above the room's quiet level, outside the tone's bands, stops the test.
GUARD_THRESHOLD_DB = 12.0
#: ...in this many consecutive blocks (one block of a click or a cough is not a meeting).
GUARD_BLOCKS = 2


def make_sweep(cfg: AudioConfig) -> Sweep:
    return synchronized_sweep(
        f1=cfg.sweep_f1_hz,
        f2=min(cfg.sweep_f2_hz, cfg.rate / 2),
        duration_s=cfg.sweep_s,
        fs=cfg.rate,
        level_dbfs=cfg.level_dbfs,
        fade_s=cfg.ramp_s,
    )


def stimulus(sweep: Sweep, pre_s: float, tail_s: float) -> np.ndarray:
    """What is played: silence (the noise floor), the sweep on both outputs, silence (the decay).

    Output 0 goes to the mixer, output 1 to the loopback reference wire.
    """
    fs = sweep.fs
    mono = np.concatenate([np.zeros(round(pre_s * fs)), sweep.signal, np.zeros(round(tail_s * fs))])
    return np.stack([mono, mono], axis=1)


def excluded_bands(f_now: float, sweep: Sweep, reverb_s: float) -> list[tuple[float, float]]:
    """The bands the tone occupies now: the sweep's recent frequencies and their harmonics 2-5."""
    lo = max(sweep.f1, f_now * math.exp(-reverb_s / sweep.rate_l)) / 1.1
    hi = f_now * 1.15
    return [(n * lo, n * hi) for n in range(1, 6)]


class Guard:
    """A capture listener that calls ``on_trigger`` when people talk over the tone.

    ``score(block, exclude)`` is the watch's speech score: how far (dB) the
    speech band outside ``exclude`` stands above the room's quiet level.
    """

    def __init__(
        self, sweep: Sweep, score: Callable[[np.ndarray, list[tuple[float, float]]], float],
        on_trigger: Callable[[], None], *, reverb_s: float = 0.6,
        threshold_db: float = GUARD_THRESHOLD_DB, blocks: int = GUARD_BLOCKS,
    ) -> None:  # fmt: skip
        self.sweep = sweep
        self.score = score
        self.on_trigger = on_trigger
        self.reverb_s = reverb_s
        self.threshold_db = threshold_db
        self.blocks = blocks
        self._run = 0
        self._f_max = 0.0  # the highest frequency the tone has reached (it only rises)
        self.triggered_at: float | None = None
        self.triggered_index: int | None = None
        self.last_score = -math.inf

    def _tone_frequency(self, frames: np.ndarray) -> float | None:
        ref = frames[:, 1] if frames.shape[1] > 1 else frames[:, 0]
        if float(np.max(np.abs(ref))) < 10 ** (-70 / 20):
            return None
        spec = np.abs(np.fft.rfft(ref * np.hanning(len(ref))))
        k = int(np.argmax(spec[1:])) + 1
        return k * self.sweep.fs / len(ref)

    def __call__(self, frames: np.ndarray, index: int) -> None:
        if self.triggered_at is not None:
            return
        f_now = self._tone_frequency(frames)
        if f_now is not None:
            self._f_max = max(self._f_max, f_now)
        exclude = excluded_bands(self._f_max, self.sweep, self.reverb_s) if self._f_max else []
        self.last_score = self.score(frames[:, 0], exclude)
        self._run = self._run + 1 if self.last_score >= self.threshold_db else 0
        if self._run >= self.blocks:
            self.triggered_at = time.monotonic()
            self.triggered_index = index
            log.warning("audio test: people talking (%.0f dB over quiet); stopping the tone",
                        self.last_score)  # fmt: skip
            self.on_trigger()


@dataclass(frozen=True)
class Outcome:
    status: str  # "done", "aborted", "failed"
    analysis: Analysis | None
    capture: np.ndarray | None
    error: AudioDeviceError | None = None
    overruns: int = 0
    gaps: int = 0
    reaction_s: float | None = None  # from the guard's trigger to the player's stop
    duration_s: float = 0.0


def run_active_test(
    capture: CaptureLoop, cfg: AudioConfig,
    score: Callable[[np.ndarray, list[tuple[float, float]]], float],
    *, sweep: Sweep | None = None, analyse_capture: bool = True,
    stop: threading.Event | None = None,
) -> Outcome:  # fmt: skip
    """Play the sweep on the playback device while ``capture`` records; analyse it."""
    started = time.monotonic()
    sw = sweep or make_sweep(cfg)
    settings = DeviceSettings(cfg.playback_device, cfg.rate, 2, cfg.period_frames, cfg.periods)
    if capture.error is not None and not capture.running.is_set():
        return Outcome("failed", None, None, error=capture.error)
    recorder = Recorder()
    player = Player(settings)
    guard = Guard(sw, score, player.abort)
    overruns_before = capture.overruns
    capture.add_listener(recorder)
    capture.add_listener(guard)
    watcher = None
    if stop is not None:  # the daemon stopping also stops the tone

        def _watch_stop() -> None:
            while not player.aborted and not stop.wait(0.05):
                pass
            if stop.is_set():
                player.abort()

        watcher = threading.Thread(target=_watch_stop, daemon=True)
        watcher.start()
    try:
        finished = player.run(stimulus(sw, cfg.pre_silence_s, cfg.tail_s))
        if finished:  # the room's tail and the buffers' latency, still to be captured
            wait_until = time.monotonic() + cfg.tail_s + 1.0
            want = recorder.frames + round(0.5 * cfg.rate)
            while recorder.frames < want and time.monotonic() < wait_until:
                time.sleep(0.02)
    except AudioDeviceError as exc:
        return Outcome("failed", None, None, error=exc, duration_s=time.monotonic() - started)
    finally:
        capture.remove_listener(guard)
        capture.remove_listener(recorder)
        if watcher is not None:
            player.abort()
    overruns = capture.overruns - overruns_before
    data = recorder.take()
    if not finished:
        reaction = None
        if guard.triggered_at is not None and player.aborted_at is not None:
            reaction = player.aborted_at - guard.triggered_at
        return Outcome("aborted", None, data, overruns=overruns, gaps=recorder.gaps,
                       reaction_s=reaction, duration_s=time.monotonic() - started)  # fmt: skip
    result = analyse(sw, data) if analyse_capture else None
    return Outcome("done", result, data, overruns=overruns, gaps=recorder.gaps,
                   duration_s=time.monotonic() - started)  # fmt: skip
