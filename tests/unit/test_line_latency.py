"""Latency figures: RFC 3550 jitter (not the standard deviation) and the probe summary."""

from __future__ import annotations

import statistics

import pytest

from roomprobe.line.latency import LatencySummary, rfc3550_jitter

# ---------------------------------------------------------------- rfc3550_jitter


@pytest.mark.parametrize("transits", [[], [42.0], [20.0, 20.0], [7.5] * 100])
def test_jitter_of_constant_transit_is_zero(transits: list[float]) -> None:
    assert rfc3550_jitter(transits) == 0.0


def test_jitter_first_steps_by_hand() -> None:
    """Alternating transit 10, 30, 10, 30: |D| = 20 each step, J += (20 - J) / 16."""
    # step 1: 0 + (20 - 0) / 16 = 1.25
    assert rfc3550_jitter([10.0, 30.0]) == pytest.approx(1.25)
    # step 2: 1.25 + (20 - 1.25) / 16 = 1.25 + 1.171875 = 2.421875
    assert rfc3550_jitter([10.0, 30.0, 10.0]) == pytest.approx(2.421875)
    # step 3: 2.421875 + (20 - 2.421875) / 16 = 2.421875 + 1.0986328125 = 3.5205078125
    assert rfc3550_jitter([10.0, 30.0, 10.0, 30.0]) == pytest.approx(3.5205078125)


@pytest.mark.parametrize("steps", [1, 2, 5, 16, 50])
def test_jitter_of_alternating_transit_follows_the_closed_form(steps: int) -> None:
    transits = [10.0 if i % 2 == 0 else 30.0 for i in range(steps + 1)]
    assert rfc3550_jitter(transits) == pytest.approx(20.0 * (1 - (15 / 16) ** steps))


def test_jitter_of_alternating_transit_converges_to_the_difference() -> None:
    a, b = 12.0, 19.0
    transits = [a, b] * 150
    jitter = rfc3550_jitter(transits)
    assert jitter == pytest.approx(abs(a - b), abs=1e-3)
    # not the standard deviation of the transits (that is |a - b| / 2 here)
    assert statistics.pstdev(transits) == pytest.approx(3.5)
    assert jitter != pytest.approx(statistics.pstdev(transits), abs=0.5)


def test_jitter_uses_the_absolute_difference() -> None:
    assert rfc3550_jitter([30.0, 10.0]) == pytest.approx(rfc3550_jitter([10.0, 30.0]))
    assert rfc3550_jitter([30.0, 10.0]) == pytest.approx(1.25)


def test_jitter_depends_on_order_not_only_on_spread() -> None:
    """Same values, different order: a slow drift has little jitter, a zig-zag much."""
    values = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0]
    zigzag = [10.0, 17.0, 11.0, 16.0, 12.0, 15.0, 13.0, 14.0]
    assert rfc3550_jitter(values) < rfc3550_jitter(zigzag)
    assert statistics.pstdev(values) == pytest.approx(statistics.pstdev(zigzag))


def test_jitter_single_jump() -> None:
    # D = 0, then D = 16: J = 0, then 0 + 16 / 16 = 1
    assert rfc3550_jitter([5.0, 5.0, 21.0]) == pytest.approx(1.0)


def test_jitter_accepts_any_sequence() -> None:
    assert rfc3550_jitter((10.0, 30.0)) == pytest.approx(1.25)


# ---------------------------------------------------------------- LatencySummary


def test_summary_of_answered_and_lost_probes() -> None:
    s = LatencySummary.of([10.0, None, 30.0, 20.0, None])
    assert s.sent == 5
    assert s.loss_pct == pytest.approx(40.0)
    assert s.rtt_min_ms == pytest.approx(10.0)
    assert s.rtt_median_ms == pytest.approx(20.0)
    assert s.rtt_p95_ms == pytest.approx(30.0)
    # jitter over the answered probes in order 10, 30, 20: 1.25, then 1.25 + (10 - 1.25) / 16
    assert s.jitter_ms == pytest.approx(1.797, abs=1e-9)


def test_summary_jitter_skips_lost_probes() -> None:
    """A lost probe is not a zero transit time: the jitter is over the answers only."""
    rtts = [20.0, None, 20.0, None, 20.0]
    s = LatencySummary.of(rtts)
    assert s.jitter_ms == 0.0
    assert s.loss_pct == pytest.approx(40.0)
    got = [12.0, 40.0, 13.0, 39.0]
    assert LatencySummary.of([12.0, None, 40.0, 13.0, None, 39.0]).jitter_ms == pytest.approx(
        round(rfc3550_jitter(got), 3)
    )


def test_summary_no_loss() -> None:
    s = LatencySummary.of([25.0, 23.0, 24.0])
    assert s.loss_pct == 0.0
    assert s.sent == 3
    assert s.rtt_min_ms == 23.0
    assert s.rtt_median_ms == 24.0


def test_summary_median_of_an_even_count() -> None:
    s = LatencySummary.of([40.0, 10.0, 30.0, 20.0])
    assert s.rtt_median_ms == pytest.approx(25.0)
    assert s.rtt_min_ms == pytest.approx(10.0)


def test_summary_p95_of_one_to_a_hundred() -> None:
    s = LatencySummary.of([float(v) for v in range(100, 0, -1)])
    assert s.rtt_p95_ms == pytest.approx(95.0)
    assert s.rtt_min_ms == 1.0
    assert s.rtt_median_ms == pytest.approx(50.5)


def test_summary_p95_is_between_median_and_max() -> None:
    rtts = [20.0] * 18 + [200.0, 300.0]
    s = LatencySummary.of(rtts)
    assert s.rtt_median_ms == 20.0
    assert s.rtt_median_ms <= s.rtt_p95_ms <= max(rtts)
    assert s.rtt_p95_ms == 200.0  # 95th of 20 ordered values: the 19th


def test_summary_of_one_answered_probe() -> None:
    s = LatencySummary.of([17.25])
    assert (s.rtt_min_ms, s.rtt_median_ms, s.rtt_p95_ms) == (17.25, 17.25, 17.25)
    assert s.jitter_ms == 0.0
    assert s.loss_pct == 0.0
    assert s.sent == 1


@pytest.mark.parametrize("n", [1, 4, 10])
def test_summary_all_lost(n: int) -> None:
    s = LatencySummary.of([None] * n)
    assert s == LatencySummary(None, None, None, None, 100.0, n)


def test_summary_of_nothing_sent() -> None:
    s = LatencySummary.of([])
    assert s.sent == 0
    assert s.loss_pct == 100.0
    assert s.rtt_min_ms is None and s.rtt_median_ms is None
    assert s.rtt_p95_ms is None and s.jitter_ms is None


def test_summary_rounds() -> None:
    s = LatencySummary.of([10.12345, None, 10.12345])
    assert s.loss_pct == 33.33
    assert s.rtt_min_ms == 10.123
    assert s.rtt_median_ms == 10.123
    assert s.rtt_p95_ms == 10.123


def test_summary_does_not_modify_its_input() -> None:
    rtts = [30.0, None, 10.0, 20.0]
    LatencySummary.of(rtts)
    assert rtts == [30.0, None, 10.0, 20.0]


def test_dns_time_of_a_name_the_system_resolves_and_of_a_bad_one() -> None:
    from roomprobe.line.probes import dns_ms

    took = dns_ms("localhost")  # /etc/hosts: the system's resolver answers without a network
    assert took is not None and 0 <= took < 5000
    assert dns_ms("no such name with spaces") is None
