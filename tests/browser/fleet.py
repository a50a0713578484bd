"""The board's test fleet: a real hub and one real simulated probe per room profile."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


# Which simulated room each probed site is (firmware/roomprobe/simulated.py).
PROFILES = {"plei-kan": "good", "dak-ang": "slow-line", "bo-y": "broken-speaker"}
PARTS = ("network", "audio", "system")


@dataclass
class Fleet:
    rig: Any
    profiles: dict[str, str]

    @property
    def url(self) -> str:
        return self.rig.web + "/"

    def sites(self) -> dict[str, dict[str, Any]]:
        """The hub's JSON API, by site."""
        return {s["site"]: s for s in get_json(self.rig.web + "/api/sites")}


def statuses(site: dict[str, Any]) -> dict[str, str]:
    """What the board's badges should say for one /api/sites entry: connection and parts."""
    online = site["online"]
    out = {"connection": "unknown" if online is None else "ok" if online else "fail"}
    for part in PARTS:
        verdict = (site["verdicts"] or {}).get(part)
        out[part] = verdict["status"] if verdict else "unknown"
    return out
