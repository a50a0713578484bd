"""SIGKILL, again and again, on real processes (issue 9).

The probe is killed at random moments while it writes results as fast as its
configuration allows: its outbox must never be corrupt, and every result it
committed (every sequence number it issued) must reach the hub exactly once.
The hub is killed repeatedly under the load of several probes, once for longer than
mosquitto's default queue of 1000 messages would hold: with the hub's persistent
session, the project's max_queued_messages and ack-after-commit nothing is lost or
stored twice. Run with -s for the figures; ``--long`` kills many more times.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path

from delivery_checks import assert_exactly_once, outbox_state, stable

from rig import Rig, wait_for

SEED = 20261130
FAST = {"net": {"interval_s": 0.05, "monitor_interval_s": 0.05}, "audio": {"interval_s": 0.1}}


def outbox_sound(state: Path) -> tuple[str, int, list[int]]:
    """(integrity_check's answer, last seq issued, seqs waiting) of a killed probe's outbox,
    opened as the next daemon will open it (read-write: the WAL is recovered)."""
    db = sqlite3.connect(state / "outbox.sqlite", timeout=10)
    try:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        last = db.execute("SELECT coalesce(max(last), 0) FROM sequence").fetchone()[0]
        waiting = [json.loads(p)["seq"] for (p,) in db.execute("SELECT payload FROM outbox")]
    finally:
        db.close()
    return check, last, waiting


def issued_so_far(rig: Rig, site: str) -> int:
    """The last sequence number a running probe issued (read-only, beside the daemon)."""
    path = rig.tmp / "state" / site / "outbox.sqlite"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT coalesce(max(last), 0) FROM sequence").fetchone()[0]
    finally:
        db.close()


def test_probe_killed_at_random_while_writing_keeps_a_sound_outbox_and_every_result(
    rig: Rig, long_run: bool
):
    kills = 200 if long_run else 25
    rng = random.Random(SEED)
    state = rig.tmp / "state" / "dak-ang"
    rig.start_broker()
    rig.hub()
    probe = rig.probe(**FAST)
    issued_at_kill = []
    for _ in range(kills):
        wait_for(lambda: (state / "outbox.sqlite").exists(), what="the outbox")
        # Once the daemon writes, kill it somewhere in its loop: between writes, inside
        # one, during a commit's fsync, while a PUBACK removes a row.
        time.sleep(0.4 + rng.random() * 1.2)
        probe.kill()
        check, last, waiting = outbox_sound(state)
        assert check == "ok", f"outbox corrupt after a SIGKILL: {check}"
        assert all(s <= last for s in waiting), "a row numbered beyond the sequence counter"
        assert len(waiting) == len(set(waiting)), "a row written twice"
        issued_at_kill.append(last)
        probe.start()
    assert issued_at_kill == sorted(issued_at_kill), "the sequence counter went back"
    assert issued_at_kill[-1] > kills, "the probe wrote results between the kills"
    time.sleep(1)
    probe.stop()
    last, waiting = outbox_state(state)
    wait_for(lambda: rig.stored() >= last - len(waiting) and stable(rig.stored),
             what="the hub to store everything the probe sent")  # fmt: skip
    figures = assert_exactly_once(rig)
    assert figures["lost"] == 0 and figures["duplicated"] == 0
    print(f"\nprobe SIGKILLed {kills} times while writing (seed {SEED}): outbox sound after "
          f"every kill; {figures}")  # fmt: skip


def test_hub_killed_again_and_again_under_load_loses_and_duplicates_nothing(
    rig: Rig, long_run: bool
):
    kills = 20 if long_run else 6
    rng = random.Random(SEED)
    sites = ["dak-ang", "bo-y", "sa-loong"]
    rig.start_broker()
    hub = rig.hub()
    probes = [rig.probe(site, **FAST) for site in sites]
    wait_for(lambda: all(rig.stored(s) > 10 for s in sites), what="every probe stored")
    queued_in_long_absence = 0
    for i in range(kills):
        time.sleep(0.5 + rng.random() * 2.5)  # let it catch up part of the way, or not
        hub.kill()
        issued = sum(issued_so_far(rig, s) for s in sites)
        # One long absence: more than mosquitto's default queue of 1000 messages waits
        # for the hub's persistent session (max_queued_messages in mosquitto.conf).
        time.sleep(25 if i == kills // 2 else rng.random() * 2)
        if i == kills // 2:
            queued_in_long_absence = sum(issued_so_far(rig, s) for s in sites) - issued
        hub = rig.hub()
    time.sleep(1)
    for probe in probes:
        probe.stop()
    totals: dict[str, dict[str, int]] = {}
    for site in sites:
        last, waiting = outbox_state(rig.tmp / "state" / site)
        expected = last - len(waiting)
        wait_for(lambda s=site, e=expected: rig.stored(s) >= e and stable(rig.stored),
                 timeout=120, what=f"the hub to catch up with {site}")  # fmt: skip
    hub.stop()
    for site in sites:
        totals[site] = assert_exactly_once(rig, site)
        assert totals[site]["lost"] == 0 and totals[site]["duplicated"] == 0
    produced = sum(t["published"] for t in totals.values())
    stored = sum(t["stored"] for t in totals.values())
    assert queued_in_long_absence > 1000, "the long absence must outlast the default queue"
    print(f"\nhub SIGKILLed {kills} times under {len(sites)} probes (seed {SEED}): "
          f"{produced} produced, {stored} stored, 0 lost, 0 duplicated; "
          f"{queued_in_long_absence} published during the longest absence; {totals}")  # fmt: skip
