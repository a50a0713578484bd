"""Latency, jitter and loss from a series of small probes.

Jitter is the RFC 3550 interarrival jitter (a running mean of the change in
transit time, gain 1/16), which is what RTP, and so a video call, feels; not
ping's mdev, which is the spread of the round-trip times around their mean.
"""

from __future__ import annotations

import http.client
import itertools
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .multistream import Endpoint


def rfc3550_jitter(transits_ms: Sequence[float]) -> float:
    """J += (|D| - J) / 16 over successive transit times (RFC 3550, 6.4.1)."""
    jitter = 0.0
    for prev, cur in itertools.pairwise(transits_ms):
        jitter += (abs(cur - prev) - jitter) / 16
    return jitter


@dataclass(frozen=True)
class LatencySummary:
    rtt_min_ms: float | None
    rtt_median_ms: float | None
    rtt_p95_ms: float | None
    jitter_ms: float | None
    loss_pct: float
    sent: int

    @classmethod
    def of(cls, rtts_ms: Sequence[float | None]) -> LatencySummary:
        """From one RTT per probe, None for a probe that got no answer."""
        got = [r for r in rtts_ms if r is not None]
        sent = len(rtts_ms)
        loss = 100.0 * (sent - len(got)) / sent if sent else 100.0
        if not got:
            return cls(None, None, None, None, loss, sent)
        ordered = sorted(got)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return cls(
            round(ordered[0], 3), round(statistics.median(ordered), 3), round(p95, 3),
            round(rfc3550_jitter(got), 3), round(loss, 2), sent,
        )  # fmt: skip


def http_latency(url: str, count: int = 10, interval_s: float = 0.1) -> LatencySummary:
    """RTT of small HTTP requests to the endpoint's latency.txt over one kept-alive connection.

    One request is one round trip once the connection is open; a request that
    fails or times out counts as lost (and the connection is opened again).
    """
    endpoint = Endpoint(url, timeout_s=2.0)
    conn: http.client.HTTPConnection | None = None
    rtts: list[float | None] = []
    for _ in range(count):
        try:
            if conn is None:
                conn = endpoint.connect()
                conn.connect()
            start = time.perf_counter()
            conn.request("GET", f"{endpoint.path}speedtest/latency.txt")
            body = conn.getresponse().read()
            rtt = (time.perf_counter() - start) * 1000
            rtts.append(rtt if body == b"test=test" else None)
        except (OSError, http.client.HTTPException):
            rtts.append(None)
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(interval_s)
    if conn is not None:
        conn.close()
    return LatencySummary.of(rtts)
