"""A daemon to drive without a broker, for the unit tests of its service loop."""

from __future__ import annotations

from pathlib import Path

from roomprobe import config, service


def make_probe(state_dir: Path, extra: str = "") -> service.ProbeService:
    """A daemon for site dak-ang on ``state_dir``; ``extra`` adds TOML (tables)."""
    cfg = config.parse(f'site = "dak-ang"\n[paths]\nstate_dir = "{state_dir}"\n{extra}')
    return service.ProbeService(cfg)
