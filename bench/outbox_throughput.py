"""Throughput and SD-card cost of the probe's durable outbox (roomprobe.outbox.Outbox).

Why it matters: DESIGN.md rule 5 asks the probe to be gentle with the Pi (little CPU,
few writes to the SD card). Every result and event the probe sends goes through
``Outbox.put()`` (contract validation, then one SQLite transaction in WAL mode with
synchronous=FULL) and, once the broker has acknowledged it, ``Outbox.remove()`` (a
second commit). An SD card wears by the bytes written and by every fsync, so the
bytes one message costs on disk, multiplied by the ~1,600 messages a day of a normal
schedule, is the figure to watch. After a long outage the pump asks ``pending()`` for
the next window on every 0.1 s loop tick, so its cost on a large backlog is measured too.

Run: /work/main/.venv/bin/python bench/outbox_throughput.py [-n 2000] [--backlog 10000]
     [--dir /path/on/the/disk/to/measure]   (default: the system temp folder)

Write figures: ``write_bytes`` from /proc/self/io (bytes this process dirtied in the
page cache, i.e. what it sent towards the disk; the file system's journal is not in it)
and the sectors the whole block device wrote (/sys/dev/block/*/stat, which includes the
ext4 journal but also anything else running on the machine).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from roomprobe import verdicts
from roomprobe.config import Thresholds
from roomprobe.contract import Stamp, encode, topics, utc_iso, validate
from roomprobe.outbox import Outbox
from roomprobe.simulated import SimulatedLine

SITE = "dak-ang"
TOPIC = topics.result(SITE, "net")
PROFILES = ("good", "slow-line", "flaky-lan")  # varied verdicts, so varied payload sizes
# A normal day (config defaults): monitor every 60 s, line every 900 s, audio every 1800 s.
MESSAGES_PER_DAY = 86400 / 60 + 86400 / 900 + 86400 / 1800

Builder = Callable[[int], dict[str, Any]]


# -- measuring helpers --------------------------------------------------------------------


def proc_io() -> dict[str, int]:
    """This process's I/O counters, or {} where /proc/self/io is not readable."""
    try:
        text = Path("/proc/self/io").read_text(encoding="ascii")
    except OSError:
        return {}
    return {key: int(value) for key, value in (line.split(": ") for line in text.splitlines())}


def device_bytes_written(folder: Path) -> int | None:
    """Bytes the block device holding ``folder`` has written since boot (whole device)."""
    st = os.stat(folder)
    stat = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/stat")
    try:
        return int(stat.read_text(encoding="ascii").split()[6]) * 512
    except (OSError, IndexError, ValueError):
        return None


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@dataclass
class Writes:
    """What one timed phase wrote: process write_bytes, write calls, device bytes, files."""

    seconds: float = 0.0
    write_bytes: int | None = None
    write_calls: int | None = None
    device: int | None = None
    db_growth: int = 0
    wal_growth: int = 0


@contextmanager
def measured(db: Path) -> Iterator[Writes]:
    """Time the block and count the bytes it wrote (os.sync() on both sides for the device)."""
    wal = db.with_name(db.name + "-wal")
    out = Writes()
    os.sync()
    io0, dev0 = proc_io(), device_bytes_written(db.parent)
    db0, wal0 = file_size(db), file_size(wal)
    t0 = time.perf_counter()
    yield out
    out.seconds = time.perf_counter() - t0
    os.sync()
    io1, dev1 = proc_io(), device_bytes_written(db.parent)
    if io0 and io1:
        out.write_bytes = io1["write_bytes"] - io0["write_bytes"]
        out.write_calls = io1["syscw"] - io0["syscw"]
    if dev0 is not None and dev1 is not None:
        out.device = dev1 - dev0
    out.db_growth = file_size(db) - db0
    out.wal_growth = file_size(wal) - wal0


def per(value: int | None, n: int) -> str:
    return "n/a" if value is None else f"{value / n:,.0f}"


