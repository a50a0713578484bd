"""Memory, CPU and disk writes of the real probe daemon talking to a real broker.

Why it matters: DESIGN.md rule 5 says the probe must be gentle with the Pi: little CPU,
little memory, few writes to the SD card. A Pi Zero 2 W has 512 MB of RAM and four slow
cores, and the probe runs all day, every day, mostly idle between tests, so its idle
CPU, its resident memory (and whether it grows) and the bytes it writes per hour decide
whether it is a good guest. This script runs the daemon exactly as systemd would
(``python -m roomprobe.cli run --config FILE``) against mosquitto started with the
project's own configuration (roomhub.broker.Broker), with a paho-mqtt MQTT 5 subscriber
standing in for the hub so results are delivered, acknowledged and removed from the
outbox as in the field. Two runs: the default schedule (heartbeat 60 s, line test every
900 s, monitor summary every 60 s, audio test every 1800 s) and a "busy" one (line 0.2 s,
monitor 0.5 s, audio 0.3 s) that shows the cost per message.

Figures come from /proc/<pid>/status (VmRSS, VmHWM), /proc/<pid>/stat (utime+stime) and
/proc/<pid>/io (write_bytes: bytes the daemon dirtied in the page cache, i.e. sent
towards the disk). The daemon's log goes to a pipe read by this script (under systemd it
goes to journald), so log lines are not counted in write_bytes.

Run: /work/main/.venv/bin/python bench/probe_footprint.py [--seconds 30] [--runs realistic,busy]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from roomhub.broker import Broker
from roomprobe import tomlconfig

HUB_FILTERS = ("roomprobe/v1/+/result/+", "roomprobe/v1/+/event")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
READY_MARK = " for site "  # ProbeService.run() logs "roomprobe X for site S, ..." once started
SETTLE_S = 5.0  # the first line and audio tests run 2 s and 3 s after start-up
# A normal day (config defaults): monitor every 60 s, line every 900 s, audio every 1800 s.
MESSAGES_PER_DAY = 86400 / 60 + 86400 / 900 + 86400 / 1800
SYSTEMD_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "INVOCATION_ID")

RUNS: dict[str, dict[str, dict[str, Any]]] = {
    "realistic": {
        "daemon": {"heartbeat_s": 60},
        "net": {"interval_s": 900, "monitor_interval_s": 60},
        "audio": {"interval_s": 1800},
    },
    "busy": {
        "daemon": {"heartbeat_s": 60},
        "net": {"interval_s": 0.2, "monitor_interval_s": 0.5},
        "audio": {"interval_s": 0.3},
    },
}


# -- the probe's config ------------------------------------------------------------------------


def probe_toml(site: str, port: int, state_dir: Path, **sections: dict[str, Any]) -> str:
    doc: dict[str, Any] = {
        "site": site,
        "mqtt": {"host": "127.0.0.1", "port": port},
        "paths": {"state_dir": state_dir},
        "simulation": {"profile": "good"},
    }
    for name, values in sections.items():
        doc.setdefault(name, {}).update(values)
    return tomlconfig.dumps(doc)


# -- reading /proc ----------------------------------------------------------------------------


@dataclass
class Sample:
    t: float  # seconds since the daemon was started
    rss_kb: int
    hwm_kb: int
    cpu_s: float
    write_bytes: int | None
    threads: int
    wakeups: int  # voluntary context switches: how often the daemon slept and woke


def sample(pid: int, started: float) -> Sample | None:
    """One reading of the process's memory, CPU and I/O; None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        io_text = Path(f"/proc/{pid}/io").read_text(encoding="ascii")
        io = dict(line.split(": ") for line in io_text.splitlines())
        write_bytes: int | None = int(io["write_bytes"])
    except (OSError, KeyError):
        write_bytes = None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    after_comm = stat.rsplit(")", 1)[1].split()  # fields 3.. of proc(5); comm may hold spaces
    return Sample(
        t=time.monotonic() - started,
        rss_kb=int(fields["VmRSS"].split()[0]),
        hwm_kb=int(fields["VmHWM"].split()[0]),
        cpu_s=(int(after_comm[11]) + int(after_comm[12])) / CLK_TCK,  # utime + stime
        write_bytes=write_bytes,
        threads=int(fields["Threads"]),
        wakeups=int(fields["voluntary_ctxt_switches"]),
    )


