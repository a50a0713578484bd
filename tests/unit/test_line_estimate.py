"""Steady-state throughput estimate: warm-up cut, stability, degenerate series.

The series are synthetic (time, cumulative bytes) samples every 0.25 s, as
``multistream._sample`` takes them: a TCP-like slow start (the rate doubles
every interval) up to a plateau, then the plateau with a little noise.
"""

from __future__ import annotations

import random

import pytest

from roomprobe.line.estimate import Estimate, estimate, interval_rates, is_stable, warmup_end

PLATEAU = 47.8  # Mbps
DT = 0.25  # s between samples
T0 = 1000.0  # a monotonic clock does not start at 0


def series_of(rates_mbps: list[float], dt: float = DT, t0: float = T0, b0: int = 0):
    """(time, cumulative bytes) samples with the given rate over each interval."""
    series = [(t0, b0)]
    total = float(b0)
    for i, rate in enumerate(rates_mbps, start=1):
        total += rate * 1e6 / 8 * dt
        series.append((t0 + i * dt, round(total)))
    return series


def ramp(first: float, plateau: float = PLATEAU) -> list[float]:
    """Slow start: the rate doubles each interval until it reaches the plateau (excluded)."""
    rates = []
    r = first
    while r < plateau:
        rates.append(r)
        r *= 2
    return rates


