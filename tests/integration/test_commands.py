"""Commands from the hub side reach the probe, and each reply names its request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import paho.mqtt.publish as mqtt_publish
from paho.mqtt.client import MQTTv5

from rig import Rig, wait_for
from roomprobe.contract import Stamp, encode, topics, utc_iso, validate


def send(rig: Rig, command: str, args: dict, seq: int) -> str:
    stamp = Stamp("dak-ang", "00000000-0000-4000-8000-000000000001", lambda: True)
    expires = utc_iso(datetime.now(UTC) + timedelta(minutes=5))
    cmd = validate(
        stamp.envelope("roomprobe.cmd", seq, command=command, args=args, expires_at=expires)
    )
    mqtt_publish.single(
        topics.cmd("dak-ang", command), encode(cmd), qos=1,
        hostname="127.0.0.1", port=rig.broker.port, protocol=MQTTv5,
    )  # fmt: skip
    return cmd["msg_id"]


def reply_to(rig: Rig, request_id: str) -> dict:
    def find():
        for row in rig.hub_query(
            "SELECT payload FROM messages WHERE schema = 'roomprobe.cmd-reply'"
        ):
            payload = json.loads(row["payload"])
            if payload["request_id"] == request_id:
                return payload
        return None

    return wait_for(find, what=f"the reply to {request_id}")


def test_commands_are_answered_and_meeting_mode_blocks_active_tests(rig: Rig):
    rig.start_broker()
    rig.hub()
    rig.probe(net={"interval_s": 3600}, audio={"interval_s": 3600})
    wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 1"), what="probe online")

    reply = reply_to(rig, send(rig, "run-test", {"tests": ["net"]}, 1))
    assert reply["ok"] is True and reply["command"] == "run-test"
    assert set(reply["result"]["verdicts"]) == {"net"}

    reply = reply_to(rig, send(rig, "meeting-mode", {"on": True}, 2))
    assert reply["ok"] is True
    wait_for(
        lambda: rig.hub_query(
            "SELECT 1 FROM messages WHERE schema = 'roomprobe.event' "
            "AND payload LIKE '%\"meeting_mode\"%'"
        ),
        what="the meeting-mode event",
    )
    wait_for(
        lambda: [
            r for r in rig.hub_query("SELECT last_status FROM sites")
            if json.loads(r["last_status"])["meeting_mode"]
        ],
        what="status showing meeting mode",
    )  # fmt: skip

    # Rule 1: no active test while people meet.
    reply = reply_to(rig, send(rig, "run-test", {"tests": ["audio"]}, 3))
    assert reply["ok"] is False and reply["error"] == "meeting_mode"

    reply = reply_to(rig, send(rig, "meeting-mode", {"on": "yes"}, 4))
    assert reply["ok"] is False and reply["error"] == "bad_args"
    assert "on" in reply["message"]["en"]

    # set-config with nothing to set (its refusals: test_set_config.py)
    reply = reply_to(rig, send(rig, "set-config", {}, 5))
    assert reply["ok"] is False and reply["error"] == "bad_args"
    assert '"config"' in reply["message"]["en"]
