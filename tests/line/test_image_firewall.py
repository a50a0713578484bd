"""The SD image's firewall (image_build/rootfs/etc/nftables.conf), loaded into a real namespace.

The box's side of a veth pair gets the image's ruleset with nft; this machine
plays the room's LAN. What must hold: SSH and ping get in, nothing else that
the box did not ask for does (dropped, not refused: no answer at all), and
what the box itself opens (MQTT to the hub, a line test) gets its replies.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import icmplib
import pytest

from netlab import NetLab

RULES = Path(__file__).resolve().parents[2] / "image_build" / "rootfs" / "etc" / "nftables.conf"

LISTEN = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"hello"); c.close()
"""


@pytest.fixture
def box() -> Iterator[NetLab]:
    with NetLab(None, hub_in_root=True) as lab:
        loaded = lab.run(lab.probe_ns, ["nft", "-f", str(RULES)])
        assert loaded.returncode == 0, loaded.stderr
        yield lab


def listen(lab: NetLab, port: int) -> subprocess.Popen:
    proc = lab.popen(lab.probe_ns, [sys.executable, "-c", LISTEN, str(port)],
                     stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def reach(host: str, port: int, timeout: float = 2.0) -> str:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            return s.recv(5).decode()
    except TimeoutError:
        return "dropped"
    except ConnectionRefusedError:
        return "refused"


def test_ssh_and_ping_get_in_and_nothing_else_does(box: NetLab):
    servers = [listen(box, 22), listen(box, 1883), listen(box, 8080)]
    try:
        assert reach(box.probe_ip, 22) == "hello"
        assert reach(box.probe_ip, 1883) == "dropped"  # no answer, not even a refusal
        assert reach(box.probe_ip, 8080) == "dropped"
        assert icmplib.ping(box.probe_ip, count=2, interval=0.2, timeout=2).packets_received == 2
        # A port nobody listens on stays silent too (a scan learns nothing).
        assert reach(box.probe_ip, 23) == "dropped"
    finally:
        for s in servers:
            s.kill()
            s.wait()


def test_what_the_box_opens_gets_its_replies(box: NetLab):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((box.hub_ip, 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        client = (
            "import socket, sys\n"
            f"s = socket.create_connection(('{box.hub_ip}', {port}), timeout=3)\n"
            "s.sendall(b'ping'); print(s.recv(4).decode())\n"
        )
        proc = box.popen(box.probe_ns, [sys.executable, "-c", client], stdout=subprocess.PIPE,
                         text=True)  # fmt: skip
        conn, _ = srv.accept()
        assert conn.recv(4) == b"ping"
        conn.sendall(b"pong")
        conn.close()
        out, _ = proc.communicate(timeout=10)
        assert out.strip() == "pong"
        # UDP the box asked for (a DNS query, the hub's echo) comes back as well.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((box.hub_ip, 0))
        uport = udp.getsockname()[1]
        asker = (
            "import socket\n"
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)\n"
            f"u.sendto(b'q', ('{box.hub_ip}', {uport})); print(u.recv(8).decode())\n"
        )
        proc = box.popen(box.probe_ns, [sys.executable, "-c", asker], stdout=subprocess.PIPE,
                         text=True)  # fmt: skip
        _, peer = udp.recvfrom(8)
        udp.sendto(b"answer", peer)
        out, _ = proc.communicate(timeout=10)
        assert out.strip() == "answer"
        # A datagram the box did not ask for, to a port it listens on: dropped.
        stray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stray.bind((box.hub_ip, 0))
        heard = listen_udp_once(box, peer[1] + 1)
        stray.sendto(b"unasked", (box.probe_ip, peer[1] + 1))
        assert heard.communicate(timeout=10)[0].strip() == "nothing"
        udp.close()
        stray.close()
    finally:
        srv.close()


def listen_udp_once(lab: NetLab, port: int) -> subprocess.Popen:
    code = (
        "import socket\n"
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)\n"
        f"u.bind(('0.0.0.0', {port}))\n"
        "print('ready', flush=True)\n"
        "try:\n    u.recv(16); print('heard')\nexcept TimeoutError:\n    print('nothing')\n"
    )
    proc = lab.popen(lab.probe_ns, [sys.executable, "-c", code], stdout=subprocess.PIPE,
                     text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.1)
    return proc


def test_a_flood_of_ssh_connections_from_one_machine_is_cut_short(box: NetLab):
    server = listen(box, 22)
    try:
        answers = [reach(box.probe_ip, 22, timeout=1.0) for _ in range(9)]
    finally:
        server.kill()
        server.wait()
    assert answers[:3] == ["hello"] * 3  # district IT gets in
    assert "dropped" in answers[5:]  # a burst beyond the limit does not
