"""Provisioning on a real mosquitto: pki init, site add (the bundle works), list, remove (revoked).

Secrets never appear in what the commands print.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.client import CallbackAPIVersion, MQTTv5

from roomhub import provision
from roomhub.broker import Broker, free_port
from roomhub.cli import main
from roomhub.config import load as load_hub
from roomprobe import tomlconfig
from roomprobe.config import parse as parse_probe


def connect(port: int, user: str, password: str, ca: Path) -> int | None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTv5)
    c.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.username_pw_set(user, password)
    got = threading.Event()
    reason: list[int] = []
    c.on_connect = lambda cl, u, f, rc, p: (reason.append(rc.value), got.set())
    c.connect("127.0.0.1", port, keepalive=5)
    c.loop_start()
    got.wait(10)
    c.disconnect()
    c.loop_stop()
    return reason[0] if reason else None


def test_a_site_is_provisioned_used_and_revoked(tmp_path: Path, capsys):
    port = free_port()
    sec = tmp_path / "security"
    conf = tmp_path / "hub.toml"
    conf.write_text(tomlconfig.dumps({
        "hub_id": "test-hub",
        "security": {"dir": sec, "broker_host": "127.0.0.1", "broker_port": port,
                     "broker_pid_file": tmp_path / "mosquitto.pid"},
    }), encoding="utf-8")  # fmt: skip
    assert main(["pki", "init", "--config", str(conf), "--hostname", "127.0.0.1"]) == 0
    assert main(["pki", "init", "--config", str(conf)]) == 1  # never a second CA
    assert "already holds a CA" in capsys.readouterr().err
    lay = provision.Layout(sec)
    broker = Broker(tmp_path / "broker", port=port, security=lay.security()).start()
    try:
        (tmp_path / "mosquitto.pid").write_text(str(broker.proc.pid))
        assert main(["site", "add", "dak-ang", "--name", "Xã Đắk Ang", "--config", str(conf)]) == 0
        bundle = lay.bundle("dak-ang")
        password = (bundle / "mqtt-password").read_text().strip()
        out = capsys.readouterr()
        assert password not in out.out + out.err  # never printed
        assert oct((bundle / "mqtt-password").stat().st_mode & 0o777) == "0o600"
        probe_cfg = parse_probe((bundle / "roomprobe.toml").read_text(encoding="utf-8"))
        assert probe_cfg.site == "dak-ang" and probe_cfg.mqtt.username == "dak-ang"
        assert probe_cfg.mqtt.port == port and probe_cfg.mqtt.tls_ca is not None
        # The bundle's credentials and CA open the broker (after the SIGHUP re-read).
        assert connect(port, "dak-ang", password, bundle / "district-ca.crt") == 0
        assert main(["site", "list", "--config", str(conf)]) == 0
        assert "dak-ang\tbundle ready" in capsys.readouterr().out
        # Bad input: a reserved name, a site id that is not one.
        assert main(["site", "add", "roomhub", "--name", "x", "--config", str(conf)]) == 1
        assert main(["site", "add", "Bad Name", "--name", "x", "--config", str(conf)]) == 1
        capsys.readouterr()
        # Revoked: the broker refuses the same credentials, the bundle is gone.
        assert main(["site", "remove", "dak-ang", "--config", str(conf)]) == 0
        import time

        time.sleep(0.5)  # mosquitto re-reads on SIGHUP
        assert connect(port, "dak-ang", password, lay.ca.cert) in (134, 135)
        assert not bundle.exists()
        assert main(["site", "remove", "dak-ang", "--config", str(conf)]) == 1
        assert "has no account" in capsys.readouterr().err
        hub_cfg = load_hub(conf)
        assert hub_cfg.security.broker_port == port
    finally:
        broker.stop()


def test_a_rooms_bundle_drives_the_real_hardware_and_a_bench_bundle_simulates(tmp_path: Path):
    # Stands for mosquitto's pid: it takes each SIGHUP and lives on.
    code = "import signal, time; signal.signal(signal.SIGHUP, signal.SIG_IGN); time.sleep(60)"
    sleeper = subprocess.Popen([sys.executable, "-c", code])
    (tmp_path / "broker.pid").write_text(str(sleeper.pid))
    try:
        bundles_by_hardware(tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()


def bundles_by_hardware(tmp_path: Path) -> None:
    sec = tmp_path / "security"
    conf = tmp_path / "hub.toml"
    conf.write_text(tomlconfig.dumps({
        "hub_id": "test-hub", "web": {"port": 8090},
        "meetings": {"readiness_lead_s": [2700.0, 900.0]},
        "security": {"dir": sec, "broker_host": "hub.district.vn",
                     "broker_pid_file": tmp_path / "broker.pid"},
    }), encoding="utf-8")  # fmt: skip
    assert main(["pki", "init", "--config", str(conf), "--hostname", "hub.district.vn"]) == 0
    assert main(["site", "add", "dak-ang", "--name", "Xã Đắk Ang", "--config", str(conf)]) == 0
    room = parse_probe((sec / "bundles" / "dak-ang" / "roomprobe.toml").read_text("utf-8"))
    assert room.net.backend == "hub"
    assert room.net.server_url == "http://hub.district.vn:8090/mini/"
    assert room.audio.backend == "alsa" and room.hardware.leds == "gpio"
    assert not room.simulated
    # The box tests before meetings when the hub's readiness board expects its answer.
    assert room.daemon.readiness_lead_s == [2700.0, 900.0]
    assert main(["site", "add", "bench", "--name", "Bàn thử", "--hardware", "simulated",
                 "--config", str(conf)]) == 0  # fmt: skip
    bench = parse_probe((sec / "bundles" / "bench" / "roomprobe.toml").read_text("utf-8"))
    assert bench.simulated and bench.hardware.leds == "none"
    # A district whose endpoint is elsewhere says so once, in the hub's config.
    conf.write_text(conf.read_text() + 'line_url = "https://line.district.vn/mini/"\n')
    assert main(["site", "add", "bo-y", "--name", "Xã Bờ Y", "--config", str(conf)]) == 0
    other = parse_probe((sec / "bundles" / "bo-y" / "roomprobe.toml").read_text("utf-8"))
    assert other.net.server_url == "https://line.district.vn/mini/"
