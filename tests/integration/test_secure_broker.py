"""The broker's security on a real mosquitto with the project's configuration.

TLS with the district's own CA, one account per probe (its site id), the
hub's account, and the ACL rendered from the contract's topic tree. Each
refusal is asserted from what the broker answers (MQTT 5 reason codes), and
each allowed path is shown to deliver, so a test cannot pass by a broker that
refuses everything.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.client import CallbackAPIVersion, MQTTv5

from roomhub import access, pki
from roomhub.broker import Broker, Security
from roomprobe.contract import topics

PASSWORDS = {"dak-ang": "pw-dak-ang-1", "bo-y": "pw-bo-y-2", access.HUB_USER: "pw-hub-3"}
NOT_AUTHORIZED = 135  # MQTT 5 reason code 0x87
BAD_CREDENTIALS = 134  # 0x86


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Broker, Path]]:
    tmp = tmp_path_factory.mktemp("secure")
    ca = pki.make_ca(tmp / "pki")
    server = pki.make_server_cert(ca, tmp / "pki", ["127.0.0.1", "localhost"])
    pw = tmp / "passwd"
    for user, password in PASSWORDS.items():
        access.set_password(pw, user, password)
    acl = tmp / "acl"
    acl.write_text(access.render_acl(), encoding="utf-8")
    sec = Security(ca.cert, server.cert, server.key, pw, acl)
    broker = Broker(tmp / "broker", security=sec).start()
    try:
        yield broker, ca.cert
    finally:
        broker.stop()


class Client:
    """A paho MQTT 5 client that records what the broker answered."""

    def __init__(self, port: int, user: str | None, password: str | None, cafile: Path | None):
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTv5)
        if cafile is not None:
            self.c.tls_set(ca_certs=str(cafile), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if user is not None:
            self.c.username_pw_set(user, password)
        self.connack = threading.Event()
        self.reason: int | None = None
        self.acks: dict[int, int] = {}
        self.acked = threading.Condition()
        self.suback: list[int] = []
        self.got: list[tuple[str, bytes]] = []
        self.c.on_connect = self._on_connect
        self.c.on_publish = self._on_publish
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, m.payload))
        self.port = port

    def _on_connect(self, c, u, flags, reason, props):
        self.reason = reason.value
        self.connack.set()

    def _on_publish(self, c, u, mid, reason, props):
        with self.acked:
            self.acks[mid] = reason.value
            self.acked.notify_all()

    def _on_subscribe(self, c, u, mid, reasons, props):
        self.suback = [r.value for r in reasons]

    def connect(self) -> int | None:
        self.c.connect("127.0.0.1", self.port, keepalive=10)
        self.c.loop_start()
        self.connack.wait(10)
        return self.reason

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        info = self.c.publish(topic, payload, qos=1)
        with self.acked:
            self.acked.wait_for(lambda: info.mid in self.acks, timeout=10)
        return self.acks[info.mid]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def clients(secure) -> Iterator:
    made: list[Client] = []
    broker, ca = secure

    def make(user: str | None, password: str | None = None, cafile: Path | None = ca) -> Client:
        pw = PASSWORDS.get(user) if password is None and user else password
        c = Client(broker.port, user, pw, cafile)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_a_probe_publishes_its_own_results_and_the_hub_receives_them(clients):
    hub = clients(access.HUB_USER)
    assert hub.connect() == 0
    hub.c.subscribe([(t, 1) for t in topics.HUB_SUBSCRIPTIONS])
    probe = clients("dak-ang")
    assert probe.connect() == 0
    assert probe.publish(topics.result("dak-ang", "net")) == 0
    assert probe.publish(topics.status("dak-ang")) == 0
    import time

    deadline = time.monotonic() + 5
    while len(hub.got) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {t for t, _ in hub.got} == {topics.result("dak-ang", "net"), topics.status("dak-ang")}


def test_a_probe_cannot_publish_as_another_site(clients):
    hub = clients(access.HUB_USER)
    hub.connect()
    hub.c.subscribe([(t, 1) for t in topics.HUB_SUBSCRIPTIONS])
    probe = clients("dak-ang")
    probe.connect()
    assert probe.publish(topics.result("bo-y", "net")) == NOT_AUTHORIZED
    assert probe.publish(topics.status("bo-y")) == NOT_AUTHORIZED
    assert not any(t.startswith("roomprobe/v1/bo-y/") for t, _ in hub.got)


def test_a_probe_cannot_command_another_probe_nor_read_its_commands(clients):
    """mosquitto grants any subscription and applies read access per message delivered."""
    import time

    probe = clients("dak-ang")
    probe.connect()
    assert probe.publish(topics.cmd("bo-y", "run-test")) == NOT_AUTHORIZED
    assert probe.publish(topics.cmd("dak-ang", "run-test")) == NOT_AUTHORIZED  # commands: hub
    assert probe.publish(topics.SCHEDULE) == NOT_AUTHORIZED
    probe.c.subscribe([(topics.cmd_filter("bo-y"), 1), (topics.cmd_filter("dak-ang"), 1),
                       (topics.SCHEDULE, 1)])  # fmt: skip
    deadline = time.monotonic() + 5
    while not probe.suback and time.monotonic() < deadline:
        time.sleep(0.05)
    hub = clients(access.HUB_USER)
    hub.connect()
    for topic in (topics.cmd("bo-y", "run-test"), topics.cmd("dak-ang", "run-test"),
                  topics.SCHEDULE):  # fmt: skip
        assert hub.publish(topic) == 0
    deadline = time.monotonic() + 5
    while len(probe.got) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # anything more would have come by now
    assert sorted(t for t, _ in probe.got) == [topics.cmd("dak-ang", "run-test"), topics.SCHEDULE]


def test_wrong_password_and_anonymous_are_refused(clients):
    assert clients("dak-ang", password="wrong").connect() in (BAD_CREDENTIALS, NOT_AUTHORIZED)
    assert clients(None).connect() in (BAD_CREDENTIALS, NOT_AUTHORIZED)
    assert clients("no-such-site", password="x").connect() in (BAD_CREDENTIALS, NOT_AUTHORIZED)


def test_plain_text_is_refused_where_tls_is_required(secure):
    broker, _ = secure
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTv5)
    c.username_pw_set("dak-ang", PASSWORDS["dak-ang"])
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    try:
        c.connect("127.0.0.1", broker.port, keepalive=5)
        c.loop_start()
        assert not connected.wait(3), "the broker accepted MQTT without TLS"
    except (OSError, ConnectionError):
        pass  # refused outright: also fine
    finally:
        c.loop_stop()


def test_a_broker_with_another_ca_is_not_trusted(secure, tmp_path: Path):
    broker, _ = secure
    other = pki.make_ca(tmp_path / "other")
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTv5)
    c.tls_set(ca_certs=str(other.cert), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.username_pw_set("dak-ang", PASSWORDS["dak-ang"])
    with pytest.raises(ssl.SSLCertVerificationError):
        c.connect("127.0.0.1", broker.port, keepalive=5)


def test_the_acl_covers_every_topic_of_the_contract():
    acl = access.render_acl()
    for pattern in topics.TOPIC_PATTERNS.values():
        assert pattern.replace("<site>", "+").replace("<command>", "+") in acl
    with pytest.raises(access.AccessError, match="reserved"):
        access.check_account(access.HUB_USER)
    with pytest.raises(access.AccessError, match="site id"):
        access.check_account("Bad Name")


def test_a_ca_is_never_overwritten(tmp_path: Path):
    pki.make_ca(tmp_path)
    with pytest.raises(FileExistsError, match="already holds a CA"):
        pki.make_ca(tmp_path)
    assert oct((tmp_path / "ca.key").stat().st_mode & 0o777) == "0o600"


def test_probe_and_hub_deliver_end_to_end_over_tls_with_their_accounts(tmp_path: Path):
    """The real daemon and hub, each with its account and the district CA, on the secure broker."""
    from rig import Rig, wait_for

    ca = pki.make_ca(tmp_path / "pki")
    server = pki.make_server_cert(ca, tmp_path / "pki", ["127.0.0.1"])
    pw = tmp_path / "passwd"
    secrets = {}
    for user in ("dak-ang", access.HUB_USER):
        secrets[user] = tmp_path / f"{user}.secret"
        secrets[user].write_text(PASSWORDS[user] + "\n")
        access.set_password(pw, user, PASSWORDS[user])
    acl = tmp_path / "acl"
    acl.write_text(access.render_acl(), encoding="utf-8")
    (tmp_path / "rig").mkdir()
    rig = Rig(tmp_path / "rig")
    rig.broker = Broker(tmp_path / "broker", security=Security(ca.cert, server.cert, server.key,
                                                               pw, acl))  # fmt: skip
    try:
        rig.start_broker()
        rig.hub(mqtt={"username": access.HUB_USER, "password_file": secrets[access.HUB_USER],
                      "tls_ca": ca.cert})  # fmt: skip
        rig.probe(mqtt={"username": "dak-ang", "password_file": secrets["dak-ang"],
                        "tls_ca": ca.cert})  # fmt: skip
        wait_for(lambda: rig.stored() >= 3, timeout=60, what="results stored through TLS")
        online = rig.hub_query("SELECT online FROM sites WHERE site = 'dak-ang'")
        assert online and online[0]["online"] == 1
    finally:
        rig.close()


def test_a_missing_ca_file_is_an_error_that_names_it(tmp_path: Path):
    from roomprobe.config import MqttConfig

    cfg = MqttConfig(host="127.0.0.1", tls_ca=tmp_path / "nope.crt")
    with pytest.raises(OSError):
        cfg.tls_context()
    assert MqttConfig(host="127.0.0.1").tls_context() is None


def test_a_revoked_site_can_connect_no_more_and_cannot_read_another_sites_results(
    secure, clients
):  # fmt: skip
    """`roomhub site remove` deletes the account and reloads mosquitto (SIGHUP)."""
    import os
    import signal
    import time

    broker, _ = secure
    assert broker.security is not None
    passwd = broker.security.password_file
    access.set_password(passwd, "sa-loong", "pw-sa-loong-4")
    assert broker.proc is not None
    os.kill(broker.proc.pid, signal.SIGHUP)  # mosquitto re-reads its files in its next loop
    before = until_answer(lambda: clients("sa-loong", password="pw-sa-loong-4"), lambda r: r == 0)
    # A site reads nothing of another's, whatever it subscribes to.
    before.c.subscribe([("roomprobe/v1/bo-y/#", 1), ("roomprobe/v1/+/result/+", 1)])
    hub = clients(access.HUB_USER)
    hub.connect()
    bo_y = clients("bo-y")
    bo_y.connect()
    assert bo_y.publish(topics.result("bo-y", "net")) == 0
    time.sleep(0.5)
    assert before.got == []

    access.remove_account(passwd, "sa-loong")
    os.kill(broker.proc.pid, signal.SIGHUP)
    until_answer(lambda: clients("sa-loong", password="pw-sa-loong-4"),
                 lambda r: r in (BAD_CREDENTIALS, NOT_AUTHORIZED))  # fmt: skip
    # The session it had open is closed by the reload too; the others stay connected.
    deadline = time.monotonic() + 10
    while before.c.is_connected() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not before.c.is_connected()
    assert hub.c.is_connected() and bo_y.c.is_connected()


def until_answer(make, wanted, timeout: float = 10.0) -> Client:
    """Connect fresh clients until the broker's answer is the ``wanted`` one (or fail)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        client = make()
        answer = client.connect()
        if wanted(answer):
            return client
        client.close()
        assert time.monotonic() < deadline, f"the broker still answers {answer}"
        time.sleep(0.2)
