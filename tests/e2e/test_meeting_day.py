"""A meeting day end to end: three rooms, one schedule, the board, alerts, lights, no tone.

Real mosquitto, ``roomhub run`` with alerts to a local webhook, and three probe
daemons whose audio is the room model (real analysis of a simulated room): a
healthy room, a room whose line is below 50 Mbps, and a room whose microphones
are dead. A meeting is scheduled a minute ahead; time is accelerated by
configuration only (lead times 40 and 20 s, a 4 s quiet window on the hub and
the probes), nothing in the code under test is mocked. The dead-microphone
room's box is restarted between the two lead times and still runs the second.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from receivers import Webhook
from rig import Rig, wait_for
from roomprobe.contract import parse_utc

LEADS, GUARD = [40.0, 20.0], 4.0
ROOMS = {"dak-ang": "good", "bo-y": "slow-line", "plei-kan": "dead-mic"}
DAEMON = {"readiness_lead_s": LEADS, "meeting_guard_s": GUARD, "heartbeat_s": 2.0,
          "trust_unsynced_clock": True}  # fmt: skip
# Regular tests every few seconds, so any that ran in the quiet window would show.
AUDIO = {"backend": "model", "interval_s": 6.0}
NET = {"interval_s": 6.0, "monitor_interval_s": 2.0}


@pytest.fixture
def hook():
    receiver = Webhook()
    yield receiver
    receiver.close()


def api(rig: Rig, path: str) -> Any:
    with urllib.request.urlopen(rig.web + path, timeout=10) as resp:
        return json.loads(resp.read())


def results(rig: Rig, site: str, kind: str) -> list[dict[str, Any]]:
    rows = rig.hub_query("SELECT payload FROM messages WHERE schema = ? AND site = ? ORDER BY id",
                         f"roomprobe.result.{kind}", site)  # fmt: skip
    return [json.loads(r["payload"]) for r in rows]


def leds(rig: Rig) -> dict[str, dict[str, str]]:
    rows = rig.hub_query("SELECT site, last_status FROM sites")
    return {r["site"]: json.loads(r["last_status"])["leds"] for r in rows if r["last_status"]}


def probe(rig: Rig, site: str):
    return rig.probe(site=site, profile=ROOMS[site], daemon=DAEMON, audio=AUDIO, net=NET,
                     hardware={"leds": "mock"})  # fmt: skip


def test_a_meeting_day_with_a_slow_line_a_dead_microphone_and_a_healthy_room(rig: Rig, hook):
    rig.start_broker()
    rig.hub(sections={
        "meetings": {"readiness_lead_s": LEADS, "meeting_guard_s": GUARD},
        "alerts": {"interval_s": 1.0, "webhook_urls": [hook.url]},
        "sites": [{"id": s, "name": f"Xã {s}"} for s in ROOMS],
    })  # fmt: skip
    procs = {site: probe(rig, site) for site in ROOMS}
    wait_for(lambda: len(rig.hub_query("SELECT 1 FROM sites WHERE online = 1")) == 3,
             timeout=60, what="three probes online")  # fmt: skip
    # A working day: each room has tested its line and audio chain before the meeting is set
    # (a room with an untested part within the alert lead is itself worth an alert).
    wait_for(lambda: all(results(rig, s, "net") and results(rig, s, "audio") for s in ROOMS),
             timeout=60, what="each room's first tests")  # fmt: skip
    start = (datetime.now(UTC) + timedelta(seconds=60)).replace(microsecond=0)
    end = start + timedelta(minutes=1)
    added = rig.roomhub("meeting", "add", "--title", "Họp giao ban tháng 12", "--start",
                        start.isoformat(), "--minutes", "1",
                        "--sites", ",".join(ROOMS))  # fmt: skip
    assert added.returncode == 0, added.stderr
    meeting_id = added.stdout.split()[1]

    # First lead time: each room runs once. The dead-microphone room's box then restarts.
    wait_for(lambda: results(rig, "plei-kan", "readiness"), timeout=60, what="plei-kan's run")
    procs["plei-kan"].stop()
    procs["plei-kan"] = probe(rig, "plei-kan")
    wait_for(lambda: all(len(results(rig, s, "readiness")) >= 2 for s in ROOMS),
             timeout=60, what="every room's second run")  # fmt: skip

    expected = {"dak-ang": ("ready", None), "bo-y": ("not-ready", "isp"),
                "plei-kan": ("not-ready", "room-audio")}  # fmt: skip
    for site, (state, actor) in expected.items():
        runs = results(rig, site, "readiness")
        assert [r["readiness"] for r in runs] == [state, state], (site, runs)
        assert {r["meeting_id"] for r in runs} == {meeting_id}
        assert runs[-1]["verdict"]["actor"] == actor
    assert results(rig, "bo-y", "readiness")[-1]["parts"]["network"]["status"] == "fail"
    dead = results(rig, "plei-kan", "readiness")[-1]["parts"]["audio"]
    assert (dead["status"], dead["reason"]) == ("fail", "audio.mics_silent")

    # The board for this meeting, from the rooms' own runs, not-ready first.
    board = api(rig, "/api/readiness")
    assert board["meeting"]["id"] == meeting_id
    rooms = {r["site"]: r for r in board["rooms"]}
    assert {s: r["state"] for s, r in rooms.items()} == {s: e[0] for s, e in expected.items()}
    assert all(r["source"] == "readiness" for r in rooms.values())
    assert rooms["bo-y"]["actors"] == ["isp"] and rooms["plei-kan"]["actors"] == ["room-audio"]

    # Alerts went out for the two rooms that are not ready, naming who must act.
    opened = wait_for(lambda: {p["site"]: p for p in hook.posts
                               if p["kind"] == "not-ready" and p["event"] == "opened"}
                      if len({p["site"] for p in hook.posts if p["kind"] == "not-ready"}) >= 2
                      else None, timeout=30, what="two not-ready alerts")  # fmt: skip
    assert set(opened) == {"bo-y", "plei-kan"}, hook.posts
    assert opened["bo-y"]["actors"] == ["isp"] and opened["plei-kan"]["actors"] == ["room-audio"]
    assert "chưa sẵn sàng" in opened["bo-y"]["title"]["vi"]  # Vietnamese first, then English

    # The lights each room's staff sees before the meeting.
    lights = wait_for(lambda: (lit := leds(rig)) and lit.get("plei-kan", {}).get("meeting")
                      == "not_ready" and lit, what="the lights after the runs")  # fmt: skip
    assert lights["dak-ang"]["meeting"] == "ready" and lights["dak-ang"]["network"] == "ok"
    assert lights["bo-y"]["meeting"] == "not_ready" and lights["bo-y"]["network"] == "fail"
    assert lights["plei-kan"]["meeting"] == "not_ready" and lights["plei-kan"]["audio"] == "fail"

    # Through the meeting and a little after it.
    quiet_from, quiet_to = start - timedelta(seconds=GUARD), end + timedelta(seconds=GUARD)
    time.sleep(max(0.0, quiet_to.timestamp() + 14 - time.time()))
    for site in ROOMS:
        tones = results(rig, site, "audio")
        during = [a for a in tones if parse_utc(a["started_at"]) < quiet_to
                  and parse_utc(a["started_at"]).timestamp() + a["duration_s"]
                  > quiet_from.timestamp()]  # fmt: skip
        assert during == [], (site, during)  # no test tone in the meeting's window
        # Tones did play before and again after it: the check above could have failed.
        assert any(parse_utc(a["started_at"]) < quiet_from for a in tones), site
        assert any(parse_utc(a["started_at"]) >= quiet_to for a in tones), site
        assert len(results(rig, site, "readiness")) == 2  # no run during or after the meeting

    # The light probes went on during the meeting; the summary has them, and who was ready.
    summary = api(rig, f"/api/meetings/{meeting_id}/summary")
    by_site = {r["site"]: r for r in summary["rooms"]}
    assert {s: r["readiness"]["state"] for s, r in by_site.items()} == {
        s: e[0] for s, e in expected.items()}  # fmt: skip
    assert all(r["line"]["windows"] >= 10 for r in by_site.values()), by_site
    # The alerts closed with the meeting.
    wait_for(lambda: {p["site"] for p in hook.posts if p["kind"] == "not-ready"
                      and p["event"] != "opened"} == {"bo-y", "plei-kan"},
             timeout=30, what="the not-ready alerts closed")  # fmt: skip
