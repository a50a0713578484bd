"""Steady-state throughput from periodic byte counts: pure functions.

speedtest-cli divides all bytes by all the time, so connection set-up and
TCP slow start pull its figure down, more on a long, fast line. Here the
counts are sampled every ~250 ms; the warm-up (slow start) is cut off, and
the estimate is the rate over the rest. Sampling also tells when the rate has
settled, so a test can stop early and spend fewer bytes.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    steady_mbps: float  # after warm-up
    mean_mbps: float  # whole test, set-up and slow start included (what speedtest-cli reports)
    warmup_s: float
    duration_s: float
    bytes: int
    stable: bool  # the last samples agreed within the tolerance


def interval_rates(series: list[tuple[float, int]]) -> list[tuple[float, float]]:
    """(time, cumulative bytes) -> (time at interval end, Mbps over the interval)."""
    return [
        (t1, (b1 - b0) * 8 / (t1 - t0) / 1e6 if t1 > t0 else 0.0)
        for (t0, b0), (t1, b1) in itertools.pairwise(series)
    ]


def warmup_end(rates: list[tuple[float, float]], min_s: float, start: float) -> int:
    """Index of the first interval after warm-up.

    An interval counts as steady when it *begins* at least ``min_s`` after the
    start and reaches 90 % of the fastest interval of the whole series; "the
    fastest so far" would not do, since every interval of a slow start is the
    fastest so far.
    """
    peak = max((r for _, r in rates), default=0.0)
    begins = start
    for i, (t, r) in enumerate(rates):
        if begins - start >= min_s and r >= 0.9 * peak:
            return i
        begins = t
    return len(rates)


def is_stable(rates: list[tuple[float, float]], window: int, tolerance: float) -> bool:
    """The last ``window`` intervals vary by at most ``tolerance`` (coefficient of variation)."""
    if len(rates) < window:
        return False
    tail = [r for _, r in rates[-window:]]
    mean = statistics.fmean(tail)
    return mean > 0 and statistics.pstdev(tail) / mean <= tolerance


def estimate(
    series: list[tuple[float, int]], warmup_min_s: float = 1.0, window: int = 8,
    tolerance: float = 0.03,
) -> Estimate:  # fmt: skip
    """The estimate from (time, cumulative bytes) samples; ``series[0]`` is the start."""
    if len(series) < 2:
        return Estimate(0.0, 0.0, 0.0, 0.0, series[-1][1] if series else 0, False)
    start, total_t, total_b = series[0][0], series[-1][0], series[-1][1]
    rates = interval_rates(series)
    cut = warmup_end(rates, warmup_min_s, start)
    duration = total_t - start
    mean = (total_b - series[0][1]) * 8 / duration / 1e6 if duration > 0 else 0.0
    if cut >= len(rates):  # never left warm-up: the mean is all there is
        return Estimate(mean, mean, duration, duration, total_b, False)
    # series index of the interval's start is the rates index (rates[i] spans series[i..i+1])
    t_w, b_w = series[cut]
    steady = (total_b - b_w) * 8 / (total_t - t_w) / 1e6 if total_t > t_w else mean
    post = rates[cut:]
    return Estimate(
        steady_mbps=steady,
        mean_mbps=mean,
        warmup_s=t_w - start,
        duration_s=duration,
        bytes=total_b,
        stable=is_stable(post, window, tolerance),
    )
