"""One placement rule for a message in time (roomhub.timing), and the store applying it."""

from __future__ import annotations

from datetime import UTC, datetime

from roomhub.timing import placed_at

RECEIVED = "2026-11-30T09:00:05.000Z"


def test_a_synchronised_clock_is_trusted_even_for_a_late_delivery() -> None:
    p = {"ts": "2026-11-30T03:00:00.000Z", "clock_synced": True}  # six hours in the outbox
    assert placed_at(p, RECEIVED) == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def test_an_unsynchronised_clock_gives_way_to_the_receive_time() -> None:
    p = {"ts": "2026-11-27T09:00:00.000Z", "clock_synced": False}  # fake-hwclock, days back
    assert placed_at(p, RECEIVED) == datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC)
    received = datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC)
    assert placed_at(p, received) == received  # a datetime from PostgreSQL works as well


def test_a_payload_without_the_flag_counts_as_unsynchronised() -> None:
    assert placed_at({"ts": "1970-01-01T00:00:00.000Z"}, RECEIVED).year == 2026
