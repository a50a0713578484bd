"""Fixtures of the unit tests that drive the daemon without a broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_probe import make_probe

from roomprobe import service


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[service.ProbeService]:
    svc = make_probe(tmp_path)
    yield svc
    svc.outbox.close()
