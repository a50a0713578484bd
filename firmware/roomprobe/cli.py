"""``roomprobe``: the probe's command line (the daemon, config checks, the outbox).

Errors a person can cause (a bad config, a missing file) print a sentence
and exit non-zero; they never print a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import logging
import shutil
import signal
import sqlite3
import sys
import tomllib
from pathlib import Path

from . import __version__, config, outbox, supervisor, tomlconfig
from .tomlconfig import ConfigError

EX_USAGE = 2
EX_CONFIG = 78  # sysexits.h; the unit's RestartPreventExitStatus matches it
EX_CANTCREAT = 73  # a file or folder the probe needs cannot be used
EX_TEMPFAIL = 75  # another daemon holds the state folder
LAST_GOOD = "last-good.toml"

log = logging.getLogger("roomprobe")


def _print_config_error(exc: ConfigError) -> None:
    print(tomlconfig.report(exc, "roomprobe"), file=sys.stderr)


def _load_or_report(path: str | Path) -> config.ProbeConfig | None:
    """The config, or None after printing every problem."""
    try:
        return config.load(path)
    except ConfigError as exc:
        _print_config_error(exc)
        return None


def _state_dir_hint(path: Path) -> Path:
    """Where the last good config may be, read from a config too broken to load."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return Path(raw["paths"]["state_dir"])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return config.PathsConfig().state_dir


def load_for_run(path: Path) -> tuple[config.ProbeConfig, list[str]]:
    """The config to run with, and the problems of the rejected one (if any).

    Rule 3: a bad config changes nothing. The daemon keeps a copy of the last
    config that loaded; when the given one is bad it runs on that copy and
    reports the problems (event, system verdict) instead of leaving the room
    without a probe. Only with no good copy at all does it refuse to start.
    """
    try:
        cfg = config.load(path)
    except ConfigError as exc:
        backup = _state_dir_hint(path) / LAST_GOOD
        if not backup.exists():
            raise
        _print_config_error(exc)
        print(f"roomprobe: running on the last good configuration {backup}", file=sys.stderr)
        return config.load(backup), exc.problems
    backup = Path(cfg.paths.state_dir) / LAST_GOOD
    if not backup.exists() or not filecmp.cmp(path, backup, shallow=False):
        backup.parent.mkdir(parents=True, exist_ok=True)
        tmp = backup.with_suffix(".tmp")
        shutil.copyfile(path, tmp)
        tmp.replace(backup)  # atomic: a power cut leaves the old copy or the new one
    return cfg, []


