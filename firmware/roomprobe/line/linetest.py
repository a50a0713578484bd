"""One full line test against the hub: latency, the project's throughput, speedtest-cli's.

Returns the ``metrics`` of a ``roomprobe.result.net`` message. The headline
figures (``download_mbps``, ``upload_mbps``) are the project's steady-state
estimates; speedtest-cli's figures stand beside them under ``estimates`` so
the two can be compared on every run.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .. import callquality
from . import multistream, speedtest_cli
from .latency import http_latency

log = logging.getLogger(__name__)


def full_test(
    url: str,
    with_speedtest_cli: bool = True,
    settings: multistream.Settings | None = None,
    abort: threading.Event | None = None,
    speedtest_server_id: int | None = None,
    speedtest_via_hub: bool = True,
) -> dict[str, Any]:
    """Latency, then download and upload, then (optionally) speedtest-cli.

    ``abort`` stops the test within one sample (250 ms) and raises
    LineTestAborted: a meeting must not share its line with a test.
    """
    settings = settings or multistream.Settings()
    cpu_before, wall_before = time.process_time(), time.monotonic()
    lat = http_latency(url, count=20)
    if lat.rtt_median_ms is None:
        raise multistream.LineTestError(f"no answer from {url}")
    down = multistream.download(url, settings, abort)
    up = multistream.upload(url, settings, abort)
    # How busy the probe's own CPU was while measuring: a Pi that cannot keep up
    # makes a good line look slow, and then the probe must act, not the ISP.
    cpu_pct = 100 * (time.process_time() - cpu_before) / max(time.monotonic() - wall_before, 1e-6)
    estimates: dict[str, Any] = {
        "multistream": {"streams": settings.streams, "download": down.to_dict(),
                        "upload": up.to_dict()},
    }  # fmt: skip
    used = down.bytes + up.bytes
    if with_speedtest_cli:
        try:
            st = speedtest_cli.run(
                mini_url=url if speedtest_via_hub else None,
                server_id=speedtest_server_id,
                abort=abort,
            )
        except speedtest_cli.SpeedtestError as exc:
            if abort is not None and abort.is_set():
                raise multistream.LineTestAborted(str(exc)) from None
            # Only the comparison failed (speedtest.net unreachable ...): our figures stand.
            log.warning("%s; publishing the project's figures alone", exc)
        else:
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
        "probe_cpu_pct": round(cpu_pct, 1),
        "estimates": estimates,
    }
