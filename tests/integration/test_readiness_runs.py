"""Readiness runs end to end: the hub schedules a meeting, each probe tests itself before it.

Real mosquitto, ``roomhub run`` and probe daemons. Time is accelerated by
configuration only: the meeting starts about half a minute after it is
scheduled, the probes' lead times are 20 and 10 seconds and their quiet window
4 seconds; nothing in the code under test is mocked. One room has a line below
50 Mbps (slow-line), one is healthy (good); the slow room's probe is restarted
between the two lead times and must still run the second one.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from rig import Rig, wait_for
from roomprobe.contract import parse_utc

# This machine's clock may not be synchronised (no NTP here): the box trusts it, as one
# with a real-time clock does.
FAST = {"readiness_lead_s": [20.0, 10.0], "meeting_guard_s": 4.0, "heartbeat_s": 5.0,
        "trust_unsynced_clock": True}  # fmt: skip
QUIET = {"interval_s": 3600}  # no regular tests: only the readiness runs test


def readiness_results(rig: Rig, site: str) -> list[dict[str, Any]]:
    rows = rig.hub_query("SELECT payload FROM messages WHERE schema = 'roomprobe.result.readiness'"
                         " AND site = ? ORDER BY id", site)  # fmt: skip
    return [json.loads(r["payload"]) for r in rows]


def board(rig: Rig) -> dict[str, Any]:
    with urllib.request.urlopen(rig.web + "/api/readiness", timeout=10) as resp:
        return json.loads(resp.read())


def test_each_room_proves_itself_before_the_meeting_and_the_board_fills_in(rig: Rig):
    rig.start_broker()
    rig.hub()
    probes = {
        site: rig.probe(site=site, profile=profile, daemon=FAST, net=QUIET, audio=QUIET)
        for site, profile in (("dak-ang", "good"), ("bo-y", "slow-line"))
    }  # fmt: skip
    wait_for(lambda: len(rig.hub_query("SELECT 1 FROM sites WHERE online = 1")) == 2,
             what="both probes online")  # fmt: skip
    start = (datetime.now(UTC) + timedelta(seconds=32)).replace(microsecond=0)
    done = rig.roomhub("meeting", "add", "--title", "Họp giao ban", "--start",
                   start.isoformat(), "--minutes", "1", "--sites", "dak-ang,bo-y")  # fmt: skip
    assert done.returncode == 0, done.stderr
    meeting_id = done.stdout.split()[1]

    # The first lead time (20 s before): one run per room.
    first = wait_for(lambda: readiness_results(rig, "bo-y"), timeout=60, what="bo-y's first run")
    assert first[0]["meeting_id"] == meeting_id
    assert first[0]["readiness"] == "not-ready"
    assert first[0]["parts"]["network"]["status"] == "fail"
    assert first[0]["verdict"]["actor"] == "isp"  # who must act: the line's provider
    assert first[0]["verdict"]["message"]["vi"].startswith("Phòng họp chưa sẵn sàng")
    # The slow room's box restarts before the second lead time (a power cut, a reboot).
    probes["bo-y"].stop()
    probes["bo-y"] = rig.probe(site="bo-y", profile="slow-line", daemon=FAST, net=QUIET,
                               audio=QUIET)  # fmt: skip

    both = wait_for(lambda: len(readiness_results(rig, "bo-y")) >= 2
                    and len(readiness_results(rig, "dak-ang")) >= 2, timeout=60,
                    what="the second run of both rooms")  # fmt: skip
    assert both
    for site, state in (("dak-ang", "ready"), ("bo-y", "not-ready")):
        runs = readiness_results(rig, site)
        assert [r["readiness"] for r in runs] == [state, state], runs
        assert {r["meeting_id"] for r in runs} == {meeting_id}
        # Each run ends before the quiet window; none runs during the meeting.
        for r in runs:
            ended = parse_utc(r["started_at"]).timestamp() + r["duration_s"]
            assert ended <= start.timestamp() - FAST["meeting_guard_s"] + 1.0, r
        assert set(runs[-1]["parts"]) == {"network", "audio", "system"}

    # The hub's readiness board for this meeting shows the probes' own runs.
    rooms = {r["site"]: r for r in board(rig)["rooms"]}
    assert rooms["dak-ang"]["state"] == "ready" and rooms["dak-ang"]["source"] == "readiness"
    assert rooms["bo-y"]["state"] == "not-ready" and rooms["bo-y"]["actors"] == ["isp"]

    # Through the meeting and after it: no further run for this meeting.
    time.sleep(max(0.0, start.timestamp() + 70 - time.time()))
    assert len(readiness_results(rig, "dak-ang")) == 2
    assert len(readiness_results(rig, "bo-y")) == 2


def test_a_readiness_run_by_hand_from_the_console(rig: Rig):
    rig.start_broker()
    rig.hub()
    rig.probe(site="dak-ang", profile="slow-line", net=QUIET, audio=QUIET)
    wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 1"), what="probe online")
    done = rig.roomhub("probe", "ready", "dak-ang")
    assert done.returncode == 0, done.stderr
    (run,) = wait_for(lambda: readiness_results(rig, "dak-ang"), timeout=30, what="the run")
    assert run["readiness"] == "not-ready" and run["meeting_id"] is None  # no meeting ahead
    # Meeting mode on: refused, with the reason, and nothing runs.
    assert rig.roomhub("probe", "meeting-mode", "dak-ang", "on").returncode == 0
    refused = rig.roomhub("probe", "ready", "dak-ang")
    assert refused.returncode == 1
    time.sleep(2)
    assert len(readiness_results(rig, "dak-ang")) == 1
