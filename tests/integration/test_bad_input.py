"""Bad input changes nothing and crashes nothing (DESIGN.md rule 3).

Malformed and oversized messages are quarantined by the hub with their
reason while the hub keeps storing good ones; bad configs are refused with
the key named, and a running probe keeps its last good config.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import urllib.request

import paho.mqtt.publish as mqtt_publish
import pytest
from paho.mqtt.client import MQTTv5

from rig import Rig, wait_for
from roomprobe.contract import schema_document, topics


def example(schema: str) -> dict:
    return copy.deepcopy(schema_document(schema)["examples"][0])


def publish(rig: Rig, topic: str, payload: bytes) -> None:
    mqtt_publish.single(
        topic, payload, qos=1, hostname="127.0.0.1", port=rig.broker.port, protocol=MQTTv5
    )


def test_malformed_and_oversized_messages_are_quarantined_with_their_reason(rig_db: Rig):
    rig = rig_db
    rig.start_broker()
    hub = rig.hub()
    wait_for(lambda: hub_subscribed(rig), what="the hub's subscriptions")
    wrong_seq = example("roomprobe.result.net")
    wrong_seq["seq"] = -1
    other_site = example("roomprobe.result.net")  # says dak-ang
    huge = example("roomprobe.event")
    huge["details"] = {"padding": "x" * 100_000}
    bad = [
        (topics.result("dak-ang", "net"), b"\xff\xfe not json", "not UTF-8"),
        (topics.result("dak-ang", "net"), b'{"schema": ', "not JSON"),
        (topics.result("dak-ang", "net"), json.dumps(wrong_seq).encode(), "seq"),
        (topics.result("bo-y", "net"), json.dumps(other_site).encode(), "does not match"),
        (topics.event("dak-ang"), json.dumps(huge).encode(), "exceeds 65536 bytes"),
        ("roomprobe/v1/dak-ang/result/bogus", b"{}", "not part of contract"),
        (topics.result("dak-ang", "audio"), json.dumps(other_site).encode(), "topic needs"),
    ]
    for topic, payload, _ in bad:
        publish(rig, topic, payload)
    good = example("roomprobe.result.net")
    publish(rig, topics.result("dak-ang", "net"), json.dumps(good).encode())
    wait_for(lambda: rig.stored() == 1, what="the good message stored after the bad ones")
    rows = rig.hub_query("SELECT topic, size, reason FROM quarantine ORDER BY id")
    assert len(rows) == len(bad)
    for row, (topic, payload, why) in zip(rows, bad, strict=True):
        assert row["topic"] == topic
        assert row["size"] == len(payload)
        assert why in row["reason"], (why, row["reason"])
    api = json.loads(
        urllib.request.urlopen(f"http://127.0.0.1:{rig.web_port}/api/quarantine").read()
    )
    assert len(api) == len(bad)
    assert hub.alive
    # a duplicate of the good message is dropped, not stored twice
    publish(rig, topics.result("dak-ang", "net"), json.dumps(good).encode())
    publish(
        rig,
        topics.result("dak-ang", "audio"),
        json.dumps(example("roomprobe.result.audio")).encode(),
    )
    wait_for(lambda: rig.stored() == 2, what="the next good message")
    health = json.loads(
        urllib.request.urlopen(f"http://127.0.0.1:{rig.web_port}/api/health").read()
    )
    assert health["consumer"]["duplicate"] == 1
    assert health["consumer"]["quarantined"] == len(bad)


def hub_subscribed(rig: Rig) -> bool:
    url = f"http://127.0.0.1:{rig.web_port}/api/health"
    return bool(json.loads(urllib.request.urlopen(url).read())["consumer"]["subscribed"])


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=60)


BAD_PROBE = 'site = "dak-ang"\n[mqtt]\nport = 70000\nprot = 1\n[net]\ninterval_s = "often"\n'


def test_check_config_names_every_bad_key_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_PROBE)
    result = run_cli("roomprobe.cli", "check-config", str(bad))
    assert result.returncode == 78
    assert "mqtt.port = 70000" in result.stderr
    assert "mqtt.prot: unknown key" in result.stderr
    assert "net.interval_s = 'often'" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_reports_broken_toml_and_missing_files(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('site = "dak-ang"\n[mqtt\n')
    result = run_cli("roomprobe.cli", "check-config", str(broken))
    assert result.returncode == 78 and "not valid TOML" in result.stderr
    result = run_cli("roomprobe.cli", "check-config", str(tmp_path / "nope.toml"))
    assert result.returncode == 78 and "file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_hub_check_config_names_the_bad_key(tmp_path):
    bad = tmp_path / "hub.toml"
    bad.write_text('hub_id = "Ngọc Hồi"\n[web]\nport = 0\ntimezone = "Mars/Olympus"\n')
    result = run_cli("roomhub.cli", "check-config", str(bad))
    assert result.returncode == 78
    assert "hub_id = 'Ngọc Hồi'" in result.stderr
    assert "web.port = 0" in result.stderr
    assert "web.timezone = 'Mars/Olympus': expected an IANA time zone" in result.stderr
    assert "Traceback" not in result.stderr


def test_daemon_refuses_a_bad_config_when_it_has_no_good_one(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_PROBE + f'[paths]\nstate_dir = "{tmp_path / "state"}"\n')
    result = run_cli("roomprobe.cli", "run", "--config", str(bad))
    assert result.returncode == 78
    assert "mqtt.port = 70000" in result.stderr
    assert "Traceback" not in result.stderr


def test_daemon_keeps_the_last_good_config_and_says_so(rig: Rig):
    rig.start_broker()
    rig.hub()
    probe = rig.probe()
    wait_for(lambda: rig.stored() >= 3, what="results with the good config")
    probe.stop()
    conf = rig.tmp / "probe-dak-ang.toml"
    conf.write_text(conf.read_text().replace('profile = "good"', 'profile = "no-such-room"'))
    probe.start()
    rejected = wait_for(
        lambda: rig.hub_query(
            "SELECT payload FROM messages WHERE schema = 'roomprobe.event' "
            "AND payload LIKE '%config_rejected%'"
        ),
        what="a config_rejected event",
    )
    event = json.loads(rejected[0]["payload"])
    assert "simulation.profile = 'no-such-room'" in event["message"]["en"]
    status = wait_for(
        lambda: [
            s
            for s in json.loads(
                urllib.request.urlopen(f"http://127.0.0.1:{rig.web_port}/api/sites").read()
            )
            if s["site"] == "dak-ang"
            and s["verdicts"]
            and s["verdicts"]["system"]["reason"] == "system.config_rejected"
        ],
        what="the system verdict to show the rejected config",
    )
    assert status[0]["verdicts"]["system"]["status"] == "degraded"
    assert probe.alive


@pytest.mark.parametrize("program", ["roomprobe.cli", "roomhub.cli"])
def test_every_subcommand_has_help(program: str):
    module = __import__(program, fromlist=["build_parser"])
    parser = module.build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    assert subcommands
    for name in [None, *subcommands]:
        argv = [program] + ([name] if name else []) + ["--help"]
        result = run_cli(*argv)
        assert result.returncode == 0, result.stderr
        assert "usage:" in result.stdout


def test_broker_config_refuses_to_listen_beyond_this_machine_until_it_has_an_acl():
    result = run_cli("roomhub.cli", "broker-config", "--bind", "0.0.0.0")
    assert result.returncode == 2
    assert "no TLS, accounts or ACL" in result.stderr
    ok = run_cli("roomhub.cli", "broker-config", "--port", "1884")
    assert ok.returncode == 0
    assert "listener 1884 127.0.0.1" in ok.stdout
    assert "persistence true" in ok.stdout and "user mosquitto" in ok.stdout


def test_broker_config_with_the_districts_security_may_listen_beyond(tmp_path):
    """With --security-dir the config is TLS and accounts only, and may bind every address."""
    from roomhub import access, pki

    missing = run_cli("roomhub.cli", "broker-config", "--security-dir", str(tmp_path))
    assert missing.returncode == 2 and "roomhub pki init" in missing.stderr
    ca = pki.make_ca(tmp_path)
    pki.make_server_cert(ca, tmp_path, ["hub.example.org"])
    access.set_password(tmp_path / "passwd", access.HUB_USER, "x")
    (tmp_path / "acl").write_text(access.render_acl())
    ok = run_cli("roomhub.cli", "broker-config", "--bind", "0.0.0.0", "--port", "8883",
                 "--security-dir", str(tmp_path))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    conf = ok.stdout
    assert "listener 8883 0.0.0.0" in conf and "allow_anonymous false" in conf
    assert f"cafile {tmp_path / 'ca.crt'}" in conf and "tls_version tlsv1.2" in conf
    assert f"acl_file {tmp_path / 'acl'}" in conf and f"password_file {tmp_path / 'passwd'}" in conf


def test_hub_with_its_udp_echo_port_taken_says_so_and_exits(tmp_path):
    import socket

    from rig import hub_toml

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        conf = tmp_path / "hub.toml"
        conf.write_text(hub_toml(1883, tmp_path / "hub.sqlite", 8099,
                                 udp_port=taken.getsockname()[1]))  # fmt: skip
        result = run_cli("roomhub.cli", "run", "--config", str(conf))
    finally:
        taken.close()
    assert result.returncode == 73
    assert "cannot start" in result.stderr and "Address already in use" in result.stderr
    assert "Traceback" not in result.stderr
