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

Throughput comes from batching, not from acknowledging early: paho's thread
only queues what arrives; a writer thread takes everything queued (up to
``batch_max``), checks it, commits it in one transaction and then sends the
PUBACKs in arrival order. The broker keeps up to ``receive_maximum`` messages
in flight to the hub, which is what lets a batch fill while one commits.

Several hubs can share the load (``shared_group``): each subscribes through
``$share/<group>/...``, the broker hands each message to one of them, and the
UNIQUE msg_id makes a copy delivered twice (after a consumer died) count once.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from roomprobe.contract import ContractError, decode, topics, utc_iso

from .config import HubConfig
from .database import StoreError, url_for
from .store import Incoming, Store

log = logging.getLogger(__name__)

FIRST_STORE_RETRY_S = 0.2  # doubles after each failed commit
PRUNE_EVERY_S = 3600.0  # retention is applied this often, between batches


@dataclass(frozen=True)
class _Received:
    generation: int  # which connection it came on: only that one can acknowledge it
    mid: int
    qos: int
    topic: str
    raw: bytes


def subscriptions(group: str | None) -> list[str]:
    """The hub's topic filters, through a shared subscription when ``group`` is set."""
    return [f"$share/{group}/{t}" if group else t for t in topics.HUB_SUBSCRIPTIONS]


