"""A long broker outage on real processes: the outbox holds an hour of results and
delivers them in order, once; past its bound it drops the oldest, counted and reported
(issue 9).

Probe time is accelerated by configuration: every interval of the default schedule
(monitor window 60 s, line test 3600 s, audio test 1800 s, heartbeat 60 s) is divided
by ``SPEED``, so half a minute of the test is an hour of the box's life. Run with -s for the
figures docs/reliability.md quotes; ``--long`` makes the outage five hours.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from delivery_checks import assert_exactly_once, outbox_state, outbox_waiting, stable

from rig import Rig, wait_for
from roomprobe.config import DaemonConfig, NetConfig

SPEED = 120.0  # probe seconds per real second


def accelerated(monitor_s: float | None = None) -> dict[str, dict]:
    """The default schedule, SPEED times faster (the simulated line and audio)."""
    net = NetConfig()
    return {
        "net": {"interval_s": net.interval_s / SPEED,
                "monitor_interval_s": monitor_s or net.monitor_interval_s / SPEED},
        "audio": {"interval_s": 1800.0 / SPEED},
        "daemon": {"heartbeat_s": max(1.0, DaemonConfig().heartbeat_s / SPEED)},
    }  # fmt: skip


def get_json(rig: Rig, path: str):
    with urllib.request.urlopen(f"{rig.web}{path}", timeout=10) as r:
        return json.loads(r.read())


def stored_in_arrival_order(rig: Rig, site: str = "dak-ang") -> list[int]:
    rows = rig.hub_query(
        "SELECT seq FROM messages WHERE site = ? AND schema != 'roomprobe.status' ORDER BY id",
        site,
    )
    return [r["seq"] for r in rows]


def outbox_bytes(state: Path) -> int:
    """The outbox's files on disk: the database and its WAL."""
    return sum(p.stat().st_size for p in state.glob("outbox.sqlite*"))


def now_json(state: Path) -> dict:
    return json.loads((state / "now.json").read_text("utf-8"))


@pytest.mark.timeout(900)  # --long: five hours of probe time are 300 s of waiting alone
def test_an_hour_without_the_broker_is_delivered_in_order_and_once(rig: Rig, long_run: bool):
    hours = 5 if long_run else 1
    state = rig.tmp / "state" / "dak-ang"
    broker = rig.start_broker()
    rig.hub()
    probe = rig.probe(**accelerated())
    wait_for(lambda: rig.stored() >= 3, what="results before the outage")
    broker.stop()
    waiting_before = outbox_waiting(rig)
    time.sleep(hours * 3600 / SPEED)  # the probe keeps measuring into its outbox
    queued = outbox_waiting(rig) - waiting_before
    disk = outbox_bytes(state)
    payload = sum(len(r) for r in _waiting_payloads(state))
    broker.start()
    wait_for(lambda: outbox_waiting(rig) == 0, timeout=120, what="the outbox to drain")
    probe.stop()
    last, waiting = outbox_state(state)
    wait_for(lambda: rig.stored() >= last - len(waiting) and stable(rig.stored),
             what="the hub to store the backlog")  # fmt: skip
    figures = assert_exactly_once(rig)
    order = stored_in_arrival_order(rig)
    assert order == sorted(order), "results arrived out of order"
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["dropped"] == 0
    per_hour = queued / hours
    mb_per_day = payload / hours * 24 / 1e6
    print(f"\nbroker down {hours} h of probe time ({hours * 3600 / SPEED:.0f} s at x{SPEED:.0f}): "
          f"{queued} results queued ({per_hour:.0f}/h), {payload:,} payload bytes "
          f"({mb_per_day:.2f} MB/day: 64 MB holds {64 / mb_per_day:.0f} days), outbox files "
          f"{disk:,} bytes; {figures}")  # fmt: skip
    assert queued >= 0.8 * 60 * hours, "an hour of the default schedule is ~60 monitor windows"


