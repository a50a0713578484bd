"""A user-space line impairer for UDP: delay, jitter and loss on a real path.

netem does not exist on these kernels, so what a test needs of it happens
here: a relay between the probe and the hub's UDP echo that holds each
datagram for a random delay (normal, clipped at zero) and drops a share of
them. Replies go straight back. For i.i.d. normal delays with standard
deviation s, RFC 3550 jitter tends to E|D| = 2s/sqrt(pi) (about 1.13 s):
that is what a probe should measure.
"""

from __future__ import annotations

import math
import random
import socket
import threading


def expected_jitter_ms(sigma_ms: float) -> float:
    return 2 * sigma_ms / math.sqrt(math.pi)


class UdpImpairer:
    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int], delay_ms: float,
                 sigma_ms: float, loss: float, seed: int = 1):  # fmt: skip
        self.upstream = upstream
        self.delay_ms, self.sigma_ms, self.loss = delay_ms, sigma_ms, loss
        self.rng = random.Random(seed)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(listen)
        self.port = self.sock.getsockname()[1]
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.bind((listen[0], 0))
        self.clients: dict[bytes, tuple[str, int]] = {}
        self.forwarded = self.dropped = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._in, self._back)]

    def start(self) -> UdpImpairer:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()
        self.up.close()

    def _in(self) -> None:
        while not self._stop.is_set():
            try:
                data, client = self.sock.recvfrom(2048)
            except OSError:
                return
            if self.rng.random() < self.loss:
                self.dropped += 1
                continue
            self.clients[data[:16]] = client  # the probe's magic + seq + time identify it
            delay = max(0.0, self.rng.gauss(self.delay_ms, self.sigma_ms)) / 1000
            threading.Timer(delay, self._forward, args=(data,)).start()

    def _forward(self, data: bytes) -> None:
        try:
            self.up.sendto(data, self.upstream)
            self.forwarded += 1
        except OSError:
            pass

    def _back(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.up.recvfrom(2048)
            except OSError:
                return
            client = self.clients.pop(data[:16], None)
            if client is not None:
                try:
                    self.sock.sendto(data, client)
                except OSError:
                    return
