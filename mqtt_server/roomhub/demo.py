"""The demo: a broker, the hub and simulated probes on one machine, stopped by Ctrl-C.

Everything runs as it would in a district: the real mosquitto with the
project's config, ``roomhub run`` and one ``roomprobe run`` per room, each a
process of its own with its own config file under the work folder. The
probes use the simulated backends with a different room profile each, so the
dashboard shows a good room, a slow ISP line, a faulty commune LAN and a
broken speaker side by side.

The broker is the district's secure one: the demo runs ``roomhub pki init``
and ``roomhub site add`` (the same code) into ``<workdir>/security``, so the
probes and the hub connect over TLS with the district CA and their own
accounts, under the ACL.

The meeting workflow runs at demo speed: a meeting is scheduled 8 minutes
ahead for every room, and the district's readiness lead times are 10 and 4
minutes (``[meetings]`` in the hub's config, written into each probe's bundle
as in a district). So each box checks its room at once (its first lead time
has passed) and again 4 minutes before; the readiness board fills in within
a minute, the quiet window holds the tones from a minute before the start,
and the meeting's summary appears after it ends.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from roomprobe import tomlconfig

from . import config, provision
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
    "dak-duc": "dead-mic",
}
#: The demo's meeting: how far ahead and how long; the district's lead times and quiet window,
#: shortened so the whole workflow plays out in a quarter of an hour.
MEETING_IN = timedelta(minutes=8)
MEETING_LASTS = timedelta(minutes=5)
MEETINGS = {"readiness_lead_s": [600.0, 240.0], "meeting_guard_s": 60.0}


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def hub_config(broker_port: int, web_port: int, workdir: Path) -> str:
    security = workdir / "security"
    return tomlconfig.dumps({
        "hub_id": HUB_ID,
        "name": HUB_NAME,
        "mqtt": {"host": "localhost", "port": broker_port, "username": "roomhub",
                 "password_file": provision.Layout(security).hub_secret,
                 "tls_ca": provision.Layout(security).ca.cert},
        "storage": {"path": workdir / "hub" / "roomhub.sqlite"},
        "web": {"host": "127.0.0.1", "port": web_port},
        "line": {"udp_echo_port": 0},  # the demo's probes simulate their lines
        "security": {"dir": security, "broker_host": "localhost", "broker_port": broker_port},
        "meetings": MEETINGS,
        "sites": [{"id": k, "name": v} for k, v in SITES.items()],
    })  # fmt: skip


def provision_fleet(cfg: config.HubConfig) -> provision.Layout:
    """The district's CA (kept between runs) and an account and bundle per probe."""
    lay = provision.Layout(cfg.security.dir)
    if not lay.ca.cert.exists():
        provision.init_pki(cfg, ["localhost", "127.0.0.1"])
    for site in PROBES:
        provision.add_site(cfg, site, SITES[site])  # a fresh password each run
    return lay


def probe_config(site: str, profile: str, broker_port: int, workdir: Path) -> str:
    bundle = provision.Layout(workdir / "security").bundle(site)
    given = tomllib.loads((bundle / "roomprobe.toml").read_text(encoding="utf-8"))
    mqtt = given["mqtt"]
    # The bundle names where the files go on the box's data partition; here they stay put.
    mqtt |= {"password_file": bundle / "mqtt-password", "tls_ca": bundle / "district-ca.crt"}
    # The district's lead times come with the bundle; a demo machine's clock may report
    # itself unsynchronised, which would hold every test while meetings are scheduled.
    daemon = given.get("daemon", {}) | {"heartbeat_s": 10, "trust_unsynced_clock": True}
    return tomlconfig.dumps({
        "site": site,
        "name": SITES[site],
        "mqtt": mqtt,
        "paths": {"state_dir": workdir / "probes" / site},
        "daemon": daemon,
        "net": {"interval_s": 20, "monitor_interval_s": 10},
        "audio": {"interval_s": 30, "backend": "model"},
        "simulation": {"profile": profile},
    })  # fmt: skip


def schedule_meeting(web_port: int) -> str | None:
    """The demo's meeting for every room, through the hub's API as people add one."""
    start = datetime.now(UTC).replace(microsecond=0) + MEETING_IN
    body = json.dumps(
        {
            "title": "Họp giao ban trực tuyến (demo)",
            "start": start.isoformat(),
            "end": (start + MEETING_LASTS).isoformat(),
            "sites": [],
        }
    ).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{web_port}/api/meetings", data=body,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return json.loads(resp.read())["id"]
    except OSError as exc:  # the demo runs on without it
        print(f"demo: could not schedule the demo meeting: {exc}", file=sys.stderr)
        return None


def run_demo(workdir: Path, web_port: int = 8080) -> int:
    workdir = workdir.resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    if not _port_free(web_port):
        taken, web_port = web_port, free_port()
        print(f"demo: port {taken} is taken, the dashboard uses {web_port} instead")
    broker_port = free_port()
    hub_conf = workdir / "hub.toml"
    hub_conf.write_text(hub_config(broker_port, web_port, workdir), encoding="utf-8")
    try:
        lay = provision_fleet(config.load(hub_conf))
    except (provision.ProvisionError, OSError) as exc:
        print(f"demo: cannot provision the fleet: {exc}", file=sys.stderr)
        return 1
    broker = Broker(workdir / "broker", port=broker_port, security=lay.security())
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
        meeting = schedule_meeting(web_port)
        print(
            f"demo: broker on localhost:{broker.port} (TLS, accounts, ACL: {lay.dir}), "
            f"{len(PROBES)} simulated probes"
        )
        if meeting:
            minutes = MEETING_IN.total_seconds() / 60
            print(f"demo: meeting {meeting} in {minutes:g} minutes; the rooms check themselves "
                  "now and 4 minutes before: watch /readiness fill in, then /meetings/"
                  f"{meeting} after it ends")  # fmt: skip
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
