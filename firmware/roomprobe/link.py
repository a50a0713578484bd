"""The probe's connection to the district broker (paho-mqtt 2, MQTT 5).

Driven from the daemon's own loop with ``Client.loop()`` rather than paho's
thread: callbacks then run on the daemon's thread, so the outbox needs no
locks and cannot deadlock with paho's internal mutexes (paho calls
``on_publish`` while holding its outgoing-message lock).

Connecting (DNS and TCP, which can hang on a bad commune line) happens on a
worker thread, so the loop keeps pinging the watchdog and running tests while
it waits; the loop takes the client over only once the socket is open.

Paho keeps unacknowledged messages in memory only, so after a lost
connection this module throws the client away and makes a new one: the
outbox is then the single source of what still has to be sent, and paho
never replays a stale copy of its own. Reconnects back off exponentially
with jitter between ``reconnect_min_s`` and ``reconnect_max_s``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from .config import MqttConfig

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0


class BrokerLink:
    """One logical connection that keeps coming back until closed."""

    def __init__(
        self,
        cfg: MqttConfig,
        client_id: str,
        will: Callable[[], tuple[str, bytes]],
        subscriptions: list[str],
        on_message: Callable[[str, bytes], None],
        on_connected: Callable[[], None],
        on_lost: Callable[[], None],
        on_ack: Callable[[int, int, str], None],
    ):
        self.cfg = cfg
        self.client_id = client_id
        self._will = will
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_lost = on_lost
        self._on_ack = on_ack
        self._client: mqtt.Client | None = None
        self._connack_deadline = 0.0
        self._next_attempt = 0.0
        self._backoff = cfg.reconnect_min_s
        self.connected = False
        self.last_error = ""
        self._connector = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mqtt-connect")
        self._pending: tuple[mqtt.Client, Future[Any]] | None = None

    # -- the loop -------------------------------------------------------------

    def step(self, timeout: float) -> None:
        """Do network work for up to ``timeout`` seconds; (re)connect when due."""
        now = time.monotonic()
        if self._pending is not None:
            self._finish_connect(timeout)
            return
        if self._client is None:
            if now >= self._next_attempt:
                self._start_connect()
            else:
                time.sleep(min(timeout, self._next_attempt - now))
            return
        if not self.connected and now > self._connack_deadline:
            self._drop("no CONNACK from the broker in time")
            return
        rc = self._client.loop(timeout)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS and self._client is not None:
            self._drop(f"network error: {mqtt.error_string(rc)}")

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Hand a message to paho; return its mid, or None when not connected."""
        if not self.connected or self._client is None:
            return None
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._drop(f"publish failed: {mqtt.error_string(info.rc)}")
            return None
        return info.mid

    def close(self, flush_s: float = 2.0) -> None:
        """Disconnect cleanly, giving queued packets up to ``flush_s`` to leave."""
        if self._pending is not None:  # a connect still under way: let it finish, then drop it
            pending, future = self._pending
            self._pending = None
            with contextlib.suppress(Exception):
                future.result(timeout=CONNECT_TIMEOUT_S)
            _close_socket(pending)
        self._connector.shutdown(wait=False)
        client, self._client = self._client, None
        if client is None:
            return
        if self.connected:
            deadline = time.monotonic() + flush_s
            while client.want_write() and time.monotonic() < deadline:
                client.loop(0.05)
            client.disconnect()
            client.loop(0.1)
        self.connected = False

    # -- connection management --------------------------------------------------

    def _password(self) -> str | None:
        if self.cfg.password_file is None:
            return None
        try:
            return Path(self.cfg.password_file).read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            raise OSError(f"{self.cfg.password_file} is not UTF-8 text") from None

    def _start_connect(self) -> None:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
        )
        client.connect_timeout = CONNECT_TIMEOUT_S
        try:
            context = self.cfg.tls_context()
        except (OSError, ssl.SSLError) as exc:
            self._schedule_retry(f"cannot read the CA certificate {self.cfg.tls_ca}: {exc}")
            return
        if context is not None:
            client.tls_set_context(context)
        if self.cfg.username:
            try:
                client.username_pw_set(self.cfg.username, self._password())
            except OSError as exc:
                self._schedule_retry(f"cannot read the password file: {exc.strerror or exc}")
                return
        topic, payload = self._will()
        client.will_set(topic, payload, qos=1, retain=True)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_publish = self._handle_publish
        client.on_message = self._handle_message
        future = self._connector.submit(
            client.connect, self.cfg.host, self.cfg.port, self.cfg.keepalive_s, clean_start=True
        )
        self._pending = (client, future)

    def _finish_connect(self, timeout: float) -> None:
        """Take over the client once its socket is open (or schedule a retry)."""
        assert self._pending is not None
        client, future = self._pending
        try:
            future.result(timeout=timeout)
        except TimeoutError:
            return  # still resolving or connecting
        except (OSError, ValueError) as exc:  # UnicodeError is a ValueError
            self._pending = None
            self._schedule_retry(f"cannot reach {self.cfg.host}:{self.cfg.port}: {exc}")
            return
        self._pending = None
        self._client = client
        self._connack_deadline = time.monotonic() + 2 * CONNECT_TIMEOUT_S

    def _schedule_retry(self, why: str) -> None:
        if why != self.last_error:
            log.warning("broker: %s; retrying in up to %.1f s", why, self._backoff)
        self.last_error = why
        # Full jitter keeps a district's probes from reconnecting in lockstep after an outage.
        self._next_attempt = time.monotonic() + random.uniform(self._backoff / 2, self._backoff)
        self._backoff = min(self._backoff * 2, self.cfg.reconnect_max_s)

    def _drop(self, why: str) -> None:
        client, self._client = self._client, None
        was_connected, self.connected = self.connected, False
        if client is not None:
            _close_socket(client)
        if was_connected:
            log.warning("broker: connection lost (%s)", why)
            self._on_lost()
        self._schedule_retry(why)

    # -- paho callbacks (run inside step()) ---------------------------------------

    def _handle_connect(self, client, userdata, flags, reason_code: ReasonCode, properties) -> None:
        if reason_code.is_failure:
            self._drop(f"broker refused the connection: {reason_code}")
            return
        self.connected = True
        self._backoff = self.cfg.reconnect_min_s
        if self.last_error:
            log.info("broker: connected to %s:%s", self.cfg.host, self.cfg.port)
        self.last_error = ""
        for sub in self._subscriptions:
            client.subscribe(sub, qos=1)
        self._on_connected()

    def _handle_disconnect(self, client, userdata, flags, reason_code: ReasonCode, properties):
        if client is self._client:
            self._drop(f"disconnected: {reason_code}")

    # paho re-raises exceptions from callbacks out of loop(); a bug or a full disk
    # in the daemon's handlers must cost one message, not the daemon.

    def _handle_publish(self, client, userdata, mid: int, reason_code: ReasonCode, properties):
        try:
            self._on_ack(mid, reason_code.value, str(reason_code))
        except Exception:
            log.exception("error settling the acknowledgement of message %d", mid)

    def _handle_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self._on_message(message.topic, message.payload)
        except Exception:
            log.exception("error handling a message on %s", message.topic)


def _close_socket(client: mqtt.Client) -> None:
    sock = client.socket()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()
