"""The daemon measuring a real shaped line against the hub, end to end.

The probe runs in its own network namespace behind a tbf-shaped veth; the
broker and the hub (which serves the line-test endpoint) listen on the far
end in this machine's namespace. Results travel the real path to the store.
"""

from __future__ import annotations

import json
import sys
import time

import paho.mqtt.publish as mqtt_publish
import paho.mqtt.subscribe as mqtt_subscribe
import pytest
from paho.mqtt.client import MQTTv5

from line_rig import hub_line
from rig import Rig, wait_for
from roomprobe.contract import Stamp, encode, topics, utc_iso


def net_results(rig: Rig) -> list[dict]:
    rows = rig.hub_query(
        "SELECT payload FROM messages WHERE schema = 'roomprobe.result.net' ORDER BY id"
    )
    return [json.loads(r["payload"]) for r in rows]


def events(rig: Rig, name: str) -> list[dict]:
    rows = rig.hub_query(
        "SELECT payload FROM messages WHERE json_extract(payload, '$.event') = ?", name
    )
    return [json.loads(r["payload"]) for r in rows]


def test_daemon_measures_a_50_mbit_line_and_blames_the_isp(line50):
    lab, rig = line50
    rig.probe(net=hub_line(rig))
    result = wait_for(lambda: net_results(rig), timeout=120, what="a real net result")[0]
    m = result["metrics"]
    assert result["simulated"] is False
    truth = lab.goodput_mbps
    assert abs(m["download_mbps"] - truth) / truth < 0.08, m["download_mbps"]
    assert abs(m["upload_mbps"] - truth) / truth < 0.08, m["upload_mbps"]
    # 47.8 Mbps is under the district's 50: the ISP's to fix, degraded (within 20 %).
    assert result["verdict"]["status"] == "degraded"
    assert result["verdict"]["actor"] == "isp"
    assert result["verdict"]["reason"] in ("net.download_low", "net.upload_low")
    assert "speedtest_cli" in m["estimates"]
    assert m["budget"]["day_used_mb"] == pytest.approx(m["bytes_used"] / 1e6, abs=0.1)


def test_the_data_budget_stops_heavy_tests(line50):
    _, rig = line50
    rig.probe(net=hub_line(rig, daily_budget_mb=10, interval_s=1))
    skipped = wait_for(lambda: events(rig, "test_skipped"), what="a skipped-test event")
    assert skipped[0]["details"]["reason"] == "budget"
    assert "data budget" in skipped[0]["message"]["en"]
    time.sleep(2)
    assert net_results(rig) == []


def send_meeting_mode(rig: Rig, on: bool) -> None:
    stamp = Stamp("dak-ang", "00000000-0000-4000-8000-000000000001", lambda: True)
    expires = "2099-01-01T00:00:00.000Z"
    cmd = stamp.envelope("roomprobe.cmd", 1, command="meeting-mode", args={"on": on},
                         expires_at=expires)  # fmt: skip
    mqtt_publish.single(topics.cmd("dak-ang", "meeting-mode"), encode(cmd), qos=1,
                        hostname=rig.host, port=rig.broker.port, protocol=MQTTv5)  # fmt: skip


def test_meeting_mode_stops_a_running_line_test_and_blocks_new_ones(line50):
    _, rig = line50
    probe = rig.probe(net=hub_line(rig, speedtest_cli="off"), daemon={"heartbeat_s": 1})
    wait_for(lambda: "line test started" in probe.output(), what="the first line test")
    time.sleep(0.5)  # well inside it: the test runs for several seconds
    send_meeting_mode(rig, True)
    wait_for(lambda: "line test stopped: meeting mode came on" in probe.output(),
             what="the running test to stop")  # fmt: skip
    assert net_results(rig) == []
    time.sleep(3)  # a retry would be due after busy_retry_s: meeting mode holds it back
    assert net_results(rig) == []
    assert "net test skipped: meeting mode is on" in probe.output()


