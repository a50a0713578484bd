"""A probe that boots with a wrong, unsynchronised clock which later jumps to the right
time, as a Pi without a real-time clock does when chrony first steps it (issue 9).

The probe's wall clock is moved by libfaketime (Debian's faketime package): it starts
three days behind (the time fake-hwclock saved at the last shutdown) and jumps forward
while the daemon runs. The kernel's "synchronised" flag belongs to the whole machine,
so it is stood in for by a file the probe reads instead (roomprobe.host).

What must hold: every message of the wrong period is flagged (clock_synced false); the
hub places those at its receive time, never three days back; the order of the probe's
messages is (boot_id, seq), kept across the jump; nothing is lost or stored twice; the
daemon keeps running.

libfaketime moves the monotonic clock with the wall clock when the time file changes, so
a backward jump would also stall the daemon's own timers, which no real kernel does: only
the forward step (the usual case: a clock behind since the last shutdown) is tested.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from delivery_checks import assert_exactly_once, outbox_state, stable

from rig import Rig, wait_for
from roomprobe.contract import parse_utc

#: Debian's faketime package (scripts/bootstrap.sh installs it), on any architecture.
LIBFAKETIME = next(iter(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1")), None)
BEHIND = timedelta(days=3)


def stored_messages(rig: Rig) -> list[dict]:
    rows = rig.hub_query(
        "SELECT seq, ts, received_at, clock_synced, payload FROM messages "
        "WHERE site = 'dak-ang' AND schema != 'roomprobe.status' ORDER BY id"
    )
    return [{**r, "payload": json.loads(r["payload"])} for r in rows]


def recent(rig: Rig) -> list[dict]:
    with urllib.request.urlopen(f"{rig.web}/api/sites/dak-ang", timeout=10) as r:
        return json.loads(r.read())["recent"]


def test_a_wrong_clock_at_boot_is_flagged_and_placed_and_its_jump_keeps_the_order(rig: Rig):
    assert LIBFAKETIME is not None, "libfaketime is missing: scripts/test installs faketime"
    clock = rig.tmp / "faketime"
    synced = rig.tmp / "clock-synced"
    began = datetime.now(UTC)
    clock.write_text("@" + (began - BEHIND).strftime("%Y-%m-%d %H:%M:%S") + "\n")
    synced.write_text("0\n")
    rig.start_broker()
    rig.hub()
    env = {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(clock),
        "FAKETIME_NO_CACHE": "1",  # read the file on every call: the jump is seen at once
        "ROOMPROBE_TEST_CLOCK_SYNCED_FILE": str(synced),
    }
    probe = rig.probe(env=env, net={"interval_s": 0.3, "monitor_interval_s": 0.2})
    wait_for(lambda: rig.stored() >= 15, what="results with the wrong clock")
    # chrony steps the clock: the right time, and the kernel calls it synchronised.
    synced.write_text("1\n")
    clock.write_text("+0\n")
    jumped = datetime.now(UTC)
    before_jump = rig.stored()
    wait_for(
        lambda: any(m["payload"]["clock_synced"] for m in stored_messages(rig))
        and rig.stored() >= before_jump + 15,
        what="results after the clock jumped",
    )  # fmt: skip
    shown = recent(rig)
    with urllib.request.urlopen(f"{rig.web}/sites/dak-ang?lang=en", timeout=10) as r:
        page = r.read().decode()
    assert probe.alive, probe.output()[-2000:]
    probe.stop()
    last, waiting = outbox_state(rig.tmp / "state" / "dak-ang")
    wait_for(lambda: rig.stored() >= last - len(waiting) and stable(rig.stored),
             what="the hub to catch up")  # fmt: skip
    figures = assert_exactly_once(rig)
    messages = stored_messages(rig)
    wrong = [m for m in messages if not m["payload"]["clock_synced"]]
    right = [m for m in messages if m["payload"]["clock_synced"]]
    assert len(wrong) >= 15 and len(right) >= 15
    # Flagged: the wrong period says so, and its own stamps really are days back.
    for m in wrong:
        assert m["clock_synced"] == 0
        assert parse_utc(m["payload"]["ts"]) < began - BEHIND + timedelta(minutes=5)
        # Placed by the hub at its receive time, not three days back.
        assert m["ts"] == m["received_at"]
    for m in right:
        assert abs(parse_utc(m["ts"]) - parse_utc(m["received_at"])) < timedelta(seconds=30)
        assert parse_utc(m["ts"]) >= jumped - timedelta(seconds=5)
    # The order is the sequence, across the jump: one boot, one run of numbers.
    assert [m["seq"] for m in messages] == sorted(m["seq"] for m in messages)
    assert max(m["seq"] for m in wrong) < min(m["seq"] for m in right)
    # Every placed time is within the test's own run: none three days back.
    for m in messages:
        assert began - timedelta(seconds=5) <= parse_utc(m["ts"]) <= datetime.now(UTC)
    # The dashboard's list shows the placed time and marks the guessed ones.
    for r in shown:
        assert parse_utc(r["placed_at"]) >= began - timedelta(seconds=5)
    assert {r["clock_synced"] for r in shown} == {True, False}
    assert "this is when the hub received it" in page  # the mark on guessed times
    print(f"\nclock 3 days behind at boot, then stepped: {len(wrong)} results flagged and "
          f"placed at receive time, {len(right)} after the step; {figures}")  # fmt: skip
