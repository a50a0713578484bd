"""speedtest-cli 2.1.3 used as a library, against speedtest.net or the hub's Mini endpoint.

speedtest-cli always fetches its configuration from speedtest.net first, even
in Mini mode, so a box whose only reachable server is the district hub (or a
test without Internet) could not run it. :class:`_MiniConfigSpeedtest` fills
the configuration locally with the values speedtest.net serves (download: 10
image sizes x 4, 8 threads, 10 s; upload: 3 sizes x 17 posts, 10 s) and
measures exactly as speedtest-cli does, errors included: that is the point
of running it beside the project's own estimate.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import speedtest

# What speedtest.net's speedtest-config.php says (threadcount=4, threadsperurl=4,
# upload ratio=5, maxchunkcount=50, testlength=10), as speedtest-cli derives it.
_UP_SIZES = [32768, 65536, 131072, 262144, 524288, 1048576, 7340032][5 - 1 :]
_UP_COUNT = math.ceil(50 / len(_UP_SIZES))
MINI_CONFIG: dict[str, Any] = {
    "client": {"ip": "", "lat": "0", "lon": "0", "isp": "", "isprating": "", "country": ""},
    "ignore_servers": [],
    "sizes": {
        "upload": _UP_SIZES,
        "download": [350, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000],
    },
    "counts": {"upload": _UP_COUNT, "download": 4},
    "threads": {"upload": 2, "download": 8},
    "length": {"upload": 10, "download": 10},
    "upload_max": _UP_COUNT * len(_UP_SIZES),
}


class SpeedtestError(RuntimeError):
    """speedtest-cli could not run (no server, no config, a network error)."""


class _MiniConfigSpeedtest(speedtest.Speedtest):
    def get_config(self) -> dict[str, Any]:
        self.config.update(
            {k: (v.copy() if isinstance(v, dict | list) else v) for k, v in MINI_CONFIG.items()}
        )
        self.lat_lon = (0.0, 0.0)
        return self.config


def run(
    mini_url: str | None = None,
    server_id: int | None = None,
    timeout_s: float = 10,
    abort: threading.Event | None = None,
) -> dict[str, Any]:
    """One speedtest-cli run; against ``mini_url`` (the hub) or speedtest.net."""
    started = time.monotonic()
    try:
        if mini_url:
            st: speedtest.Speedtest = _MiniConfigSpeedtest(timeout=timeout_s, shutdown_event=abort)
            st.set_mini_server(mini_url)
            st.get_best_server(st.servers)
        else:
            st = speedtest.Speedtest(timeout=timeout_s, shutdown_event=abort)
            st.get_servers([server_id] if server_id else [])
            st.get_best_server()
        st.download()
        st.upload(pre_allocate=False)
    except Exception as exc:  # speedtest-cli raises IndexError etc. on odd pages
        raise SpeedtestError(f"speedtest-cli: {type(exc).__name__}: {exc}") from None
    if abort is not None and abort.is_set():
        raise SpeedtestError("speedtest-cli stopped: the room became busy")
    r = st.results
    server = r.server.get("url", "") if isinstance(r.server, dict) else str(r.server)
    return {
        "download_mbps": round(r.download / 1e6, 3),
        "upload_mbps": round(r.upload / 1e6, 3),
        "ping_ms": round(float(r.ping), 3),
        "bytes_received": int(r.bytes_received),
        "bytes_sent": int(r.bytes_sent),
        "duration_s": round(time.monotonic() - started, 3),
        "server": server[:200],
    }
