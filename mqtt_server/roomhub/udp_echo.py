"""A UDP echo responder: what the probes' light probes bounce off at the hub.

Small datagrams every second from every room, sent straight back. UDP, not
TCP, because a video call's media is UDP: loss shows as loss, not as a
retransmission, and jitter is what the packets themselves feel.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

log = logging.getLogger(__name__)
PROBE_SIZE = 32  # what roomprobe.line.probes sends
PROBE_MAGIC = b"RPv1"


class UdpEcho:
    def __init__(self, host: str, port: int):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_DGRAM)  # fmt: skip
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="udp-echo", daemon=True)
        self._stop = False

    def start(self) -> UdpEcho:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        # close() alone does not wake a thread blocked in recvfrom(); shutdown() does.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(2)

    def _serve(self) -> None:
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(2048)
            except OSError:
                return  # closed
            # Only our probes' packets, and never to a privileged port or to ourselves:
            # a spoofed source must not turn the echo into a loop or a reflector.
            if (
                len(data) != PROBE_SIZE
                or not data.startswith(PROBE_MAGIC)
                or addr[1] < 1024
                or addr[:2] == self.sock.getsockname()[:2]
            ):
                continue
            try:
                self.sock.sendto(data, addr)
            except OSError as exc:
                log.debug("echo to %s failed: %s", addr, exc)
