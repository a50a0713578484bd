"""The ``roomhub probe`` and ``roomhub meeting`` commands talk to the running hub's API.

Going through the hub (not straight to the broker) means a command typed at
the console is recorded, shown on the dashboard and answered exactly like one
clicked there, and the schedule is republished by the one process that owns it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .config import HubConfig


class HubUnreachable(RuntimeError):
    """The hub's web API did not answer."""


class HubRefused(RuntimeError):
    """The hub answered with an error; the message is its own explanation."""


def base_url(cfg: HubConfig) -> str:
    host = cfg.web.host if cfg.web.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{cfg.web.port}"


def call(cfg: HubConfig, method: str, path: str, body: dict[str, Any] | None = None,
         timeout: float = 15.0) -> Any:  # fmt: skip
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base_url(cfg) + urllib.parse.quote(path, safe="/?=&"), data=data, method=method,
        headers={"Content-Type": "application/json"} if data else {},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail")
        except (ValueError, AttributeError):
            detail = None
        if isinstance(detail, list):  # FastAPI's validation errors: say which field
            detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])[1:]))}: {d.get('msg')}"
                               for d in detail)  # fmt: skip
        raise HubRefused(detail or f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HubUnreachable(
            f"the hub at {base_url(cfg)} does not answer ({reason}); is 'roomhub run' running?"
        ) from None


def wait_for_reply(cfg: HubConfig, msg_id: str, timeout: float, poll_s: float = 0.5) -> dict:
    """The command's state once replied or expired, or as it is when ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        state = call(cfg, "GET", f"/api/commands/{msg_id}")
        if state["state"] != "waiting" or time.monotonic() >= deadline:
            return state
        time.sleep(poll_s)
