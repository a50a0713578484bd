"""Call quality (MOS) from latency, jitter and loss: the simplified E-model."""

from __future__ import annotations

import itertools

import pytest

from roomprobe.callquality import mos, r_factor

RTTS = [0, 5, 10, 20, 40, 80, 100, 150, 200, 250, 299, 300, 301, 400, 600, 800, 1000]
JITTERS = [0, 1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200]
LOSSES = [0, 0.1, 0.5, 1, 2, 3, 5, 8, 10, 15, 20, 25, 30]


def _non_increasing(values: list[float]) -> bool:
    return all(b <= a + 1e-12 for a, b in itertools.pairwise(values))


def test_perfect_line_is_about_4_4() -> None:
    # effective latency = 0/2 + 2*0 + 10 = 10 ms -> R = 93.2 - 10/40 = 92.95
    assert r_factor(0, 0, 0) == pytest.approx(92.95)
    r = 92.95
    assert mos(0, 0, 0) == pytest.approx(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r))
    assert mos(0, 0, 0) == pytest.approx(4.4044, abs=1e-4)
    assert 4.35 < mos(0, 0, 0) <= 4.5


def test_hand_computed_value_low_latency_branch() -> None:
    # rtt 40, jitter 5, loss 1: effective = 20 + 10 + 10 = 40 ms < 160
    # R = 93.2 - 40/40 - 2.5*1 = 89.7
    # MOS = 1 + 0.035*89.7 + 7e-6*89.7*29.7*10.3 = 1 + 3.1395 + 0.192081 = 4.331581
    assert r_factor(40, 5, 1) == pytest.approx(89.7)
    assert mos(40, 5, 1) == pytest.approx(4.331581, abs=1e-6)


def test_hand_computed_value_high_latency_branch() -> None:
    # rtt 400, jitter 10, loss 0: effective = 200 + 20 + 10 = 230 ms >= 160
    # R = 93.2 - (230 - 120)/10 = 82.2
    # MOS = 1 + 0.035*82.2 + 7e-6*82.2*22.2*17.8 = 1 + 2.877 + 0.227375 = 4.104375
    assert r_factor(400, 10, 0) == pytest.approx(82.2)
    assert mos(400, 10, 0) == pytest.approx(4.104375, abs=1e-6)


def test_the_two_latency_branches_meet() -> None:
    # effective 160 ms (rtt 300): both formulas give R = 89.2
    assert r_factor(300, 0, 0) == pytest.approx(89.2)
    assert r_factor(299.999, 0, 0) == pytest.approx(89.2, abs=1e-4)
    assert r_factor(300.001, 0, 0) == pytest.approx(89.2, abs=1e-4)


def test_every_percent_of_loss_costs_2_5_r_points() -> None:
    for loss in (0.5, 1, 4, 10):
        assert r_factor(30, 3, loss) == pytest.approx(r_factor(30, 3, 0) - 2.5 * loss)


def test_jitter_counts_double() -> None:
    # 1 ms of jitter weighs as much as 4 ms of round trip (2 ms one way, twice)
    assert r_factor(20, 5, 0) == pytest.approx(r_factor(40, 0, 0))


@pytest.mark.parametrize(("jitter", "loss"), list(itertools.product([0, 5, 30], [0, 1, 5])))
def test_mos_decreases_with_rtt(jitter: float, loss: float) -> None:
    scores = [mos(rtt, jitter, loss) for rtt in RTTS]
    assert _non_increasing(scores), scores
    assert scores[0] > scores[-1]


@pytest.mark.parametrize(("rtt", "loss"), list(itertools.product([0, 50, 300], [0, 1, 5])))
def test_mos_decreases_with_jitter(rtt: float, loss: float) -> None:
    scores = [mos(rtt, jitter, loss) for jitter in JITTERS]
    assert _non_increasing(scores), scores
    assert scores[0] > scores[-1]


@pytest.mark.parametrize(("rtt", "jitter"), list(itertools.product([0, 50, 300], [0, 5, 30])))
def test_mos_decreases_with_loss(rtt: float, jitter: float) -> None:
    scores = [mos(rtt, jitter, loss) for loss in LOSSES]
    assert _non_increasing(scores), scores
    assert scores[0] > scores[-1]


def test_mos_stays_between_1_and_4_5_on_a_grid() -> None:
    for rtt, jitter, loss in itertools.product(RTTS, JITTERS, [*LOSSES, 50, 80, 100]):
        score = mos(rtt, jitter, loss)
        assert 1.0 <= score <= 4.5, (rtt, jitter, loss, score)


def test_a_hopeless_line_scores_exactly_1() -> None:
    assert mos(3000, 500, 100) == 1.0
    assert mos(0, 0, 100) == 1.0


def test_mos_never_dips_below_1_near_r_zero() -> None:
    """G.107's polynomial is below 1 for 0 < R < 6.5 (about 0.989 at R = 3.2).

    Such a line exists: 36 % loss on a 20 ms line gives R = 2.7. Its result.net
    payload would then carry mos 0.99, below the schema's minimum of 1, and the
    outbox would refuse to store the measurement.
    """
    assert r_factor(20, 0, 36) == pytest.approx(2.7)
    assert mos(20, 0, 36) >= 1.0
    worst = min(mos(20, 0, loss / 10) for loss in range(0, 1001))
    assert worst >= 1.0


def test_mos_is_monotonic_in_loss_over_the_whole_range() -> None:
    scores = [mos(20, 0, loss / 10) for loss in range(0, 1001)]
    assert _non_increasing(scores)


@pytest.mark.parametrize(
    ("rtt", "jitter", "loss", "low", "high"),
    [
        (20, 2, 0, 4.3, 4.45),  # a good fibre line
        (100, 30, 1, 4.0, 4.3),  # right at the Teams limits: still a fair call
        (300, 50, 5, 3.0, 3.8),  # a poor line
    ],
)
def test_mos_reads_sensibly(
    rtt: float, jitter: float, loss: float, low: float, high: float
) -> None:
    assert low <= mos(rtt, jitter, loss) <= high
