"""A UDP echo responder: what the probes' light probes bounce off at the hub.

Small datagrams every second from every room, sent straight back. UDP, not
TCP, because a video call's media is UDP: loss shows as loss, not as a
retransmission, and jitter is what the packets themselves feel.
"""

from __future__ import annotations

import logging
import socket
import threading

log = logging.getLogger(__name__)
MAX_DATAGRAM = 512  # probes send 32 bytes; anything larger is not ours and is not echoed


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
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(2048)
            except OSError:
                return  # closed
            if len(data) <= MAX_DATAGRAM:
                try:
                    self.sock.sendto(data, addr)
                except OSError as exc:
                    log.debug("echo to %s failed: %s", addr, exc)
