"""The heavy tests' data budget: per day and per month, kept in the state store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomprobe.line.budget import MB, DataBudget, Usage


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def budget(store: dict[str, str], clock: Clock, day: float = 200.0, month: float = 1000.0):
    return DataBudget(store.get, store.__setitem__, day, month, now=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 14, 10, 0, tzinfo=UTC))


def test_fresh_budget_is_unused(clock: Clock) -> None:
    store: dict[str, str] = {}
    u = budget(store, clock).usage()
    assert u == Usage(0.0, 200.0, 0.0, 1000.0)
    assert store == {}  # reading does not write


def test_spend_accumulates_per_day_and_month(clock: Clock) -> None:
    b = budget({}, clock)
    u1 = b.spend(30 * MB)
    assert (u1.day_used_mb, u1.month_used_mb) == (30.0, 30.0)
    clock.now += timedelta(hours=5)  # same day
    u2 = b.spend(20 * MB)
    assert (u2.day_used_mb, u2.month_used_mb) == (50.0, 50.0)
    assert b.usage() == u2
    assert (u2.day_limit_mb, u2.month_limit_mb) == (200.0, 1000.0)


def test_spend_counts_bytes_exactly(clock: Clock) -> None:
    b = budget({}, clock)
    b.spend(1)
    b.spend(2)
    u = b.spend(1_234_567)
    assert u.day_used_mb == pytest.approx(1_234_570 / MB)
    assert u.month_used_mb == pytest.approx(1_234_570 / MB)


def test_spend_zero_changes_nothing(clock: Clock) -> None:
    b = budget({}, clock)
    b.spend(5 * MB)
    assert b.spend(0) == Usage(5.0, 200.0, 5.0, 1000.0)


def test_new_day_resets_the_day_not_the_month(clock: Clock) -> None:
    b = budget({}, clock)
    b.spend(50 * MB)
    clock.now = datetime(2025, 3, 15, 0, 0, 1, tzinfo=UTC)
    u = b.usage()
    assert (u.day_used_mb, u.month_used_mb) == (0.0, 50.0)
    u = b.spend(10 * MB)
    assert (u.day_used_mb, u.month_used_mb) == (10.0, 60.0)


def test_day_ends_at_midnight(clock: Clock) -> None:
    b = budget({}, clock)
    clock.now = datetime(2025, 3, 14, 23, 59, 59, tzinfo=UTC)
    b.spend(7 * MB)
    clock.now += timedelta(seconds=1)
    assert b.usage().day_used_mb == 0.0
    assert b.usage().month_used_mb == 7.0


def test_new_month_resets_both(clock: Clock) -> None:
    b = budget({}, clock)
    b.spend(50 * MB)
    clock.now = datetime(2025, 4, 1, 0, 0, tzinfo=UTC)
    assert b.usage() == Usage(0.0, 200.0, 0.0, 1000.0)
    u = b.spend(3 * MB)
    assert (u.day_used_mb, u.month_used_mb) == (3.0, 3.0)


def test_same_day_of_another_month_is_a_new_day(clock: Clock) -> None:
    b = budget({}, clock)
    b.spend(50 * MB)
    clock.now = datetime(2025, 4, 14, 10, 0, tzinfo=UTC)
    assert b.usage().day_used_mb == 0.0


def test_same_month_of_another_year_is_a_new_month(clock: Clock) -> None:
    b = budget({}, clock)
    b.spend(50 * MB)
    clock.now = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)
    assert b.usage() == Usage(0.0, 200.0, 0.0, 1000.0)


def test_month_total_over_several_days(clock: Clock) -> None:
    b = budget({}, clock)
    for day in range(1, 11):
        clock.now = datetime(2025, 3, day, 12, tzinfo=UTC)
        u = b.spend(40 * MB)
        assert u.day_used_mb == 40.0
    assert u.month_used_mb == 400.0


def test_fits_respects_the_day_limit(clock: Clock) -> None:
    b = budget({}, clock, day=100.0, month=1000.0)
    u = b.spend(90 * MB)
    assert u.fits(10.0)  # exactly at the limit fits
    assert not u.fits(10.5)
    assert u.fits(0.0)


def test_fits_respects_the_month_limit(clock: Clock) -> None:
    b = budget({}, clock, day=100.0, month=250.0)
    for day in (1, 2, 3):
        clock.now = datetime(2025, 3, day, tzinfo=UTC)
        b.spend(80 * MB)
    clock.now = datetime(2025, 3, 4, tzinfo=UTC)
    u = b.usage()
    assert u.day_used_mb == 0.0  # the day has room ...
    assert u.fits(10.0)
    assert not u.fits(11.0)  # ... but 240 + 11 > 250 for the month


def test_fits_on_a_fresh_budget(clock: Clock) -> None:
    u = budget({}, clock, day=60.0, month=1000.0).usage()
    assert u.fits(60.0)
    assert not u.fits(60.1)


def test_usage_fits_directly() -> None:
    assert Usage(0.0, 100.0, 0.0, 50.0).fits(50.0)
    assert not Usage(0.0, 100.0, 0.0, 50.0).fits(51.0)
    assert not Usage(95.0, 100.0, 0.0, 500.0).fits(6.0)


def test_values_survive_a_restart(clock: Clock) -> None:
    store: dict[str, str] = {}
    budget(store, clock).spend(42 * MB)
    again = budget(store, clock)  # the service starts again over the same state table
    assert again.usage() == Usage(42.0, 200.0, 42.0, 1000.0)
    u = again.spend(8 * MB)
    assert (u.day_used_mb, u.month_used_mb) == (50.0, 50.0)


def test_restart_with_new_limits_keeps_the_counts(clock: Clock) -> None:
    store: dict[str, str] = {}
    budget(store, clock).spend(42 * MB)
    u = budget(store, clock, day=40.0, month=500.0).usage()
    assert u == Usage(42.0, 40.0, 42.0, 500.0)
    assert not u.fits(0.0)


def test_store_holds_strings(clock: Clock) -> None:
    store: dict[str, str] = {}
    budget(store, clock).spend(12345)
    assert store
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in store.items())
    assert sorted(int(v) for v in store.values()) == [12345, 12345]  # one day, one month


def test_budgets_do_not_touch_other_keys(clock: Clock) -> None:
    store = {"outbox-seq": "17", "other": "x"}
    budget(store, clock).spend(MB)
    assert store["outbox-seq"] == "17"
    assert store["other"] == "x"


def test_to_dict_rounds(clock: Clock) -> None:
    b = budget({}, clock, day=123.456, month=9876.54)
    u = b.spend(1_234_567)
    assert u.to_dict() == {
        "day_used_mb": 1.2,
        "day_limit_mb": 123.5,
        "month_used_mb": 1.2,
        "month_limit_mb": 9876.5,
    }


def test_default_clock_is_utc_now() -> None:
    store: dict[str, str] = {}
    before = datetime.now(UTC)
    DataBudget(store.get, store.__setitem__, 10.0, 100.0).spend(MB)
    after = datetime.now(UTC)
    assert len(store) == 2
    days = {f"{before:%Y-%m-%d}", f"{after:%Y-%m-%d}"}
    assert any(any(day in key for day in days) for key in store)
