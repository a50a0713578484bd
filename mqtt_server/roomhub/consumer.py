"""The hub's consumer: every probe message validated, stored once, then acknowledged.

A persistent MQTT 5 session (fixed client id, clean start off, a session
expiry of days) makes the broker queue QoS 1 messages while the hub is down.
paho's manual ack holds the PUBACK until the row is committed (rule 2): a
hub killed between commit and ack gets the message again and drops it as a
duplicate by msg_id; killed before commit, it gets it again and stores it.

Nothing a probe sends can crash this: a payload that is too large, not
JSON, or breaks its schema is quarantined with the reason and acknowledged.
Only a failure of the store itself (disk full, database locked) leaves a
message unacknowledged: the consumer retries the commit for a while, then
drops the connection (not ``disconnect()``, which would end paho's loop for
good) so that paho reconnects and the broker delivers the message again.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from roomprobe.contract import ContractError, decode, topics

from .config import HubConfig
from .store import Store

log = logging.getLogger(__name__)

FIRST_STORE_RETRY_S = 0.2  # doubles after each failed commit


class Consumer:
    def __init__(self, cfg: HubConfig):
        self.cfg = cfg
        self.store = Store(cfg.storage.path)
        self.counts: Counter[str] = Counter()  # received, stored, duplicate, quarantined, gaps
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._dropping = False  # giving messages back: take none until reconnected
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"roomhub-{cfg.hub_id}",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        context = cfg.mqtt.tls_context()  # a bad CA file stops the hub with a clear error
        if context is not None:
            self.client.tls_set_context(context)
        if cfg.mqtt.username:
            password = None
            if cfg.mqtt.password_file:
                password = Path(cfg.mqtt.password_file).read_text(encoding="utf-8").strip()
            self.client.username_pw_set(cfg.mqtt.username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def start(self) -> None:
        """Connect in the background; paho's thread reconnects on its own."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.cfg.mqtt.session_expiry_s
        self.client.connect_async(
            self.cfg.mqtt.host,
            self.cfg.mqtt.port,
            self.cfg.mqtt.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.store.close()

    # -- paho callbacks (paho's thread) ------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the hub: %s", reason_code)
            return
        log.info(
            "connected to %s:%s (session %s)",
            self.cfg.mqtt.host,
            self.cfg.mqtt.port,
            "resumed" if flags.session_present else "new",
        )
        # Retained statuses only for a new subscription: a resumed session has them already.
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(t, options) for t in topics.HUB_SUBSCRIPTIONS])
        self._dropping = False
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("broker refused the hub's subscriptions: %s", ", ".join(failed))
            return
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        log.warning("disconnected from the broker: %s", reason_code)

    def _on_message(self, client: mqtt.Client, userdata, msg: mqtt.MQTTMessage) -> None:
        if self._dropping:
            return  # read before the drop took effect: the broker will send it again
        give_up = time.monotonic() + self.cfg.consumer.store_retry_s
        delay = FIRST_STORE_RETRY_S
        while True:
            try:
                self.handle(msg.topic, msg.payload)
                break
            except sqlite3.Error as exc:
                self.counts["store_errors"] += 1
                if time.monotonic() + delay > give_up:
                    log.error(
                        "cannot store a message from %s (%s); reconnecting so the broker "
                        "delivers it again", msg.topic, exc,
                    )  # fmt: skip
                    self._dropping = True
                    self._drop_connection(client)
                    return
                log.warning("store failed (%s); retrying in %.1f s", exc, delay)
                time.sleep(delay)
                delay *= 2
        if msg.qos > 0:
            client.ack(msg.mid, msg.qos)

    @staticmethod
    def _drop_connection(client: mqtt.Client) -> None:
        """Make paho see a lost connection: it reconnects, unlike after disconnect()."""
        sock = client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def state(self) -> dict[str, object]:
        return {
            "connected": self.connected.is_set(),
            "subscribed": self.subscribed.is_set(),
            **self.counts,
        }

    # -- the logic, callable without a broker ------------------------------------------

    def handle(self, topic: str, raw: bytes) -> str:
        """Store or quarantine one message; return what happened.

        Raises only sqlite3.Error (the store failed; the message is not taken).
        Any other failure is a bug in this code, and the message that found it is
        quarantined with the error rather than blocking every message after it.
        """
        self.counts["received"] += 1
        try:
            return self._handle(topic, raw)
        except sqlite3.Error:
            raise
        except Exception as exc:
            log.exception("unexpected error handling a message on %s", topic)
            return self._quarantine(topic, raw, f"internal error: {type(exc).__name__}: {exc}")

    def _handle(self, topic: str, raw: bytes) -> str:
        limit = self.cfg.consumer.max_payload_bytes
        if len(raw) > limit:
            return self._quarantine(
                topic, raw, f"payload of {len(raw)} bytes exceeds {limit} bytes"
            )
        try:
            parsed = topics.parse(topic)
            payload = decode(raw, parsed.schema)
        except (topics.TopicError, ContractError) as exc:
            return self._quarantine(topic, raw, str(exc))
        if payload["site"] != parsed.site:
            reason = f"payload site {payload['site']!r} does not match the topic's {parsed.site!r}"
            return self._quarantine(topic, raw, reason)
        if parsed.subname and payload.get("kind", parsed.subname) != parsed.subname:
            return self._quarantine(topic, raw, "payload kind does not match the topic")
        stored = self.store.store(payload)
        if stored.duplicate:
            self.counts["duplicate"] += 1
            return "duplicate"
        self.counts["stored"] += 1
        if payload["schema"] == "roomprobe.status":
            self.counts["status_stored"] += 1
        if stored.gap:
            first, last = stored.gap
            self.counts["gaps"] += 1
            log.warning(
                "site %s boot %s: messages %d-%d missing before seq %d",
                payload["site"], payload["boot_id"][:8], first, last, payload["seq"],
            )  # fmt: skip
        return "stored"

    def _quarantine(self, topic: str, raw: bytes, reason: str) -> str:
        log.warning("quarantined a message on %s: %s", topic, reason)
        self.store.quarantine(topic, raw, reason, self.cfg.consumer.max_payload_bytes)
        self.counts["quarantined"] += 1
        return "quarantined"
