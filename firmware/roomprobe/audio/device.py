"""The USB audio interface through ALSA (pyalsaaudio): one capture loop, one player.

Capture runs all the time in its own thread (the passive watch needs every
block, and the active test records from the same stream), so a test never
has to open the capture device while something else holds it. Playback is
opened only for a test, and played a period at a time so that it can be
stopped between any two periods: a stop ramps the tone down over a few
milliseconds (no click through the room's loudspeakers) and drops what is
still buffered.

pyalsaaudio facts this module is built around (checked with 0.11): the
default period of 32 frames is below most devices' minimum, so the period is
set and then read back from ``info()``; ``read()`` returns ``(-32, b'')``
(-EPIPE) on an overrun and re-prepares the stream itself; a missing device,
a busy one and an unsupported rate raise ``alsaaudio.ALSAAudioError`` with
ALSA's message, which :func:`classify` turns into a reason code a verdict
carries.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import AudioConfig

log = logging.getLogger(__name__)

FULL_SCALE = 32768.0
#: ALSA's read() result for an overrun (-EPIPE).
EPIPE = -32


class AudioDeviceError(RuntimeError):
    """The interface cannot be used; ``reason`` is the verdict's reason code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def classify(exc: Exception, device: str, rate: int) -> AudioDeviceError:
    """ALSA's error, as the reason a person can act on."""
    text = str(exc)
    low = text.lower()
    if "busy" in low:
        return AudioDeviceError(
            "audio.device_busy", f"{device}: in use by another program ({text})"
        )
    if "no such" in low or "not found" in low or "unknown pcm" in low or "no such device" in low:
        return AudioDeviceError("audio.device_missing", f"{device}: not found ({text})")
    if "rate" in low or "invalid argument" in low:
        return AudioDeviceError(
            "audio.rate_unsupported", f"{device}: does not take {rate} Hz, 16-bit stereo ({text})"
        )
    return AudioDeviceError("audio.device_error", f"{device}: {text}")


@dataclass(frozen=True)
class DeviceSettings:
    device: str
    rate: int = 48000
    channels: int = 2
    period_frames: int = 1024
    periods: int = 4

    @classmethod
    def of(cls, cfg: AudioConfig, playback: bool = False) -> DeviceSettings:
        """The configured capture (or playback) device: always two channels.

        Playback keeps only two periods buffered (43 ms at the defaults): what is
        buffered still plays after an abort, and the tone must stop within 200 ms
        of people starting to talk. Capture keeps ``periods`` (a longer buffer
        there only absorbs scheduling delays).
        """
        if playback:
            return cls(cfg.playback_device, cfg.rate, 2, cfg.period_frames, min(cfg.periods, 2))
        return cls(cfg.capture_device, cfg.rate, 2, cfg.period_frames, cfg.periods)


def _open(settings: DeviceSettings, capture: bool):
    """Open the PCM with explicit rate, channels, format, period and periods.

    The rate and channels ALSA actually gave are read back from ``info()``: a
    device that will not run at the configured rate is refused by name. The
    period may be adjusted by the device (PulseAudio does); that only changes
    the block size, so it is logged, not refused.
    """
    import alsaaudio  # the probe extra; the hub never imports this module

    kind = alsaaudio.PCM_CAPTURE if capture else alsaaudio.PCM_PLAYBACK
    try:
        pcm = alsaaudio.PCM(
            kind,
            alsaaudio.PCM_NORMAL,
            device=settings.device,
            channels=settings.channels,
            rate=settings.rate,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=settings.period_frames,
            periods=settings.periods,
        )
    except alsaaudio.ALSAAudioError as exc:
        raise classify(exc, settings.device, settings.rate) from exc
    info = pcm.info()
    if info.get("period_size") not in (None, settings.period_frames):
        log.info("%s: period of %s frames instead of %s", settings.device,
                 info.get("period_size"), settings.period_frames)  # fmt: skip
    if info.get("rate") != settings.rate or info.get("channels") != settings.channels:
        pcm.close()
        raise AudioDeviceError(
            "audio.rate_unsupported",
            f"{settings.device}: asked for {settings.rate} Hz {settings.channels} channels, "
            f"got {info.get('rate')} Hz {info.get('channels')} channels",
        )
    return pcm


def to_float(data: bytes, channels: int) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").reshape(-1, channels).astype(np.float64) / FULL_SCALE


def to_pcm(frames: np.ndarray) -> bytes:
    return (np.clip(frames, -1.0, 32767 / 32768) * FULL_SCALE).astype("<i2").tobytes()


Listener = Callable[[np.ndarray, int], None]


