"""A commune's line on one machine: two network namespaces joined by a veth pair.

``probe`` is the room's side, ``hub`` the district's. Each side's egress is
shaped with ``tc qdisc tbf`` (netem does not exist on these kernels), so the
download is limited at the hub's end and the upload at the probe's end, as
an ISP's line is. Addresses come from 198.18.0.0/15, the range RFC 2544
reserves for network benchmarks: nothing real lives there.

The goodput a TCP stream can reach through tbf at rate R is R x 1448/1514
(tbf counts whole Ethernet frames): that ceiling is the truth to compare
with (DESIGN.md), never R itself.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Sequence

GOODPUT_FACTOR = 1448 / 1514
_counter = itertools.count()


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


class NetLab:
    """Two namespaces and a shaped link between them; ``close()`` removes everything.

    With ``hub_in_root`` the hub's side is this machine's own namespace (the
    test process can then reach the hub's broker and web server directly) and
    only the probe lives in a namespace of its own.
    """

    def __init__(self, rate_mbit: float | None, hub_in_root: bool = False):
        n = next(_counter)
        tag = f"rp{os.getpid() % 100000}x{n}"
        self.probe_ns = f"{tag}p"
        self.hub_ns: str | None = None if hub_in_root else f"{tag}h"
        self._veth_probe, self._veth_hub = f"{tag}a", f"{tag}b"
        subnet = (os.getpid() + n) % 250
        self.probe_ip, self.hub_ip = f"198.18.{subnet}.1", f"198.18.{subnet}.2"
        self.rate_mbit = rate_mbit
        self._up = False

    @property
    def goodput_mbps(self) -> float:
        assert self.rate_mbit is not None
        return self.rate_mbit * GOODPUT_FACTOR

    def up(self) -> NetLab:
        self._up = True
        try:
            self._build()
        except BaseException:
            self.close()  # never leave half a lab behind
            raise
        return self

    def _build(self) -> None:
        _run("ip", "netns", "add", self.probe_ns)
        peer_ns = ["netns", self.hub_ns] if self.hub_ns else []
        if self.hub_ns:
            _run("ip", "netns", "add", self.hub_ns)
        _run("ip", "link", "add", self._veth_probe, "netns", self.probe_ns,
             "type", "veth", "peer", "name", self._veth_hub, *peer_ns)  # fmt: skip
        for ns, dev, ip in (
            (self.probe_ns, self._veth_probe, self.probe_ip),
            (self.hub_ns, self._veth_hub, self.hub_ip),
        ):
            inside = ["ip", "netns", "exec", ns] if ns else []
            _run(*inside, "ip", "addr", "add", f"{ip}/30", "dev", dev)
            _run(*inside, "ip", "link", "set", dev, "up")
            if ns:
                _run(*inside, "ip", "link", "set", "lo", "up")
            if ns == self.probe_ns:  # the hub's end is the room's way out, as a router is
                _run(*inside, "ip", "route", "add", "default", "via", self.hub_ip)
            if self.rate_mbit:
                # burst: 10 ms of the rate (at least a few frames); queue: 100 ms.
                burst = max(16_000, int(self.rate_mbit * 1e6 / 8 / 100))
                _run(*inside, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                     "rate", f"{self.rate_mbit}mbit", "burst", str(burst),
                     "latency", "100ms")  # fmt: skip

    def close(self) -> None:
        if not self._up:
            return
        for ns in (self.probe_ns, self.hub_ns):
            if ns is None:
                continue
            # Deleting a namespace removes its veth end, and with it the pair.
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                subprocess.run(["kill", "-9", pid], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self._up = False

    def set_probe_link(self, up: bool) -> None:
        """Take the probe's port down or up, as a pulled cable or a rebooting switch does.

        The kernel flushes a link's routes when it goes down; the connected /30 comes
        back with the link, and the default route is put back here, as the room's DHCP
        client does when the carrier returns (without it the probe would find no
        interface nor gateway to test, which is another fault than a flap).
        """
        inside = ["ip", "netns", "exec", self.probe_ns]
        _run(*inside, "ip", "link", "set", self._veth_probe, "up" if up else "down")
        if up:
            _run(*inside, "ip", "route", "replace", "default", "via", self.hub_ip)

    def popen(self, ns: str, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kwargs)

    def run(
        self, ns: str, argv: Sequence[str], timeout: float = 120
    ) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip

    def wait_reachable(self, port: int, timeout: float = 20) -> None:
        """Until the hub side accepts TCP on ``port`` from the probe's namespace."""
        check = (
            "import socket\n"
            f"socket.create_connection(('{self.hub_ip}', {port}), timeout=1).close()\n"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run(self.probe_ns, [sys.executable, "-c", check], timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"nothing accepted {self.hub_ip}:{port} from the probe's namespace")

    def __enter__(self) -> NetLab:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.close()