def import_footprint() -> list[tuple[str, int]]:
    """RSS (kB) of a fresh interpreter after each group of the daemon's imports."""
    steps = [
        ("python alone", "pass"),
        ("+ jsonschema, referencing", "import jsonschema, referencing"),
        ("+ pydantic, the config models", "import roomprobe.config"),
        ("+ paho-mqtt", "import paho.mqtt.client"),
        ("+ sqlite3", "import sqlite3"),
        ("+ ctypes, systemd-python", "import ctypes.util, systemd.daemon, systemd.journal"),
        ("+ roomprobe.service and the rest", "import roomprobe.service"),
        (
            "+ schemas loaded, one event validated",
            "from roomprobe.contract import Stamp, validate\n"
            "from roomprobe.texts import text\n"
            "import uuid\n"
            "stamp = Stamp('dak-ang', str(uuid.uuid4()), lambda: True)\n"
            "validate(stamp.envelope('roomprobe.event', 1, event='started', "
            "message=text('event.started'), details={}))",
        ),
    ]
    code = ["import re", "def rss():"]
    code += [
        "    t = open('/proc/self/status').read()",
        "    return int(re.search(r'VmRSS:\\s+(\\d+)', t).group(1))",
    ]
    for _, stmt in steps:
        code += [stmt, "print(rss(), flush=True)"]
    out = subprocess.run(
        [sys.executable, "-c", "\n".join(code)], capture_output=True, text=True, check=True
    ).stdout.split()
    return [(label, int(kb)) for (label, _), kb in zip(steps, out, strict=True)]


# -- the stand-in hub ----------------------------------------------------------------------


class Hub:
    """A paho MQTT 5 subscriber on the results and events, counting what arrives per site."""

    def __init__(self, port: int):
        self.port = port
        self.counts: dict[str, int] = {}
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="bench-hub",
            protocol=mqtt.MQTTv5,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._started = False

    def start(self, timeout: float = 10.0) -> Hub:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        self._started = True
        if not self.subscribed.wait(timeout):
            raise RuntimeError("the stand-in hub got no SUBACK from the broker")
        return self

    def stop(self) -> None:
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
            self._started = False

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any):
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in HUB_FILTERS])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any):
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        site = message.topic.split("/")[2]
        self.counts[site] = self.counts.get(site, 0) + 1


# -- one daemon run ------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    ready: Sample
    settled: Sample  # the first sample SETTLE_S after start-up
    final: Sample
    samples: list[Sample]
    put: int  # last sequence number this boot: messages committed to the outbox
    left: int  # rows still in the outbox when sampling ended
    delivered: int
    log_lines: int
    exit_code: int | None
    growth_kb_min: float = 0.0
    notes: list[str] = field(default_factory=list)


