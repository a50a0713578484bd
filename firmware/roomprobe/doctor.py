"""``roomprobe doctor``: what the lights mean now, the last results, and what to do next.

For room staff at the box (keyboard and screen) and district IT over SSH.
Everything printed comes from the same places the lights and the hub use:
the legend (``leds.legend``), the verdicts' texts, and the daemon's own
record of its latest status and results (``state_dir/now.json``), read
without disturbing the running daemon. Vietnamese first, English beneath.
"""

from __future__ import annotations

import fcntl
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import outbox
from .config import ProbeConfig
from .contract import parse_utc
from .leds.legend import INDICATOR_NAMES, INDICATORS, state
from .meetings import Schedule
from .service import LOCK_FILE, NOW_FILE


def daemon_running(state_dir: Path) -> bool:
    """The daemon holds an exclusive lock on its state folder while it runs."""
    path = state_dir / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _line(vi: str, en: str, indent: str = "") -> list[str]:
    return [f"{indent}{vi}", f"{indent}  {en}"]


def _local(iso: str) -> str:
    """A result's UTC time in the box's own time zone (the image sets the district's)."""
    try:
        return f"{parse_utc(iso).astimezone():%Y-%m-%d %H:%M}"
    except ValueError:
        return iso


def _fmt(v: Any, unit: str = "", nd: int = 1) -> str:
    return "—" if v is None else f"{v:.{nd}f}{unit}"


PART_NAMES = {"network": ("Đường truyền", "Line"), "audio": ("Âm thanh", "Audio"),
              "system": ("Thiết bị", "Probe")}  # fmt: skip


def readiness_lines(ready: dict[str, Any], every_part: bool = False) -> list[str]:
    """A readiness run's verdict and its parts (the failing and untested ones, or all)."""
    v = ready["verdict"]["message"]
    out = _line(f"- Kiểm tra sẵn sàng ({_local(ready['at'])}): {v['vi']}",
                f"Readiness check: {v['en']}")  # fmt: skip
    for name, part in (ready.get("parts") or {}).items():
        if every_part or part["status"] in ("fail", "unknown"):
            vi, en = PART_NAMES.get(name, (name, name))
            out += _line(f"  • {vi}: {part['message']['vi']}", f"{en}: {part['message']['en']}",
                         "  ")  # fmt: skip
    return out


def report(cfg: ProbeConfig, now: datetime | None = None) -> tuple[str, int]:
    """The text doctor prints, and its exit status (0 all well, 1 something to do, 2 no data)."""
    state_dir = Path(cfg.paths.state_dir)
    now = now or datetime.now(UTC)
    out: list[str] = []
    out += _line(f"Thiết bị kiểm tra phòng họp: {cfg.site} {cfg.name}".rstrip(),
                 f"Meeting-room probe: {cfg.site} {cfg.name}".rstrip())  # fmt: skip
    running = daemon_running(state_dir)
    if not running:
        out += _line(
            "CẢNH BÁO: chương trình kiểm tra không chạy. Báo cán bộ CNTT "
            "(systemctl status roomprobe)",
            "WARNING: the probe daemon is not running. Tell IT staff (systemctl status roomprobe)",
        )
    try:
        doc = json.loads((state_dir / NOW_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        out += _line("Chưa có kết quả nào: thiết bị chưa chạy lần nào.",
                     "No results yet: the probe has not run.")  # fmt: skip
        return "\n".join(out) + "\n", 2
    except (OSError, ValueError) as exc:
        out += _line("Không đọc được trạng thái.", f"Cannot read the probe's state: {exc}")
        return "\n".join(out) + "\n", 2
    status = doc.get("status", {})
    out += [f"(cập nhật lúc / as of {doc.get('written_at', '?')})", ""]

    out += _line("ĐÈN", "LIGHTS")
    todo: list[tuple[str, str]] = []
    leds = status.get("leds", {})
    for ind in INDICATORS:
        # A record from before a light existed: its quiet state, not a warning.
        key = leds.get(ind, {"system": "ok", "meeting": "idle"}.get(ind, "unknown"))
        try:
            st = state(ind, key)
        except KeyError:
            continue
        name_vi, name_en = INDICATOR_NAMES[ind]
        out += _line(f"- {name_vi}: {st.meaning[0]}", f"{name_en}: {st.meaning[1]}")
        if st.action[0] and st.action not in todo:
            todo.append(st.action)
    out.append("")

    out += _line("KẾT QUẢ GẦN NHẤT", "LATEST RESULTS")
    last = doc.get("last", {})
    net = last.get("net")
    if net:
        m = net.get("metrics", {})
        out += _line(
            f"- Đường truyền ({_local(net['at'])}): tải xuống {_fmt(m.get('download_mbps'))} Mbps, "
            f"tải lên {_fmt(m.get('upload_mbps'))} Mbps, độ trễ {_fmt(m.get('rtt_ms'), ' ms', 0)}",
            f"Line: download {_fmt(m.get('download_mbps'))} Mbps, upload "
            f"{_fmt(m.get('upload_mbps'))} Mbps, latency {_fmt(m.get('rtt_ms'), ' ms', 0)}",
        )
        v = net["verdict"]["message"]
        out += _line(f"  {v['vi']}", v["en"], "  ")
    audio = last.get("audio")
    if audio:
        v = audio["verdict"]["message"]
        out += _line(f"- Âm thanh ({_local(audio['at'])}): {v['vi']}", f"Audio: {v['en']}")
        for c in audio.get("components", []):
            if c["status"] in ("degraded", "fail"):
                out += _line(f"  • {c['message']['vi']}", c["message"]["en"], "  ")
    ready = last.get("readiness")
    if ready:
        out += readiness_lines(ready)
    if not net and not audio and not ready:
        out += _line("- Chưa có", "none yet")
    out.append("")

    if status.get("meeting_mode"):
        out += _line("Chế độ đang họp đang bật: không kiểm tra âm thanh và đường truyền.",
                     "Meeting mode is on: no audio or heavy line tests.")  # fmt: skip
    try:
        raw = outbox.read_state(state_dir / outbox.FILE_NAME, "schedule")
    except Exception:  # the schedule is a courtesy here: never fail doctor over it
        raw = None
    upcoming = Schedule.loads(cfg.site, raw).next(now)
    if upcoming is not None:
        at = upcoming.start.astimezone()  # the box's own time zone (the image sets the district's)
        when = f"{at:%Y-%m-%d %H:%M} ({at:%Z})"
        out += _line(f"Cuộc họp tiếp theo: {upcoming.title}, lúc {when}",
                     f"Next meeting: {upcoming.title}, at {when}")  # fmt: skip
    pending = status.get("outbox_pending")
    if pending:
        out += _line(f"{pending} kết quả đang chờ gửi lên máy chủ.",
                     f"{pending} results wait to be sent to the hub.")  # fmt: skip
    out.append("")

    out += _line("VIỆC CẦN LÀM", "WHAT TO DO")
    if not running:
        todo.insert(0, ("Báo cán bộ CNTT: chương trình kiểm tra không chạy",
                        "Tell IT staff: the probe daemon is not running"))  # fmt: skip
    if todo:
        for vi, en in todo:
            out += _line(f"- {vi}", en)
    else:
        out += _line("- Không cần làm gì. Phòng họp sẵn sàng.", "Nothing to do. The room is ready.")
    return "\n".join(out) + "\n", 1 if todo else 0
