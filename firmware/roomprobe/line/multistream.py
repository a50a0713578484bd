"""The project's own throughput test against the hub's endpoint (``/mini/``).

Several parallel TCP streams, byte counts sampled every ``sample_s``; the
estimate (``estimate.py``) cuts off the warm-up and stops the test early once
the rate has settled. Upload is counted where it arrives: the hub's
``sink`` reports the bytes it received and its own clock, so bytes still in
the probe's socket buffers are not counted as sent.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from .estimate import Estimate, estimate

CHUNK = 64 * 1024
STREAM_SIZE = 2 * 1024**3  # never reached within a test: a stream ends when we stop it
_PAYLOAD = memoryview(os.urandom(CHUNK))


class LineTestError(RuntimeError):
    """The endpoint could not be reached or answered wrongly."""


class LineTestAborted(LineTestError):
    """Stopped on purpose (a meeting started): the partial figures mean nothing."""


@dataclass(frozen=True)
class Settings:
    streams: int = 4
    min_s: float = 3.0
    max_s: float = 10.0
    sample_s: float = 0.25
    warmup_min_s: float = 1.0
    window: int = 8
    tolerance: float = 0.03  # the running estimate's spread over the last 2 s
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Direction:
    steady_mbps: float
    mean_mbps: float
    warmup_s: float
    duration_s: float
    bytes: int  # on the wire from this side (payload), what the test cost
    stable: bool

    @classmethod
    def of(cls, est: Estimate, wire_bytes: int) -> Direction:
        return cls(
            round(est.steady_mbps, 3), round(est.mean_mbps, 3), round(est.warmup_s, 3),
            round(est.duration_s, 3), wire_bytes, est.stable,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Endpoint:
    """Where the hub's ``/mini/`` lives."""

    def __init__(self, url: str, timeout_s: float = 5.0):
        parts = urlsplit(url if url.endswith("/") else url + "/")
        if parts.scheme != "http" or not parts.hostname:
            raise LineTestError(f"{url!r}: expected http://host[:port]/mini/")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = parts.path
        self.timeout_s = timeout_s

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)


def _set(event: threading.Event | None) -> bool:
    return event is not None and event.is_set()


def _sample(
    read: Callable[[], tuple[float, int]], done: Callable[[], bool], cfg: Settings
) -> list[tuple[float, int]]:
    """Sample (time, bytes) until the estimate settles or time runs out."""
    series = [read()]
    start = series[0][0]
    next_at = time.monotonic() + cfg.sample_s
    while True:
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += cfg.sample_s
        series.append(read())
        elapsed = series[-1][0] - start
        if done() or elapsed >= cfg.max_s:
            return series
        if elapsed >= cfg.min_s:
            est = estimate(series, cfg.warmup_min_s, cfg.window, cfg.tolerance)
            if est.stable:
                return series


def download(
    url: str, cfg: Settings = Settings(), abort: threading.Event | None = None
) -> Direction:
    endpoint = Endpoint(url, cfg.timeout_s)
    counts = [0] * cfg.streams
    stop = threading.Event()
    errors: list[str] = []

    def run(i: int) -> None:
        conn = endpoint.connect()
        try:
            while not stop.is_set():
                conn.request("GET", f"{endpoint.path}stream?size={STREAM_SIZE}")
                resp = conn.getresponse()
                if resp.status != 200:
                    raise LineTestError(f"stream answered HTTP {resp.status}")
                while not stop.is_set():
                    # read1: count bytes as they arrive; readinto() would wait for a
                    # full buffer and count in 64 KB steps (22 % of a 10 Mbit sample).
                    n = len(resp.read1(CHUNK))
                    if not n:
                        break
                    counts[i] += n
        except (OSError, http.client.HTTPException, LineTestError) as exc:
            if not stop.is_set():
                errors.append(f"download stream {i}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(cfg.streams)]
    for t in threads:
        t.start()
    try:
        series = _sample(
            lambda: (time.monotonic(), sum(counts)), lambda: bool(errors) or _set(abort), cfg
        )
    finally:
        stop.set()
        for t in threads:
            t.join(cfg.timeout_s)
    if _set(abort):
        raise LineTestAborted("download stopped: the room became busy")
    if errors and series[-1][1] == 0:
        raise LineTestError(errors[0])
    est = estimate(series, cfg.warmup_min_s, cfg.window, cfg.tolerance)
    return Direction.of(est, sum(counts))


def upload(url: str, cfg: Settings = Settings(), abort: threading.Event | None = None) -> Direction:
    endpoint = Endpoint(url, cfg.timeout_s)
    test = uuid.uuid4().hex
    sent = [0] * cfg.streams
    stop = threading.Event()
    errors: list[str] = []

    def body(i: int) -> Iterator[memoryview]:
        while not stop.is_set():
            sent[i] += CHUNK
            yield _PAYLOAD

    def run(i: int) -> None:
        conn = endpoint.connect()
        try:
            conn.request("POST", f"{endpoint.path}sink/{test}", body=body(i), encode_chunked=True)
            conn.getresponse().read()
        except (OSError, http.client.HTTPException) as exc:
            if not stop.is_set():
                errors.append(f"upload stream {i}: {exc}")
        finally:
            conn.close()

    poller = endpoint.connect()

    def received() -> tuple[float, int]:
        """(hub's clock, bytes the hub has received): the receiver's view."""
        poller.request("GET", f"{endpoint.path}sink/{test}")
        resp = poller.getresponse()
        data = json.loads(resp.read())
        if resp.status != 200:
            raise LineTestError(f"sink answered HTTP {resp.status}")
        return float(data["now"]), int(data["received"])

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(cfg.streams)]
    try:
        first = received()
        for t in threads:
            t.start()
        series = _sample(received, lambda: bool(errors) or _set(abort), cfg)
        series[0] = first
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
        raise LineTestError(f"upload: cannot read the hub's count: {exc}") from None
    finally:
        stop.set()
        for t in threads:
            t.join(cfg.timeout_s)
        poller.close()
    if _set(abort):
        raise LineTestAborted("upload stopped: the room became busy")
    if errors and series[-1][1] == 0:
        raise LineTestError(errors[0])
    est = estimate(series, cfg.warmup_min_s, cfg.window, cfg.tolerance)
    return Direction.of(est, sum(sent))