class Consumer:
    def __init__(self, cfg: HubConfig):
        self.cfg = cfg
        self.store = Store(url_for(cfg.storage.path, cfg.storage.url),
                           quarantine_keep_bytes=cfg.consumer.max_payload_bytes)  # fmt: skip
        # received, stored, duplicate, quarantined, store_errors, batches, pruned
        self.counts: Counter[str] = Counter()
        # The store's failure now (disk full, database gone), shown on /api/health and the
        # board until a batch is stored again: what district IT must fix.
        self.store_problem: tuple[str, str] | None = None  # (error, since, RFC 3339 UTC)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._inbox: queue.Queue[_Received | None] = queue.Queue()
        self._generation = 0  # bumped on every connect and every deliberate drop
        self._writer: threading.Thread | None = None
        self._next_prune = time.monotonic() + 60.0  # not in the way of start-up
        # Run (in a thread of its own) each time the subscriptions are in place: the hub
        # republishes the retained schedule then, in case the broker lost it.
        self.on_ready: Callable[[], object] | None = None
        name = f"-{cfg.consumer.name}" if cfg.consumer.name else ""
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"roomhub-{cfg.hub_id}{name}",
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
        self._writer = threading.Thread(target=self._write_loop, name="roomhub-writer",
                                        daemon=True)  # fmt: skip
        self._writer.start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.cfg.mqtt.session_expiry_s
        props.ReceiveMaximum = self.cfg.consumer.receive_maximum
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
        if self._writer is not None:
            self._inbox.put(None)
            self._writer.join(timeout=30)
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
        self._generation += 1  # messages queued from the last connection will come again
        # Retained statuses only for a new subscription: a resumed session has them already.
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(t, options) for t in subscriptions(self.cfg.consumer.shared_group)])
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("broker refused the hub's subscriptions: %s", ", ".join(failed))
            return
        self.subscribed.set()
        if self.on_ready is not None:  # not on paho's thread: it may wait for a PUBACK
            threading.Thread(target=self._ready, name="roomhub-ready", daemon=True).start()

    def _ready(self) -> None:
        try:
            self.on_ready()  # type: ignore[misc]
        except Exception:
            log.exception("the hub's on-connect step failed; it runs again on reconnect")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        log.warning("disconnected from the broker: %s", reason_code)

    def _on_message(self, client: mqtt.Client, userdata, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put(_Received(self._generation, msg.mid, msg.qos, msg.topic, msg.payload))

    # -- the writer thread -------------------------------------------------------------

    def _write_loop(self) -> None:
        limit = self.cfg.consumer.batch_max
        while True:
            try:
                first = self._inbox.get(timeout=1.0)
            except queue.Empty:
                self._maybe_prune()
                continue
            if first is None:
                return
            batch = [first]
            while len(batch) < limit:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._inbox.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._commit_and_ack(batch)
            self._maybe_prune()

    def _commit_and_ack(self, batch: list[_Received]) -> None:
        batch = [m for m in batch if m.generation == self._generation]
        if not batch:
            return  # from a connection given up: the broker sends them again
        give_up = time.monotonic() + self.cfg.consumer.store_retry_s
        delay = FIRST_STORE_RETRY_S
        while True:
            try:
                self.handle_batch([(m.topic, m.raw) for m in batch])
                if self.store_problem is not None:
                    log.warning("the store takes writes again (it failed: %s)",
                                self.store_problem[0])  # fmt: skip
                    self.store_problem = None
                break
            except StoreError as exc:
                if not _transient(exc):
                    self._set_aside(batch, exc)  # one message the database refuses
                    return
                self.counts["store_errors"] += 1
                if self.store_problem is None:
                    why = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                    self.store_problem = ((why or [repr(exc)])[0][:300], utc_iso())
                if time.monotonic() + delay > give_up:
                    log.error(
                        "cannot store %d messages (%s); reconnecting so the broker "
                        "delivers them again", len(batch), exc,
                    )  # fmt: skip
                    self._generation += 1  # whatever is queued now will come again too
                    self._drop_connection(self.client)
                    return
                log.warning("store failed (%s); retrying in %.1f s", exc, delay)
                time.sleep(delay)
                delay *= 2
            except Exception as exc:  # a bug met by one of these messages: never the thread
                log.exception("unexpected error storing %d messages", len(batch))
                self._set_aside(batch, exc)
                return
        for m in batch:  # in arrival order, as MQTT asks
            if m.qos > 0 and m.generation == self._generation:
                self.client.ack(m.mid, m.qos)

    def _set_aside(self, batch: list[_Received], exc: BaseException) -> None:
        """Store a batch the database refused one message at a time; quarantine the culprit.

        A value the database cannot hold, or a bug a payload runs into, must neither
        stop the writer thread nor block every message behind it forever.
        """
        if len(batch) > 1:
            for m in batch:
                self._commit_and_ack([m])
            return
        m = batch[0]
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [repr(exc)]
        log.warning("quarantining a message on %s the store refused: %s", m.topic, reason[0])
        try:
            self.store.write([Incoming(m.topic, m.raw, None,
                                       f"the store refused it: {reason[0][:300]}")])  # fmt: skip
        except StoreError:
            return  # the store itself is failing: the broker sends it again later
        self.counts["received"] += 1
        self.counts["quarantined"] += 1
        if m.qos > 0 and m.generation == self._generation:
            self.client.ack(m.mid, m.qos)

    def _maybe_prune(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        st = self.cfg.storage
        try:
            removed = self.store.prune(st.retention_days, st.quarantine_retention_days)
        except StoreError as exc:
            log.warning("retention: could not prune the store (%s); trying again later", exc)
            return
        self.counts["pruned"] += sum(removed.values())
        if any(removed.values()):
            log.info("retention: removed %(messages)d messages, %(quarantine)d quarantined",
                     removed)  # fmt: skip

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
            "queued": self._inbox.qsize(),
            "store_ok": self.store_problem is None,
            "store_problem": self.store_problem[0] if self.store_problem else None,
            "store_problem_since": self.store_problem[1] if self.store_problem else None,
            **self.counts,
        }

    # -- the logic, callable without a broker ------------------------------------------

    def handle(self, topic: str, raw: bytes) -> str:
        """Store or quarantine one message; return what happened."""
        return self.handle_batch([(topic, raw)])[0]

    def handle_batch(self, messages: list[tuple[str, bytes]]) -> list[str]:
        """Check, then store or quarantine, a batch in one transaction.

        Raises only StoreError (the store failed; nothing of the batch is taken).
        Any other failure is a bug in this code, and the message that found it is
        quarantined with the error rather than blocking every message after it.
        """
        items = []
        for topic, raw in messages:
            try:
                items.append(self._check(topic, raw))
            except Exception as exc:
                log.exception("unexpected error checking a message on %s", topic)
                items.append(Incoming(topic, raw, None,
                                      f"internal error: {type(exc).__name__}: {exc}"))  # fmt: skip
        result = self.store.write(items)
        self.counts["received"] += len(items)
        self.counts["batches"] += 1
        for outcome in ("stored", "duplicate", "quarantined"):
            self.counts[outcome] += result.count(outcome)
        self.counts["status_stored"] += sum(
            1 for item, outcome in zip(items, result.outcomes, strict=True)
            if outcome == "stored" and item.payload and item.payload["schema"] == "roomprobe.status"
        )  # fmt: skip
        for item in items:
            if item.payload is None:
                log.warning("quarantined a message on %s: %s", item.topic, item.reason)
        return result.outcomes

    def _check(self, topic: str, raw: bytes) -> Incoming:
        limit = self.cfg.consumer.max_payload_bytes
        if len(raw) > limit:
            return Incoming(topic, raw, None, f"payload of {len(raw)} bytes exceeds {limit} bytes")
        try:
            parsed = topics.parse(topic)
            payload = decode(raw, parsed.schema)
        except (topics.TopicError, ContractError) as exc:
            return Incoming(topic, raw, None, str(exc))
        if payload["site"] != parsed.site:
            reason = f"payload site {payload['site']!r} does not match the topic's {parsed.site!r}"
            return Incoming(topic, raw, None, reason)
        if parsed.subname and payload.get("kind", parsed.subname) != parsed.subname:
            return Incoming(topic, raw, None, "payload kind does not match the topic")
        return Incoming(topic, raw, payload)


def _transient(exc: StoreError) -> bool:
    """A failure of the database (locked, disk full, connection lost), not of a message."""
    from sqlalchemy.exc import DataError, IntegrityError

    return not isinstance(exc, (DataError, IntegrityError))
