"""Soak: the demo fleet on an accelerated schedule, watched for memory, fd and thread growth.

Why: the probe runs for months on a Pi with 512 MB (its unit caps it at 384 MB) and the
hub runs for years; a leak of a kilobyte per message, one file descriptor per meeting or
one thread per reconnect is invisible in any short test and fatal in the field. This
script runs the demo's fleet (roomhub.demo: the TLS broker with the district's accounts
and ACL, ``roomhub run`` and five ``roomprobe run`` simulating the demo's rooms, the audio
analysis running on the room model) built by the same functions as ``roomhub demo``, only
the timings in the configs shortened (``ACCELERATED``), so days of a probe's messages
pass in minutes. Meetings are added through the hub's API on a rolling basis, so the
readiness runs, the retained schedule, the quiet windows and the meeting summaries turn
over too, and the dashboard's board, readiness page and a room's JSON are read at every
sample, as district staff would.

Every ``--every`` seconds it reads each process's VmRSS, VmHWM and Threads from
/proc/<pid>/status and counts /proc/<pid>/fd, and the hub's stored-message counter from
its /metrics. After a warm-up it compares the end of the run with its start (``Bound``)
and exits 1 when a process grew past the bound or the fleet stalled, 2 when a process
died or the fleet did not come up.

Two costs grow with the acceleration, not with time, and are kept out of the verdict:
- a room's HTML page charts its last day, which here holds hundreds of field days of
  points: it is not read (its JSON is);
- a meeting's summary reads every message from 15 minutes before the meeting to 15 after
  (meeting_summary.records.MARGIN), ~17,000 per room here against ~300 in the field, and
  is recomputed every minute while messages keep arriving in that window. The hub's RSS
  climbs with it to a plateau (measured in-process: compute() over the same store 30
  times, live Python memory back to 0.03 MB after each, RSS +35 MB by the 15th round and
  flat after), so the warm-up (15 minutes) covers the first summaries and the hub's bound
  is wider than the probes'.

Run: .venv/bin/python bench/soak.py [--minutes 30] [--warmup 900] [--every 5]
     .venv/bin/python bench/soak.py --judge samples.json   # judge a --save'd run again
Everything it starts is stopped in a ``finally`` (Ctrl-C and SIGTERM included, exit
130), and the hub and probes are also asked by the kernel to stop should this script
be killed outright (mosquitto is roomhub.broker's and is not).
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from roomhub import config as hub_config_mod
from roomhub import demo
from roomhub.broker import Broker, free_port, wait_for_port
from roomprobe import tomlconfig

ROOT = Path(__file__).resolve().parents[1]
PROBE_UNIT = ROOT / "firmware" / "roomprobe.service"
# Variables systemd sets for the unit that must not leak into the children from a shell
# that runs under systemd itself (the probe would notify someone else's socket).
SYSTEMD_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "INVOCATION_ID")
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Schedule:
    """The fleet's timings. The defaults are the field's; ``ACCELERATED`` is the soak's."""

    heartbeat_s: float = 60.0
    net_interval_s: float = 3600.0
    monitor_interval_s: float = 60.0
    audio_interval_s: float = 1800.0
    alerts_interval_s: float = 30.0
    meeting_every_s: float = 0.0  # 0: no meetings added
    meeting_lasts_s: float = 3600.0
    readiness_lead_s: tuple[float, ...] = (3600.0, 1200.0)
    meeting_guard_s: float = 600.0
    readiness_max_s: float = 900.0

    def messages_per_probe_s(self) -> float:
        """Results per second one probe publishes (events and readiness runs not counted)."""
        return 1 / self.net_interval_s + 1 / self.monitor_interval_s + 1 / self.audio_interval_s


FIELD = Schedule()
#: Every timer at least 30x the field's pace; results asked ~600x (11 a second per probe
#: against 1,584 a day; a probe's loop gives about 9), so 30 minutes carry about 10 field
#: days of one probe's messages. The audio test stays at one per 10 s (180x): it is the
#: room model's real analysis (~0.5 s of CPU and ~100 MB of arrays each, in the probe's
#: main loop), and five probes share two cores with the hub here. A meeting every 5
#: minutes, for every room, with the readiness leads and quiet window shortened to fit.
ACCELERATED = Schedule(
    heartbeat_s=2.0,
    net_interval_s=1.0,
    monitor_interval_s=0.1,
    audio_interval_s=10.0,
    alerts_interval_s=2.0,
    meeting_every_s=300.0,
    meeting_lasts_s=60.0,
    readiness_lead_s=(90.0, 45.0),
    meeting_guard_s=20.0,
    readiness_max_s=30.0,
)