class Daemon:
    """``python -m roomprobe.cli run`` in its own session, its stderr read by a thread."""

    def __init__(self, conf: Path, cwd: Path):
        env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ENV}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "roomprobe.cli", "run", "--config", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,  # a Ctrl-C reaches this script only; it stops the daemon
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(READY_MARK in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError("the daemon did not start:\n" + "\n".join(self.lines[-20:]))

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return self.proc.returncode


def outbox_state(db: Path) -> tuple[int, int]:
    """(last sequence number, rows waiting), read without writing."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        last = con.execute("SELECT coalesce(max(last), 0) FROM sequence").fetchone()[0]
        left = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        con.close()
    return last, left


def run_daemon(
    name: str, port: int, folder: Path, seconds: float, every: float, hub: Hub, live: list[Daemon]
) -> Run:
    site = f"bench-{name}"
    work = folder / name
    work.mkdir()
    conf = work / "probe.toml"
    conf.write_text(probe_toml(site, port, work / "state", **RUNS[name]), encoding="utf-8")
    daemon = Daemon(conf, work)
    live.append(daemon)
    pid = daemon.proc.pid
    daemon.wait_ready()
    ready = sample(pid, daemon.started)
    if ready is None:
        raise RuntimeError("the daemon exited right after starting")
    samples = [ready]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(every, max(0.0, end - time.monotonic())))
        s = sample(pid, daemon.started)
        if s is None:
            raise RuntimeError("the daemon died:\n" + "\n".join(daemon.lines[-20:]))
        samples.append(s)
    put, left = outbox_state(work / "state" / "outbox.sqlite")
    code = daemon.stop()
    live.remove(daemon)
    time.sleep(0.2)  # the last deliveries reach the hub's thread
    run = Run(
        name=name,
        ready=ready,
        settled=next((s for s in samples if s.t >= ready.t + SETTLE_S), samples[-1]),
        final=samples[-1],
        samples=samples,
        put=put,
        left=left,
        delivered=hub.counts.get(site, 0),
        log_lines=len(daemon.lines),
        exit_code=code,
    )
    steady = [s for s in samples if s.t >= ready.t + SETTLE_S]
    if len(steady) >= 3:
        slope = statistics.linear_regression([s.t for s in steady], [s.rss_kb for s in steady])
        run.growth_kb_min = slope.slope * 60
    warnings = [line for line in daemon.lines if " WARNING " in line or " ERROR " in line]
    run.notes += warnings[:3]
    return run


# -- report ----------------------------------------------------------------------------------


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def report(runs: list[Run], imports: list[tuple[str, int]], seconds: float) -> None:
    print(f"\nRSS of a fresh interpreter per import step ({PAGE_KB} kB pages):")
    previous = 0
    for label, kb in imports:
        print(f"  {label:36s} {mb(kb):>9}  (+{(kb - previous) / 1024:.1f})")
        previous = kb

    rows: list[tuple[str, list[str]]] = []

    def add(label: str, fmt: Any) -> None:
        rows.append((label, [fmt(r) for r in runs]))

    def span(a: Sample, b: Sample) -> float:
        return max(1e-9, b.t - a.t)

    def cpu_pct(r: Run, a: Sample) -> float:
        return (r.final.cpu_s - a.cpu_s) / span(a, r.final) * 100

    def wb(s: Sample) -> int:
        return s.write_bytes or 0

    add("start-up time to ready", lambda r: f"{r.ready.t:.2f} s")
    add("start-up CPU", lambda r: f"{r.ready.cpu_s:.2f} s")
    add("RSS after start-up", lambda r: mb(r.ready.rss_kb))
    add("RSS final", lambda r: mb(r.final.rss_kb))
    add("RSS peak (VmHWM)", lambda r: mb(r.final.hwm_kb))
    add(f"RSS trend from {SETTLE_S:.0f} s on", lambda r: f"{r.growth_kb_min:+.0f} kB/min")
    add("threads", lambda r: str(r.final.threads))
    add("sampled after start-up", lambda r: f"{span(r.ready, r.final):.1f} s")
    add("CPU after start-up, % of 1 core", lambda r: f"{cpu_pct(r, r.ready):.2f} %")
    add(f"CPU from {SETTLE_S:.0f} s on, % of 1 core", lambda r: f"{cpu_pct(r, r.settled):.2f} %")
    add(
        f"wakeups/s from {SETTLE_S:.0f} s on",
        lambda r: f"{(r.final.wakeups - r.settled.wakeups) / span(r.settled, r.final):.1f}",
    )
    add("messages put / delivered / left", lambda r: f"{r.put} / {r.delivered} / {r.left}")
    add("write_bytes during start-up", lambda r: f"{wb(r.ready):,}")
    add("write_bytes after start-up", lambda r: f"{wb(r.final) - wb(r.ready):,}")
    add("write_bytes per message", lambda r: f"{(wb(r.final) - wb(r.ready)) / max(1, r.put):,.0f}")
    add(
        f"write_bytes/hour from {SETTLE_S:.0f} s on",
        lambda r: f"{(wb(r.final) - wb(r.settled)) / span(r.settled, r.final) * 3.6e-3:.2f} MB",
    )
    add("log lines (journald on the Pi)", lambda r: str(r.log_lines))
    add("exit code after SIGTERM", lambda r: str(r.exit_code))

    width = max(len(label) for label, _ in rows)
    print(f"\nthe daemon, {seconds:.0f} s per run after start-up, {os.cpu_count()} CPUs:")
    print(f"  {'':{width}s}" + "".join(f"{r.name:>18s}" for r in runs))
    for label, values in rows:
        print(f"  {label:{width}s}" + "".join(f"{v:>18s}" for v in values))
    for r in runs:
        for note in r.notes:
            print(f"  [{r.name}] log: {note}")

    by_name = {r.name: r for r in runs}
    idle, busy = by_name.get("realistic"), by_name.get("busy")
    if idle is not None and busy is not None and idle.put and busy.put:
        ci, cb = cpu_pct(idle, idle.settled), cpu_pct(busy, busy.settled)
        rate_i = 0.0  # no test is due in the realistic run from 5 s to 60 s
        rate_b = busy.put / span(busy.ready, busy.final)
        per_msg_cpu = (cb - ci) / 100 / (rate_b - rate_i) * 1e3
        per_msg_wb = (wb(busy.final) - wb(busy.ready)) / busy.put
        idle_wb_day = (wb(idle.final) - wb(idle.settled)) / span(idle.settled, idle.final) * 86400
        day_wb = MESSAGES_PER_DAY * per_msg_wb + idle_wb_day
        day_cpu = ci / 100 * 86400 + MESSAGES_PER_DAY * per_msg_cpu / 1e3
        print(f"\nratios busy/realistic: CPU from {SETTLE_S:.0f} s on {cb / max(ci, 1e-9):.1f}x, "
              f"peak RSS {busy.final.hwm_kb / idle.final.hwm_kb:.2f}x")  # fmt: skip
        print(f"idle floor {ci:.2f} % of a core; each message adds ≈ {per_msg_cpu:.2f} ms CPU "
              f"and {per_msg_wb:,.0f} B written")  # fmt: skip
        print(
            f"a normal day ({MESSAGES_PER_DAY:.0f} messages): ≈ {day_cpu / 60:.1f} min CPU, "
            f"≈ {day_wb / 1e6:.0f} MB written (x365 ≈ {day_wb * 365 / 1e9:.0f} GB a year)"
        )


# -- main ---------------------------------------------------------------------------------------


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="sampling time per run")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("--runs", default="realistic,busy", help="comma list of: " + ",".join(RUNS))
    args = parser.parse_args()
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}; known: {', '.join(RUNS)}")
    signal.signal(signal.SIGTERM, _raise_interrupt)

    print(f"roomprobe daemon footprint: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    imports = import_footprint()
    runs: list[Run] = []
    live: list[Daemon] = []
    hub: Hub | None = None
    broker: Broker | None = None
    with tempfile.TemporaryDirectory(prefix="roomprobe-footprint-") as tmp:
        folder = Path(tmp)
        try:
            broker = Broker(folder / "broker").start()
            print(f"mosquitto on port {broker.port}, stand-in hub subscribed to "
                  f"{', '.join(HUB_FILTERS)}")  # fmt: skip
            hub = Hub(broker.port).start()
            for name in names:
                print(f"run {name!r}: {args.seconds:.0f} s ...", flush=True)
                runs.append(run_daemon(name, broker.port, folder, args.seconds, args.every, hub,
                                       live))  # fmt: skip
        except KeyboardInterrupt:
            print("interrupted; stopping everything", file=sys.stderr)
            return 130
        finally:
            for daemon in live:
                daemon.stop()
            if hub is not None:
                hub.stop()
            if broker is not None:
                broker.stop()
    report(runs, imports, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
