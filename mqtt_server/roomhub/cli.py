"""``roomhub``: the hub's command line.

The consumer and dashboard, config checks, the broker's config, the demo.

Errors a person can cause print a sentence and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from roomprobe import __version__, tomlconfig
from roomprobe.tomlconfig import ConfigError

from . import config

EX_USAGE = 2
EX_CONFIG = 78
EX_CANTCREAT = 73  # sysexits.h: a file or folder the hub needs cannot be used


def _load(path: str) -> config.HubConfig | None:
    try:
        return config.load(path)
    except ConfigError as exc:
        print(tomlconfig.report(exc, "roomhub"), file=sys.stderr)
        return None


def _first_line(exc: BaseException) -> str:
    """A database error's own sentence, without SQLAlchemy's SQL echo and help link."""
    inner = getattr(exc, "orig", None) or exc
    return str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from .consumer import Consumer
    from .database import StoreError
    from .udp_echo import UdpEcho
    from .web import create_app

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    cfg = _load(args.config)
    if cfg is None:
        return EX_CONFIG
    try:
        consumer = Consumer(cfg)  # opens the store and reads the password: fail here, clearly
        port = cfg.line.udp_echo_port
        echo = UdpEcho(cfg.web.host, port) if port else None  # binds: a taken port fails here
    except OSError as exc:
        print(f"roomhub: cannot start: {exc}", file=sys.stderr)
        return EX_CANTCREAT
    except StoreError as exc:
        where = cfg.storage.url or cfg.storage.path
        print(f"roomhub: cannot use the database {where}: {_first_line(exc)}", file=sys.stderr)
        return EX_CANTCREAT
    logging.getLogger("roomhub").info("dashboard on http://%s:%d/", cfg.web.host, cfg.web.port)
    # The consumer starts and stops with the app (see web.create_app).
    uvicorn.run(
        create_app(cfg, consumer, echo), host=cfg.web.host, port=cfg.web.port, log_level="warning"
    )
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = _load(args.file)
    if cfg is None:
        return EX_CONFIG
    print(
        f"{args.file}: OK (hub {cfg.hub_id}, broker {cfg.mqtt.host}:{cfg.mqtt.port}, "
        f"{len(cfg.sites)} sites)"
    )
    return 0


def cmd_broker_config(args: argparse.Namespace) -> int:
    import ipaddress

    from .broker import render_config
    from .provision import Layout

    security = None
    if args.security_dir:
        security = Layout(Path(args.security_dir)).security()
        files = (security.cafile, security.certfile, security.keyfile,
                 security.password_file, security.acl_file)  # fmt: skip
        missing = [str(p) for p in files if not p.exists()]
        if missing:
            print(f"roomhub: {args.security_dir} lacks {', '.join(missing)}: "
                  "run 'roomhub pki init' first", file=sys.stderr)  # fmt: skip
            return EX_USAGE
    try:
        loopback = ipaddress.ip_address(args.bind).is_loopback
    except ValueError:
        loopback = args.bind == "localhost"
    if not loopback and security is None:
        # Rule 4: each probe publishes only under its own site. Without TLS, accounts and
        # the ACL (--security-dir) the broker must not listen beyond this machine.
        print(
            f"roomhub: refusing to bind {args.bind} without --security-dir: an open broker "
            "(no TLS, accounts or ACL) may only listen on this machine (127.0.0.1)",
            file=sys.stderr,
        )
        return EX_USAGE

    print(render_config(args.port, Path(args.data_dir), bind=args.bind, user=args.user,
                        security=security), end="")  # fmt: skip
    return 0


def cmd_line_endpoint(args: argparse.Namespace) -> int:
    import uvicorn

    from .line_endpoint import create_standalone_app
    from .udp_echo import UdpEcho

    echo = UdpEcho(args.host, args.udp_port).start() if args.udp_port else None
    try:
        uvicorn.run(create_standalone_app(), host=args.host, port=args.port, log_level="warning")
    finally:
        if echo is not None:
            echo.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.workdir), web_port=args.port)


def _provision(args: argparse.Namespace, step) -> int:
    """Run one provisioning step with the config; a failure is one sentence, exit 1."""
    from . import access, provision

    cfg = _load(args.config)
    if cfg is None:
        return EX_CONFIG
    try:
        step(cfg, provision)
    except (provision.ProvisionError, access.AccessError, FileExistsError, OSError) as exc:
        print(f"roomhub: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_pki_init(args: argparse.Namespace) -> int:
    def step(cfg, provision) -> None:
        lay = provision.init_pki(cfg, args.hostname)
        print(f"CA, broker certificate, hub account and ACL written in {lay.dir}")
        print(f"the hub's broker password is in {lay.hub_secret} (mode 0600)")

    return _provision(args, step)


def cmd_site_add(args: argparse.Namespace) -> int:
    def step(cfg, provision) -> None:
        bundle = provision.add_site(cfg, args.site, args.name, args.hardware)
        print(f"account {args.site} created; bundle for the SD card: {bundle}"
              + (" (simulated hardware)" if args.hardware == "simulated" else ""))  # fmt: skip
        print(provision.reload_broker(cfg))

    return _provision(args, step)


def cmd_site_list(args: argparse.Namespace) -> int:
    def step(cfg, provision) -> None:
        sites = provision.list_sites(cfg)
        if not sites:
            print("no sites provisioned")
        for site, has_bundle in sites:
            print(f"{site}\t{'bundle ready' if has_bundle else 'no bundle'}")

    return _provision(args, step)


def cmd_site_write_image(args: argparse.Namespace) -> int:
    from . import sdcard

    def step(cfg, provision) -> None:
        bundle = provision.Layout(cfg.security.dir).bundle(args.site)
        if not bundle.exists():
            raise provision.ProvisionError(
                f"{args.site} has no bundle in {bundle.parent}: run 'roomhub site add' first"
            )
        try:
            written = sdcard.write_bundle(Path(args.image), bundle)
        except sdcard.SdCardError as exc:
            raise provision.ProvisionError(str(exc)) from None
        print(f"{args.site}: {', '.join(written)} written to the boot partition of {args.image}")
        print("the box takes them on first boot and removes the password from the card")

    return _provision(args, step)


def cmd_site_remove(args: argparse.Namespace) -> int:
    def step(cfg, provision) -> None:
        provision.remove_site(cfg, args.site)
        print(f"account {args.site} revoked and its bundle deleted")
        print(provision.reload_broker(cfg))

    return _provision(args, step)


EX_UNAVAILABLE = 69  # sysexits.h: the hub (or the probe) is not there
EX_TEMPFAIL = 75  # no reply in time: try again later


def _hub_call(args: argparse.Namespace, step) -> int:
    """Run one step against the running hub's API; failures are one sentence."""
    from . import hubclient

    cfg = _load(args.config)
    if cfg is None:
        return EX_CONFIG
    try:
        return step(cfg, hubclient)
    except hubclient.HubUnreachable as exc:
        print(f"roomhub: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    except hubclient.HubRefused as exc:
        print(f"roomhub: the hub refused: {exc}", file=sys.stderr)
        return 1


def _print_reply(state: dict, wait: float) -> int:
    if state["state"] == "waiting":
        print(f"no reply within {wait:.0f} s (the probe may be offline); command {state['msg_id']}"
              " stays on the dashboard", file=sys.stderr)  # fmt: skip
        return EX_TEMPFAIL
    if state["state"] == "expired":
        print(f"the command expired without a reply (probe offline?): {state['msg_id']}",
              file=sys.stderr)  # fmt: skip
        return EX_TEMPFAIL
    reply = state["reply"]
    print(f"{reply['message']['vi']}\n{reply['message']['en']}")
    for kind, status in (reply.get("result") or {}).get("verdicts", {}).items():
        print(f"  {kind}: {status}")
    for problem in (reply.get("result") or {}).get("problems", []):  # set-config: every one
        print(f"  - {problem}")
    return 0 if reply["ok"] else 1


def set_config_args(pairs: list[str], reset: bool) -> dict:
    """``set-config``'s args from ``table.key=value`` words, as district IT types them.

    A value is read as JSON when it is JSON (40, 0.5, true, [3600, 1200], null: the
    box's own value again) and as text otherwise (off); the probe judges names and
    values, so what it refuses is refused in one place, with the same words.
    Raises ValueError with a sentence for words that are no setting at all.
    """
    import json

    def no_constant(name: str) -> None:
        raise ValueError(f"{name} is not a setting")

    config: dict = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        parts = key.split(".")
        if not eq or not key or len(parts) > 2 or not all(parts) or key != key.strip():
            raise ValueError(f"{pair!r} is not table.key=value (e.g. thresholds.download_mbps=40)")
        if not raw:
            raise ValueError(f"{pair!r} has no value (null gives the key back to the box's file)")
        try:
            value = json.loads(raw, parse_constant=no_constant)
        except json.JSONDecodeError:
            value = raw  # a word: off, speedtest.net
        except ValueError as exc:
            raise ValueError(f"{pair!r}: {exc}") from None
        table = parts[0]
        if len(parts) == 1:
            if table in config:
                raise ValueError(f"{table} is given twice")
            config[table] = value
        else:
            into = config.setdefault(table, {})
            if not isinstance(into, dict) or parts[1] in into:
                raise ValueError(f"{key} is given twice (or with its whole table)")
            into[parts[1]] = value
    if not config and not reset:
        raise ValueError("nothing to set: give table.key=value words, or --reset")
    return {**({"config": config} if config else {}), **({"reset": True} if reset else {})}


def cmd_probe(args: argparse.Namespace) -> int:
    if args.probe_command == "set-config":
        try:
            args.cmd_args = set_config_args(args.settings, args.reset)
        except ValueError as exc:
            print(f"roomhub: set-config: {exc}", file=sys.stderr)
            return EX_USAGE

    def step(cfg, hubclient) -> int:
        if args.probe_command == "run-test":
            command, cmd_args = "run-test", {"tests": args.tests}
        elif args.probe_command == "ready":
            command, cmd_args = "ready", {}
        elif args.probe_command == "set-config":
            command, cmd_args = "set-config", args.cmd_args
        else:
            command, cmd_args = "meeting-mode", {"on": args.state == "on"}
        sent = hubclient.call(cfg, "POST", f"/api/sites/{args.site}/commands",
                              {"command": command, "args": cmd_args})  # fmt: skip
        print(f"sent {command} to {args.site} ({sent['msg_id']}); waiting up to {args.wait:.0f} s",
              file=sys.stderr)  # fmt: skip
        return _print_reply(hubclient.wait_for_reply(cfg, sent["msg_id"], args.wait), args.wait)

    return _hub_call(args, step)


def cmd_meeting(args: argparse.Namespace) -> int:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    def step(cfg, hubclient) -> int:
        zone = ZoneInfo(cfg.web.timezone)
        if args.meeting_command == "list":
            meetings = hubclient.call(cfg, "GET", "/api/meetings")
            if not meetings:
                print("no meeting ahead")
            for m in meetings:
                start = datetime.fromisoformat(m["start"].replace("Z", "+00:00")).astimezone(zone)
                sites = ", ".join(m["sites"]) or "all sites"
                print(f"{m['id']}\t{start:%d/%m/%Y %H:%M}\t{m['title']}\t{sites}")
            return 0
        if args.meeting_command == "remove":
            done = hubclient.call(cfg, "DELETE", f"/api/meetings/{args.id}")
            print(f"removed {done['removed']}")
            return 0
        if args.meeting_command == "summary":
            return _print_summary(cfg, hubclient, args.id, args.json)
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            print(f"roomhub: --start {args.start!r} is not a date and time "
                  "(e.g. 2026-12-01T08:00)", file=sys.stderr)  # fmt: skip
            return EX_USAGE
        if start.tzinfo is None:
            start = start.replace(tzinfo=zone)  # as people type it: the district's own time
        end = start + timedelta(minutes=args.minutes)
        sites = [s for s in (args.sites or "").split(",") if s]
        made = hubclient.call(cfg, "POST", "/api/meetings", {
            "title": args.title, "start": start.isoformat(), "end": end.isoformat(),
            "sites": sites})  # fmt: skip
        print(f"meeting {made['id']} added")
        if made.get("warning"):
            print(f"roomhub: not published yet: {made['warning']}", file=sys.stderr)
        return 0

    return _hub_call(args, step)


def _print_summary(cfg, hubclient, meeting_id: str, as_json: bool) -> int:
    """What each room's probe saw before and during a meeting: Vietnamese, then English."""
    import json
    from zoneinfo import ZoneInfo

    from roomprobe.contract import parse_utc

    from .meeting_summary import as_text

    zone = ZoneInfo(cfg.web.timezone)
    try:
        found = hubclient.call(cfg, "GET", f"/api/meetings/{meeting_id}/summary")
    except hubclient.HubRefused as exc:  # an unknown id: say so in both languages
        print(f"roomhub: không có cuộc họp {meeting_id!r} / {exc} "
              "(see 'roomhub meeting list' and the dashboard's meeting schedule)",
              file=sys.stderr)  # fmt: skip
        return 1
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return 0
    sys.stdout.write(
        as_text(found, lambda iso: f"{parse_utc(iso).astimezone(zone):%H:%M %d/%m/%Y}")
    )
    return 0


def _site_id(text: str) -> str:
    from roomprobe.contract import topics

    if not topics.is_site_id(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a site id: 2-63 lower-case letters, digits and hyphens (e.g. dak-ang)"
        )
    return text


def cmd_report(args: argparse.Namespace) -> int:
    from . import monthly, report
    from .database import StoreError, open_engine, url_for

    cfg = _load(args.config)
    if cfg is None:
        return EX_CONFIG
    try:
        if args.month:
            year_month = monthly.parse_month(args.month)
        else:
            year_month = report.last_full_month(timezone=cfg.web.timezone)
    except ValueError as exc:
        print(f"roomhub: --month {exc}", file=sys.stderr)
        return EX_USAGE
    from . import report_pdf  # matplotlib: only for this command

    try:
        engine = open_engine(url_for(cfg.storage.path, cfg.storage.url), readonly=True)
        try:
            built = monthly.build(cfg, engine, year_month)
        finally:
            engine.dispose()
    except StoreError as exc:
        print(f"roomhub: cannot read the store: {_first_line(exc)}", file=sys.stderr)
        return EX_CANTCREAT
    try:
        for path in report_pdf.write_report(built, Path(args.out), args.lang):
            print(path)
    except OSError as exc:
        print(f"roomhub: cannot write the report into {args.out}: {exc}", file=sys.stderr)
        return EX_CANTCREAT
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roomhub",
        description="District hub: stores every probe result, shows the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"roomhub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run the consumer and the dashboard")
    p.add_argument(
        "--config",
        default=str(config.DEFAULT_PATH),
        help=f"the hub's TOML config (default {config.DEFAULT_PATH})",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-config", help="validate a hub config file and name every problem")
    p.add_argument("file", help="the TOML file to check")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("broker-config", help="print the project's mosquitto configuration")
    p.add_argument("--port", type=int, default=1883, help="listener port (default 1883)")
    p.add_argument("--bind", default="127.0.0.1", help="listener address (default 127.0.0.1)")
    p.add_argument(
        "--data-dir", default="/var/lib/mosquitto", help="persistence folder (default %(default)s)"
    )
    p.add_argument(
        "--user",
        default="mosquitto",
        help="user mosquitto runs as; it must own the data folder (default %(default)s)",
    )
    p.add_argument(
        "--security-dir",
        help="the [security] dir of 'roomhub pki init': TLS only, accounts only, the ACL "
        "(needed to listen beyond this machine)",
    )
    p.set_defaults(func=cmd_broker_config)

    p = sub.add_parser(
        "line-endpoint",
        help="serve only the line-test endpoint (/mini/) that probes measure against",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=8081, help="port (default %(default)s)")
    p.add_argument(
        "--udp-port", type=int, default=8082, help="UDP echo port, 0 for none (default %(default)s)"
    )
    p.set_defaults(func=cmd_line_endpoint)

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", default=str(config.DEFAULT_PATH),
                       help=f"the hub's TOML config (default {config.DEFAULT_PATH})")  # fmt: skip

    pki_cmd = sub.add_parser("pki", help="the district's CA and broker certificate")
    pki_sub = pki_cmd.add_subparsers(dest="pki_command", required=True, metavar="COMMAND")
    p = pki_sub.add_parser("init", help="make the CA, the broker certificate, the hub account")
    with_config(p)
    p.add_argument("--hostname", action="append", default=[],
                   help="a name or address the broker is reached at (repeat for more)")  # fmt: skip
    p.set_defaults(func=cmd_pki_init)

    site_cmd = sub.add_parser("site", help="provision sites: accounts and SD-card bundles")
    site_sub = site_cmd.add_subparsers(dest="site_command", required=True, metavar="COMMAND")
    p = site_sub.add_parser("add", help="create a site's account and its bundle")
    with_config(p)
    p.add_argument("site", help="the site id, e.g. dak-ang")
    p.add_argument("--name", required=True, help='the room\'s name, e.g. "Xã Đắk Ang"')
    p.add_argument("--hardware", choices=("pi", "simulated"), default="pi",
                   help="pi (default): the box tests the real line against the hub's endpoint, "
                   "the room's sound card and drives its LEDs; simulated: a box without "
                   "them (a test bench, a virtual machine)")  # fmt: skip
    p.set_defaults(func=cmd_site_add)
    p = site_sub.add_parser("list", help="list provisioned sites")
    with_config(p)
    p.set_defaults(func=cmd_site_list)
    p = site_sub.add_parser(
        "write-image", help="write a site's bundle onto an SD image's (or card's) boot partition"
    )
    with_config(p)
    p.add_argument("site", type=_site_id, help="the site id")
    p.add_argument("image", help="the roomprobe .img file (decompressed), or the card's device")
    p.set_defaults(func=cmd_site_write_image)
    p = site_sub.add_parser("remove", help="revoke a site's account and delete its bundle")
    with_config(p)
    p.add_argument("site", help="the site id")
    p.set_defaults(func=cmd_site_remove)

    probe_cmd = sub.add_parser("probe", help="send a command to one probe and show its reply")
    probe_sub = probe_cmd.add_subparsers(dest="probe_command", required=True, metavar="COMMAND")
    p = probe_sub.add_parser("run-test", help="run the line and/or audio test now")
    with_config(p)
    p.add_argument("site", type=_site_id, help="the site id, e.g. dak-ang")
    p.add_argument("--tests", nargs="+", choices=["net", "audio"], default=["net", "audio"],
                   help="which tests (default both)")  # fmt: skip
    p.add_argument("--wait", type=float, default=180.0,
                   help="seconds to wait for the reply (default %(default)s)")  # fmt: skip
    p.set_defaults(func=cmd_probe)
    p = probe_sub.add_parser("ready", help="a full readiness run now (line, audio, the probe); "
                             "its result shows on the readiness board")  # fmt: skip
    with_config(p)
    p.add_argument("site", type=_site_id, help="the site id")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the reply")
    p.set_defaults(func=cmd_probe)
    p = probe_sub.add_parser("meeting-mode", help="turn a room's meeting mode on or off")
    with_config(p)
    p.add_argument("site", type=_site_id, help="the site id")
    p.add_argument("state", choices=["on", "off"])
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the reply")
    p.set_defaults(func=cmd_probe)
    p = probe_sub.add_parser(
        "set-config",
        help="change a room's thresholds, test intervals, data budget or meeting timing; the "
        "probe checks, keeps and applies it, or refuses naming the key (docs/operators/"
        "dashboard.md)",
    )
    with_config(p)
    p.add_argument("site", type=_site_id, help="the site id")
    p.add_argument(
        "settings", nargs="*", metavar="TABLE.KEY=VALUE",
        help="e.g. thresholds.download_mbps=40 net.interval_s=900; VALUE is JSON (40, true, "
        "[3600, 1200]) or a word (off); null: the box's own value",
    )  # fmt: skip
    p.add_argument(
        "--reset", action="store_true",
        help="drop every setting the hub made first: the box's own file again",
    )  # fmt: skip
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the reply")
    p.set_defaults(func=cmd_probe)

    meeting_cmd = sub.add_parser("meeting", help="the meeting schedule the probes receive")
    meeting_sub = meeting_cmd.add_subparsers(dest="meeting_command", required=True,
                                             metavar="COMMAND")  # fmt: skip
    p = meeting_sub.add_parser("add", help="schedule a meeting and publish the schedule")
    with_config(p)
    p.add_argument("--title", required=True, help='e.g. "Họp giao ban tuần"')
    p.add_argument(
        "--start",
        required=True,
        help="start, e.g. 2026-12-01T08:00 (the hub's time zone unless one is given)",
    )
    p.add_argument("--minutes", type=int, default=120, help="length (default %(default)s)")
    p.add_argument("--sites", help="comma-separated site ids (default: every site)")
    p.set_defaults(func=cmd_meeting)
    p = meeting_sub.add_parser("list", help="the meetings ahead")
    with_config(p)
    p.set_defaults(func=cmd_meeting)
    p = meeting_sub.add_parser("remove", help="delete a meeting and publish the schedule")
    with_config(p)
    p.add_argument("id", help="the meeting's id (see 'roomhub meeting list')")
    p.set_defaults(func=cmd_meeting)
    p = meeting_sub.add_parser(
        "summary", help="what each room's probe saw before and during a meeting (vi, then en)"
    )
    with_config(p)
    p.add_argument("id", help="the meeting's id (see the dashboard's meeting schedule)")
    p.add_argument("--json", action="store_true", help="the summary as JSON, as the API gives it")
    p.set_defaults(func=cmd_meeting)

    p = sub.add_parser("report", help="the monthly report: CSV and PDF, per commune and district")
    with_config(p)
    p.add_argument("--month", help="YYYY-MM (default: the last full month in the hub's zone)")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="language (default vi)")
    p.add_argument("--out", default=".", help="folder for the files (default: here)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "demo", help="run a broker, the hub and four simulated probes on this machine"
    )
    p.add_argument("--workdir", default=".demo", help="where the demo keeps its files")
    p.add_argument("--port", type=int, default=8080, help="dashboard port (default 8080)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
