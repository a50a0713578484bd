"""The continuous light probes on a real line: where a fault is, and how bad.

The probe in its namespace sends a small packet every 0.2 s to its gateway
(ICMP; the far end of the veth is its router) and to the hub's UDP echo.
Loss is injected with iptables' random drop in the probe's namespace (a
kernel filter, real packets really lost); delay and jitter with a user-space
relay (tests/impairer.py), as netem does not exist here.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from impairer import UdpImpairer, expected_jitter_ms
from line_rig import hub_line
from rig import Rig, wait_for

# No heavy test: its own traffic would fill the line (that case has a test of its own).
FAST = {"monitor_interval_s": 6, "probe_interval_s": 0.2, "daily_budget_mb": 0}


def monitor_results(rig: Rig) -> list[dict]:
    rows = rig.hub_query(
        "SELECT payload FROM messages WHERE schema = 'roomprobe.result.monitor' ORDER BY id"
    )
    return [json.loads(r["payload"]) for r in rows]


def real_monitor(rig: Rig, after: int = 0) -> dict:
    """The first full real monitor window (the first one after start-up is partial)."""
    return wait_for(
        lambda: len(monitor_results(rig)) > after + 1 and monitor_results(rig)[after + 1],
        timeout=60, what="a full monitor window",
    )  # fmt: skip


def drop(lab, share: float, *match: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", lab.probe_ns, "iptables", "-A", "OUTPUT", "!", "-o", "lo",
         *match, "-m", "statistic", "--mode", "random", "--probability", str(share),
         "-j", "DROP"],
        check=True, capture_output=True,
    )  # fmt: skip


def test_a_clean_line_is_ok_with_real_figures_for_gateway_and_hub(line50):
    _, rig = line50
    rig.probe(net=hub_line(rig, **FAST))
    result = real_monitor(rig)
    m = result["metrics"]
    assert result["simulated"] is False
    assert set(m["targets"]) == {"gateway", "hub"}
    for target in m["targets"].values():
        assert target["loss_pct"] == 0.0 and target["sent"] >= 20
        assert 0 < target["rtt_ms"]["median"] < 20
    assert result["verdict"]["status"] == "ok"


def test_loss_at_the_gateway_is_the_rooms_lan(line50):
    lab, rig = line50
    drop(lab, 0.3)  # everything leaving the probe: the LAN itself is bad
    rig.probe(net=hub_line(rig, **FAST))
    result = real_monitor(rig)
    gw = result["metrics"]["targets"]["gateway"]
    assert 10 <= gw["loss_pct"] <= 55, gw
    assert result["verdict"]["actor"] == "room-lan"
    assert result["verdict"]["reason"] == "net.lan_fault"


def test_loss_beyond_a_clean_gateway_is_the_isps(line50):
    lab, rig = line50
    drop(lab, 0.3, "-p", "udp", "--dport", str(rig.udp_port))  # only the way to the hub
    rig.probe(net=hub_line(rig, **FAST))
    result = real_monitor(rig)
    targets = result["metrics"]["targets"]
    assert targets["gateway"]["loss_pct"] == 0.0
    assert 10 <= targets["hub"]["loss_pct"] <= 55, targets["hub"]
    assert result["verdict"]["actor"] == "isp"
    assert result["verdict"]["reason"] == "net.loss_high"


@pytest.mark.parametrize("sigma_ms", [10.0])
def test_jitter_and_delay_from_a_user_space_impairer_are_measured(line50, sigma_ms):
    _, rig = line50
    relay = UdpImpairer((rig.host, 0), (rig.host, rig.udp_port), delay_ms=40,
                        sigma_ms=sigma_ms, loss=0.05).start()  # fmt: skip
    try:
        rig.probe(net=hub_line(rig, hub_echo_port=relay.port, monitor_interval_s=15,
                               probe_interval_s=0.1, daily_budget_mb=0))  # fmt: skip
        hub = real_monitor(rig)["metrics"]["targets"]["hub"]
    finally:
        relay.stop()
    expected = expected_jitter_ms(sigma_ms)
    assert abs(hub["jitter_ms"] - expected) / expected < 0.4, (hub["jitter_ms"], expected)
    assert 30 <= hub["rtt_ms"]["median"] <= 55, hub["rtt_ms"]
    assert 1 <= hub["loss_pct"] <= 12, hub["loss_pct"]


def test_light_probes_pause_while_the_probe_runs_its_own_heavy_test(line50):
    _, rig = line50
    rig.probe(net=hub_line(rig, monitor_interval_s=4, probe_interval_s=0.2,
                           speedtest_cli="off"))  # fmt: skip
    wait_for(lambda: rig.hub_query(
        "SELECT 1 FROM messages WHERE schema = 'roomprobe.result.net'"), timeout=90,
        what="the heavy test")  # fmt: skip
    windows = monitor_results(rig)
    # The heavy test ran for seconds at full line rate; no window may show its queueing.
    for w in windows[1:]:
        hub = w["metrics"]["targets"]["hub"]
        if hub["rtt_ms"] is not None:
            assert hub["rtt_ms"]["p95"] < 20, hub


def test_net_watch_shows_each_target_live_and_stops_on_ctrl_c(line50):
    import signal
    import sys
    import time

    lab, rig = line50
    conf = rig.tmp / "watch.toml"
    conf.write_text(
        'site = "dak-ang"\n[net]\n'
        f'server_url = "{rig.web}/mini/"\nhub_echo_port = {rig.udp_port}\n'
        'resolver = ""\ndns_name = ""\nprobe_interval_s = 0.2\n'
    )
    watch = lab.popen(lab.probe_ns, [sys.executable, "-m", "roomprobe.cli", "net", "watch",
                                     "--config", str(conf), "--every", "1"],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert watch.stdout is not None
    lines = [watch.stdout.readline() for _ in range(5)]  # the header, then the first rounds
    time.sleep(1.2)
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=20)
    out = "".join(lines) + out
    assert watch.returncode == 0, err
    assert "gateway" in out and "hub" in out
    assert out.count("loss") >= 4  # a line per target per second
    assert "Traceback" not in err
