"""The light, continuous probes: a small packet to each target every second or so.

Targets: the room's LAN gateway (ICMP), the hub (UDP echo, as a call's media
would travel) and a public resolver (ICMP), plus the time a DNS lookup takes.
Samples are kept for the current window; :meth:`LightMonitor.summary` turns
them into a monitor result: per target min / median / p95 RTT, RFC 3550
jitter and loss, and the worst 15-second window of loss and jitter, since
video-call vendors state their limits per 15 s (Microsoft Teams: loss < 1 %,
jitter < 30 ms, RTT < 100 ms).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import callquality
from ..config import NetConfig
from . import pacing
from .latency import LatencySummary, rfc3550_jitter
from .probes import UdpEchoProbe, dns_ms, icmp_rtt_ms

log = logging.getLogger(__name__)
VENDOR_WINDOW_S = 15.0
MIN_WINDOW_SAMPLES = 5  # fewer packets in a 15 s window say nothing about its loss


@dataclass
class Target:
    name: str  # gateway, hub, resolver
    probe: Callable[[], float | None]
    samples: list[tuple[float, float | None]] = field(default_factory=list)  # (time, rtt ms)


def worst_windows(
    samples: Sequence[tuple[float, float | None]], window_s: float = VENDOR_WINDOW_S
) -> tuple[float | None, float | None]:
    """Worst loss % and worst RFC 3550 jitter over consecutive ``window_s`` windows.

    Windows are aligned to the first sample; a trailing window shorter than
    half ``window_s`` is not judged (too few packets to say anything).
    """
    if not samples:
        return None, None
    start, end = samples[0][0], samples[-1][0]
    worst_loss: float | None = None
    worst_jitter: float | None = None
    t = start
    while t <= end:
        chunk = [rtt for when, rtt in samples if t <= when < t + window_s]
        if len(chunk) >= MIN_WINDOW_SAMPLES and (t + window_s <= end or end - t >= window_s / 2):
            loss = 100.0 * sum(r is None for r in chunk) / len(chunk)
            worst_loss = loss if worst_loss is None else max(worst_loss, loss)
            answered = [r for r in chunk if r is not None]
            if len(answered) >= 2:
                j = rfc3550_jitter(answered)
                worst_jitter = j if worst_jitter is None else max(worst_jitter, j)
        t += window_s
    return worst_loss, worst_jitter


def summarise(samples: Sequence[tuple[float, float | None]]) -> dict[str, Any]:
    s = LatencySummary.of([rtt for _, rtt in samples])
    worst_loss, worst_jitter = worst_windows(samples)
    return {
        "sent": s.sent,
        "rtt_ms": None if s.rtt_min_ms is None
        else {"min": s.rtt_min_ms, "median": s.rtt_median_ms, "p95": s.rtt_p95_ms},
        "jitter_ms": s.jitter_ms,
        "loss_pct": s.loss_pct,
        "worst_15s_loss_pct": None if worst_loss is None else round(worst_loss, 2),
        "worst_15s_jitter_ms": None if worst_jitter is None else round(worst_jitter, 3),
    }  # fmt: skip


class LightMonitor:
    """Probes every target every ``interval_s`` on a thread of its own."""

    def __init__(
        self,
        hub: tuple[str, int] | None,
        gateway: str | None,
        resolver: str | None,
        dns_name: str | None,
        interval_s: float = 1.0,
        timeout_s: float = 1.0,
    ):
        self.interval_s = interval_s
        self.dns_name = dns_name
        self.targets: list[Target] = []
        try:
            self._udp = UdpEchoProbe(*hub) if hub else None
        except OSError as exc:  # the hub's name does not resolve (yet): no hub target
            log.warning("light probes: cannot resolve the hub %s: %s", hub, exc)
            self._udp = None
        if gateway:
            self.targets.append(Target("gateway", lambda: icmp_rtt_ms(gateway, timeout_s)))
        if self._udp is not None:
            udp = self._udp
            self.targets.append(Target("hub", lambda: udp.rtt_ms(timeout_s)))
        if resolver:
            self.targets.append(Target("resolver", lambda: icmp_rtt_ms(resolver, timeout_s)))
        self.dns: list[float | None] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Set while this probe's own heavy test fills the line: the queueing delay it
        # causes is not the line's, so no samples are taken meanwhile.
        self.paused = threading.Event()
        self._thread = threading.Thread(target=self._run, name="light-probes", daemon=True)

    def start(self) -> LightMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        if self._udp is not None:
            self._udp.close()

    def _run(self) -> None:
        next_at = time.monotonic()
        rounds = 0
        while not self._stop.is_set():
            if self.paused.is_set():
                self._stop.wait(self.interval_s)
                next_at = time.monotonic()
                continue
            # A round is kept whole: a summary taken while it runs must not see the gateway's
            # sample without the hub's, or its window holds a hub target with nothing sent,
            # which reads as 100 % loss on the ISP's side (seen when a flapping line kept
            # pausing the probes and the windows held a round or two).
            taken = []
            for target in self.targets:
                rtt = target.probe()
                taken.append((target, time.monotonic(), rtt))
            with self._lock:
                for target, when, rtt in taken:
                    target.samples.append((when, rtt))
            # DNS every 10th round: a lookup is a real query somebody's resolver answers.
            if self.dns_name and rounds % 10 == 0:
                took = dns_ms(self.dns_name)
                with self._lock:
                    self.dns.append(took)
            rounds += 1
            # After a stall (a slow round, a suspended machine) carry on from now: a
            # catch-up burst would hit rate limits and read as loss.
            next_at = max(next_at + self.interval_s, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def has_samples(self) -> bool:
        with self._lock:
            return any(t.samples for t in self.targets)

    def summary(self, window_s: float) -> dict[str, Any]:
        """Monitor metrics for the samples since the last summary (which are then dropped)."""
        with self._lock:
            taken = {t.name: t.samples for t in self.targets}
            for t in self.targets:
                t.samples = []
            dns, self.dns = self.dns, []
        targets = {name: summarise(samples) for name, samples in taken.items()}
        # The headline is the Internet path: the hub's, else the resolver's.
        main = targets.get("hub") or targets.get("resolver") or {}
        rtt = main.get("rtt_ms") or {"min": 0.0, "median": 0.0, "p95": 0.0}
        gateway = targets.get("gateway")
        answered_dns = [d for d in dns if d is not None]
        mos = None
        if main.get("rtt_ms"):
            mos = round(callquality.mos(rtt["median"], main.get("jitter_ms") or 0.0,
                                        main["loss_pct"]), 2)  # fmt: skip
        return {
            "window_s": round(window_s, 3),
            "mos": mos,
            "rtt_ms": rtt,
            "jitter_ms": main.get("jitter_ms") or 0.0,
            "loss_pct": main.get("loss_pct", 100.0),
            "dns_ms": round(sorted(answered_dns)[len(answered_dns) // 2], 3)
            if answered_dns
            else None,
            "audio_rms_dbfs": None,
            "room_active": False,
            "gateway_rtt_ms": (gateway["rtt_ms"] or {}).get("median") if gateway else None,
            "gateway_loss_pct": gateway["loss_pct"] if gateway else None,
            "targets": targets,
        }


def from_config(net: NetConfig, server_url: str | None = None) -> LightMonitor:
    """The light probes a probe's [net] config asks for (``server_url`` overrides its own)."""
    url = server_url or net.server_url
    hub = urlsplit(url).hostname if url else None
    return LightMonitor(
        hub=(hub, net.hub_echo_port) if hub else None,
        gateway=net.gateway or pacing.default_gateway(),
        resolver=net.resolver or None,
        dns_name=net.dns_name or None,
        interval_s=net.probe_interval_s,
    )
