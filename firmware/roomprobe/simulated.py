"""Simulated line and audio backends, for a machine without a Pi or a room.

They stand in until the real probes exist and keep serving the demo and the
tests after. Each profile is a kind of room the district meets (a good room,
a slow ISP line, a faulty commune LAN, a broken speaker); values are drawn
around what such a room measures, so verdicts, LEDs and the hub see the
same shapes as from real rooms. Every result from here says simulated=true.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

from .callquality import mos

# profile -> (download, upload, rtt, jitter, loss, gateway loss), each (mean, spread)
_LINE: dict[str, dict[str, tuple[float, float]]] = {
    "good": {
        "down": (93.0, 2.0),
        "up": (91.0, 2.5),
        "rtt": (24.0, 3.0),
        "jitter": (2.0, 0.8),
        "loss": (0.05, 0.05),
        "gw_loss": (0.0, 0.0),
    },
    "slow-line": {
        "down": (31.0, 4.0),
        "up": (14.0, 2.0),
        "rtt": (68.0, 12.0),
        "jitter": (9.0, 3.0),
        "loss": (0.3, 0.2),
        "gw_loss": (0.0, 0.0),
    },
    "flaky-lan": {
        "down": (58.0, 10.0),
        "up": (52.0, 10.0),
        "rtt": (45.0, 15.0),
        "jitter": (38.0, 8.0),
        "loss": (4.0, 1.5),
        "gw_loss": (3.5, 1.0),
    },
}
_LINE["broken-speaker"] = _LINE["good"]
_LINE["dead-mic"] = _LINE["good"]  # its fault is the room model's (audio.backend = "model")


def _seed(site: str, seed: int | None) -> int:
    return seed if seed is not None else zlib.crc32(site.encode())


class SimulatedLine:
    """Line tests and monitor windows for one simulated room."""

    def __init__(self, profile: str, site: str, seed: int | None = None):
        self.profile = profile
        self._p = _LINE[profile]
        self._rng = random.Random(_seed(site, seed))

    def _draw(self, key: str, low: float = 0.0, high: float | None = None) -> float:
        mean, spread = self._p[key]
        value = max(low, self._rng.gauss(mean, spread))
        return round(min(value, high) if high is not None else value, 2)

    def line_test(self) -> dict[str, Any]:
        rtt, jitter, loss = self._draw("rtt", 1.0), self._draw("jitter"), self._draw("loss", 0, 100)
        down, up = self._draw("down", 0.1, 95.6), self._draw("up", 0.1, 95.6)
        return {
            "download_mbps": down,
            "upload_mbps": up,
            "rtt_ms": rtt,
            "jitter_ms": jitter,
            "loss_pct": loss,
            "mos": round(mos(rtt, jitter, loss), 2),
            "server": "simulated",
            # bytes a 10 s test moves each way at these rates
            "bytes_used": int((down + up) * 1e6 / 8 * 10),
            "method": "simulated",
            "gateway_rtt_ms": round(0.5 + self._rng.random(), 2),
            "gateway_loss_pct": self._draw_gateway_loss(),
        }

    def _draw_gateway_loss(self) -> float:
        """A faulty LAN loses at least 2 %, so the fault is always the room's to see."""
        floor = 2.0 if self._p["gw_loss"][0] > 0 else 0.0
        return self._draw("gw_loss", floor, 100)

    def monitor_window(self, window_s: float) -> dict[str, Any]:
        samples = sorted(self._draw("rtt", 1.0) for _ in range(20))
        return {
            "window_s": round(window_s, 3),
            "mos": None,
            "rtt_ms": {"min": samples[0], "median": samples[10], "p95": samples[18]},
            "jitter_ms": self._draw("jitter"),
            "loss_pct": self._draw("loss", 0, 100),
            "dns_ms": round(8 + 10 * self._rng.random(), 2),
            "audio_rms_dbfs": round(-65 + 5 * self._rng.random(), 1),
            "room_active": False,
            "gateway_rtt_ms": round(0.5 + self._rng.random(), 2),
            "gateway_loss_pct": self._draw_gateway_loss(),
        }


class SimulatedAudio:
    """Active audio tests for one simulated room."""

    def __init__(self, profile: str, site: str, seed: int | None = None):
        if profile not in _LINE:
            raise ValueError(f"unknown simulation profile {profile!r}")
        self.profile = profile
        self._rng = random.Random(_seed(site, seed) + 1)

    def audio_test(self) -> dict[str, Any]:
        if self.profile == "broken-speaker":
            # The amplifier or speaker is dead: the return is only the room's noise.
            return {
                "level_dbfs": None,
                "noise_floor_dbfs": round(-68 + 2 * self._rng.random(), 1),
                "snr_db": None,
                "thd_pct": None,
                "latency_ms": None,
                "channels_present": [],
            }
        level = round(-18 + 2 * self._rng.gauss(0, 1), 1)
        noise = round(-72 + 3 * self._rng.random(), 1)
        return {
            "level_dbfs": level,
            "noise_floor_dbfs": noise,
            "snr_db": round(level - noise, 1),
            "thd_pct": round(0.4 + 0.4 * self._rng.random(), 2),
            "latency_ms": round(11 + self._rng.random(), 2),
            "channels_present": [0, 1],
        }
