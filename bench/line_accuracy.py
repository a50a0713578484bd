"""How close the project's line test comes to the truth, and what it costs, beside speedtest-cli.

Why: the probe's headline figures (``download_mbps``/``upload_mbps``) decide whether a
commune's line passes the district's 50 Mbps requirement, and every test spends the
commune's data. The project's multi-stream test (``roomprobe.line.multistream``) claims
to be more accurate than speedtest-cli and to stop early, spending less. This script
checks both claims on real shaped links, in one run:

* links: two network namespaces joined by a veth pair, each side's egress shaped with
  ``tc qdisc tbf`` at R (``tests/netlab.py``); download is shaped at the hub's end,
  upload at the probe's;
* the truth: tbf counts whole Ethernet frames, so TCP's goodput ceiling is
  R x 1448/1514 (DESIGN.md, "Facts worth knowing"); every figure is compared with that;
* the reference peer: iperf3 -P 4 in both directions (-R is the download);
* the project's test and speedtest-cli: ``python -m roomprobe.cli net test --json``
  against the hub's own endpoint (``python -m roomhub.cli line-endpoint``), exactly as a
  probe runs them.

Target: the project's steady estimate within +-3 % of the goodput ceiling, using at most
half of speedtest-cli's bytes. This is a measurement, not a test: it asserts nothing.
Run as root (it creates namespaces): ``.venv/bin/python bench/line_accuracy.py``.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from netlab import GOODPUT_FACTOR, NetLab  # tests/ is not a package: found via sys.path

ENDPOINT_PORT = 8081
IPERF_PORT = 5201
TARGET_ERR_PCT = 3.0
TARGET_BYTES_RATIO = 0.5
DIRECTIONS = ("download", "upload")


@dataclass
class Run:
    """One repetition at one rate: every figure, per direction, in Mbps or bytes."""

    iperf: dict[str, float] = field(default_factory=dict)
    st: dict[str, float] = field(default_factory=dict)
    st_bytes: dict[str, int] = field(default_factory=dict)
    steady: dict[str, float] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)
    ours_bytes: dict[str, int] = field(default_factory=dict)
    ours_s: dict[str, float] = field(default_factory=dict)
    warmup_s: dict[str, float] = field(default_factory=dict)
    stable: dict[str, bool] = field(default_factory=dict)
    st_s: float = 0.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def wait_listening(lab: NetLab, ns: str, port: int, timeout: float = 20) -> None:
    """Until something listens on ``port`` in ``ns`` (read with ss: no connection is made)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = lab.run(ns, ["ss", "-Hltn", f"sport = :{port}"], timeout=10).stdout
        if out.strip():
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port} in namespace {ns}")


def iperf3(lab: NetLab, reverse: bool, seconds: int) -> float:
    """iperf3 -P 4 from the probe to the hub (upload) or, with -R, back (download), in Mbps."""
    argv = ["iperf3", "-c", lab.hub_ip, "-p", str(IPERF_PORT), "-P", "4", "-t", str(seconds), "-J"]
    result = lab.run(lab.probe_ns, [*argv, *(["-R"] if reverse else [])], timeout=seconds + 30)
    data = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "error" in data:
        raise RuntimeError(f"iperf3 failed: {data.get('error') or result.stderr.strip()}")
    return float(data["end"]["sum_received"]["bits_per_second"]) / 1e6


