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
from .watch import SPEECH_SCORE_DB

log = logging.getLogger(__name__)

#: Speech this far above the room's quiet level, outside the tone's bands, stops the test:
#: the watch's own speech threshold (one place for what counts as people talking).
GUARD_THRESHOLD_DB = SPEECH_SCORE_DB
#: ...in this many consecutive blocks (one block of a click or a cough is not a meeting).
GUARD_BLOCKS = 2
#: No captured block for this long during a test: the capture stalled and nobody
#: would hear people start to talk, so the tone stops.
HEARTBEAT_S = 0.5


def make_sweep(cfg: AudioConfig) -> Sweep:
    """The configured sweep; its top kept below 0.45 of the rate (anti-alias filters roll off)."""
    return synchronized_sweep(
        f1=cfg.sweep_f1_hz,
        f2=min(cfg.sweep_f2_hz, 0.45 * cfg.rate),
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
    """The bands the tone occupies now.

    The fundamental's recent span (what the room still rings with: the
    frequencies played in the last ``reverb_s``), and narrow bands round its
    harmonics 2-5 now (distortion products are 30 dB and more below the tone,
    so their own reverberation is not worth a band). Kept narrow on purpose:
    excluding each harmonic's whole span would leave no speech band at all
    while the sweep crosses 450-950 Hz.
    """
    lo = max(sweep.f1, f_now * math.exp(-reverb_s / sweep.rate_l)) / 1.1
    bands = [(lo, f_now * 1.15)]
    bands += [(n * f_now / 1.08, n * f_now * 1.08) for n in range(2, 6)]
    return bands


def tone_frequency(block: np.ndarray, fs: int) -> float | None:
    """The frequency of a narrow tone dominating ``block`` (mono), or None.

    A tone puts its power in a few bins: its peak stands 20 dB over the
    block's mean bin. A click, speech or noise does not, so a click on the
    reference wire cannot move the exclusion.
    """
    if float(np.max(np.abs(block))) < 10 ** (-70 / 20):
        return None
    power = np.abs(np.fft.rfft(block * np.hanning(len(block)))) ** 2
    k = int(np.argmax(power[1:])) + 1
    if power[k] < 100 * float(np.mean(power[1:])):
        return None
    return k * fs / len(block)


class Guard:
    """A capture listener that calls ``on_trigger`` when people talk over the tone.

    ``score(block, exclude)`` is the watch's speech score: how far (dB) the
    speech band outside ``exclude`` stands above the room's quiet level. The
    tone's frequency is read from the loopback reference; without one (the
    wire unplugged) from the return itself, where the tone also dominates.
    ``reverb_s`` is how long the room rings: 1 s covers a reverberation time
    of 2.5 s at a tone 36 dB over the room's quiet level.
    """

    def __init__(
        self, sweep: Sweep, score: Callable[[np.ndarray, list[tuple[float, float]]], float],
        on_trigger: Callable[[], None], *, reverb_s: float = 1.0,
        threshold_db: float = GUARD_THRESHOLD_DB, blocks: int = GUARD_BLOCKS,
    ) -> None:  # fmt: skip
        self.sweep = sweep
        self.score = score
        self.on_trigger = on_trigger
        self.reverb_s = reverb_s
        self.threshold_db = threshold_db
        self.blocks = blocks
        self._run = 0
        self._f_last: float | None = None  # the tone's latest frequency...
        self._f_at = -math.inf  # ...and when (capture seconds): the room rings after it stops
        self.triggered_at: float | None = None
        self.triggered_index: int | None = None
        self.last_score = -math.inf
        self.last_block_at: float | None = None  # monotonic time of the latest block

    def __call__(self, frames: np.ndarray, index: int) -> None:
        self.last_block_at = time.monotonic()
        if self.triggered_at is not None:
            return
        fs = self.sweep.fs
        now_s = index / fs
        f_now = None
        if frames.shape[1] > 1:
            f_now = tone_frequency(frames[:, 1], fs)
        if f_now is None:
            f_now = tone_frequency(frames[:, 0], fs)
        if f_now is not None:
            self._f_last, self._f_at = f_now, now_s
        ringing = self._f_last is not None and now_s - self._f_at <= self.reverb_s
        exclude = excluded_bands(self._f_last, self.sweep, self.reverb_s) if ringing else []
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
    status: str  # "done", "aborted" (people talked, a meeting), "overrun" (audio lost), "failed"
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
    *, sweep: Sweep | None = None,
    stop: threading.Event | None = None,
) -> Outcome:  # fmt: skip
    """Play the sweep on the playback device while ``capture`` records; analyse it."""
    started = time.monotonic()
    sw = sweep or make_sweep(cfg)
    if not capture.running.is_set():  # nobody would hear people start to talk: no tone
        error = capture.error or AudioDeviceError(
            "audio.device_error", f"{cfg.capture_device}: the capture is not running"
        )
        return Outcome("failed", None, None, error=error)
    recorder = Recorder()
    player = Player(DeviceSettings.of(cfg, playback=True))
    guard = Guard(sw, score, player.abort)
    overruns_before = capture.overruns
    capture.add_listener(recorder)
    capture.add_listener(guard)
    opened = time.monotonic()

    def alive() -> bool:
        """The guard heard a block lately (or the test has only just begun)."""
        last = guard.last_block_at if guard.last_block_at is not None else opened
        return time.monotonic() - last < HEARTBEAT_S

    watcher = None
    if stop is not None:  # the daemon stopping, or a meeting starting, also stops the tone

        def _watch_stop() -> None:
            while not player.aborted and not stop.wait(0.02):
                pass
            if stop.is_set():
                player.abort()

        watcher = threading.Thread(target=_watch_stop, daemon=True)
        watcher.start()
    try:
        finished = player.run(stimulus(sw, cfg.pre_silence_s, cfg.tail_s), alive)
        # The room's tail and the buffers' latency still to be captured; after an
        # abort, what was buffered (the recording shows the tone really stopped).
        wait_until = time.monotonic() + (cfg.tail_s + 1.0 if finished else 0.6)
        want = recorder.frames + round((0.5 if finished else 0.4) * cfg.rate)
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
    took = time.monotonic() - started
    if not finished:
        reaction = None
        if guard.triggered_at is not None and player.aborted_at is not None:
            reaction = player.aborted_at - guard.triggered_at
        return Outcome("aborted", None, data, overruns=overruns, gaps=recorder.gaps,
                       reaction_s=reaction, duration_s=took)  # fmt: skip
    if overruns or recorder.gaps:  # audio was lost mid-sweep: a spliced capture lies
        return Outcome("overrun", None, data, overruns=max(overruns, 1), gaps=recorder.gaps,
                       duration_s=took)  # fmt: skip
    result = analyse(sw, data)
    return Outcome("done", result, data, overruns=overruns, gaps=recorder.gaps, duration_s=took)