@dataclass(frozen=True)
class Bound:
    """What counts as growth, per process, measured after the warm-up.

    Memory: the resting RSS (the least in a window: an audio analysis, ~100 MB for a
    second, or a meeting summary only ever adds to it, while a leak raises the floor)
    of the run's last ``edge_s`` against its first ``edge_s`` after the warm-up may grow
    at most ``probe_mb`` for a probe, ``hub_mb`` for the hub and ``broker_mb`` for
    mosquitto. Measured (30-minute runs, 15 of warm-up): a probe's floor moves in 4 MB
    steps, fewer and fewer (glibc and pymalloc arenas after the audio analyses: the room
    model's test run 200 times in one process keeps 0.07 MB of live Python memory and its
    RSS goes 162, 166, 170 MB, then flat), 0-4 MB in the measured 15 minutes; the
    dead-microphone probe, whose analysis allocates least, not at all over ~7,000
    messages. The hub's floor climbs with the meeting summaries (172 MB at the first,
    ~210 MB 20 minutes later: the +35 MB of the in-process plateau), +11 MB in the
    measured part with a step to +31 MB in its last minute; mosquitto does not move. So a
    probe may grow just under two of its 4 MB steps (one was seen), the hub 1.5 times the
    summaries' plateau, mosquitto 4 MB. A probe made to keep
    every payload it puts in its outbox (~2 kB each there) raised its floor ~1 MB a
    minute: ~13 MB in the 13 minutes between the windows of a 30-minute run. The table
    prints the smallest leak per message each bound catches (bound / messages handled
    between the two windows): in 30 minutes ~1.5 kB at the hub and ~1.3 kB at a probe.
    The trend (least squares over the per-minute floors, MB/h) is printed; it is checked
    only when ``pct_per_h`` is set: a 4 MB step in a 15-minute window already reads as
    16 MB/h, so an hourly extrapolation is noisier than the growth it is made from.
    File descriptors and threads: the end's median back within the range the warm-up saw,
    give or take ``fds``/``threads``; a leak of one per meeting, request or reconnect grows
    past it, and fewer threads means one died.
    """

    hub_mb: float = 48.0
    probe_mb: float = 8.0
    broker_mb: float = 4.0
    pct_per_h: float | None = None
    fds: int = 2
    threads: int = 1
    edge_s: float = 120.0

    def rss_mb(self, name: str) -> float:
        if name.startswith("probe"):
            return self.probe_mb
        return self.hub_mb if name == "hub" else self.broker_mb


BOUND = Bound()


# -- reading /proc ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    rss_kb: int
    hwm_kb: int
    fds: int
    threads: int


