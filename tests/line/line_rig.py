"""Shared by the line tests: a probe behind a shaped line, the hub on the far end."""

from __future__ import annotations

from rig import Rig


def hub_line(rig: Rig, **net) -> dict:
    """The probe's [net] table for a real line test against the rig's hub."""
    return {
        "backend": "hub",
        "server_url": f"{rig.web}/mini/",
        "interval_s": 3600,
        "speedtest_cli": "hub",
        "speedtest_cli_interval_s": 0,
        "busy_retry_s": 1,
        "hub_echo_port": rig.udp_port,
        "resolver": "",  # no Internet here: the gateway and the hub are the targets
        "dns_name": "",
        **net,
    }