def plateau(n: int, level: float = PLATEAU, noise: float = 0.005, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [level * (1 + rng.uniform(-noise, noise)) for _ in range(n)]


def tcp_test(first: float, duration_s: float = 10.0) -> tuple[list[tuple[float, int]], float]:
    """A whole test of ``duration_s``: slow start from ``first`` Mbps, then the plateau.

    Returns the series and the time (from the start) at which the plateau begins.
    """
    up = ramp(first)
    n = round(duration_s / DT)
    return series_of(up + plateau(n - len(up))), len(up) * DT


# Slow start that is over before the minimum warm-up (short RTT), and one that lasts
# well past it (a long RTT: 6 doublings, plateau from 1.5 s).
SHORT_RAMP = PLATEAU / 8  # 3 ramp intervals: plateau from 0.75 s
LONG_RAMP = PLATEAU / 64  # 6 ramp intervals: plateau from 1.5 s


# ---------------------------------------------------------------- interval_rates


def test_interval_rates_are_mbps_at_the_interval_end() -> None:
    series = [(10.0, 0), (10.5, 1_000_000), (11.0, 1_000_000), (12.0, 4_000_000)]
    assert interval_rates(series) == [
        (10.5, pytest.approx(16.0)),
        (11.0, 0.0),
        (12.0, pytest.approx(24.0)),
    ]


def test_interval_rates_zero_length_interval_is_zero_not_an_error() -> None:
    assert interval_rates([(5.0, 0), (5.0, 1000), (5.5, 1000)]) == [(5.0, 0.0), (5.5, 0.0)]


@pytest.mark.parametrize("series", [[], [(1.0, 100)]])
def test_interval_rates_of_fewer_than_two_samples_is_empty(series) -> None:
    assert interval_rates(series) == []


def test_interval_rates_recover_the_synthetic_rates() -> None:
    rates = [1.0, 2.0, 4.0, 47.8, 47.8]
    got = interval_rates(series_of(rates))
    assert [t for t, _ in got] == pytest.approx([T0 + 0.25 * i for i in range(1, 6)])
    assert [r for _, r in got] == pytest.approx(rates, rel=1e-5)


# ------------------------------------------------------------------- warmup_end


def _interval_start(rates: list[tuple[float, float]], i: int, start: float) -> float:
    return rates[i - 1][0] if i > 0 else start


@pytest.mark.parametrize("min_s", [0.25, 0.5, 1.0, 2.0])
def test_warmup_end_interval_starts_after_the_minimum_warmup(min_s: float) -> None:
    """The first interval after warm-up must not overlap the minimum warm-up."""
    rates = interval_rates(series_of([PLATEAU] * 20))
    i = warmup_end(rates, min_s, T0)
    assert i < len(rates)
    assert _interval_start(rates, i, T0) - T0 >= min_s - 1e-9
    # ... and not later than needed on a flat line
    assert _interval_start(rates, i, T0) - T0 <= min_s + DT + 1e-9


def test_warmup_end_waits_for_the_end_of_slow_start() -> None:
    """While the rate still doubles, slow start has not ended, whatever min_s says."""
    series, plateau_from = tcp_test(LONG_RAMP)
    rates = interval_rates(series)
    i = warmup_end(rates, 1.0, T0)
    assert _interval_start(rates, i, T0) - T0 >= plateau_from - 1e-9
    assert rates[i][1] >= 0.9 * PLATEAU


def test_warmup_end_skips_intervals_below_90pct_of_the_best() -> None:
    # a dip from 0.75 s to 1.75 s, across the end of the minimum warm-up
    rates = interval_rates(series_of([40.0] * 3 + [20.0] * 4 + [40.0] * 6))
    i = warmup_end(rates, 1.0, T0)
    assert 7 <= i <= 8
    assert rates[i][1] == pytest.approx(40.0)


def test_warmup_end_after_a_drop_measures_the_later_level() -> None:
    # fast at first, then the rate drops for good: the estimate is the later level
    rates = interval_rates(series_of([40.0] * 3 + [10.0] * 10))
    i = warmup_end(rates, 1.0, T0)
    assert rates[i][1] == pytest.approx(10.0) and i == 4
    # too short to pass the minimum warm-up
    short = interval_rates(series_of([40.0] * 3))
    assert warmup_end(short, 1.0, T0) == len(short)


def test_warmup_end_is_not_fooled_by_one_spike() -> None:
    # a catch-up spike after a stall (a retransmission) must not set the reference
    rates = interval_rates(series_of(ramp(SHORT_RAMP) + [PLATEAU] * 3 + [0.0, 3 * PLATEAU]
                                     + [PLATEAU] * 20))  # fmt: skip
    i = warmup_end(rates, 1.0, T0)
    # Not at 1.0 s: the second ahead holds the stall and the release of held-back bytes,
    # which crossed the line before the cut. The cut comes after the burst.
    assert i == 8


def test_warmup_end_of_no_rates_is_zero() -> None:
    assert warmup_end([], 1.0, T0) == 0


# -------------------------------------------------------------------- is_stable


def test_is_stable_flat_line() -> None:
    series = series_of([PLATEAU] * 12)
    assert is_stable(series, 0, 8, 0.02)
    assert not is_stable(series, 2, 8, 0.02)  # not enough samples after that cut


def test_is_stable_judges_the_running_estimate_not_the_noise() -> None:
    noisy = series_of([PLATEAU * (1.08 if i % 2 else 0.92) for i in range(40)])
    assert is_stable(noisy, 4, 8, 0.02)  # +-8 % per sample averages out


def test_is_stable_a_level_shift_is_not_stable() -> None:
    shifted = series_of([PLATEAU] * 10 + [PLATEAU / 2] * 8)
    assert not is_stable(shifted, 0, 8, 0.02)


def test_is_stable_zero_rate_is_not_stable() -> None:
    assert not is_stable(series_of([0.0] * 20), 0, 8, 0.02)


# --------------------------------------------------------------------- estimate


@pytest.mark.parametrize("first", [SHORT_RAMP, LONG_RAMP], ids=["short-ramp", "long-ramp"])
def test_steady_estimate_is_within_1pct_of_the_plateau(first: float) -> None:
    series, _ = tcp_test(first)
    est = estimate(series, warmup_min_s=1.0)
    assert est.steady_mbps == pytest.approx(PLATEAU, rel=0.01)


@pytest.mark.parametrize("first", [SHORT_RAMP, LONG_RAMP], ids=["short-ramp", "long-ramp"])
def test_whole_test_mean_is_lower_than_the_steady_estimate(first: float) -> None:
    series, _ = tcp_test(first)
    est = estimate(series, warmup_min_s=1.0)
    # what speedtest-cli reports: all bytes over all the time, slow start included
    expected_mean = (series[-1][1] - series[0][1]) * 8 / (series[-1][0] - series[0][0]) / 1e6
    assert est.mean_mbps == pytest.approx(expected_mean)
    assert est.mean_mbps < 0.97 * PLATEAU
    assert est.mean_mbps < est.steady_mbps


@pytest.mark.parametrize("min_s", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("first", [SHORT_RAMP, PLATEAU], ids=["short-ramp", "no-ramp"])
def test_warmup_lasts_at_least_warmup_min_s(first: float, min_s: float) -> None:
    series, plateau_from = tcp_test(first)
    est = estimate(series, warmup_min_s=min_s)
    assert est.warmup_s >= min_s - 1e-9
    # ... and no longer than the minimum or the slow start, by more than one interval
    assert est.warmup_s <= max(min_s, plateau_from) + DT + 1e-9


def test_warmup_covers_a_slow_start_longer_than_the_minimum() -> None:
    series, plateau_from = tcp_test(LONG_RAMP)
    est = estimate(series, warmup_min_s=1.0)
    assert plateau_from == pytest.approx(1.5)
    assert plateau_from - 1e-9 <= est.warmup_s <= plateau_from + DT + 1e-9


def test_estimate_duration_and_bytes() -> None:
    series, _ = tcp_test(SHORT_RAMP, duration_s=10.0)
    est = estimate(series)
    assert est.duration_s == pytest.approx(10.0)
    assert est.bytes == series[-1][1]
    assert est.bytes == pytest.approx(est.mean_mbps * 1e6 / 8 * est.duration_s, rel=1e-6)


def test_estimate_flat_tail_is_stable() -> None:
    series, _ = tcp_test(SHORT_RAMP)
    assert estimate(series, warmup_min_s=1.0, window=8, tolerance=0.03).stable


def test_estimate_noisy_tail_is_accurate_and_settles() -> None:
    noisy = [PLATEAU * (1.08 if i % 2 else 0.92) for i in range(30)]
    series = series_of(ramp(SHORT_RAMP) + noisy)
    est = estimate(series, warmup_min_s=1.0, window=8, tolerance=0.03)
    assert est.stable
    assert est.steady_mbps == pytest.approx(PLATEAU, rel=0.02)


def test_estimate_a_level_shift_is_not_stable() -> None:
    series = series_of(ramp(SHORT_RAMP) + [PLATEAU] * 12 + [PLATEAU / 2] * 8)
    assert not estimate(series, warmup_min_s=1.0, window=8, tolerance=0.02).stable


def test_estimate_still_rising_tail_is_not_stable() -> None:
    rising = [10.0 * 1.05**i for i in range(36)]  # +5 % per interval, never levels off
    est = estimate(series_of(rising), warmup_min_s=1.0, window=8, tolerance=0.03)
    assert not est.stable


def test_estimate_needs_a_full_window_after_warmup_to_be_stable() -> None:
    # flat from the start, 1 s minimum warm-up, then only 4 intervals: too few for window 8
    series = series_of([PLATEAU] * 8)
    est = estimate(series, warmup_min_s=1.0, window=8)
    assert not est.stable
    assert est.steady_mbps == pytest.approx(PLATEAU, rel=1e-5)


def test_estimate_ignores_a_nonzero_first_count_for_the_rates() -> None:
    """Counts may not start at zero: only the increase counts."""
    series = series_of([PLATEAU] * 40, b0=123_456_789)
    est = estimate(series)
    assert est.mean_mbps == pytest.approx(PLATEAU, rel=1e-5)
    assert est.steady_mbps == pytest.approx(PLATEAU, rel=1e-5)


# ------------------------------------------------------------- degenerate input


def test_estimate_of_an_empty_series() -> None:
    assert estimate([]) == Estimate(0.0, 0.0, 0.0, 0.0, 0, False)


def test_estimate_of_one_sample() -> None:
    est = estimate([(T0, 1234)])
    assert est == Estimate(0.0, 0.0, 0.0, 0.0, 1234, False)


@pytest.mark.parametrize("min_s", [0.0, 1.0])
def test_estimate_of_zero_duration(min_s: float) -> None:
    for series in ([(T0, 0), (T0, 0)], [(T0, 0), (T0, 5000), (T0, 9000)]):
        est = estimate(series, warmup_min_s=min_s)
        assert est.steady_mbps == 0.0
        assert est.mean_mbps == 0.0
        assert est.duration_s == 0.0
        assert est.warmup_s == 0.0
        assert not est.stable


def test_estimate_that_never_leaves_warmup_falls_back_to_the_mean() -> None:
    series = series_of([20.0] * 2)  # 0.5 s, shorter than the minimum warm-up
    est = estimate(series, warmup_min_s=1.0)
    assert est.steady_mbps == pytest.approx(20.0, rel=1e-5)
    assert est.mean_mbps == est.steady_mbps
    assert est.warmup_s == pytest.approx(0.5)
    assert est.duration_s == pytest.approx(0.5)
    assert est.bytes == series[-1][1]
    assert not est.stable


def test_estimate_with_a_collapsing_rate_gives_the_later_level() -> None:
    series = series_of([40.0] * 3 + [10.0] * 20)
    est = estimate(series, warmup_min_s=1.0)
    assert est.steady_mbps == pytest.approx(10.0, rel=1e-5)
    assert est.mean_mbps == pytest.approx((40 * 3 + 10 * 20) / 23, rel=1e-5)
    assert est.warmup_s == pytest.approx(1.0)


def test_estimate_without_minimum_warmup_on_a_flat_line() -> None:
    series = series_of([PLATEAU] * 12)
    est = estimate(series, warmup_min_s=0.0, window=8)
    assert est.warmup_s == 0.0
    assert est.steady_mbps == pytest.approx(PLATEAU, rel=1e-5)
    assert est.stable