class CaptureLoop:
    """Reads the capture device forever, in a thread, and hands each block to listeners.

    A listener gets ``(frames, index)``: float frames (n x channels) and the
    running index of their first frame since the loop started, so a recorder
    and the safety guard agree on time. Overruns are counted and move the
    index on by a period (each loses audio: a test that ran through one is
    not analysed, and reports the overrun). If the device fails or
    disappears the loop records the error, closes it and tries again every
    ``retry_s``; it never raises into the daemon.
    """

    def __init__(
        self, settings: DeviceSettings, *, retry_s: float = 5.0,
        opener: Callable[[DeviceSettings, bool], object] = _open,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.retry_s = retry_s
        self._opener = opener
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_read = 0
        self.overruns = 0
        self.error: AudioDeviceError | None = None
        self.running = threading.Event()  # set while the device delivers

    def add_listener(self, fn: Listener) -> None:
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audio-capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pcm = self._opener(self.settings, True)
            except AudioDeviceError as exc:
                self._fail(exc)
                continue
            except Exception as exc:  # e.g. pyalsaaudio missing: a verdict, not a dead thread
                self._fail(classify(exc, self.settings.device, self.settings.rate))
                continue
            self.error = None
            try:
                self._read_from(pcm)
            except Exception as exc:
                self._fail(classify(exc, self.settings.device, self.settings.rate))
            finally:
                self.running.clear()
                with contextlib.suppress(Exception):
                    pcm.close()  # type: ignore[attr-defined]

    def _fail(self, exc: AudioDeviceError) -> None:
        if self.error is None or self.error.reason != exc.reason:
            log.warning("audio capture: %s", exc.detail)
        self.error = exc
        self._stop.wait(self.retry_s)

    def _read_from(self, pcm) -> None:
        channels = self.settings.channels
        while not self._stop.is_set():
            n, data = pcm.read()
            if n == EPIPE:
                # At least one period was lost: move the index on, so a recorder
                # sees the gap and a test spliced across it is not analysed.
                self.overruns += 1
                self.frames_read += self.settings.period_frames
                continue
            if n < 0:
                raise OSError(f"capture read returned {n}")
            if n == 0:
                continue
            self.running.set()
            frames = to_float(data, channels)
            index = self.frames_read
            self.frames_read += len(frames)
            with self._lock:
                listeners = list(self._listeners)
            for fn in listeners:
                try:
                    fn(frames, index)
                except Exception:  # a listener's bug must not stop the capture
                    log.exception("audio listener failed")


class Recorder:
    """Collects the capture between :meth:`begin` and :meth:`end` (a CaptureLoop listener)."""

    def __init__(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._lock = threading.Lock()
        self.first_index: int | None = None
        self.gaps = 0  # blocks that did not follow the previous one (an overrun lost audio)
        self._next: int | None = None

    def __call__(self, frames: np.ndarray, index: int) -> None:
        with self._lock:
            if self.first_index is None:
                self.first_index = index
            elif index != self._next:
                self.gaps += 1
            self._next = index + len(frames)
            self._blocks.append(frames)

    @property
    def frames(self) -> int:
        with self._lock:
            return sum(len(b) for b in self._blocks)

    def take(self) -> np.ndarray:
        with self._lock:
            if not self._blocks:
                return np.zeros((0, 2))
            return np.concatenate(self._blocks)


class Player:
    """Plays a float signal (frames x channels) a period at a time; :meth:`abort` stops it.

    ``run`` blocks until the signal has been written or the abort flag was
    seen; between periods it checks the flag, so at most one period (plus
    what ALSA has buffered, which ``drop()`` discards) plays after an abort.
    The abort fades the current period out over ``fade_s`` first.
    """

    def __init__(
        self, settings: DeviceSettings, *, fade_s: float = 0.005,
        opener: Callable[[DeviceSettings, bool], object] = _open,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.fade_s = fade_s
        self._opener = opener
        self._abort = threading.Event()
        self.frames_written = 0
        self.aborted_at: float | None = None  # monotonic time the abort took effect
        self.started_at: float | None = None

    def abort(self) -> None:
        self._abort.set()

    @property
    def aborted(self) -> bool:
        return self._abort.is_set()

    def run(self, signal: np.ndarray, alive: Callable[[], bool] | None = None) -> bool:
        """Play ``signal``; True if it played to the end, False if aborted.

        ``alive`` is asked before every period; False aborts like :meth:`abort`
        (the safety guard's heartbeat: no tone plays while nobody listens).
        """
        pcm = self._opener(self.settings, False)
        step = self.settings.period_frames
        fade = max(1, round(self.fade_s * self.settings.rate))
        try:
            self.started_at = time.monotonic()
            for i in range(0, len(signal), step):
                if alive is not None and not self._abort.is_set() and not alive():
                    log.warning("audio test: the capture stopped; stopping the tone")
                    self._abort.set()
                if self._abort.is_set():
                    block = signal[i : i + step].copy()
                    k = min(fade, len(block))
                    block[:k] *= np.linspace(1.0, 0.0, k)[:, None]
                    block[k:] = 0.0
                    pcm.write(to_pcm(block))  # type: ignore[attr-defined]
                    pcm.drop()  # type: ignore[attr-defined]
                    self.aborted_at = time.monotonic()
                    return False
                pcm.write(to_pcm(signal[i : i + step]))  # type: ignore[attr-defined]
                self.frames_written += min(step, len(signal) - i)
            pcm.drain()  # type: ignore[attr-defined]
            return True
        except Exception as exc:
            raise classify(exc, self.settings.device, self.settings.rate) from exc
        finally:
            pcm.close()  # type: ignore[attr-defined]
