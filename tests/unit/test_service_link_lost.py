"""A line test the probe's own port cut (line/worker.py's LinkLost), as the daemon takes it:
the room's LAN acts, a test that sent nothing costs no data, and it is tried again soon
(found in review: an unplugged cable used to spend the day's budget on nothing)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from service_probe import make_probe

from roomprobe import service
from roomprobe.line.worker import LinkLost


@pytest.fixture
def probe(tmp_path):
    svc = make_probe(tmp_path, "[net]\nbusy_retry_s = 30\ninterval_s = 3600\n")
    yield svc
    svc.outbox.close()


def finish_with(probe: service.ProbeService, exc: Exception) -> None:
    def result():
        raise exc

    probe._line_job = SimpleNamespace(result=result, started=time.time())
    probe._finish_line_job()


@pytest.mark.parametrize("lost", [LinkLost("eth0", 0), LinkLost(None, 0)])
def test_a_port_down_at_the_start_costs_nothing_and_is_retried_soon(probe, lost):
    before = probe.budget.usage().day_used_mb
    finish_with(probe, lost)
    net = probe.current["network"]
    assert (net.status, net.reason, net.actor) == ("fail", "net.link_lost", "room-lan")
    assert "commune's own network" in net.message["en"]
    assert probe.budget.usage().day_used_mb == before
    assert probe._due["net"] - time.monotonic() <= 30


def test_a_test_cut_in_the_middle_is_charged(probe):
    before = probe.budget.usage().day_used_mb
    finish_with(probe, LinkLost("eth0", 2))
    assert probe.budget.usage().day_used_mb > before  # data flowed until the drop
    assert probe.current["network"].reason == "net.link_lost"
