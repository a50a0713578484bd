"""What the hub sends: commands to one probe, and the retained schedule to all.

Both go out on the consumer's own MQTT connection (the hub's account, which
the ACL lets write commands and the schedule), stamped with the hub's id as
site and a boot id of this process. A command is recorded in the store before
it is published, so its reply (stored by the consumer) always finds it; the
dashboard and ``roomhub probe run-test`` read the pair from there.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy import Connection, Engine, text

from roomprobe import host
from roomprobe.contract import Stamp, encode, parse_utc, topics, utc_iso, validate

from . import schedule

PUBLISH_TIMEOUT_S = 10.0
COMMAND_TTL = timedelta(minutes=5)


class SendError(RuntimeError):
    """The broker did not take a message in time (the hub is not connected)."""


class Sender:
    def __init__(self, hub_id: str, client: mqtt.Client, engine: Engine):
        self.client = client
        self.engine = engine
        self.stamp = Stamp(hub_id, str(uuid.uuid4()), host.clock_synced)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()  # one seq per message, in order

    def _publish(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        info = self.client.publish(topic, encode(validate(payload)), qos=1, retain=retain)
        try:
            info.wait_for_publish(PUBLISH_TIMEOUT_S)
        except (ValueError, RuntimeError) as exc:  # paho: not connected / queue full
            raise SendError(f"the broker is not reachable: {exc}") from None
        if not info.is_published():
            raise SendError(f"the broker did not take the message in {PUBLISH_TIMEOUT_S:.0f} s")

    def publish_schedule(self) -> int:
        """Publish what lies ahead, retained; return how many meetings it carries."""
        with self.engine.connect() as conn:
            items = schedule.payload_items(schedule.ahead(conn))
        with self._lock:
            payload = self.stamp.envelope("roomprobe.schedule", next(self._seq), meetings=items)
        self._publish(topics.SCHEDULE, payload, retain=True)
        return len(items)

    def send_command(self, site: str, command: str, args: dict[str, Any], sent_by: str,
                     ttl: timedelta = COMMAND_TTL) -> dict[str, Any]:  # fmt: skip
        """Record and publish one command; return its record (msg_id, expires_at...)."""
        expires = datetime.now(UTC) + ttl
        with self._lock:
            payload = self.stamp.envelope(
                "roomprobe.cmd", next(self._seq),
                command=command, args=args, expires_at=utc_iso(expires),
            )  # fmt: skip
        payload["site"] = site  # a command's site is its target (contract: roomprobe.cmd)
        validate(payload)
        with self.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO commands (msg_id, site, command, args, sent_at, expires_at, "
                     "sent_by) VALUES (:id, :site, :cmd, :args, :at, :exp, :by)"),
                {"id": payload["msg_id"], "site": site, "cmd": command, "args": json.dumps(args),
                 "at": payload["ts"], "exp": payload["expires_at"], "by": sent_by},
            )  # fmt: skip
        self._publish(topics.cmd(site, command), payload, retain=False)
        return {"msg_id": payload["msg_id"], "site": site, "command": command,
                "expires_at": payload["expires_at"]}  # fmt: skip


def command_state(conn: Connection, msg_id: str, now: datetime | None = None) -> dict | None:
    """A sent command and its reply: state waiting, replied or expired; None if unknown."""
    row = conn.execute(text("SELECT * FROM commands WHERE msg_id = :id"), {"id": msg_id})
    found = row.mappings().first()
    if found is None:
        return None
    return _state(dict(found), now or datetime.now(UTC))


def recent_commands(conn: Connection, site: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        text("SELECT * FROM commands WHERE site = :s ORDER BY sent_at DESC LIMIT :n"),
        {"s": site, "n": limit},
    ).mappings()
    now = datetime.now(UTC)
    return [_state(dict(r), now) for r in rows]


def _state(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    reply = json.loads(row["reply"]) if row["reply"] else None
    if reply is not None:
        state = "replied"
    elif parse_utc(row["expires_at"]) < now:
        state = "expired"  # the probe ignores it from now on
    else:
        state = "waiting"
    return {**row, "args": json.loads(row["args"]), "reply": reply, "state": state}