def cmd_run(args: argparse.Namespace) -> int:
    from .service import AlreadyRunning, ProbeService  # paho and backends only when running

    supervisor.setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        cfg, problems = load_for_run(Path(args.config))
    except ConfigError as exc:
        _print_config_error(exc)
        return EX_CONFIG
    except OSError as exc:  # the last good copy cannot be written
        print(f"roomprobe: cannot keep a copy of the config: {exc}", file=sys.stderr)
        return EX_CANTCREAT
    try:
        service = ProbeService(cfg, config_problems=problems)
    except AlreadyRunning as exc:
        print(f"roomprobe: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except (OSError, sqlite3.Error) as exc:
        print(f"roomprobe: cannot use the state folder {cfg.paths.state_dir}: {exc}",
              file=sys.stderr)  # fmt: skip
        return EX_CANTCREAT

    def stop(signum: int, frame: object) -> None:
        service.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.run()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = _load_or_report(args.file)
    if cfg is None:
        return EX_CONFIG
    print(f"{args.file}: OK (site {cfg.site}, broker {cfg.mqtt.host}:{cfg.mqtt.port})")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    cfg = _load_or_report(args.config)
    if cfg is None:
        return EX_CONFIG
    path = Path(cfg.paths.state_dir) / outbox.FILE_NAME
    if not path.exists():
        print(f"{path}: no outbox yet (the daemon has not run)")
        return 0
    try:
        if args.requeue_rejected:
            moved = outbox.requeue_rejected(path)
            print(f"{moved} refused messages put back in the outbox")
        counts = outbox.inspect(path)
    except sqlite3.Error as exc:
        print(f"roomprobe: cannot read the outbox {path}: {exc}", file=sys.stderr)
        return EX_CANTCREAT
    print(f"outbox {path}")
    print(f"  waiting to be sent: {counts['waiting']}")
    print(f"  refused by the broker: {counts['rejected']}")
    print(f"  last sequence number: {counts['last_seq']}")
    bound = cfg.outbox.max_mb * 1e6
    print(f"  payload bytes waiting: {counts['waiting_bytes']:,} of {bound:,.0f} "
          f"({100 * counts['waiting_bytes'] / bound:.1f} % of outbox.max_mb)")  # fmt: skip
    print(f"  dropped, oldest first, because the outbox was full: {counts['dropped']}")
    return 0


def cmd_net_test(args: argparse.Namespace) -> int:
    import json

    from .line import linetest, multistream, speedtest_cli

    url = args.server
    if url is None:
        cfg = _load_or_report(args.config)
        if cfg is None:
            return EX_CONFIG
        url = cfg.net.server_url
    if not url:
        print("roomprobe: no server: give --server http://HUB:PORT/mini/ or set net.server_url",
              file=sys.stderr)  # fmt: skip
        return EX_USAGE
    try:
        metrics = linetest.full_test(url, with_speedtest_cli=not args.no_speedtest_cli)
    except (multistream.LineTestError, speedtest_cli.SpeedtestError) as exc:
        print(f"roomprobe: không đo được đường truyền / the line test failed: {exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False, indent=2))
        return 0
    ms = metrics["estimates"]["multistream"]
    print(f"máy chủ / server: {metrics['server']}")
    print(f"độ trễ / latency: {metrics['rtt_ms']:.1f} ms, jitter {metrics['jitter_ms']:.1f} ms, "
          f"mất gói / loss {metrics['loss_pct']:.1f} %, MOS {metrics['mos']:.2f}")  # fmt: skip
    for way, label in (("download", "tải xuống / download"), ("upload", "tải lên / upload")):
        d = ms[way]
        mean, secs, mb = d["mean_mbps"], d["duration_s"], d["bytes"] / 1e6
        print(f"{label}: {d['steady_mbps']:.1f} Mbps (trung bình cả lần đo / whole-test mean "
              f"{mean:.1f}, {secs:.1f} s, {mb:.1f} MB)")  # fmt: skip
    if "speedtest_cli" in metrics["estimates"]:
        st = metrics["estimates"]["speedtest_cli"]
        print(f"speedtest-cli: {st['download_mbps']:.1f} / {st['upload_mbps']:.1f} Mbps, "
              f"{(st['bytes_received'] + st['bytes_sent']) / 1e6:.1f} MB")  # fmt: skip
    print(f"dữ liệu đã dùng / data used: {metrics['bytes_used'] / 1e6:.1f} MB")
    return 0


def cmd_net_watch(args: argparse.Namespace) -> int:
    """The light probes live: one line per target every --every seconds, until Ctrl-C."""
    import time

    from .line.monitor import from_config

    cfg = _load_or_report(args.config)
    if cfg is None:
        return EX_CONFIG
    monitor = from_config(cfg.net, args.server)
    if not monitor.targets:
        print("roomprobe: không có gì để đo / nothing to probe: no gateway, hub or resolver",
              file=sys.stderr)  # fmt: skip
        return EX_USAGE
    names = ", ".join(t.name for t in monitor.targets)
    print(f"đang đo / probing: {names} (Ctrl-C để dừng / to stop)")
    monitor.start()
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        while not stop:
            time.sleep(args.every)
            window = monitor.summary(time.monotonic() - started)
            started = time.monotonic()
            for name, t in window["targets"].items():
                rtt = t["rtt_ms"]["median"] if t["rtt_ms"] else None
                rtt_text = f"{rtt:6.1f} ms" if rtt is not None else "   --    "
                jitter = t["jitter_ms"] if t["jitter_ms"] is not None else 0.0
                print(f"{name:9} RTT {rtt_text}  jitter {jitter:5.1f} ms  "
                      f"mất gói / loss {t['loss_pct']:5.1f} %  ({t['sent']} gói / packets)",
                      flush=True)  # fmt: skip
    finally:
        monitor.stop()
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import report

    cfg = _load_or_report(args.config)
    if cfg is None:
        return EX_CONFIG
    text, code = report(cfg)
    print(text, end="")
    return code


def cmd_firstboot(args: argparse.Namespace) -> int:
    from . import firstboot

    on_the_box = args.root == "/"
    bundle = Path(args.bundle)
    try:
        if not firstboot.pending(bundle):
            print(f"no bundle in {args.bundle}: nothing to do")
            return 0
        with firstboot.writable(bundle.parent) if on_the_box else contextlib.nullcontext():
            taken = firstboot.take(bundle, Path(args.root), Path(args.config),
                                   set_hostname=on_the_box)  # fmt: skip
    except firstboot.BundleError as exc:
        print(f"roomprobe: the bundle in {args.bundle} was not taken: {exc}", file=sys.stderr)
        return EX_CONFIG
    except OSError as exc:
        print(f"roomprobe: cannot take the bundle: {exc}", file=sys.stderr)
        return EX_CANTCREAT
    if taken is None:
        print(f"no bundle in {args.bundle}: nothing to do")
    else:
        print(f"took the bundle of {taken.site}: config {taken.config}, host name "
              f"{taken.hostname}; the password left the boot partition")  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roomprobe",
        description="Meeting-room probe: tests the room's line and audio chain and "
        "reports to the district hub.",
    )
    parser.add_argument("--version", action="version", version=f"roomprobe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            default=str(config.DEFAULT_PATH),
            help=f"the probe's TOML config (default {config.DEFAULT_PATH})",
        )

    p = sub.add_parser("run", help="run the probe daemon (what systemd starts)")
    with_config(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "firstboot",
        help="take a site's bundle from the SD card's boot partition (run at boot by systemd)",
    )
    p.add_argument("--bundle", default="/boot/firmware/roomprobe",
                   help="where the bundle is (default %(default)s)")  # fmt: skip
    p.add_argument("--config", default=str(config.DEFAULT_PATH),
                   help="where the probe's config goes (default %(default)s)")  # fmt: skip
    p.add_argument("--root", default="/", help=argparse.SUPPRESS)  # tests: a stand-in root
    p.set_defaults(func=cmd_firstboot)

    p = sub.add_parser("check-config", help="validate a config file and name every problem")
    p.add_argument("file", help="the TOML file to check")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("outbox", help="show how many results wait to be sent")
    with_config(p)
    p.add_argument(
        "--requeue-rejected",
        action="store_true",
        help="send again the messages the broker refused (after fixing the cause, e.g. the ACL)",
    )
    p.set_defaults(func=cmd_outbox)

    net = sub.add_parser("net", help="line tests by hand").add_subparsers(
        dest="net_command", required=True, metavar="COMMAND"
    )
    p = net.add_parser("test", help="run one full line test now and print the result")
    with_config(p)
    p.add_argument("--server", help="the hub's line-test endpoint, e.g. http://hub:8080/mini/")
    p.add_argument("--json", action="store_true", help="print the result's metrics as JSON")
    p.add_argument(
        "--no-speedtest-cli", action="store_true", help="skip the speedtest-cli comparison run"
    )
    p.set_defaults(func=cmd_net_test)

    p = net.add_parser("watch", help="show the light probes (latency, jitter, loss) live")
    with_config(p)
    p.add_argument("--server", help="the hub's line-test endpoint (for its host)")
    p.add_argument("--every", type=float, default=2.0, help="seconds per line (default 2)")
    p.set_defaults(func=cmd_net_watch)

    p = sub.add_parser(
        "doctor", help="what the lights mean now, the last results and what to do (vi/en)"
    )
    with_config(p)
    p.set_defaults(func=cmd_doctor)

    from . import audio_cli, ready_cli

    ready_cli.register(sub, with_config)
    audio_cli.register(sub, with_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