def net_test(lab: NetLab) -> dict[str, Any]:
    """The project's test then speedtest-cli, as ``roomprobe net test --json`` runs them."""
    url = f"http://{lab.hub_ip}:{ENDPOINT_PORT}/mini/"
    argv = [sys.executable, "-m", "roomprobe.cli", "net", "test", "--server", url, "--json"]
    result = lab.run(lab.probe_ns, argv, timeout=240)
    if result.returncode != 0:
        raise RuntimeError(f"roomprobe net test failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def measure(lab: NetLab, iperf_s: int) -> Run:
    run = Run()
    run.iperf["download"] = iperf3(lab, reverse=True, seconds=iperf_s)
    run.iperf["upload"] = iperf3(lab, reverse=False, seconds=iperf_s)
    m = net_test(lab)
    ms, st = m["estimates"]["multistream"], m["estimates"]["speedtest_cli"]
    run.st = {"download": st["download_mbps"], "upload": st["upload_mbps"]}
    run.st_bytes = {"download": st["bytes_received"], "upload": st["bytes_sent"]}
    run.st_s = st["duration_s"]
    headline = {"download": m["download_mbps"], "upload": m["upload_mbps"]}
    for d in DIRECTIONS:
        run.steady[d] = headline[d]  # == ms[d]["steady_mbps"]: the figure the probe reports
        run.mean[d] = ms[d]["mean_mbps"]
        run.ours_bytes[d] = ms[d]["bytes"]
        run.ours_s[d] = ms[d]["duration_s"]
        run.warmup_s[d] = ms[d]["warmup_s"]
        run.stable[d] = ms[d]["stable"]
    return run


def measure_rate(rate: float, repeat: int, iperf_s: int) -> list[Run]:
    lab = NetLab(rate)
    procs: list[subprocess.Popen] = []
    try:
        lab.up()
        assert lab.hub_ns is not None
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        procs.append(lab.popen(lab.hub_ns, [
            sys.executable, "-m", "roomhub.cli", "line-endpoint",
            "--host", lab.hub_ip, "--port", str(ENDPOINT_PORT)], **quiet))  # fmt: skip
        procs.append(lab.popen(lab.hub_ns, [
            "iperf3", "-s", "-B", lab.hub_ip, "-p", str(IPERF_PORT)], **quiet))  # fmt: skip
        lab.wait_reachable(ENDPOINT_PORT)
        wait_listening(lab, lab.hub_ns, IPERF_PORT)
        runs = []
        for i in range(repeat):
            started = time.monotonic()
            run = measure(lab, iperf_s)
            runs.append(run)
            log(
                f"  {rate:g} Mbit run {i + 1}/{repeat} ({time.monotonic() - started:.0f} s): "
                + "; ".join(
                    f"{d} iperf3 {run.iperf[d]:.2f} speedtest-cli {run.st[d]:.2f} "
                    f"ours {run.steady[d]:.2f} (mean {run.mean[d]:.2f}, "
                    f"{run.ours_s[d]:.1f} s, warm-up {run.warmup_s[d]:.2f} s, "
                    f"stable {run.stable[d]})"
                    for d in DIRECTIONS
                )
            )
        return runs
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        lab.close()


def err(value: float, truth: float) -> float:
    return 100 * (value - truth) / truth


def med(runs: list[Run], attr: str, d: str) -> float:
    return statistics.median(getattr(r, attr)[d] for r in runs)


def report(results: dict[float, list[Run]], failed: dict[float, str]) -> None:
    repeat = max((len(runs) for runs in results.values()), default=0)
    print()
    print(f"Line accuracy on tbf-shaped veth links (median of {repeat} run(s) per rate)")
    print("err = (figure - goodput ceiling) / ceiling; ours = the project's multi-stream test")
    head = (
        f"{'rate':>5} {'dir':<4} {'ceiling':>7} | {'iperf3':>6} {'err':>6} | "
        f"{'st-cli':>6} {'err':>6} | {'ours':>6} {'err':>6} | {'mean':>6} {'err':>6} | "
        f"{'ours':>5} {'st-cli':>6} {'ratio':>5} | {'secs':>4} {'warm':>4} {'stable':>6}"
    )
    units = (
        f"{'Mbit':>5} {'':<4} {'Mbps':>7} | {'Mbps':>6} {'%':>6} | {'Mbps':>6} {'%':>6} | "
        f"{'Mbps':>6} {'%':>6} | {'Mbps':>6} {'%':>6} | {'MB':>5} {'MB':>6} {'':>5} | "
        f"{'s':>4} {'s':>4} {'':>6}"
    )
    print(head)
    print(units)
    print("-" * len(head))
    verdicts = []
    for rate, runs in results.items():
        truth = rate * GOODPUT_FACTOR
        misses = []
        for d in DIRECTIONS:
            ip, st = med(runs, "iperf", d), med(runs, "st", d)
            steady, mean = med(runs, "steady", d), med(runs, "mean", d)
            ours_mb, st_mb = med(runs, "ours_bytes", d) / 1e6, med(runs, "st_bytes", d) / 1e6
            stable = sum(r.stable[d] for r in runs)
            if abs(err(steady, truth)) > TARGET_ERR_PCT:
                misses.append(f"{d} {err(steady, truth):+.1f} % (> {TARGET_ERR_PCT:g} %)")
            print(
                f"{rate:>5g} {d[:4]:<4} {truth:>7.2f} | {ip:>6.2f} {err(ip, truth):>+6.1f} | "
                f"{st:>6.2f} {err(st, truth):>+6.1f} | {steady:>6.2f} {err(steady, truth):>+6.1f} "
                f"| {mean:>6.2f} {err(mean, truth):>+6.1f} | {ours_mb:>5.1f} {st_mb:>6.1f} "
                f"{ours_mb / st_mb:>5.2f} | {med(runs, 'ours_s', d):>4.1f} "
                f"{med(runs, 'warmup_s', d):>4.2f} {f'{stable}/{len(runs)}':>6}"
            )
        ours_total = statistics.median(sum(r.ours_bytes.values()) for r in runs)
        st_total = statistics.median(sum(r.st_bytes.values()) for r in runs)
        ratio = ours_total / st_total
        if ratio > TARGET_BYTES_RATIO:
            misses.append(f"bytes {ratio:.2f} (> {TARGET_BYTES_RATIO:g})")
        verdicts.append(
            f"  {rate:>5g} Mbit: "
            + (f"MISSED: {', '.join(misses)}" if misses else "holds")
            + f" [ours {ours_total / 1e6:.1f} MB, speedtest-cli {st_total / 1e6:.1f} MB,"
            f" ratio {ratio:.2f}]"
        )
    print()
    print(
        f"Target: ours within +-{TARGET_ERR_PCT:g} % of the goodput ceiling both ways, "
        f"with <= {TARGET_BYTES_RATIO:g} x speedtest-cli's bytes (both ways together)"
    )
    print("\n".join(verdicts))
    for rate, error in failed.items():
        print(f"  {rate:>5g} Mbit: not measured ({error})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,50,100", help="tbf rates in Mbit/s (%(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per rate; the median is shown")
    parser.add_argument("--iperf-seconds", type=int, default=10, help="iperf3 -t (%(default)s)")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    log(f"host {socket.gethostname()}, {len(rates)} rate(s) x {args.repeat} run(s)")
    results: dict[float, list[Run]] = {}
    failed: dict[float, str] = {}
    started = time.monotonic()
    try:
        for rate in rates:
            log(f"rate {rate:g} Mbit/s (goodput ceiling {rate * GOODPUT_FACTOR:.2f} Mbps)")
            try:
                results[rate] = measure_rate(rate, args.repeat, args.iperf_seconds)
            except (RuntimeError, subprocess.SubprocessError, ValueError, KeyError) as exc:
                log(f"  {rate:g} Mbit: {type(exc).__name__}: {exc}")
                failed[rate] = f"{type(exc).__name__}: {exc}"
    except KeyboardInterrupt:
        log("interrupted: namespaces removed")
        return 130
    report(results, failed)
    print(f"\ntook {time.monotonic() - started:.0f} s")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
