"""Single small probes: one UDP echo to the hub, one ICMP echo, one DNS lookup.

Each returns a round-trip time in milliseconds, or None when no answer came
in time (a loss). ICMP goes through icmplib, unprivileged where the kernel
allows it (Debian's systemd opens ``net.ipv4.ping_group_range``), raw when
the probe runs as root.
"""

from __future__ import annotations

import os
import socket
import struct
import time

from icmplib import ping as icmp_ping
from icmplib.exceptions import ICMPLibError

_UDP_FORMAT = "!4sIQ"  # magic, sequence number, send time in ns: 16 bytes
_UDP_MAGIC = b"RPv1"
UDP_SIZE = 32


class UdpEchoProbe:
    """Probes to the hub's UDP echo over one socket, matched by sequence number."""

    def __init__(self, host: str, port: int):
        # Resolve once, not on every probe: a slow resolver must not show as line latency.
        family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.addr = addr
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def rtt_ms(self, timeout_s: float = 1.0) -> float | None:
        self._seq += 1
        seq = self._seq
        sent = time.perf_counter_ns()
        packet = struct.pack(_UDP_FORMAT, _UDP_MAGIC, seq, sent).ljust(UDP_SIZE, b"\0")
        try:
            self.sock.sendto(packet, self.addr)
        except OSError:
            return None
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(2048)
            except (TimeoutError, OSError):
                return None
            if len(data) < 16:
                continue
            magic, got_seq, _ = struct.unpack_from(_UDP_FORMAT, data)
            if magic == _UDP_MAGIC and got_seq == seq:  # late answers to older probes are lost
                return (time.perf_counter_ns() - sent) / 1e6
        return None


def icmp_rtt_ms(host: str, timeout_s: float = 1.0) -> float | None:
    try:
        reply = icmp_ping(host, count=1, timeout=timeout_s, privileged=os.geteuid() == 0)
    except (ICMPLibError, OSError):
        return None
    return reply.avg_rtt if reply.is_alive else None


def dns_ms(name: str) -> float | None:
    """Time to resolve ``name`` through the system's resolver; None on failure."""
    start = time.perf_counter()
    try:
        socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        return None
    return (time.perf_counter() - start) * 1000