def test_a_busy_line_defers_the_heavy_test(line50):
    lab, rig = line50
    # Someone in the room is using the line: a steady 5 Mbit/s download from the hub.
    traffic = lab.popen(
        lab.probe_ns,
        [sys.executable, "-c",
         "import time, urllib.request as u\n"
         f"r = u.urlopen('{rig.web}/mini/stream?size=2000000000')\n"
         "while True:\n    r.read(62500); time.sleep(0.1)\n"],
    )  # fmt: skip
    try:
        probe = rig.probe(net=hub_line(rig, speedtest_cli="off"))  # interface: the default route's
        wait_for(lambda: "line test deferred" in probe.output(), timeout=60,
                 what="the test deferred")  # fmt: skip
        assert net_results(rig) == []
    finally:
        traffic.kill()
        traffic.wait()
    wait_for(lambda: net_results(rig), timeout=120, what="the test once the line is quiet")


def test_no_heavy_test_while_a_meeting_is_scheduled_and_the_schedule_survives_a_restart(line50):
    from datetime import UTC, datetime, timedelta

    _, rig = line50
    now = datetime.now(UTC)
    stamp = Stamp("test-hub", "00000000-0000-4000-8000-000000000002", lambda: True)
    schedule = stamp.envelope("roomprobe.schedule", 1, meetings=[
        {"id": "hop-khan", "title": "Họp khẩn / Urgent meeting",
         "start": utc_iso(now - timedelta(minutes=5)), "end": utc_iso(now + timedelta(hours=1)),
         "sites": ["dak-ang"]},
        {"id": "other-room", "title": "Not ours", "start": utc_iso(now - timedelta(hours=1)),
         "end": utc_iso(now + timedelta(hours=2)), "sites": ["bo-y"]},
    ])  # fmt: skip
    # The hub publishes its own (empty) schedule when it connects; ours must come after it.
    mqtt_subscribe.simple(topics.SCHEDULE, hostname=rig.host, port=rig.broker.port,
                          protocol=MQTTv5, retained=True)  # fmt: skip
    mqtt_publish.single(topics.SCHEDULE, encode(schedule), qos=1, retain=True,
                        hostname=rig.host, port=rig.broker.port, protocol=MQTTv5)  # fmt: skip
    probe = rig.probe(net=hub_line(rig, speedtest_cli="off", interval_s=1))
    held = 'net test skipped: the meeting "Họp khẩn / Urgent meeting" is on or about to start'
    wait_for(lambda: held in probe.output(),
             what="the heavy test held back by the schedule")  # fmt: skip
    assert "1 meetings for this room" in probe.output()
    assert net_results(rig) == []
    # Without the broker, after a restart, the probe still knows the meeting.
    rig.broker.stop()
    probe.stop()
    probe.start()
    wait_for(lambda: probe.output().count(held) >= 2,
             what="the schedule remembered across a restart")  # fmt: skip


def test_a_readiness_run_waits_for_the_real_line_test_then_tests_the_audio(line50):
    """The line test is a job that takes seconds: the run must judge its result (and only
    then start the audio test), not count the line as untested."""
    _, rig = line50
    rig.probe(net=hub_line(rig), audio={"interval_s": 3600})
    wait_for(lambda: net_results(rig), timeout=120, what="the first line test")
    stamp = Stamp("dak-ang", "00000000-0000-4000-8000-0000000000aa", lambda: True)
    cmd = stamp.envelope("roomprobe.cmd", 1, command="ready", args={},
                         expires_at=utc_iso_in(300))  # fmt: skip
    mqtt_publish.single(topics.cmd("dak-ang", "ready"), encode(cmd), qos=1,
                        hostname=rig.host, port=rig.broker.port, protocol=MQTTv5)  # fmt: skip
    rows = wait_for(lambda: rig.hub_query("SELECT payload FROM messages WHERE schema = "
                                          "'roomprobe.result.readiness'"),
                    timeout=120, what="the readiness run")  # fmt: skip
    run = json.loads(rows[0]["payload"])
    net = run["parts"]["network"]
    assert net["reason"] != "net.unknown" and net["status"] == "degraded", net  # 47.8 < 50
    assert run["parts"]["audio"]["reason"] != "audio.unknown", run["parts"]["audio"]
    assert run["readiness"] == "ready" and run["verdict"]["status"] == "degraded"
    assert len(net_results(rig)) == 2  # the run's own line test, after the first one


def utc_iso_in(seconds: float) -> str:
    from datetime import UTC, datetime, timedelta

    return utc_iso(datetime.now(UTC) + timedelta(seconds=seconds))
