"""The demo as a person runs it: everything comes up, Ctrl-C stops everything.

Runs `roomhub demo` (what scripts/demo runs after installing) in a folder of
its own, waits for the dashboard to show every simulated probe online, then
sends SIGINT like a terminal's Ctrl-C and checks that no process is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from rig import wait_for
from roomhub import demo
from roomhub.broker import free_port


def children_of(pid: int) -> set[int]:
    """Every process whose parent chain leads to ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_demo_runs_the_fleet_and_stops_cleanly_on_ctrl_c(tmp_path):
    port = free_port()
    log = open(tmp_path / "demo.out", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "roomhub.cli", "demo", "--workdir", str(tmp_path / "demo"),
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    spawned: set[int] = set()
    try:

        def fleet_online():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/sites", timeout=5) as r:
                    sites = {s["site"]: s for s in json.loads(r.read())}
            except OSError:
                return False
            spawned.update(children_of(proc.pid))
            return all(sites.get(site, {}).get("online") for site in demo.PROBES) and sites

        sites = wait_for(fleet_online, timeout=90, what="every simulated probe online")
        assert set(sites) == set(demo.SITES)  # known sites are listed even before they report
        assert sites["bo-y"]["verdicts"]["audio"]["actor"] in (None, "room-audio")
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        assert "Xã Sa Loong" in page

        def board_filled():
            """The demo's meeting workflow: every room answers with its own readiness run."""
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/readiness", timeout=5) as r:
                board = json.loads(r.read())
            rooms = {x["site"]: x for x in board["rooms"] if x["source"] == "readiness"}
            return board if set(rooms) >= set(demo.PROBES) else None

        board = wait_for(board_filled, timeout=120, what="the readiness board to fill in")
        states = {x["site"]: x["state"] for x in board["rooms"]}
        assert states["plei-kan"] == "ready"
        assert states["dak-ang"] == "not-ready" and states["dak-duc"] == "not-ready"
        assert states["dak-kan"] == "unknown"  # no probe in that room: nobody can say
        assert len(spawned) >= 1 + 1 + len(demo.PROBES)  # broker, hub, probes
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        out = (tmp_path / "demo.out").read_text()
        assert "dashboard  http://127.0.0.1:" in out and "stopping" in out
        wait_for(lambda: not [p for p in spawned if alive(p)], timeout=30,
                 what="every process the demo started to end")  # fmt: skip
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in spawned:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()
