"""Several hubs share the load through an MQTT 5 shared subscription (issue 6, item 9).

Real mosquitto (the project's config), real ``roomhub run`` processes with the
same ``[consumer] shared_group`` and their own ``name`` and web port, one store
(the same SQLite file, or the same PostgreSQL database), and a paho publisher
standing in for a fleet: many sites, QoS 1, MQTT 5. One hub is killed with
SIGKILL while the fleet publishes and started again. The guarantee: every
message the broker acknowledged is stored exactly once, whichever hub got it.

What makes that hold (docs/scale.md): each hub's session is persistent, so
mosquitto goes on queueing the killed hub's share in its session and
delivers it when the hub is back; what that hub had committed but not yet
acknowledged comes again and the UNIQUE msg_id drops the copy.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import urllib.request
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from rig import Proc, Rig, hub_toml, wait_for
from roomhub.broker import free_port, wait_for_port
from roomprobe.contract import Stamp, schema_document, topics, validate

SITES = [f"chia-se-{i:02d}" for i in range(40)]
KINDS = ("monitor", "net", "audio")


def hub(rig: Rig, name: str, group: str) -> tuple[Proc, int]:
    """A ``roomhub run`` of the shared group with its own name, web port and log."""
    web_port = free_port()
    conf = rig.tmp / f"hub-{name}.toml"
    conf.write_text(
        hub_toml(rig.broker.port, rig.hub_db, web_port, db_url=rig.db_url,
                 shared_group=group, name=name),
        "utf-8",
    )  # fmt: skip
    argv = [sys.executable, "-m", "roomhub.cli", "run", "--config", str(conf)]
    proc = Proc(f"hub-{name}", argv, rig.tmp / f"hub-{name}.log")
    rig.procs.append(proc)  # the rig stops it in teardown, whatever happens
    start(proc, web_port)
    return proc, web_port


def start(proc: Proc, web_port: int) -> None:
    proc.start()
    assert wait_for_port(web_port, timeout=30), proc.output()
    wait_for(lambda: (consumer(web_port) or {}).get("subscribed"), timeout=30,
             what=f"{proc.name} subscribed")  # fmt: skip


def consumer(web_port: int) -> dict[str, Any] | None:
    """The hub's consumer counters (received, stored, duplicate, ...) from /api/health."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/health", timeout=10) as r:
            return json.loads(r.read())["consumer"]
    except OSError:
        return None


class Fleet:
    """Contract-valid results from many sites, QoS 1 over one MQTT 5 connection."""

    def __init__(self, port: int):
        self.boots = {site: str(uuid.uuid4()) for site in SITES}
        self.seqs = dict.fromkeys(SITES, 0)
        self.examples = {k: schema_document(f"roomprobe.result.{k}")["examples"][0]
                         for k in KINDS}  # fmt: skip
        self.acked: list[str] = []  # msg_ids the broker acknowledged (PUBACK, success)
        self.refused: list[int] = []  # reason codes of the PUBACKs that refused
        self._refused_mids: set[int] = set()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"fleet-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)  # fmt: skip
        self.client.max_inflight_messages_set(20)  # as a probe's outbox sends
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.client.is_connected, timeout=10, what="the fleet's connection")

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        # paho calls this holding its own lock: only record, never wait on anything here.
        if reason.is_failure or reason.value == 0x10:  # 0x10: no matching subscribers
            self.refused.append(reason.value)
            self._refused_mids.add(mid)

    def payload(self, site: str, kind: str) -> dict[str, Any]:
        self.seqs[site] += 1
        envelope = Stamp(site, self.boots[site], lambda: True).envelope(
            f"roomprobe.result.{kind}", self.seqs[site]
        )
        body = {k: v for k, v in self.examples[kind].items() if k not in envelope}
        return validate({**body, **envelope}, f"roomprobe.result.{kind}")

    def publish(self, n: int, per_second: float) -> None:
        """``n`` results, round the sites, at about ``per_second``; waits for every PUBACK."""
        assert n < 65535, "packet ids would repeat"
        start = time.monotonic()
        sent = []
        for i in range(n):
            site, kind = SITES[i % len(SITES)], KINDS[i % len(KINDS)]
            p = self.payload(site, kind)
            info = self.client.publish(topics.result(site, kind), json.dumps(p), qos=1)
            sent.append((p["msg_id"], info))
            ahead = start + (i + 1) / per_second - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        for msg_id, info in sent:
            info.wait_for_publish(timeout=60)
            if info.is_published() and info.mid not in self._refused_mids:
                self.acked.append(msg_id)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored_ids(rig: Rig) -> list[str]:
    rows = rig.hub_query("SELECT msg_id FROM messages WHERE site LIKE ?", "chia-se-%")
    return [r["msg_id"] for r in rows]


def test_two_hubs_share_the_load_and_one_killed_loses_and_duplicates_nothing(rig_db: Rig):
    rig = rig_db
    rig.start_broker()
    a, port_a = hub(rig, "a", "district")
    b, port_b = hub(rig, "b", "district")
    fleet = Fleet(rig.broker.port)
    total = 3000
    sender = threading.Thread(target=fleet.publish, args=(total, 400.0), daemon=True)
    try:
        sender.start()
        wait_for(lambda: len(stored_ids(rig)) >= total // 4, what="a quarter stored")
        a.kill()  # SIGKILL: no goodbye, a batch may be committed and not acknowledged
        killed_at = len(stored_ids(rig))
        time.sleep(1.5)  # the fleet goes on; mosquitto queues a's share in its session
        start(a, port_a)
        sender.join(timeout=60)
        assert not sender.is_alive(), "the fleet did not finish publishing"
    finally:
        fleet.close()
    assert fleet.refused == [], f"the broker refused publishes: {fleet.refused}"
    assert len(fleet.acked) == total
    wait_for(lambda: len(stored_ids(rig)) >= total, timeout=60, what="every result stored")
    time.sleep(0.5)  # nothing more may arrive
    after_a, after_b = consumer(port_a), consumer(port_b)
    stored = stored_ids(rig)
    assert len(stored) == len(set(stored)), "a message was stored twice"
    assert set(stored) == set(fleet.acked), "stored and acknowledged msg_ids differ"
    assert rig.hub_query("SELECT count(*) AS n FROM quarantine")[0]["n"] == 0
    # Both took a share: b never saw everything, and a, after its restart, stored what
    # mosquitto had kept for it while it was dead (its counters restarted with it).
    assert after_a and after_b
    assert 0 < after_b["stored"] < total
    assert after_a["stored"] > 0
    a.stop()
    b.stop()
    print(f"\nshared by two hubs, one killed after {killed_at} of {total} stored: "
          f"a after restart {after_a}, b {after_b}")  # fmt: skip


def test_a_single_hub_with_a_shared_group_works_alone(rig_db: Rig):
    rig = rig_db
    rig.start_broker()
    solo, port = hub(rig, "solo", "district")
    fleet = Fleet(rig.broker.port)
    try:
        fleet.publish(300, 1000.0)
    finally:
        fleet.close()
    assert fleet.refused == [] and len(fleet.acked) == 300
    wait_for(lambda: len(stored_ids(rig)) >= 300, what="every result stored by the lone hub")
    stored = stored_ids(rig)
    assert sorted(stored) == sorted(fleet.acked)
    counters = consumer(port)
    assert counters is not None and counters["stored"] == 300
    assert counters.get("duplicate", 0) == 0
    solo.stop(signal.SIGTERM)