def timeit_us(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


# -- payloads, made the way ProbeService._publish_result makes them -------------------------


class ResultMaker:
    """Net results as the probe builds them: measure and judge first, envelope inside put()."""

    def __init__(self, boot_id: str, seed: int = 1):
        self.stamp = Stamp(SITE, boot_id, lambda: True)
        self.lines = [SimulatedLine(p, SITE, seed) for p in PROFILES]
        self.thresholds = Thresholds()
        self.rng = random.Random(seed)

    def measure(self) -> tuple[dict[str, Any], verdicts.Verdict, float]:
        started = time.time()
        metrics = self.rng.choice(self.lines).line_test()
        return metrics, verdicts.net(metrics, self.thresholds), started

    def builder(self) -> Builder:
        """What the service hands to Outbox.put() (service.py, _publish_result)."""
        metrics, verdict, started = self.measure()
        return lambda seq: self.stamp.envelope(
            "roomprobe.result.net",
            seq,
            kind="net",
            started_at=utc_iso(datetime.fromtimestamp(started, UTC)),
            duration_s=round(max(0.0, time.time() - started), 3),
            simulated=True,
            verdict=verdict.to_dict(),
            metrics=metrics,
        )


# -- the phases -----------------------------------------------------------------------------


def cpu_costs(maker: ResultMaker, n: int) -> dict[str, float]:
    """Per-message CPU of each step outside SQLite, in microseconds."""
    builders = [maker.builder() for _ in range(n)]
    payloads = [b(i + 1) for i, b in enumerate(builders)]
    for p in payloads[:10]:
        validate(p)  # warm the caches (schema files, validator) as the daemon's first put does
    it = iter(range(n))
    costs = {
        "measure+verdict (outside put)": timeit_us(maker.measure, n),
        "envelope build": timeit_us(lambda: builders[0](next(it) + 1), n),
    }
    pit = iter(payloads)
    costs["validate"] = timeit_us(lambda: validate(next(pit)), n)
    pit = iter(payloads)
    costs["encode"] = timeit_us(lambda: encode(next(pit)), n)
    sizes = [len(encode(p)) for p in payloads]
    costs["payload bytes mean"] = statistics.fmean(sizes)
    costs["payload bytes min"] = min(sizes)
    costs["payload bytes max"] = max(sizes)
    return costs


def put_many(box: Outbox, maker: ResultMaker, n: int) -> Writes:
    builders = [maker.builder() for _ in range(n)]
    with measured(box.path) as w:
        for build in builders:
            box.put(TOPIC, build)
    return w


def remove_all(box: Outbox) -> tuple[Writes, int]:
    ids = [row.id for row in box.pending(box.count())]
    with measured(box.path) as w:
        for row_id in ids:  # PUBACKs arrive in order, one remove() each
            box.remove(row_id)
    return w, len(ids)


def deliver_cycle(box: Outbox, maker: ResultMaker, n: int) -> Writes:
    """put, pending, remove one message at a time: the probe with its hub connected.

    The caller leaves one row in the outbox first, so one message is always "in flight".
    """
    builders = [maker.builder() for _ in range(n)]
    with measured(box.path) as w:
        for build in builders:
            box.put(TOPIC, build)
            for row in box.pending(1):
                box.remove(row.id)
    return w


def wal_per_commit(folder: Path, maker: ResultMaker, k: int = 50) -> tuple[float, float, int]:
    """WAL bytes appended by one put() and one remove(), before any checkpoint."""
    box = Outbox(folder / "wal.sqlite", str(uuid.uuid4()))
    try:
        wal = box.path.with_name(box.path.name + "-wal")
        con = sqlite3.connect(box.path)
        page = con.execute("PRAGMA page_size").fetchone()[0]
        con.close()
        w0 = file_size(wal)
        for _ in range(k):
            box.put(TOPIC, maker.builder())
        w1 = file_size(wal)
        for row in box.pending(k):
            box.remove(row.id)
        w2 = file_size(wal)
    finally:
        box.close()
    return (w1 - w0) / k, (w2 - w1) / k, page


def fill_backlog(box: Outbox, maker: ResultMaker, rows: int) -> None:
    """``rows`` real, encoded net results in one transaction (put() one by one is slow)."""
    payloads = [encode(maker.builder()(i + 1)) for i in range(rows)]
    validate(maker.builder()(1))
    db = sqlite3.connect(box.path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO outbox (topic, payload, created) VALUES (?, ?, ?)",
            ((TOPIC, p, time.time()) for p in payloads),
        )
        db.execute("COMMIT")
    finally:
        db.close()


def backlog_queries(box: Outbox, repeat: int) -> dict[str, float]:
    oldest = [row.id for row in box.pending(20)]
    results = {
        "pending(20) nothing in flight": timeit_us(lambda: box.pending(20), repeat),
        "pending(20, skip=20 oldest)": timeit_us(lambda: box.pending(20, skip=oldest), repeat),
        "pending(1, skip=19 oldest)": timeit_us(lambda: box.pending(1, skip=oldest[:19]), repeat),
        "count() (each status message)": timeit_us(box.count, repeat),
    }
    return results


def query_plan(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "EXPLAIN QUERY PLAN SELECT id, topic, payload FROM outbox "
            "WHERE id NOT IN (?,?) ORDER BY id LIMIT ?",
            (1, 2, 20),
        ).fetchall()
    finally:
        con.close()
    return "; ".join(r[-1] for r in rows)


# -- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="messages per phase (default 2000)")
    parser.add_argument("--backlog", type=int, default=10_000, help="rows for pending() timing")
    parser.add_argument("--repeat", type=int, default=2000, help="calls per pending() timing")
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary folder")
    args = parser.parse_args()
    n = args.n
    maker = ResultMaker(str(uuid.uuid4()))

    print(f"roomprobe outbox benchmark: {n} messages per phase, Python {sys.version.split()[0]},")
    print(f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory(prefix="roomprobe-bench-", dir=args.dir) as tmp:
        folder = Path(tmp)
        print(f"temporary folder: {folder}\n")

        cpu = cpu_costs(maker, n)

        box = Outbox(folder / "a" / "outbox.sqlite", str(uuid.uuid4()))
        try:
            box.put(TOPIC, maker.builder())  # first put loads schemas; not a steady-state cost
            put_w = put_many(box, maker, n)
            rm_w, removed = remove_all(box)
        finally:
            box.close()

        plain = Outbox(folder / "b" / "outbox.sqlite", str(uuid.uuid4()))
        try:
            with mock.patch("roomprobe.outbox.validate", lambda payload: payload):
                nov_w = put_many(plain, maker, n)
        finally:
            plain.close()

        live = Outbox(folder / "d" / "outbox.sqlite", str(uuid.uuid4()))
        try:
            live.put(TOPIC, maker.builder())
            cyc_w = deliver_cycle(live, maker, n)
        finally:
            live.close()

        wal_put, wal_rm, page = wal_per_commit(folder, maker)

        backlog = Outbox(folder / "c" / "outbox.sqlite", str(uuid.uuid4()))
        try:
            fill_backlog(backlog, maker, args.backlog)
            waiting = backlog.count()
            queries = backlog_queries(backlog, args.repeat)
            plan = query_plan(backlog.path)
            backlog_mb = (file_size(backlog.path) + file_size(backlog.path.with_name(
                backlog.path.name + "-wal"))) / 1e6  # fmt: skip
        finally:
            backlog.close()

    put_us = put_w.seconds / n * 1e6
    nov_us = nov_w.seconds / n * 1e6
    validation_us = put_us - nov_us
    sqlite_us = nov_us - cpu["envelope build"] - cpu["encode"]
    rm_us = rm_w.seconds / removed * 1e6

    print("payload (encoded net result): "
          f"{cpu['payload bytes mean']:.0f} B mean ({cpu['payload bytes min']:.0f}-"
          f"{cpu['payload bytes max']:.0f})")  # fmt: skip
    print("\nCPU per message outside SQLite (µs):")
    for key in ("measure+verdict (outside put)", "envelope build", "validate", "encode"):
        print(f"  {key:32s} {cpu[key]:9.1f}")

    print("\nput() as the probe calls it:")
    print(f"  rate                             {n / put_w.seconds:9.0f} msg/s ({put_us:.0f} µs)")
    print(f"  put() without validation         {nov_us:9.0f} µs")
    print(
        f"  split: validation {validation_us:.0f} µs ({validation_us / put_us:.0%}), "
        f"SQLite transaction+commit {sqlite_us:.0f} µs ({sqlite_us / put_us:.0%}), "
        f"envelope+encode {cpu['envelope build'] + cpu['encode']:.0f} µs"
    )
    print("\nremove() after PUBACK:")
    print(
        f"  rate                             {removed / rm_w.seconds:9.0f} msg/s ({rm_us:.0f} µs)"
    )

    print("\nbytes written per message: put() / remove() each in a run of their own,")
    print("then put+pending+remove one message at a time (the probe with its hub connected):")
    print(f"  process write_bytes              {per(put_w.write_bytes, n):>9} / "
          f"{per(rm_w.write_bytes, removed):>7} / {per(cyc_w.write_bytes, n):>7}")  # fmt: skip
    print(f"  block device (whole disk)        {per(put_w.device, n):>9} / "
          f"{per(rm_w.device, removed):>7} / {per(cyc_w.device, n):>7}")  # fmt: skip
    print(f"  write() calls                    {per(put_w.write_calls, n):>9} / "
          f"{per(rm_w.write_calls, removed):>7} / {per(cyc_w.write_calls, n):>7}")  # fmt: skip
    print(
        f"  WAL appended per commit          {wal_put:9,.0f} / {wal_rm:7,.0f}   "
        f"(page {page} B: {wal_put / (page + 24):.1f} / {wal_rm / (page + 24):.1f} frames)"
    )
    print(
        f"  db file growth over {n} puts    {put_w.db_growth / n:9,.0f} B/msg "
        f"(WAL file {put_w.wal_growth:+,} B)"
    )
    print(
        f"  delivery cycle rate              {n / cyc_w.seconds:9.0f} msg/s "
        f"({cyc_w.seconds / n * 1e6:.0f} µs)"
    )
    if cyc_w.write_bytes is not None:
        per_msg = cyc_w.write_bytes / n
        print(
            f"  amplification                    {per_msg / cpu['payload bytes mean']:9.0f}x "
            f"the payload; a normal day ({MESSAGES_PER_DAY:.0f} msgs) ≈ "
            f"{per_msg * MESSAGES_PER_DAY / 1e6:.0f} MB, a year ≈ "
            f"{per_msg * MESSAGES_PER_DAY * 365 / 1e9:.0f} GB"
        )

    print(f"\npending() with {waiting:,} rows waiting ({backlog_mb:.1f} MB on disk), µs per call:")
    for key, value in queries.items():
        print(f"  {key:32s} {value:9.1f}")
    print(f"  query plan: {plan}")
    tick = queries["pending(20) nothing in flight"]
    print(f"  at 10 loop ticks/s the pump spends {tick * 10 / 1e4:.2f} % of a core on it")

    print("\nsummary:")
    print(f"  put {n / put_w.seconds:,.0f} msg/s (validation {validation_us / put_us:.0%} of it), "
          f"remove {removed / rm_w.seconds:,.0f} msg/s, "
          f"{per(cyc_w.write_bytes, n)} B written per delivered message, "
          f"pending(20) on {waiting:,} rows {tick:.0f} µs")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