def read_proc(pid: int) -> Reading | None:
    """One process's memory, fds and threads; None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if "VmRSS" not in fields:  # a zombie: exited, not yet reaped
        return None
    return Reading(
        rss_kb=int(fields["VmRSS"].split()[0]),
        hwm_kb=int(fields["VmHWM"].split()[0]),
        fds=fds,
        threads=int(fields["Threads"]),
    )


# -- the fleet --------------------------------------------------------------------------------


def unit_environment(unit: Path = PROBE_UNIT) -> dict[str, str]:
    """The probe unit's Environment= settings: the soak runs the probe as the field does.

    They matter here: MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ decide whether each
    audio analysis's ~60 MB goes back to the system; without them RSS creeps for reasons
    that are glibc's, not a leak of ours (the unit's comment and bench/README.md).
    """
    env: dict[str, str] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        if line.startswith("Environment="):
            for item in line.removeprefix("Environment=").split():
                key, _, value = item.partition("=")
                env[key] = value
    return env


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the soak dies, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Fleet:
    """The demo's broker, hub and probes, configured by ``roomhub.demo`` with ``schedule``."""

    def __init__(self, workdir: Path, schedule: Schedule = ACCELERATED,
                 probes: dict[str, str] | None = None):  # fmt: skip
        self.workdir = workdir.resolve()
        self.schedule = schedule
        self.probes = dict(probes if probes is not None else demo.PROBES)
        self.web_port = free_port()
        self.broker: Broker | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    # configs: the demo's own, with the schedule's timings put in

    def _hub_toml(self, broker_port: int) -> str:
        s = self.schedule
        doc = tomllib.loads(demo.hub_config(broker_port, self.web_port, self.workdir))
        doc["meetings"] = {"readiness_lead_s": list(s.readiness_lead_s),
                           "meeting_guard_s": s.meeting_guard_s,
                           "readiness_max_s": s.readiness_max_s}  # fmt: skip
        doc.setdefault("alerts", {})["interval_s"] = s.alerts_interval_s
        return tomlconfig.dumps(doc)

    def _probe_toml(self, site: str, profile: str, broker_port: int) -> str:
        s = self.schedule
        doc = tomllib.loads(demo.probe_config(site, profile, broker_port, self.workdir))
        doc["daemon"]["heartbeat_s"] = s.heartbeat_s
        doc["net"] |= {"interval_s": s.net_interval_s, "monitor_interval_s": s.monitor_interval_s}
        doc["audio"]["interval_s"] = s.audio_interval_s
        return tomlconfig.dumps(doc)

    def start(self, timeout: float = 90.0) -> Fleet:
        """Provision, start everything, and wait until the hub shows every probe online."""
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        broker_port = free_port()
        hub_conf = self.workdir / "hub.toml"
        hub_conf.write_text(self._hub_toml(broker_port), encoding="utf-8")
        lay = demo.provision_fleet(hub_config_mod.load(hub_conf))
        self.broker = Broker(self.workdir / "broker", port=broker_port, security=lay.security())
        self.broker.start()
        self._spawn("hub", "roomhub.cli", hub_conf, {})
        probe_env = unit_environment()
        for site, profile in self.probes.items():
            conf = self.workdir / f"probe-{site}.toml"
            conf.write_text(self._probe_toml(site, profile, broker_port), encoding="utf-8")
            self._spawn(f"probe-{site}", "roomprobe.cli", conf, probe_env)
        if not wait_for_port(self.web_port, timeout=timeout):
            raise FleetError(f"the hub did not listen; see {self.workdir / 'logs' / 'hub.log'}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            online = {s["site"] for s in self.get_json("/api/sites") if s.get("online")}
            if online >= set(self.probes):
                return self
            time.sleep(1.0)
        raise FleetError(f"not every probe came online in {timeout:g} s: {sorted(online)}")

    def _spawn(self, name: str, module: str, conf: Path, extra_env: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ENV} | extra_env
        with open(self.workdir / "logs" / f"{name}.log", "ab") as log:
            self.children[name] = subprocess.Popen(
                [sys.executable, "-m", module, "run", "--config", str(conf)],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                preexec_fn=_die_with_parent,  # the soak is single-threaded when it spawns
            )  # fmt: skip

    def pids(self) -> dict[str, int]:
        found = {"broker": self.broker.proc.pid} if self.broker and self.broker.proc else {}
        return found | {name: proc.pid for name, proc in self.children.items()}

    def check_alive(self) -> None:
        for name, proc in self.children.items():
            if proc.poll() is not None:
                raise FleetError(f"{name} exited with {proc.returncode}; see its log in "
                                 f"{self.workdir / 'logs'}")  # fmt: skip
        if self.broker is None or not self.broker.running:
            raise FleetError("mosquitto exited; see " + str(self.workdir / "broker"))

    def get(self, path: str, timeout: float = 15.0) -> bytes:
        url = f"http://127.0.0.1:{self.web_port}{path}"
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()

    def get_json(self, path: str) -> Any:
        try:
            return json.loads(self.get(path))
        except OSError:
            return []

    def stored(self) -> int | None:
        """The hub's count of messages stored (each once), from its /metrics."""
        try:
            text = self.get("/metrics").decode()
        except OSError:
            return None
        found = re.search(r"^roomhub_messages_stored_total ([0-9.e+]+)$", text, re.M)
        return int(float(found.group(1))) if found else None

    def add_meeting(self, start: datetime) -> None:
        """A meeting for every room, through the hub's API as district staff add one."""
        end = start + timedelta(seconds=self.schedule.meeting_lasts_s)
        body = json.dumps({"title": "Soak meeting", "start": start.isoformat(),
                           "end": end.isoformat(), "sites": []}).encode()  # fmt: skip
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}/api/meetings",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=15) as resp:
            resp.read()

    def browse(self, turn: int) -> dict[str, float | None]:
        """What a person at the dashboard reads: the board, readiness, one room in turn.

        Not the room's HTML page: it charts the room's last day, which at this pace holds
        hundreds of field days' points, so its (freed) working set grows with the run and
        the hub's RSS with it; that is the price of acceleration, not a leak. The room's
        JSON (its latest results, gaps and commands) is read instead.

        Returns each page's seconds to answer (None: no answer in time). A slow or failed
        page is reported, not fatal: on a shared machine a page can miss 15 s.
        """
        sites = sorted(self.probes)
        took: dict[str, float | None] = {}
        for path in ("/", "/api/sites", "/readiness", f"/api/sites/{sites[turn % len(sites)]}"):
            began = time.monotonic()
            try:
                self.get(path)
            except OSError:
                took[path] = None
            else:
                took[path] = time.monotonic() - began
        return took

    def stop(self) -> None:
        """Probes first (they say goodbye through the broker), then the hub, then the broker."""
        for proc in reversed(list(self.children.values())):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.children.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.broker is not None:
            self.broker.stop()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FleetError(RuntimeError):
    """A process of the fleet died, or the fleet did not come up."""


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float  # seconds since the fleet was up (every probe online)
    procs: dict[str, Reading]
    stored: int | None


