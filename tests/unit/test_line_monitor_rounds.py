"""The light probes keep each round whole: a window never holds half a round.

Found by tests/line/test_line_flap.py: while a flapping line kept pausing the
probes, a window closed between a round's gateway probe and its hub probe. It
held one gateway sample and no hub sample, and a hub target with nothing sent
reads as 100 % loss: "Packet loss 100.0% is above 1.0%. Call the ISP" for a
window in which no packet to the hub was lost, nor sent.
"""

from __future__ import annotations

import threading

from roomprobe import verdicts
from roomprobe.config import Thresholds
from roomprobe.line.monitor import LightMonitor, Target


def test_a_summary_taken_mid_round_sees_none_of_that_round() -> None:
    at_hub, hub_may_answer = threading.Event(), threading.Event()

    def gateway() -> float:
        return 0.1

    def hub() -> float:
        # The gateway's answer is in by now (the round's probes run in order), so a monitor
        # that added samples one by one would already show it.
        at_hub.set()
        hub_may_answer.wait(5)  # in flight: a reply on its way, or a timeout running
        return 0.2

    mon = LightMonitor(hub=None, gateway=None, resolver=None, dns_name=None, interval_s=60)
    mon.targets = [Target("gateway", gateway), Target("hub", hub)]
    mon.start()
    try:
        assert at_hub.wait(5)
        assert not mon.has_samples()  # the gateway has answered, but the round is not over
        hub_may_answer.set()
        for _ in range(100):
            if mon.has_samples():
                break
            threading.Event().wait(0.02)
        window = mon.summary(1.0)
    finally:
        mon.stop()
    assert window["targets"]["gateway"]["sent"] == window["targets"]["hub"]["sent"] == 1
    assert window["loss_pct"] == 0.0
    assert verdicts.monitor(window, Thresholds()).status == "ok"
