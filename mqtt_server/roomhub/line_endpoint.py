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
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, StreamingResponse

PREFIX = "/mini"
CHUNK = 64 * 1024
MAX_STREAM_BYTES = 2 * 1024**3  # one stream, at most: 20 s at 800 Mbps
SINK_TTL_S = 300.0
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


async def _stream(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        start = sent % len(_BLOCK)
        size = min(CHUNK, total - sent, len(_BLOCK) - start)
        yield bytes(_VIEW[start : start + size])
        sent += size


class SinkCounters:
    """Bytes received per upload test, with the hub's time of the last arrival."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tests: dict[str, tuple[int, float, float]] = {}  # id -> (bytes, first, last)

    def add(self, test: str, n: int) -> None:
        now = time.monotonic()
        with self._lock:
            got, first, _ = self._tests.get(test, (0, now, now))
            self._tests[test] = (got + n, first, now)

    def read(self, test: str) -> dict[str, float]:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (_, _, last) in self._tests.items() if now - last > SINK_TTL_S]:
                del self._tests[key]
            got, first, last = self._tests.get(test, (0, now, now))
        return {"received": got, "first": first, "last": last, "now": now}


def _check_test_id(test: str) -> str:
    if not (1 <= len(test) <= 64) or not all(c.isalnum() or c in "-_" for c in test):
        raise HTTPException(400, "test id: 1-64 letters, digits, '-' or '_'")
    return test


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    sinks = SinkCounters()

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
        return StreamingResponse(
            _stream(size), media_type="image/jpeg", headers={"Content-Length": str(size)}
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
        return StreamingResponse(
            _stream(size),
            media_type="application/octet-stream",
            headers={"Content-Length": str(size), "Cache-Control": "no-store"},
        )

    @router.post("/sink/{test}")
    async def sink(test: str, request: Request) -> dict[str, float]:
        _check_test_id(test)
        try:
            async for chunk in request.stream():
                sinks.add(test, len(chunk))
        except Exception:  # the probe closed the stream early: what arrived is counted
            pass
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
