"""The demo: a broker, the hub and simulated probes on one machine, stopped by Ctrl-C.

Everything runs as it would in a district: the real mosquitto with the
project's config, ``roomhub run`` and one ``roomprobe run`` per room, each a
process of its own with its own config file under the work folder. The
probes use the simulated backends with a different room profile each, so the
dashboard shows a good room, a slow ISP line, a faulty commune LAN and a
broken speaker side by side.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from roomprobe import tomlconfig

from .broker import Broker, BrokerError, free_port, wait_for_port

HUB_ID = "ngoc-hoi"
HUB_NAME = "Văn phòng HĐND và UBND huyện Ngọc Hồi"
# The original district's conference points (shared/GLOSSARY.md).
SITES = {
    "plei-kan": "Thị trấn Plei Kần",
    "dak-ang": "Xã Đắk Ang",
    "dak-duc": "Xã Đắk Dục",
    "dak-kan": "Xã Đắk Kan",
    "dak-nong": "Xã Đắk Nông",
    "dak-xu": "Xã Đắk Xú",
    "bo-y": "Xã Bờ Y",
    "sa-loong": "Xã Sa Loong",
}
# Which sites run a simulated probe, and as what kind of room.
PROBES = {
    "plei-kan": "good",
    "dak-ang": "slow-line",
    "bo-y": "broken-speaker",
    "sa-loong": "flaky-lan",
}


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def hub_config(broker_port: int, web_port: int, workdir: Path) -> str:
    return tomlconfig.dumps({
        "hub_id": HUB_ID,
        "name": HUB_NAME,
        "mqtt": {"host": "127.0.0.1", "port": broker_port},
        "storage": {"path": workdir / "hub" / "roomhub.sqlite"},
        "web": {"host": "127.0.0.1", "port": web_port},
        "line": {"udp_echo_port": 0},  # the demo's probes simulate their lines
        "sites": [{"id": k, "name": v} for k, v in SITES.items()],
    })  # fmt: skip


def probe_config(site: str, profile: str, broker_port: int, workdir: Path) -> str:
    return tomlconfig.dumps({
        "site": site,
        "name": SITES[site],
        "mqtt": {"host": "127.0.0.1", "port": broker_port},
        "paths": {"state_dir": workdir / "probes" / site},
        "daemon": {"heartbeat_s": 10},
        "net": {"interval_s": 20, "monitor_interval_s": 10},
        "audio": {"interval_s": 30, "backend": "model"},
        "simulation": {"profile": profile},
    })  # fmt: skip


def run_demo(workdir: Path, web_port: int = 8080) -> int:
    workdir = workdir.resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    if not _port_free(web_port):
        taken, web_port = web_port, free_port()
        print(f"demo: port {taken} is taken, the dashboard uses {web_port} instead")
    broker = Broker(workdir / "broker")
    try:
        broker.start()
    except BrokerError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(name: str, module: str, conf: Path) -> None:
        log = open(workdir / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "run", "--config", str(conf)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        children.append((name, proc))

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        hub_conf = workdir / "hub.toml"
        hub_conf.write_text(hub_config(broker.port, web_port, workdir), encoding="utf-8")
        spawn("hub", "roomhub.cli", hub_conf)
        for site, profile in PROBES.items():
            conf = workdir / f"probe-{site}.toml"
            conf.write_text(probe_config(site, profile, broker.port, workdir), encoding="utf-8")
            spawn(f"probe-{site}", "roomprobe.cli", conf)
        if not wait_for_port(web_port, timeout=30):
            print(
                f"demo: the hub did not start; see {workdir / 'logs' / 'hub.log'}", file=sys.stderr
            )
            return 1
        print(f"demo: broker on 127.0.0.1:{broker.port}, {len(PROBES)} simulated probes")
        print(f"demo: dashboard  http://127.0.0.1:{web_port}/   (English: ?lang=en)")
        print(f"demo: API        http://127.0.0.1:{web_port}/api/sites")
        print(f"demo: logs in {workdir / 'logs'}; Ctrl-C stops everything")
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    print(
                        f"demo: {name} exited with {proc.returncode}; see its log", file=sys.stderr
                    )
                    return 1
            time.sleep(0.5)
        print("demo: stopping")
        return 0
    finally:
        for _, proc in reversed(children):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in children:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        broker.stop()
