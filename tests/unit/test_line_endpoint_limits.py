"""The hub's line-test endpoint and UDP echo cannot be turned against the hub."""

from __future__ import annotations

import socket

import pytest
from fastapi import HTTPException

from roomhub.line_endpoint import SinkCounters, Slots
from roomhub.udp_echo import UdpEcho


def test_sink_counters_forget_the_oldest_tests_past_their_limit():
    sinks = SinkCounters(limit=3)
    for test in ("a", "b", "c", "d"):
        sinks.add(test, 10)
    assert sinks.read("a")["received"] == 0  # forgotten
    assert [sinks.read(t)["received"] for t in ("b", "c", "d")] == [10, 10, 10]
    sinks.add("b", 5)  # refreshed: now the newest
    sinks.add("e", 1)
    assert sinks.read("b")["received"] == 15 and sinks.read("c")["received"] == 0


def test_slots_refuse_past_the_limit_and_free_on_release():
    slots = Slots(limit=2)
    slots.take()
    slots.enter()
    with pytest.raises(HTTPException) as exc:
        slots.check()
    assert exc.value.status_code == 503
    slots.release()
    slots.check()  # room again


def test_udp_echo_answers_only_probe_packets():
    echo = UdpEcho("127.0.0.1", 0).start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(0.5)
    try:
        probe = b"RPv1" + bytes(28)
        client.sendto(probe, ("127.0.0.1", echo.port))
        assert client.recvfrom(64)[0] == probe
        for junk in (b"x" * 32, b"RPv1" + bytes(100), b"RPv1"):
            client.sendto(junk, ("127.0.0.1", echo.port))
            with pytest.raises(TimeoutError):
                client.recvfrom(256)
    finally:
        client.close()
        echo.stop()
    assert not echo._thread.is_alive()  # stop() really stops it
