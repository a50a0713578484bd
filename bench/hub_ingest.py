"""How fast the hub stores what a fleet of probes sends, and whether it loses any.

Issue 6, item 10. A simulated fleet of N probes (N distinct sites) publishes
contract-valid messages through a real mosquitto (roomhub.broker.Broker, the
project's own config) to real hub processes (``python -m roomhub.cli run``),
storing in SQLite or in a private PostgreSQL (tests/pgserver.py), with one
consumer, or two sharing the load through ``$share/<group>/...``.

N probes need not be N MQTT connections: a few publisher processes each
multiplex a slice of the sites over one MQTT 5 connection (QoS 1, at most
``--window`` unacknowledged; the project's mosquitto allows a client 50), so
the broker path (PUBLISH, PUBACK, routing, the hub's persistent session) is
the real one. Three phases for each (fleet, database, consumers):

realistic  every probe on the default schedule for ``--seconds``: status every
           60 s (QoS 0, retained, as probes send it), a monitor summary every
           60 s, a line test every 15 min, an audio test every 30 min, each
           probe at its own random phase. The end-to-end latency comes from
           here: the publish time written into ``ts`` (microseconds) against
           the hub's ``received_at`` (milliseconds, taken as the batch's
           transaction begins, so the commit itself is not in it).
burst      the fleet flushes a backlog, as after a broker outage: every probe
           sends ``--backlog`` results (monitor, line and audio in an hour's
           mix) as fast as the publishers can while the hub ingests. The
           publishers share the machine's cores with the broker and the hub.
drain      the hubs are frozen (SIGSTOP) while the fleet publishes the same
           backlog into the broker, then thawed: how fast they empty the
           broker's queue with no publisher competing for the CPU. This is
           the hub's maximum sustained ingest rate on this machine.

Ingest rate is counted at the store: stored rows over the span of their
``received_at`` between the 5th and the 95th percentile (ramp-up and tail
left out). Loss is the msg_ids the broker acknowledged minus the msg_ids
stored; ``dup`` is the copies the consumers dropped (a row is unique by
msg_id, so a duplicate can never be stored). CPU comes from /proc: the
consumers, mosquitto, PostgreSQL (all its processes), the publishers (their
own count) and everything else on the machine meanwhile (``other``).

Run: .venv/bin/python bench/hub_ingest.py [--probes 1000 10000] [--db sqlite postgresql]
         [--consumers 1 2] [--seconds 60] [--phases realistic burst drain] [--backlog N]
A run of everything takes about 15 minutes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # pgserver.py: the tests' private PostgreSQL

from pgserver import PgServer  # noqa: E402
from roomhub.broker import Broker, free_port, wait_for_port  # noqa: E402
from roomprobe import tomlconfig  # noqa: E402
from roomprobe.contract import decode, schema_document, topics  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
GROUP = "bench"
# A probe's default schedule (the firmware's config defaults): seconds between messages.
SCHEDULE = (("status", 60.0), ("monitor", 60.0), ("net", 900.0), ("audio", 1800.0))
# A backlog holds what a probe measures in an hour: 60 monitor, 4 line and 2 audio results.
BACKLOG_MIX = ("monitor",) * 30 + ("net", "net", "audio")
ENVELOPE = ("schema", "schema_version", "msg_id", "site", "boot_id", "seq", "ts",
            "clock_synced")  # fmt: skip
STATUS_BIT = 0x80  # in a phase's msg_id prefix: the statuses (QoS 0) of that phase


# -- payloads ---------------------------------------------------------------------------------


def _schema_of(kind: str) -> str:
    return "roomprobe.status" if kind == "status" else f"roomprobe.result.{kind}"


def templates() -> dict[str, tuple[str, str]]:
    """kind -> (schema, the payload's JSON after the envelope), from the schemas' examples."""
    out = {}
    for kind, _ in SCHEDULE:
        schema = _schema_of(kind)
        body = {k: v for k, v in schema_document(schema)["examples"][0].items()
                if k not in ENVELOPE}  # fmt: skip
        if kind == "status":
            body["online"] = True
        out[kind] = (schema, json.dumps(body, ensure_ascii=False)[1:])  # without its "{"
    return out


def payload(tpl: tuple[str, str], msg_id: str, site: str, boot: str, seq: int, ts: str) -> bytes:
    schema, tail = tpl
    head = (f'{{"schema":"{schema}","schema_version":1,"msg_id":"{msg_id}","site":"{site}",'
            f'"boot_id":"{boot}","seq":{seq},"ts":"{ts}","clock_synced":true,')  # fmt: skip
    return (head + tail).encode()


def utc_us(t: float) -> str:
    """The contract's time format with microseconds (its pattern allows up to six digits)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def site_name(i: int) -> str:
    return f"bench-{i:05d}"


def msg_id(tag: int, pub: int, n: int) -> str:
    """Deterministic ids: a publisher's count alone says which ids it sent."""
    return f"{tag:08x}-{pub:04x}-4000-8000-{n:012x}"


def tag_range(tag: int) -> tuple[str, str]:
    return f"{tag:08x}-", f"{tag:08x}."  # "." sorts right after "-"


def check_payloads() -> None:
    """The generated payloads are contract-valid: a bench must never measure quarantine."""
    for kind, tpl in templates().items():
        raw = payload(tpl, msg_id(1, 0, 0), site_name(1), msg_id(0, 0, 0), 1, utc_us(time.time()))
        topic = (topics.status(site_name(1)) if kind == "status"
                 else topics.result(site_name(1), kind))  # fmt: skip
        decode(raw, topics.parse(topic).schema)


# -- the fleet: publisher processes -----------------------------------------------------------


@dataclass
class PubJob:
    index: int
    port: int
    sites: list[int]
    mode: str  # "schedule" or "backlog"
    tag: int  # msg_id prefix of the phase's results; tag | STATUS_BIT for its statuses
    start_at: float  # wall clock: every publisher starts together
    seconds: float = 0.0
    backlog: int = 0
    window: int = 50
    seed: int = 0


def publisher(job: PubJob, out: Any) -> None:
    """One MQTT 5 connection publishing for a slice of the fleet; reports what it sent."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    tpl = templates()
    slots = threading.Semaphore(job.window)
    pubacks: list[bool] = []  # one per PUBACK: accepted or not

    def connect(name: str) -> Any:
        c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                        client_id=f"bench-{name}-{job.tag:x}-{job.index}",
                        protocol=mqtt.MQTTv5)  # fmt: skip
        c.max_inflight_messages_set(job.window)
        c.connect("127.0.0.1", job.port, keepalive=60)
        c.loop_start()
        return c

    def on_publish(c: Any, u: Any, mid: int, reason: Any, props: Any) -> None:
        # 0x10 "no matching subscribers": accepted, but no hub would ever get it
        pubacks.append(not reason.is_failure and reason.value != 0x10)
        slots.release()

    client = connect("results")  # QoS 1
    client.on_publish = on_publish
    status_client = connect("status")  # QoS 0, apart so that its sends free no slot
    seqs = dict.fromkeys(job.sites, 0)
    boots = {s: f"{s:08x}-0000-4000-8000-000000000000" for s in job.sites}
    counts = {"durable": 0, "statuses": 0}

    def send(site: int, kind: str) -> None:
        name = site_name(site)
        if kind == "status":  # as the probe sends it: QoS 0, retained, the latest seq
            mid = msg_id(job.tag | STATUS_BIT, job.index, counts["statuses"])
            counts["statuses"] += 1
            raw = payload(tpl[kind], mid, name, boots[site], seqs[site], utc_us(time.time()))
            status_client.publish(topics.status(name), raw, qos=0, retain=True)
            return
        seqs[site] += 1
        mid = msg_id(job.tag, job.index, counts["durable"])
        counts["durable"] += 1
        slots.acquire()  # at most ``window`` unacknowledged, like a probe's outbox
        raw = payload(tpl[kind], mid, name, boots[site], seqs[site], utc_us(time.time()))
        client.publish(topics.result(name, kind), raw, qos=1)

    while not (client.is_connected() and status_client.is_connected()):
        time.sleep(0.01)
    cpu0 = sum(os.times()[:2])
    time.sleep(max(0.0, job.start_at - time.time()))
    t0 = time.time()
    if job.mode == "schedule":
        rng = random.Random(job.seed)
        events = []
        for s in job.sites:
            for kind, period in SCHEDULE:
                t = rng.uniform(0, period)  # each probe at its own phase
                while t < job.seconds:
                    events.append((t, s, kind))
                    t += period
        events.sort()
        for t, s, kind in events:
            delay = job.start_at + t - time.time()
            if delay > 0:
                time.sleep(delay)
            send(s, kind)
    else:
        for i in range(job.backlog):
            for s in job.sites:  # every probe flushing its outbox at once
                send(s, BACKLOG_MIX[(i + s) % len(BACKLOG_MIX)])
    for _ in range(job.window):  # every PUBACK back
        slots.acquire()
    t1 = time.time()
    for c in (client, status_client):
        c.disconnect()
        c.loop_stop()
    out.put({**counts, "index": job.index, "acked": sum(pubacks),
             "refused": len(pubacks) - sum(pubacks), "t0": t0, "t1": t1,
             "cpu": sum(os.times()[:2]) - cpu0})  # fmt: skip


class Fleet:
    """The publisher processes of one phase."""

    def __init__(self, jobs: list[PubJob]):
        ctx = mp.get_context("fork")
        self.out = ctx.Queue()
        self.procs = [ctx.Process(target=publisher, args=(j, self.out), daemon=True)
                      for j in jobs]  # fmt: skip
        for p in self.procs:
            p.start()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def results(self, timeout: float) -> list[dict[str, Any]]:
        results = []
        deadline = time.monotonic() + timeout
        while len(results) < len(self.procs) and time.monotonic() < deadline:
            try:
                results.append(self.out.get(timeout=1.0))
            except queue.Empty:
                if not any(p.is_alive() for p in self.procs):
                    break
        self.stop()
        if len(results) < len(self.procs):
            raise RuntimeError("a publisher did not finish")
        return sorted(results, key=lambda r: r["index"])

    def stop(self) -> None:
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()


# -- /proc ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return 0.0
    f = stat.rsplit(")", 1)[1].split()  # fields 3.. of proc(5); the name may hold spaces
    return (int(f[11]) + int(f[12])) / CLK_TCK  # utime + stime


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text(encoding="ascii")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / CLK_TCK  # everything but idle and iowait


class CpuMeter:
    """CPU seconds of named groups of processes, and of the rest of the machine."""

    def __init__(self, groups: dict[str, Any]):
        self.groups = groups  # name -> callable returning the group's pids now
        self.before: dict[str, dict[int, float]] = {}
        self.machine0 = 0.0
        self.t0 = 0.0

    def _read(self) -> dict[str, dict[int, float]]:
        return {n: {p: cpu_seconds(p) for p in f()} for n, f in self.groups.items()}

    def start(self) -> None:
        self.before = self._read()
        self.machine0 = machine_busy()
        self.t0 = time.monotonic()

    def stop(self, extra: dict[str, float] | None = None) -> tuple[float, dict[str, float]]:
        """(wall seconds, CPU seconds per group); ``extra`` adds groups counted elsewhere."""
        after = self._read()
        wall = time.monotonic() - self.t0
        used = {n: sum(c - self.before[n].get(p, 0.0) for p, c in after[n].items())
                for n in self.groups}  # fmt: skip
        used.update(extra or {})
        used["other"] = max(0.0, machine_busy() - self.machine0 - sum(used.values()))
        return wall, used


# -- the hub ----------------------------------------------------------------------------------


class Hub:
    """One ``roomhub run`` process with its own config, web port and log."""

    def __init__(self, tmp: Path, name: str, broker_port: int, db_url: str,
                 group: str | None, consumer: dict[str, Any]):  # fmt: skip
        self.name = name
        self.web_port = free_port()
        self.conf = tmp / f"hub-{name}.toml"
        self.log = tmp / f"hub-{name}.log"
        sqlite_path = db_url.removeprefix("sqlite:///") if db_url.startswith("sqlite") else None
        self.conf.write_text(tomlconfig.dumps({
            "hub_id": "bench-hub",
            # A hub frozen for the drain phase must keep its connection.
            "mqtt": {"host": "127.0.0.1", "port": broker_port, "keepalive_s": 600},
            "storage": {"path": sqlite_path or str(tmp / "unused.sqlite"),
                        "url": None if sqlite_path else db_url},
            "web": {"host": "127.0.0.1", "port": self.web_port},
            "line": {"udp_echo_port": 0},
            "consumer": {"shared_group": group, "name": name, **consumer},
        }), "utf-8")  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Hub:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "roomhub.cli", "run", "--config", str(self.conf)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        if not wait_for_port(self.web_port, timeout=60):
            raise RuntimeError(f"hub {self.name} did not start: {self.log.read_text()}")
        deadline = time.monotonic() + 30
        while not self.consumer().get("subscribed"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub {self.name} did not subscribe: {self.log.read_text()}")
            time.sleep(0.1)
        return self

    def consumer(self) -> dict[str, Any]:
        """The consumer's counters from /api/health (received, stored, duplicate, ...)."""
        try:
            url = f"http://127.0.0.1:{self.web_port}/api/health"
            with urllib.request.urlopen(url, timeout=60) as r:
                return json.loads(r.read()).get("consumer") or {}
        except OSError:
            return {}

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc is not None and self.proc.poll() is None else []


class StoreReader:
    """Reads the hub's store directly, not through the hub."""

    def __init__(self, url: str):
        self.url = url

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.url.startswith("postgresql"):
            import psycopg

            with psycopg.connect(self.url) as db:
                return db.execute(sql.replace("?", "%s"), args).fetchall()
        path = self.url.removeprefix("sqlite:///")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def count(self, tag: int) -> int:
        lo, hi = tag_range(tag)
        return self.query("SELECT count(*) FROM messages WHERE msg_id >= ? AND msg_id < ?",
                          lo, hi)[0][0]  # fmt: skip

    def rows(self, tag: int) -> list[tuple[str, str, str]]:
        lo, hi = tag_range(tag)
        return self.query("SELECT msg_id, ts, received_at FROM messages "
                          "WHERE msg_id >= ? AND msg_id < ?", lo, hi)  # fmt: skip


def py_spy(args: argparse.Namespace, hubs: list[Hub], tag: int) -> list[subprocess.Popen[bytes]]:
    """py-spy sampling every thread of each hub (collapsed stacks, for the drain phase)."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    spies = []
    for h in hubs:
        out = Path(args.py_spy) / f"{tag:08x}-{h.name}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = [exe, "record", "-p", str(h.pids[0]), "--threads", "--nonblocking", "-r", "200",
                "-f", "raw", "-o", str(out), *args.py_spy_flags.split()]  # fmt: skip
        spies.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1.0)  # attached before the hubs are thawed
    return spies


# -- one configuration ------------------------------------------------------------------------


@dataclass
class PhaseResult:
    probes: int
    db: str
    consumers: int
    phase: str
    published: int = 0  # QoS 1 results the broker acknowledged
    stored: int = 0
    lost: int = 0
    refused: int = 0
    duplicates: int = 0
    store_errors: int = 0  # failed commits the consumers retried (locks, deadlocks)
    statuses: str = ""  # statuses (QoS 0) stored / sent
    publish_rate: float = 0.0
    rate: float = 0.0  # stored per second, 5th to 95th percentile of received_at
    p50: float = 0.0
    p99: float = 0.0
    mean_batch: float = 0.0
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per group
    shares: list[int] = field(default_factory=list)

    def pct(self, group: str) -> str:
        return f"{100 * self.cpu[group] / self.wall:.0f}" if group in self.cpu else "-"

    def us_per_msg(self, group: str) -> str:
        if group not in self.cpu or not self.stored or self.phase == "realistic":
            return "-"  # at a realistic rate the hub is mostly idle: per message means nothing
        return f"{1e6 * self.cpu[group] / self.stored:.0f}"


def wait_stored(reader: StoreReader, tag: int, expected: int, stall_s: float = 30.0) -> int:
    """Until ``expected`` rows of the phase are stored, or nothing new for ``stall_s``."""
    last, since = -1, time.monotonic()
    while True:
        n = reader.count(tag)
        if n >= expected:
            return n
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > stall_s:
            return n
        time.sleep(0.25)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run_config(args: argparse.Namespace, probes: int, db: str, consumers: int,
               pg: PgServer | None, workdir: Path, run_no: int) -> list[PhaseResult]:  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix=f"run{run_no}-", dir=workdir))
    broker = Broker(tmp / "broker")
    url = pg.new_database() if db == "postgresql" and pg else f"sqlite:///{tmp / 'hub.sqlite'}"
    group = GROUP if consumers > 1 else None  # one consumer: the default, plain subscription
    tuning = {k: v for k, v in (("batch_max", args.batch_max),
                                ("receive_maximum", args.receive_maximum)) if v}  # fmt: skip
    hubs = [Hub(tmp, f"c{i + 1}", broker.port, url, group, tuning) for i in range(consumers)]
    reader = StoreReader(url)
    slices = [list(range(probes))[i :: args.publishers] for i in range(args.publishers)]
    groups: dict[str, Any] = {
        "hub": lambda: [p for h in hubs for p in h.pids],
        "broker": lambda: [broker.proc.pid] if broker.proc else [],
    }
    if db == "postgresql" and pg and pg.proc:
        postmaster = pg.proc.pid
        groups["pg"] = lambda: [postmaster, *children(postmaster)]
    results = []
    try:
        broker.start()
        for h in hubs:
            h.start()
        for phase_no, phase in enumerate(args.phases):
            tag = (run_no << 8) | phase_no
            res = PhaseResult(probes, db, consumers, phase)
            before = [h.consumer() for h in hubs]
            meter = CpuMeter(groups)
            backlog = args.backlog or max(6, args.burst_total // probes)
            start_at = time.time() + 1.5
            jobs = [PubJob(i, broker.port, s, "schedule" if phase == "realistic" else "backlog",
                           tag, start_at, seconds=args.seconds, backlog=backlog,
                           window=args.window, seed=run_no * 100 + i)
                    for i, s in enumerate(slices)]  # fmt: skip
            spies: list[subprocess.Popen[bytes]] = []
            if phase == "drain":
                for h in hubs:
                    h.signal(signal.SIGSTOP)
            else:
                meter.start()
            fleet = Fleet(jobs)
            sent = fleet.results(timeout=args.seconds + 900)
            res.published = sum(r["acked"] for r in sent)
            res.refused = sum(r["refused"] for r in sent)
            durable = sum(r["durable"] for r in sent)
            t0, t1 = min(r["t0"] for r in sent), max(r["t1"] for r in sent)
            res.publish_rate = durable / max(1e-9, t1 - t0)
            extra = {} if phase == "drain" else {"pubs": sum(r["cpu"] for r in sent)}
            if phase == "drain":
                meter.start()
                spies = py_spy(args, hubs, tag) if args.py_spy else []
                for h in hubs:
                    h.signal(signal.SIGCONT)
            wait_stored(reader, tag, durable)
            res.wall, res.cpu = meter.stop(extra)
            for spy in spies:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            rows = reader.rows(tag)
            stored = {r[0] for r in rows}
            sent_ids = {msg_id(tag, r["index"], k) for r in sent for k in range(r["durable"])}
            res.stored = len(stored & sent_ids)
            res.lost = len(sent_ids - stored) - (durable - res.published)
            received = sorted(parse_iso(r[2]) for r in rows)
            latency = sorted(1000 * (parse_iso(r[2]) - parse_iso(r[1])) for r in rows)
            res.p50, res.p99 = percentile(latency, 0.50), percentile(latency, 0.99)
            if len(received) > 20:
                a, b = percentile(received, 0.05), percentile(received, 0.95)
                res.rate = 0.9 * len(received) / max(1e-3, b - a)
            if any(r["statuses"] for r in sent):
                res.statuses = (f"{reader.count(tag | STATUS_BIT)}/"
                                f"{sum(r['statuses'] for r in sent)}")  # fmt: skip
            after = [h.consumer() for h in hubs]

            def delta(key: str, i: int, a: list[dict[str, Any]] = after,
                      b: list[dict[str, Any]] = before) -> int:  # fmt: skip
                return a[i].get(key, 0) - b[i].get(key, 0)

            res.shares = [delta("stored", i) for i in range(consumers)]
            res.duplicates = sum(delta("duplicate", i) for i in range(consumers))
            res.store_errors = sum(delta("store_errors", i) for i in range(consumers))
            batches = sum(delta("batches", i) for i in range(consumers))
            received_n = sum(delta("received", i) for i in range(consumers))
            res.mean_batch = received_n / batches if batches else 0.0
            results.append(res)
            print(row(res), flush=True)
            if res.lost or res.refused:
                print(f"  {res.lost} lost, {res.refused} refused by the broker; see {tmp}",
                      file=sys.stderr)  # fmt: skip
                args.keep = True
    finally:
        for h in hubs:
            h.stop()
        broker.stop()
        if db == "postgresql" and pg:
            pg.drop_database(url)
    return results


# -- output -----------------------------------------------------------------------------------

HEADER = (
    f"{'probes':>6} {'db':<10} {'hubs':>4} {'phase':<9} | {'published':>9} {'stored':>8} "
    f"{'lost':>4} {'dup':>4} {'err':>4} | {'publish/s':>9} {'stored/s':>8} | {'p50 ms':>8} "
    f"{'p99 ms':>8} | {'batch':>5} | CPU % {'hub':>4} {'mosq':>4} {'pg':>4} {'pubs':>4} "
    f"{'other':>5} | hub us/msg | shares"
)


def row(r: PhaseResult) -> str:
    return (
        f"{r.probes:>6} {r.db:<10} {r.consumers:>4} {r.phase:<9} | {r.published:>9} "
        f"{r.stored:>8} {r.lost:>4} {r.duplicates:>4} {r.store_errors:>4} | "
        f"{r.publish_rate:>9.0f} {r.rate:>8.0f} | {r.p50:>8.1f} {r.p99:>8.1f} | "
        f"{r.mean_batch:>5.0f} |      {r.pct('hub'):>4} {r.pct('broker'):>4} {r.pct('pg'):>4} "
        f"{r.pct('pubs'):>4} {r.pct('other'):>5} | {r.us_per_msg('hub'):>10} | "
        + "/".join(map(str, r.shares))
        + (f"  status {r.statuses}" if r.statuses else "")
    )


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")),
                 platform.processor())  # fmt: skip
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    mosq = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout
    postgres = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    pg = (subprocess.run([str(postgres[-1]), "--version"], capture_output=True, text=True)
          .stdout.strip() if postgres else "no PostgreSQL")  # fmt: skip
    return (f"{os.cpu_count()} cores ({model}), {mem} MB RAM, kernel {platform.release()}, "
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"{mosq.splitlines()[0] if mosq else 'mosquitto ?'}, {pg}. Publishers, broker, "
            "hubs and PostgreSQL share these cores.")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--probes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--db", nargs="+", choices=["sqlite", "postgresql"],
                    default=["sqlite", "postgresql"])  # fmt: skip
    ap.add_argument("--consumers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the realistic phase")
    ap.add_argument("--phases", nargs="+", choices=["realistic", "burst", "drain"],
                    default=["realistic", "burst", "drain"])  # fmt: skip
    ap.add_argument("--backlog", type=int, default=0,
                    help="results per probe in burst and drain (default: --burst-total / "
                    "probes, at least 6)")  # fmt: skip
    ap.add_argument(
        "--burst-total",
        type=int,
        default=60000,
        help="the whole fleet's backlog when --backlog is not given",
    )
    ap.add_argument("--publishers", type=int, default=2, help="publisher processes")
    ap.add_argument(
        "--window",
        type=int,
        default=50,
        help="unacknowledged QoS 1 publishes per publisher (mosquitto allows 50)",
    )
    ap.add_argument(
        "--batch-max",
        type=int,
        default=0,
        help="the hubs' consumer.batch_max (default: the hub's own)",
    )
    ap.add_argument(
        "--receive-maximum",
        type=int,
        default=0,
        help="the hubs' consumer.receive_maximum (default: the hub's own)",
    )
    ap.add_argument("--dir", type=Path, default=None, help="where stores and broker live")
    ap.add_argument("--keep", action="store_true", help="keep the logs and stores")
    ap.add_argument(
        "--py-spy",
        metavar="DIR",
        default=None,
        help="profile the hubs with py-spy during the drain (collapsed stacks)",
    )
    ap.add_argument(
        "--py-spy-flags", default="", help="more py-spy flags, e.g. '--idle' (wall time) or '--gil'"
    )
    args = ap.parse_args()

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    check_payloads()
    workdir = Path(tempfile.mkdtemp(prefix="hub-ingest-", dir=args.dir))
    print(machine())
    print(f"realistic phase {args.seconds:.0f} s; backlog "
          f"{args.backlog or f'max(6, {args.burst_total} / probes)'} results per probe; "
          f"{args.publishers} publishers; work in {workdir}")  # fmt: skip
    print(HEADER, flush=True)
    pg = None
    results: list[PhaseResult] = []
    code = 0
    try:
        if "postgresql" in args.db:
            pg = PgServer().start()
        run_no = 1
        for probes in args.probes:
            for db in args.db:
                for consumers in args.consumers:
                    results += run_config(args, probes, db, consumers, pg, workdir, run_no)
                    run_no += 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    finally:
        if pg is not None:
            pg.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not results:
        return code
    print(f"\n{HEADER}")
    for r in results:
        print(row(r))
    best: dict[str, float] = {}
    for r in results:
        if r.phase in ("burst", "drain"):
            best[r.db] = max(best.get(r.db, 0.0), r.rate)
    print(f"\nlost: {sum(r.lost for r in results)}; refused by the broker: "
          f"{sum(r.refused for r in results)}; best sustained rate: "
          + ", ".join(f"{k} {v:.0f}/s" for k, v in best.items())
          + " (targets: SQLite >= 5000/s, PostgreSQL >= 10000/s, zero loss)")  # fmt: skip
    return code


if __name__ == "__main__":
    sys.exit(main())