def _waiting_payloads(state: Path) -> list[bytes]:
    import sqlite3

    db = sqlite3.connect(f"file:{state / 'outbox.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        return [p for (p,) in db.execute("SELECT payload FROM outbox")]
    finally:
        db.close()


def test_an_outage_past_the_bound_drops_the_oldest_counted_and_reported(rig: Rig):
    state = rig.tmp / "state" / "dak-ang"
    broker = rig.start_broker()
    rig.hub()
    bound_mb = 0.02  # about fifteen monitor results
    probe = rig.probe(**accelerated(monitor_s=0.2), outbox={"max_mb": bound_mb})
    wait_for(lambda: rig.stored() >= 3, what="results before the outage")
    broker.stop()
    # The bound is reached: the system light says so while the broker is still away.
    shown = wait_for(
        lambda: (n := now_json(state)["status"])["verdicts"]["system"]["reason"]
        == "system.outbox_full" and n,
        timeout=60, what="the system verdict to say the outbox is full",
    )  # fmt: skip
    assert shown["verdicts"]["system"]["status"] == "degraded"
    assert shown["verdicts"]["system"]["actor"] == "probe"
    assert shown["leds"]["system"] != "ok"
    time.sleep(10)  # a good while past the bound: many more drops
    assert sum(len(p) for p in _waiting_payloads(state)) <= bound_mb * 1e6
    biggest_file = outbox_bytes(state)
    broker.start()
    report = wait_for(lambda: _drop_reports(rig), timeout=60, what="the drop report")
    status = wait_for(
        lambda: (s := get_json(rig, "/api/sites/dak-ang"))["verdicts"]["system"]["status"]
        == "ok" and s,
        what="the system verdict back to ok once the hub was told",
    )  # fmt: skip
    probe.stop()
    last, waiting = outbox_state(state)
    wait_for(lambda: rig.stored() >= last - len(waiting) - len(_dropped(report)) and
             stable(rig.stored), what="the hub to store the backlog")  # fmt: skip
    report = _drop_reports(rig)  # all of them: the report itself may have overflowed the bound
    status = get_json(rig, "/api/sites/dak-ang")
    dropped: set[int] = set()
    for r in report:
        for run in r["details"]["runs"]:
            assert run["count"] == run["last_seq"] - run["first_seq"] + 1  # oldest: contiguous
            dropped |= set(range(run["first_seq"], run["last_seq"] + 1))
    counted = sum(r["details"]["count"] for r in report)
    assert counted == len(dropped) > 0
    figures = assert_exactly_once(rig, dropped=dropped)
    # In order, but for the drop reports: each is sent ahead of the backlog, so the hub
    # learns of the drops at once.
    reports = {r["seq"] for r in report}
    stored = [seq for seq in stored_in_arrival_order(rig) if seq not in reports]
    assert stored == sorted(stored), "results arrived out of order"
    # Oldest first: every dropped number is older than every number kept from the outage.
    after_outage = [s for s in stored if s > min(dropped)]
    assert min(after_outage) > max(dropped)
    # The hub accounts for the numbers: nothing missing, the drops named as such.
    assert status["missing"] == 0
    assert sum(g["dropped"] for g in status["gaps"]) == counted
    last_status = json.loads(
        rig.hub_query("SELECT last_status FROM sites WHERE site = 'dak-ang'")[0]["last_status"]
    )
    assert last_status["outbox_dropped"] == counted
    texts = report[0]["message"]
    assert str(report[0]["details"]["count"]) in texts["vi"] and "oldest" in texts["en"]
    print(f"\noutage past a {bound_mb * 1e6:,.0f}-byte bound: {figures}; outbox files at most "
          f"{biggest_file:,} bytes; {len(report)} drop report(s)")  # fmt: skip


def _dropped(reports: list[dict]) -> set[int]:
    return {
        seq
        for r in reports
        for run in r["details"]["runs"]
        for seq in range(run["first_seq"], run["last_seq"] + 1)
    }


def _drop_reports(rig: Rig) -> list[dict]:
    rows = rig.hub_query(
        "SELECT payload FROM messages WHERE site = 'dak-ang' AND schema = 'roomprobe.event' "
        "ORDER BY seq"
    )
    events = [json.loads(r["payload"]) for r in rows]
    return [e for e in events if e["event"] == "outbox_dropped"]