@dataclass
class Soak:
    schedule: Schedule
    warmup_s: float
    samples: list[Sample] = field(default_factory=list)
    meetings: int = 0
    meeting_failures: int = 0
    pages: dict[str, list[float]] = field(default_factory=dict)  # path -> seconds, each answer
    page_failures: int = 0
    wall_s: float = 0.0

    def measured(self) -> list[Sample]:
        return [s for s in self.samples if s.t >= self.warmup_s]


def save(soak: Soak, path: Path) -> None:
    """Every sample as JSON: a run can be judged again (``--judge``) without running it."""
    doc = dataclasses.asdict(soak)
    doc["schedule"]["readiness_lead_s"] = list(soak.schedule.readiness_lead_s)
    path.write_text(json.dumps(doc), encoding="utf-8")


def load(path: Path) -> Soak:
    doc = json.loads(path.read_text(encoding="utf-8"))
    sched = doc.pop("schedule")
    sched["readiness_lead_s"] = tuple(sched["readiness_lead_s"])
    samples = [Sample(s["t"], {n: Reading(**r) for n, r in s["procs"].items()}, s["stored"])
               for s in doc.pop("samples")]  # fmt: skip
    return Soak(Schedule(**sched), samples=samples, **doc)


def run(fleet: Fleet, seconds: float, warmup_s: float, every_s: float,
        report: Callable[[Sample], None] | None = None) -> Soak:  # fmt: skip
    """Sample the started fleet for ``seconds`` (warm-up included); meetings keep coming."""
    soak = Soak(fleet.schedule, warmup_s)
    s = fleet.schedule
    began = time.monotonic()
    next_meeting = began
    turn = 0
    while True:
        now = time.monotonic()
        fleet.check_alive()
        if s.meeting_every_s and now >= next_meeting:
            # Added a little before its first readiness lead, as staff add tomorrow's meeting.
            ahead = max(s.readiness_lead_s) + 30.0
            try:
                fleet.add_meeting(datetime.now(UTC).replace(microsecond=0)
                                  + timedelta(seconds=ahead))  # fmt: skip
                soak.meetings += 1
            except OSError:
                soak.meeting_failures += 1
            next_meeting = now + s.meeting_every_s
        for path, took in fleet.browse(turn).items():
            if took is None:
                soak.page_failures += 1
            else:
                key = "/api/sites/<site>" if path.startswith("/api/sites/") else path
                soak.pages.setdefault(key, []).append(took)
        turn += 1
        procs = {name: r for name, pid in fleet.pids().items() if (r := read_proc(pid))}
        sample = Sample(round(now - began, 1), procs, fleet.stored())
        soak.samples.append(sample)
        if report is not None:
            report(sample)
        if now - began >= seconds:
            break
        time.sleep(max(0.0, began + turn * every_s - time.monotonic()))
    soak.wall_s = time.monotonic() - began
    return soak


