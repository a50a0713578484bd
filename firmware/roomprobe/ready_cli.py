"""``roomprobe ready``: check the room now, at the box, and print the answer (vi/en).

The same readiness run as the button's short press and the hub's ``ready``
command, run by the daemon (see :mod:`roomprobe.local_requests`); this command
asks for it, waits, and prints each part's verdict and who must act. Rule 1
holds here too: during a meeting, in meeting mode or while people talk the
daemon refuses, and the command says why.

Exit status: 0 ready; 1 not ready or could not test; 69 no check now (refused,
or the daemon is not running); 75 no answer in time; 78 a bad config.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from . import config, local_requests, outbox
from .doctor import daemon_running, readiness_lines
from .tomlconfig import ConfigError, report

EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
EX_CONFIG = 78
POLL_S = 0.5


def _say(vi: str, en: str, stream=sys.stdout) -> None:
    print(vi, file=stream)
    print(f"  {en}", file=stream, flush=True)


def cmd_ready(args: argparse.Namespace) -> int:
    try:
        cfg = config.load(args.config)
    except ConfigError as exc:
        print(report(exc, "roomprobe"), file=sys.stderr)
        return EX_CONFIG
    state_dir = Path(cfg.paths.state_dir)
    db = state_dir / outbox.FILE_NAME
    if not daemon_running(state_dir) or not db.exists():
        _say("Chương trình kiểm tra không chạy nên không kiểm tra được. Báo cán bộ CNTT "
             "(systemctl status roomprobe).",
             "The probe daemon is not running, so nothing can be checked. Tell IT staff "
             "(systemctl status roomprobe).", sys.stderr)  # fmt: skip
        return EX_UNAVAILABLE
    request_id = local_requests.ask(db)
    try:
        return _ask_and_wait(db, request_id, args.wait if args.wait is not None
                             else cfg.daemon.readiness_max_s + 30.0)  # fmt: skip
    finally:
        local_requests.forget(db, request_id)


def _ask_and_wait(db: Path, request_id: str, wait_s: float) -> int:
    # The daemon looks for requests every second; it drops one it could not take in time.
    answer = _wait_for(db, request_id, ("started", "refused", "done"),
                       local_requests.MAX_AGE_S + 2.0)  # fmt: skip
    if answer is None:
        _say("Chương trình kiểm tra không nhận yêu cầu. Thử lại sau; nếu vẫn vậy, báo cán bộ CNTT.",
             "The probe daemon did not take the request. Try again later; if it stays so, tell "
             "IT staff.", sys.stderr)  # fmt: skip
        return EX_TEMPFAIL
    if answer["state"] == "refused":
        why = answer.get("message") or {"vi": "?", "en": "?"}
        _say(f"Không kiểm tra lúc này: {why['vi']}.", f"No check now: {why['en']}.", sys.stderr)
        return EX_UNAVAILABLE
    if answer["state"] == "started":
        _say("Đang kiểm tra phòng họp: đường truyền, rồi âm thanh, rồi thiết bị…",
             "Checking the room: the line, then the audio, then the probe…")  # fmt: skip
        answer = _wait_for(db, request_id, ("done",), wait_s, answer["instance"])
        if answer == "restarted":
            _say("Chương trình kiểm tra đã khởi động lại giữa chừng nên lần kiểm tra bị mất. "
                 "Chạy lại lệnh roomprobe ready.",
                 "The probe daemon restarted during the check, which was lost. Run "
                 "roomprobe ready again.", sys.stderr)  # fmt: skip
            return EX_TEMPFAIL
        if answer is None:
            _say(f"Chưa có kết quả sau {wait_s:.0f} giây. Xem lại bằng lệnh roomprobe doctor.",
                 f"No result after {wait_s:.0f} s. See roomprobe doctor later.",
                 sys.stderr)  # fmt: skip
            return EX_TEMPFAIL
    return _print_result(answer.get("result") or {})


def _wait_for(db: Path, request_id: str, states: tuple[str, ...], within_s: float,
              instance: str | None = None) -> Any:  # fmt: skip
    """The answer in one of ``states``; None after ``within_s``; "restarted" when the daemon
    that took the request (``instance``) is no longer the one running."""
    deadline = time.monotonic() + within_s
    while True:
        found = local_requests.answer_of(db, request_id)
        if found is not None and found.get("state") in states:
            return found
        if instance is not None and (
            local_requests.instance_of(db) != instance or not daemon_running(db.parent)
        ):
            return "restarted"
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)


def _print_result(result: dict[str, Any]) -> int:
    if not result.get("verdict"):
        _say("Không đọc được kết quả kiểm tra.", "The check's result cannot be read.", sys.stderr)
        return EX_TEMPFAIL
    print("\n".join(readiness_lines(result, every_part=True)))
    return 0 if result["verdict"]["status"] in ("ok", "degraded") else 1


def register(sub: Any, with_config: Any) -> None:
    p = sub.add_parser(
        "ready",
        help="check the room now (line, audio, probe) as before a meeting, and print the answer",
    )
    with_config(p)
    p.add_argument("--wait", type=float, default=None,
                   help="seconds to wait for the result (default: the config's "
                   "daemon.readiness_max_s + 30)")  # fmt: skip
    p.set_defaults(func=cmd_ready)
