"""One full line test against the hub: latency, the project's throughput, speedtest-cli's.

Returns the ``metrics`` of a ``roomprobe.result.net`` message. The headline
figures (``download_mbps``, ``upload_mbps``) are the project's steady-state
estimates; speedtest-cli's figures stand beside them under ``estimates`` so
the two can be compared on every run.
"""

from __future__ import annotations

from typing import Any

from .. import callquality
from . import multistream, speedtest_cli
from .latency import http_latency


def full_test(
    url: str, with_speedtest_cli: bool = True, settings: multistream.Settings | None = None
) -> dict[str, Any]:
    settings = settings or multistream.Settings()
    lat = http_latency(url)
    if lat.rtt_median_ms is None:
        raise multistream.LineTestError(f"no answer from {url}")
    down = multistream.download(url, settings)
    up = multistream.upload(url, settings)
    estimates: dict[str, Any] = {
        "multistream": {"streams": settings.streams, "download": down.to_dict(),
                        "upload": up.to_dict()},
    }  # fmt: skip
    used = down.bytes + up.bytes
    if with_speedtest_cli:
        st = speedtest_cli.run(mini_url=url)
        estimates["speedtest_cli"] = st
        used += st["bytes_received"] + st["bytes_sent"]
    rtt, jitter = lat.rtt_median_ms, lat.jitter_ms or 0.0
    return {
        "download_mbps": down.steady_mbps,
        "upload_mbps": up.steady_mbps,
        "rtt_ms": rtt,
        "jitter_ms": jitter,
        "loss_pct": lat.loss_pct,
        "mos": round(callquality.mos(rtt, jitter, lat.loss_pct), 2),
        "server": url[:200],
        "bytes_used": used,
        "method": "multistream",
        "gateway_rtt_ms": None,
        "gateway_loss_pct": None,
        "estimates": estimates,
    }
