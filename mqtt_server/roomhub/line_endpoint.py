"""The endpoint the probes test their line against, served by the hub.

Two protocols on one router, under ``/mini/``:

* **Speedtest Mini** (what speedtest-cli's ``--mini`` mode speaks): an index
  page declaring ``upload_extension: "php"``, ``speedtest/latency.txt``,
  ``speedtest/random{N}x{N}.jpg`` and ``POST speedtest/upload.php``.
* **The project's own multi-stream test**: ``GET stream?size=N`` sends N
  bytes, and ``POST sink/{test}`` swallows an upload while counting what
  *arrived*; ``GET sink/{test}`` tells the probe how much has arrived so far
  and when (the hub's clock), so upload speed is measured at the receiver,
  not when bytes are handed to the sender's socket (speedtest-cli's error).

The payload is one megabyte of random bytes repeated: incompressible, and
generating it costs nothing per request.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, StreamingResponse

PREFIX = "/mini"
CHUNK = 64 * 1024
MAX_STREAM_BYTES = 2 * 1024**3  # one stream, at most: 20 s at 800 Mbps
MAX_TRANSFER_S = 30.0  # a test's stream or upload ends after this, whatever its size
MAX_ACTIVE = 64  # streams and uploads at once, all probes together (16 tests of 4 streams)
MAX_SINKS = 1024  # upload tests remembered; the oldest are forgotten first
_BLOCK = os.urandom(1024 * 1024)
_VIEW = memoryview(_BLOCK)

INDEX = """<!doctype html>
<html><head><title>roomhub line test</title></head>
<body><p>roomhub line-test endpoint (Speedtest Mini compatible).</p>
<script>var upload_extension: "php";</script></body></html>
"""


def mini_image_size(n: int) -> int:
    """Bytes of speedtest.net's randomNxN.jpg (about 2 bytes a pixel: 350 -> 245 kB)."""
    return n * n * 2


async def _stream(total: int, slots: Slots) -> AsyncIterator[bytes]:
    # The slot is taken here, not in the handler: a generator that never starts (the
    # client left first) never runs its finally, and would keep the slot for good.
    slots.enter()
    sent = 0
    deadline = time.monotonic() + MAX_TRANSFER_S
    try:
        while sent < total and time.monotonic() < deadline:
            start = sent % len(_BLOCK)
            size = min(CHUNK, total - sent, len(_BLOCK) - start)
            yield bytes(_VIEW[start : start + size])
            sent += size
    finally:
        slots.release()


class Slots:
    """How many transfers run at once: a stranger's loop of requests must not take
    the hub's whole uplink (and every probe's verdict with it)."""

    def __init__(self, limit: int = MAX_ACTIVE):
        self.limit, self.active = limit, 0
        self._lock = threading.Lock()

    def check(self) -> None:
        """Refuse a new transfer when the hub is at its limit (HTTP 503)."""
        if self.active >= self.limit:
            raise HTTPException(503, "too many line tests at once; try again later")

    def enter(self) -> None:
        with self._lock:
            self.active += 1

    def take(self) -> None:
        with self._lock:
            if self.active >= self.limit:
                raise HTTPException(503, "too many line tests at once; try again later")
            self.active += 1

    def release(self) -> None:
        with self._lock:
            self.active -= 1


class SinkCounters:
    """Bytes received per upload test, with the hub's time of the last arrival.

    At most ``MAX_SINKS`` tests are remembered, the oldest forgotten first, so
    requests for made-up test ids cannot grow the hub's memory.
    """

    def __init__(self, limit: int = MAX_SINKS) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._tests: OrderedDict[str, tuple[int, float, float]] = OrderedDict()

    def add(self, test: str, n: int) -> None:
        now = time.monotonic()
        with self._lock:
            got, first, _ = self._tests.get(test, (0, now, now))
            self._tests[test] = (got + n, first, now)
            self._tests.move_to_end(test)
            while len(self._tests) > self._limit:
                self._tests.popitem(last=False)

    def read(self, test: str) -> dict[str, float]:
        now = time.monotonic()
        with self._lock:
            got, first, last = self._tests.get(test, (0, now, now))
        return {"received": got, "first": first, "last": last, "now": now}


def _check_test_id(test: str) -> str:
    if not (1 <= len(test) <= 64) or not all(c.isalnum() or c in "-_" for c in test):
        raise HTTPException(400, "test id: 1-64 letters, digits, '-' or '_'")
    return test


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    sinks = SinkCounters()
    slots = Slots()

    @router.get("/", response_class=HTMLResponse)
    def index() -> str:
        return INDEX

    @router.get("/speedtest/latency.txt", response_class=PlainTextResponse)
    def latency() -> str:
        return "test=test"

    @router.get("/speedtest/random{n}x{m}.jpg")
    def random_image(n: int, m: int) -> StreamingResponse:
        if n != m or not 1 <= n <= 4000:
            raise HTTPException(404, "no such image")
        size = mini_image_size(n)
        slots.check()
        return StreamingResponse(
            _stream(size, slots), media_type="image/jpeg", headers={"Content-Length": str(size)}
        )

    @router.post("/speedtest/upload.php", response_class=PlainTextResponse)
    async def upload(request: Request) -> str:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return f"size={size}"

    @router.get("/stream")
    def stream(size: int) -> StreamingResponse:
        if not 0 < size <= MAX_STREAM_BYTES:
            raise HTTPException(400, f"size: 1 to {MAX_STREAM_BYTES}")
        slots.check()
        return StreamingResponse(
            _stream(size, slots),
            media_type="application/octet-stream",
            headers={"Content-Length": str(size), "Cache-Control": "no-store"},
        )

    @router.post("/sink/{test}")
    async def sink(test: str, request: Request) -> dict[str, float]:
        _check_test_id(test)
        slots.take()
        deadline = time.monotonic() + MAX_TRANSFER_S
        try:
            async for chunk in request.stream():
                sinks.add(test, len(chunk))
                if time.monotonic() > deadline:
                    break  # long enough for any test: stop taking bytes
        except Exception:  # the probe closed the stream early: what arrived is counted
            pass
        finally:
            slots.release()
        return sinks.read(test)

    @router.get("/sink/{test}")
    def sink_status(test: str) -> dict[str, float]:
        return sinks.read(_check_test_id(test))

    return router


def create_standalone_app() -> FastAPI:
    """Only the line-test endpoint: for a test peer or a dedicated test server."""
    app = FastAPI(title="roomhub line-test endpoint")
    app.include_router(build_router())
    return app
