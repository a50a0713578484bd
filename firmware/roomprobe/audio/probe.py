"""The daemon's audio side: the interface captured all the time, watched, and tested on demand.

One :class:`AudioProbe` per daemon. It starts the capture loop (its own
thread) and feeds every block to the passive watch, which knows at any moment
whether people are talking. An active test runs in a worker thread
(:class:`AudioJob`) and hands its result back to the daemon's single-threaded
loop, which publishes it; the loop never waits on audio. The commissioned
reference lives in the state folder (``audio-reference.json``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import AudioConfig, Thresholds
from ..verdicts import Verdict
from . import reference as reference_mod
from .active import Outcome, run_active_test
from .analysis import Analysis
from .device import CaptureLoop, DeviceSettings
from .diagnosis import Findings, diagnose
from .watch import PassiveWatch, WatchSummary, summary_of

log = logging.getLogger(__name__)

REFERENCE_FILE = "audio-reference.json"


def empty_metrics() -> dict[str, Any]:
    """The audio result's metrics when nothing was measured (the contract's required keys)."""
    return {
        "level_dbfs": None,
        "noise_floor_dbfs": None,
        "snr_db": None,
        "thd_pct": None,
        "latency_ms": None,
        "channels_present": [],
    }


@dataclass
class TestResult:
    status: str  # done, aborted, failed
    metrics: dict[str, Any]
    findings: Findings
    started: float  # epoch seconds
    outcome: Outcome | None = field(default=None, repr=False)

    @property
    def verdict(self) -> Verdict:
        return self.findings.overall


def report(
    a: Analysis, watch: WatchSummary, thresholds: Thresholds,
    reference: reference_mod.Reference | None, overruns: int = 0,
) -> tuple[dict[str, Any], Findings]:  # fmt: skip
    """An analysed test's metrics (the watch's included) and its findings."""
    metrics = a.to_dict()
    metrics["watch"] = watch.to_dict()
    findings = diagnose(a, thresholds, reference=reference, watch=watch, overruns=overruns)
    return metrics, findings


def judge(
    outcome: Outcome, cfg: AudioConfig, thresholds: Thresholds,
    reference: reference_mod.Reference | None, watch: WatchSummary | None = None,
) -> tuple[dict[str, Any], Findings]:  # fmt: skip
    """Metrics and findings of one finished test (pure: no device, no clock).

    ``watch``: what the always-on watch heard (the daemon's, over the test and
    the minutes before it); without it, a watch over the test's capture alone.
    """
    if outcome.status == "failed":
        return empty_metrics(), diagnose(None, thresholds, device_error=outcome.error)
    if outcome.status == "overrun":  # audio was lost mid-sweep: the probe's fault, nothing else
        return empty_metrics(), diagnose(None, thresholds, overruns=outcome.overruns)
    if outcome.status == "aborted" or outcome.analysis is None or outcome.capture is None:
        metrics = {**empty_metrics(), "aborted": True}
        return metrics, diagnose(None, thresholds, aborted=True, overruns=outcome.overruns)
    if watch is None:
        watch = summary_of(outcome.capture, fs=cfg.rate, mains_hz=cfg.mains_hz)
    return report(outcome.analysis, watch, thresholds, reference, outcome.overruns)


class AudioJob:
    """One active test in a worker thread; ``done()`` when its result is ready."""

    def __init__(self, probe: AudioProbe):
        self.probe = probe
        self.result: TestResult | None = None
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audio-test", daemon=True)
        self._thread.start()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        p = self.probe
        started = time.time()
        try:
            outcome = run_active_test(p.capture, p.cfg, p.speech_score, stop=self.stop)
            try:
                ref = reference_mod.load(p.reference_path)
            except ValueError as exc:
                log.warning("audio reference ignored: %s", exc)
                ref = None
            heard = p.watch.summary(reset=False)  # the always-on watch, test included
            metrics, findings = judge(outcome, p.cfg, p.thresholds, ref, heard)
            self.result = TestResult(outcome.status, metrics, findings, started, outcome)
        except Exception as exc:
            log.exception("audio test failed")
            from .device import AudioDeviceError

            err = AudioDeviceError("audio.device_error", f"analysis failed: {exc}")
            findings = diagnose(None, p.thresholds, device_error=err)
            self.result = TestResult("failed", empty_metrics(), findings, started)


class AudioProbe:
    def __init__(self, cfg: AudioConfig, thresholds: Thresholds, state_dir: Path):
        self.cfg = cfg
        self.thresholds = thresholds
        self.reference_path = Path(state_dir) / REFERENCE_FILE
        self.capture = CaptureLoop(DeviceSettings.of(cfg))
        self.watch = PassiveWatch(cfg.rate, 2, mains_hz=cfg.mains_hz)
        self._last_active = -float("inf")
        self._overruns_seen = 0
        self.capture.add_listener(self._feed)

    def _feed(self, frames: np.ndarray, index: int) -> None:
        self.watch.feed(frames)
        if self.capture.overruns > self._overruns_seen:
            for _ in range(self.capture.overruns - self._overruns_seen):
                self.watch.note_overrun()
            self._overruns_seen = self.capture.overruns
        if self.watch.active:
            self._last_active = time.monotonic()

    def speech_score(self, block: np.ndarray, exclude: list[tuple[float, float]]) -> float:
        return self.watch.speech_score(block, exclude=exclude)

    def start(self) -> None:
        # Heard nobody yet is not the same as quiet: a box restarting in the middle of a
        # meeting nobody scheduled must listen for quiet_before_s before any tone.
        self._last_active = time.monotonic()
        self.capture.start()

    def stop(self) -> None:
        self.capture.stop()

    @property
    def room_active(self) -> bool:
        """People are talking now (or were within the watch's hangover)."""
        return self.watch.active

    def quiet_enough(self) -> bool:
        """Quiet for ``quiet_before_s``, and the capture is running: a test may start."""
        if not self.capture.running.is_set():
            return self.capture.error is not None  # let the test report the device's fault
        return time.monotonic() - self._last_active >= self.cfg.quiet_before_s

    def start_test(self) -> AudioJob:
        return AudioJob(self)
