"""The daemon under systemd's protocols: sd_notify READY, watchdog pings, STOPPING.

A real AF_UNIX datagram socket stands in for systemd's notify socket; the
daemon talks to it through systemd-python exactly as it would under systemd.
"""

from __future__ import annotations

import signal
import socket
import time

from rig import Rig, wait_for


def test_daemon_notifies_ready_pings_the_watchdog_and_says_stopping(rig: Rig):
    rig.start_broker()
    path = rig.tmp / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    received: list[str] = []

    def drain() -> list[str]:
        try:
            while True:
                received.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
        return received

    try:
        probe = rig.probe(env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"})
        wait_for(lambda: "READY=1" in drain(), what="READY=1")
        start = len(received)
        time.sleep(1.5)
        pings = [m for m in drain()[start:] if m == "WATCHDOG=1"]
        assert len(pings) >= 2, received  # every 0.2 s; at least two in 1.5 s even when loaded
        assert any(m.startswith("STATUS=network") for m in received), received
        probe.stop(signal.SIGTERM)
        assert "STOPPING=1" in drain()
    finally:
        sock.close()


def test_daemon_without_systemd_needs_no_notify_socket(rig: Rig):
    rig.start_broker()
    probe = rig.probe(env={"NOTIFY_SOCKET": ""})
    wait_for(lambda: "roomprobe" in probe.output() and "site dak-ang" in probe.output(),
             what="the daemon's start-up line")  # fmt: skip
    assert probe.alive
    assert probe.stop() == 0
