"""Steady-state throughput from periodic byte counts: pure functions.

speedtest-cli divides all bytes by all the time, so connection set-up and
TCP slow start pull its figure down, more on a long, fast line. Here the
counts are sampled every ~250 ms; the warm-up (slow start) is cut off, and
the estimate is the rate over the rest. Sampling also tells when the
estimate has settled, so a test can stop early and spend fewer bytes.

A single 250 ms sample is a poor guide on a real line: a lost segment stalls
delivery until it is retransmitted, then everything held back arrives at
once. So the warm-up ends where a whole second of samples reaches 90 % of
the *median* rate after the minimum warm-up (never at one spike), and the
test is settled when the running estimate itself, not the raw samples, has
stopped moving.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass

SMOOTH = 4  # samples per second at the default 250 ms


@dataclass(frozen=True)
class Estimate:
    steady_mbps: float  # after warm-up
    mean_mbps: float  # whole test, set-up and slow start included (what speedtest-cli reports)
    warmup_s: float
    duration_s: float
    bytes: int
    stable: bool  # the running estimate stopped moving (within the tolerance)


def interval_rates(series: list[tuple[float, int]]) -> list[tuple[float, float]]:
    """(time, cumulative bytes) -> (time at interval end, Mbps over the interval)."""
    return [
        (t1, (b1 - b0) * 8 / (t1 - t0) / 1e6 if t1 > t0 else 0.0)
        for (t0, b0), (t1, b1) in itertools.pairwise(series)
    ]


def warmup_end(rates: list[tuple[float, float]], min_s: float, start: float) -> int:
    """Index of the first interval after warm-up, or ``len(rates)`` if it never ends.

    The interval must begin at least ``min_s`` after ``start``, and the mean of
    it and the next ones (a second's worth) must be within 10 % of the median
    rate of all intervals that begin after ``min_s``.
    """
    if not rates:
        return 0
    begins = [start] + [t for t, _ in rates[:-1]]
    later = [r for b, (_, r) in zip(begins, rates, strict=True) if b - start >= min_s]
    if not later:
        return len(rates)
    reference = statistics.median(later)
    if reference <= 0:
        return len(rates)
    for i, b in enumerate(begins):
        if b - start < min_s:
            continue
        ahead = statistics.fmean(r for _, r in rates[i : i + SMOOTH])
        # Not where a burst of held-back data is about to be released either: those
        # bytes crossed the line before the cut and would be counted after it.
        if 0.9 * reference <= ahead <= 1.1 * reference:
            return i
    return len(rates)


def steady_rate(series: list[tuple[float, int]], cut: int, end: int | None = None) -> float:
    """Mbps from sample ``cut`` to sample ``end`` (the last by default)."""
    end = len(series) - 1 if end is None else end
    (t0, b0), (t1, b1) = series[cut], series[end]
    return (b1 - b0) * 8 / (t1 - t0) / 1e6 if t1 > t0 else 0.0


def is_stable(series: list[tuple[float, int]], cut: int, window: int, tolerance: float) -> bool:
    """The running estimate over the last ``window`` samples varies by at most ``tolerance``.

    The estimate at each of them is the rate from the cut to that sample; the
    first of them must already lie a second (``SMOOTH`` samples) past the cut.
    """
    last = len(series) - 1
    if last - cut < window + SMOOTH - 1:
        return False
    trail = [steady_rate(series, cut, k) for k in range(last - window + 1, last + 1)]
    mean = statistics.fmean(trail)
    return mean > 0 and (max(trail) - min(trail)) / mean <= tolerance


def estimate(
    series: list[tuple[float, int]], warmup_min_s: float = 1.0, window: int = 8,
    tolerance: float = 0.03,
) -> Estimate:  # fmt: skip
    """The estimate from (time, cumulative bytes) samples; ``series[0]`` is the start."""
    if len(series) < 2:
        return Estimate(0.0, 0.0, 0.0, 0.0, series[-1][1] if series else 0, False)
    start, total_t, total_b = series[0][0], series[-1][0], series[-1][1]
    duration = total_t - start
    mean = (total_b - series[0][1]) * 8 / duration / 1e6 if duration > 0 else 0.0
    cut = warmup_end(interval_rates(series), warmup_min_s, start)
    if cut >= len(series) - 1:  # never left warm-up: the mean is all there is
        return Estimate(mean, mean, duration, duration, total_b, False)
    return Estimate(
        steady_mbps=steady_rate(series, cut),
        mean_mbps=mean,
        warmup_s=series[cut][0] - start,
        duration_s=duration,
        bytes=total_b,
        stable=is_stable(series, cut, window, tolerance),
    )
