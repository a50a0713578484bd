"""Faults the daemon and the hub must survive without losing or duplicating a result.

Found by review: a failed commit used to end the hub's MQTT loop for good, and
commands that passed the schema could crash the probe.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.request

import paho.mqtt.publish as mqtt_publish
from paho.mqtt.client import MQTTv5

from rig import Rig, wait_for
from roomprobe.contract import Stamp, encode, topics, utc_iso


def health(rig: Rig) -> dict:
    url = f"http://127.0.0.1:{rig.web_port}/api/health"
    return json.loads(urllib.request.urlopen(url, timeout=10).read())


def test_hub_keeps_consuming_after_its_database_was_locked_for_a_while(rig: Rig):
    rig.start_broker()
    rig.hub(store_retry_s=1.0)
    probe = rig.probe(net={"interval_s": 0.3, "monitor_interval_s": 0.5})
    wait_for(lambda: rig.stored() >= 5, what="results before the lock")
    # Another writer (a backup, a report) holds the database longer than the hub retries.
    locker = sqlite3.connect(rig.hub_db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    time.sleep(6)
    locked_through = rig.stored  # (reads are blocked too while EXCLUSIVE is held)
    locker.execute("COMMIT")
    locker.close()
    before = locked_through()
    wait_for(lambda: rig.stored() >= before + 10, what="results after the lock")
    consumer = wait_for(
        lambda: (c := health(rig)["consumer"])["connected"] and c["subscribed"] and c,
        what="the consumer connected and subscribed again",
    )
    assert consumer["store_errors"] > 0, consumer  # the lock was felt, and survived
    probe.stop()
    from delivery_checks import assert_exactly_once, outbox_state

    last, waiting = outbox_state(rig.tmp / "state" / "dak-ang")
    wait_for(lambda: rig.stored() >= last - len(waiting), what="the hub to catch up")
    figures = assert_exactly_once(rig)
    print(f"\nhub database locked 6 s: {figures}, consumer {consumer}")


def send_raw(rig: Rig, topic: str, payload: bytes) -> None:
    mqtt_publish.single(
        topic, payload, qos=1, hostname="127.0.0.1", port=rig.broker.port, protocol=MQTTv5
    )


def command(seq: int, name: str, args: dict, **override) -> dict:
    stamp = Stamp("dak-ang", "00000000-0000-4000-8000-000000000001", lambda: True)
    expires = utc_iso(None).replace(utc_iso(None)[:4], "2099")
    payload = stamp.envelope("roomprobe.cmd", seq, command=name, args=args, expires_at=expires)
    payload.update(override)
    return payload


def replies(rig: Rig) -> dict[str, dict]:
    rows = rig.hub_query("SELECT payload FROM messages WHERE schema = 'roomprobe.cmd-reply'")
    return {p["request_id"]: p for p in (json.loads(r["payload"]) for r in rows)}


def test_bad_commands_get_a_reply_that_says_why_and_never_stop_the_probe(rig: Rig):
    rig.start_broker()
    rig.hub()
    probe = rig.probe(net={"interval_s": 3600}, audio={"interval_s": 3600})
    wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 1"), what="probe online")
    unhashable = command(1, "run-test", {"tests": [{"x": 1}]})
    bad_date = command(2, "meeting-mode", {"on": True}, expires_at="2026-02-30T00:00:00Z")
    other_site = command(3, "run-test", {}, site="bo-y")
    wrong_name = command(4, "meeting-mode", {"on": True})
    send_raw(rig, topics.cmd("dak-ang", "run-test"), encode(unhashable))
    send_raw(rig, topics.cmd("dak-ang", "meeting-mode"), encode(bad_date))
    send_raw(rig, topics.cmd("dak-ang", "run-test"), encode(other_site))
    send_raw(rig, topics.cmd("dak-ang", "run-test"), encode(wrong_name))
    send_raw(rig, topics.cmd("dak-ang", "run-test"), b"[" * 60000)  # no id: no reply possible
    send_raw(rig, topics.cmd("dak-ang", "run-test"), b'{"n": ' + b"9" * 5000 + b"}")
    good = command(5, "run-test", {"tests": ["net"]})
    send_raw(rig, topics.cmd("dak-ang", "run-test"), encode(good))
    got = wait_for(lambda: good["msg_id"] in replies(rig) and replies(rig), what="replies")
    assert got[good["msg_id"]]["ok"] is True
    assert got[unhashable["msg_id"]]["error"] == "bad_args"
    assert got[bad_date["msg_id"]]["error"] == "bad_command"
    assert "date-time" in got[bad_date["msg_id"]]["message"]["en"]
    assert got[other_site["msg_id"]]["error"] == "bad_command"
    assert got[wrong_name["msg_id"]]["error"] == "bad_command"
    assert probe.alive
    assert "Traceback" not in probe.output()


def test_meeting_mode_survives_a_restart_of_the_daemon(rig: Rig):
    rig.start_broker()
    rig.hub()
    probe = rig.probe(net={"interval_s": 3600}, audio={"interval_s": 3600})
    wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 1"), what="probe online")
    meeting_on = command(1, "meeting-mode", {"on": True})
    send_raw(rig, topics.cmd("dak-ang", "meeting-mode"), encode(meeting_on))

    def meeting_mode_on() -> bool:
        rows = rig.hub_query("SELECT last_status FROM sites WHERE site = 'dak-ang'")
        return bool(rows) and json.loads(rows[0]["last_status"])["meeting_mode"]

    wait_for(meeting_mode_on, what="meeting mode on")
    probe.kill()  # a power cut, not a clean stop
    probe.start()
    started = (
        "SELECT count(*) AS n FROM messages WHERE json_extract(payload, '$.event') = 'started'"
    )
    wait_for(lambda: rig.hub_query(started)[0]["n"] >= 2, what="the second start")
    time.sleep(1.5)  # a heartbeat from the restarted daemon
    assert meeting_mode_on()
    # and the restarted daemon refuses active tests
    refused = command(2, "run-test", {"tests": ["audio"]})
    send_raw(rig, topics.cmd("dak-ang", "run-test"), encode(refused))
    reply = wait_for(lambda: replies(rig).get(refused["msg_id"]), what="the reply")
    assert reply["error"] == "meeting_mode"


def test_a_second_daemon_on_the_same_state_folder_refuses_to_start(rig: Rig):
    rig.start_broker()
    first = rig.probe()
    wait_for(lambda: "site dak-ang" in first.output(), what="the first daemon")
    second = rig.probe()  # same site, same config, same state folder
    done = threading.Event()
    rc: list[int | None] = []

    def wait_second() -> None:
        assert second.proc is not None
        rc.append(second.proc.wait(30))
        done.set()

    threading.Thread(target=wait_second, daemon=True).start()
    assert done.wait(30), "the second daemon kept running"
    assert rc == [75]
    assert "another roomprobe is running" in second.output()
    assert "Traceback" not in second.output()
    assert first.alive