# -- the verdict ------------------------------------------------------------------------------


@dataclass
class Figures:
    """One process over the measured part of the run (after the warm-up)."""

    name: str
    rss_start_mb: float
    rss_end_mb: float
    rss_max_mb: float
    hwm_mb: float
    slope_mb_h: float | None
    fds: tuple[int, int, int, int]  # warm-up min, warm-up max, end (median), max after warm-up
    threads: tuple[int, int, int, int]
    problems: list[str]

    @property
    def growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_start_mb


def _edge(measured: list[Sample], bound: Bound) -> tuple[list[Sample], list[Sample]]:
    """The samples the start and the end are taken from (at least 3, at most a third each)."""
    span = measured[-1].t - measured[0].t
    edge = min(bound.edge_s, span / 3)
    head = [s for s in measured if s.t <= measured[0].t + edge]
    tail = [s for s in measured if s.t >= measured[-1].t - edge]
    if len(head) < 3 or len(tail) < 3:
        head, tail = measured[:3], measured[-3:]
    return head, tail


def _trend_mb_h(samples: list[Sample], name: str) -> float:
    """Least-squares slope of the resting RSS, one floor per minute, in MB per hour."""
    floors: dict[int, float] = {}
    for s in samples:
        minute = int((s.t - samples[0].t) // 60)
        floors[minute] = min(floors.get(minute, math.inf), s.procs[name].rss_kb / 1024)
    xs, ys = zip(*sorted(floors.items()), strict=True)
    return statistics.linear_regression(xs, ys).slope * 60


def judge(soak: Soak, bound: Bound = BOUND) -> list[Figures]:
    """Each process's figures and, in ``problems``, every way it broke the bound."""
    measured = soak.measured()
    if len(measured) < 6:
        raise ValueError("too few samples after the warm-up to judge growth (need 6)")
    warm = [s for s in soak.samples if s.t < soak.warmup_s] or measured[:1]
    head, tail = _edge(measured, bound)
    span = measured[-1].t - measured[0].t
    out = []
    for name in measured[0].procs:

        def values(samples: list[Sample], key: Callable[[Reading], int]) -> list[int]:
            return [key(s.procs[name]) for s in samples if name in s.procs]  # noqa: B023

        rss = lambda r: r.rss_kb  # noqa: E731
        # The resting level: the least RSS in a window. An audio analysis (~100 MB for a
        # second) or a meeting summary only ever adds to it; a leak raises the floor.
        start = min(values(head, rss)) / 1024
        end = min(values(tail, rss)) / 1024
        problems = []
        limit = bound.rss_mb(name)
        if end - start > limit:
            problems.append(f"resting RSS grew {end - start:.1f} MB (bound {limit:g} MB)")
        slope = None
        if span >= 600:
            slope = _trend_mb_h([s for s in measured if name in s.procs], name)
            pct = bound.pct_per_h
            if pct is not None and slope > start * pct / 100:
                problems.append(f"resting RSS trend {slope:+.1f} MB/h, over {pct:g} % of "
                                f"{start:.0f} MB per hour")  # fmt: skip
        counts = {}
        for what, key, slack in (("fds", lambda r: r.fds, bound.fds),
                                 ("threads", lambda r: r.threads, bound.threads)):  # fmt: skip
            w = values(warm, key)
            lo, hi = min(w), max(w)
            at_end = round(statistics.median(values(tail, key)))
            counts[what] = (lo, hi, at_end, max(values(measured, key)))
            if not lo - slack <= at_end <= hi + slack:
                problems.append(f"{what} at the end {at_end}, the warm-up saw {lo}-{hi} "
                                f"(bound ±{slack})")  # fmt: skip
        out.append(Figures(
            name=name, rss_start_mb=start, rss_end_mb=end,
            rss_max_mb=max(values(measured, rss)) / 1024,
            hwm_mb=max(values(measured, lambda r: r.hwm_kb)) / 1024,
            slope_mb_h=slope, fds=counts["fds"], threads=counts["threads"], problems=problems,
        ))  # fmt: skip
    return out


def stored_figures(soak: Soak) -> tuple[int | None, int | None, float | None]:
    """(stored in all, stored after the warm-up, per second after the warm-up)."""
    measured = [s for s in soak.measured() if s.stored is not None]
    total = soak.samples[-1].stored
    if len(measured) < 2:
        return total, None, None
    n = measured[-1].stored - measured[0].stored  # type: ignore[operator]
    return total, n, n / max(1e-9, measured[-1].t - measured[0].t)


def throughput_problems(soak: Soak, probes: int) -> list[str]:
    """The fleet must have worked: a stuck hub or silent probes would show no growth either.

    At least a quarter of the results the schedule asks for must be stored after the
    warm-up (meetings hold the line and audio tests, a probe's loop pauses for each audio
    analysis, and the machine is shared, so the full rate is never reached).
    """
    _, _, rate = stored_figures(soak)
    wanted = probes * soak.schedule.messages_per_probe_s() / 4
    if rate is None or rate < wanted:
        return [f"the hub stored {rate or 0:.1f} messages/s after the warm-up, under "
                f"{wanted:.1f}/s (a quarter of the schedule's results)"]  # fmt: skip
    return []


def table(soak: Soak, figures: list[Figures], bound: Bound = BOUND) -> str:
    """The figures as printed (and pasted into bench/README.md)."""
    measured = soak.measured()
    span = measured[-1].t - measured[0].t
    s = soak.schedule
    lines = [
        f"run {soak.wall_s / 60:.1f} min, warm-up {soak.warmup_s:g} s, measured "
        f"{span / 60:.1f} min, {len(soak.samples)} samples, {soak.meetings} meetings added",
        f"schedule: heartbeat {s.heartbeat_s:g} s, line test {s.net_interval_s:g} s, monitor "
        f"{s.monitor_interval_s:g} s, audio {s.audio_interval_s:g} s (field: 60/3600/60/1800 s), "
        + (f"a meeting every {s.meeting_every_s:g} s; " if s.meeting_every_s else "no meetings; ")
        + f"{s.messages_per_probe_s():.1f} results/s asked per probe "
        f"({s.messages_per_probe_s() / FIELD.messages_per_probe_s():.0f}x the field's)",
        "",
        f"{'process':<16}{'rest MB: start':>14}{'end':>7}{'growth':>8}{'max':>7}{'HWM':>7}"
        f"{'MB/h':>7} | {'fds: warm':>10}{'end':>5}{'max':>5} | {'threads: warm':>14}"
        f"{'end':>5}{'max':>5}  verdict",
    ]
    lines.append("-" * len(lines[-1]))
    for f in figures:
        slope = "-" if f.slope_mb_h is None else f"{f.slope_mb_h:+.1f}"
        lines.append(
            f"{f.name:<16}{f.rss_start_mb:>14.1f}{f.rss_end_mb:>7.1f}{f.growth_mb:>+8.1f}"
            f"{f.rss_max_mb:>7.1f}{f.hwm_mb:>7.1f}{slope:>7} | "
            f"{f'{f.fds[0]}-{f.fds[1]}':>10}{f.fds[2]:>5}{f.fds[3]:>5} | "
            f"{f'{f.threads[0]}-{f.threads[1]}':>14}{f.threads[2]:>5}{f.threads[3]:>5}  "
            + ("ok" if not f.problems else "; ".join(f.problems))
        )
    total, n, rate = stored_figures(soak)
    if n is not None and rate is not None:
        lines.append("")
        lines.append(f"messages stored by the hub: {total} in all, {n} after the warm-up "
                     f"({rate:.1f}/s)")  # fmt: skip
        # The floors are read from windows at both ends: the growth they see is that of
        # the span between the windows' starts.
        seen = n * (1 - min(bound.edge_s, span / 3) / span)
        per_probe = seen / max(1, len(figures) - 2)
        lines.append(
            f"smallest leak the RSS bound catches: {bound.hub_mb * 2**20 / seen:,.0f} B per "
            f"message at the hub, {bound.probe_mb * 2**20 / per_probe:,.0f} B per message at "
            "a probe"
        )
    if soak.pages:
        slowest = ", ".join(f"{p} {statistics.median(t):.2f}/{max(t):.2f}"
                            for p, t in soak.pages.items())  # fmt: skip
        lines.append(f"dashboard pages, median/slowest s: {slowest}; "
                     f"{soak.page_failures} not answered in 15 s")  # fmt: skip
    if soak.meeting_failures:
        lines.append(f"meetings the API did not take: {soak.meeting_failures}")
    lines.append(
        f"bound: resting RSS growth <= {bound.hub_mb:g} MB hub, {bound.probe_mb:g} MB probe, "
        f"{bound.broker_mb:g} MB broker"
        + (f", trend <= {bound.pct_per_h:g} %/h" if bound.pct_per_h is not None else "")
        + f"; fds within the warm-up's range ±{bound.fds}, threads ±{bound.threads}"
    )
    return "\n".join(lines)


# -- the command ------------------------------------------------------------------------------


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C, so the ``finally`` stops the fleet."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="run length, warm-up included")
    ap.add_argument("--warmup", type=float, help="seconds before the start figure (900; "
                    "with --judge: the saved run's)")  # fmt: skip
    ap.add_argument("--meetings-every", type=float, default=ACCELERATED.meeting_every_s,
                    metavar="S", help="add a meeting every S seconds (0: none, and no "
                    "summaries in the hub's RSS)")  # fmt: skip
    ap.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--workdir", type=Path, help="keep the fleet's files here (default: a "
                    "temporary folder, deleted)")  # fmt: skip
    ap.add_argument("--save", type=Path, metavar="JSON", help="write every sample to this file")
    ap.add_argument(
        "--judge",
        type=Path,
        metavar="JSON",
        help="run nothing: judge the samples a --save wrote, with today's bound",
    )
    args = ap.parse_args(argv)
    if args.judge:
        saved = load(args.judge)
        if args.warmup is not None:
            saved.warmup_s = args.warmup  # the same samples, the start figure taken elsewhere
        return verdict(saved, len(demo.PROBES))
    if args.warmup is None:
        args.warmup = 900.0
    if args.warmup >= args.minutes * 60:
        ap.error("--warmup must be shorter than the run")
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="roomprobe-soak-")
        args.workdir = Path(tmp.name)

    def show(sample: Sample) -> None:
        mb = {name: f"{r.rss_kb / 1024:.0f}" for name, r in sample.procs.items()}
        print(
            f"{sample.t:7.0f} s  stored {sample.stored}  RSS MB {mb}", file=sys.stderr, flush=True
        )

    schedule = dataclasses.replace(ACCELERATED, meeting_every_s=args.meetings_every)
    fleet = Fleet(args.workdir, schedule)
    try:
        with terminate_as_interrupt(), fleet:
            fleet.start()
            print(f"soak: fleet up ({len(fleet.probes)} probes); files in {args.workdir}",
                  file=sys.stderr)  # fmt: skip
            soak = run(fleet, args.minutes * 60, args.warmup, args.every, show)
    except KeyboardInterrupt:
        print("soak: interrupted; the fleet is stopped", file=sys.stderr)
        return 130
    except FleetError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    finally:
        if tmp is not None:
            tmp.cleanup()
    if args.save:
        save(soak, args.save)
    return verdict(soak, len(fleet.probes))


def verdict(soak: Soak, probes: int) -> int:
    """Print the table; 1 if a process grew past the bound or the fleet stalled."""
    figures = judge(soak)
    print(table(soak, figures))
    failed = [f for f in figures if f.problems]
    stalled = throughput_problems(soak, probes)
    if failed or stalled:
        print("\n" + "\n".join([*stalled, *(f"GROWTH past the bound: {f.name}" for f in failed)]))
        return 1
    print("\nno growth past the bound")
    return 0


if __name__ == "__main__":
    sys.exit(main())
