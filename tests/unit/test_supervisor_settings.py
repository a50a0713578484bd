"""Logging and watchdog settings follow what systemd hands the process."""

from __future__ import annotations

import logging
import os

import pytest
from systemd import journal

from roomprobe import supervisor


@pytest.fixture(autouse=True)
def restore_logging():
    saved = logging.getLogger().handlers[:]
    yield
    logging.getLogger().handlers[:] = saved


def test_logs_go_to_journald_under_systemd(monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    handler = supervisor.setup_logging()
    assert isinstance(handler, journal.JournalHandler)


def test_logs_go_to_stderr_elsewhere(monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    handler = supervisor.setup_logging()
    assert isinstance(handler, logging.StreamHandler)


def test_watchdog_interval_is_half_of_systemds(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert supervisor.watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert supervisor.watchdog_interval_s() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert supervisor.watchdog_interval_s() is None


def test_notify_is_a_no_op_without_a_socket(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert supervisor.notify("READY=1") is False
