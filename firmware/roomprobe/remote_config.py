"""``set-config``: the part of the probe's configuration the hub may change, and how.

District IT tunes a room from the hub (a threshold, how often the line is
tested, the data budget) without a trip to the commune. Three rules hold:

- Only keys that cannot cut the box off may change (:data:`HUB_MAY_CHANGE`).
  The site id, the broker connection and the state folder stay the box's
  (a wrong value would leave nobody able to send the fix), and so does what
  describes the box's own hardware, wiring and network: a refusal names the
  key and why.
- A change is checked whole, by the same pydantic model and the same wording
  as the config file (``tomlconfig``), and in strict mode: JSON's ``true`` or
  ``"40"`` is not a number here, whatever a hand-written TOML file may get
  away with. One bad key refuses the whole change: nothing is half applied.
- What the hub set is kept in ``state_dir/hub-config.json``, written
  atomically before it is applied, so a restart or a power cut finds the last
  good one; the box's own file (``/etc/roomprobe/roomprobe.toml``) is never
  rewritten. At start the daemon lays the kept settings over the file's.

The settings are a JSON Merge Patch (RFC 7386) of the config's tables:
``{"config": {"thresholds": {"download_mbps": 40}}}`` sets one key, ``null``
gives a key (or a whole table) back to the box's file, ``{"reset": true}``
drops everything the hub set.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import tomlconfig
from .atomic import write_atomic
from .config import ProbeConfig, Thresholds
from .contract import utc_iso
from .texts import text

log = logging.getLogger(__name__)

FILE_NAME = "hub-config.json"
FORMAT_VERSION = 1

#: Table -> the keys the hub may set. Everything here is read by the daemon as it runs
#: (ProbeService.take_config), so a change applies at once, without a restart.
HUB_MAY_CHANGE: dict[str, frozenset[str]] = {
    # what a verdict is judged against
    "thresholds": frozenset(Thresholds.model_fields),
    # how often the line is tested and how much data that may cost
    "net": frozenset(
        {
            "interval_s",
            "monitor_interval_s",
            "busy_retry_s",
            "busy_threshold_kbps",
            "daily_budget_mb",
            "monthly_budget_mb",
            "speedtest_cli",
            "speedtest_cli_interval_s",
        }
    ),
    # how often the audio chain is tested, and how long the room must be quiet first
    "audio": frozenset({"interval_s", "quiet_before_s"}),
    # the status heartbeat, and the quiet window and readiness runs around meetings
    "daemon": frozenset({"heartbeat_s", "meeting_guard_s", "readiness_lead_s", "readiness_max_s"}),
}
#: Top-level keys and tables that connect the box to the hub: wrong, they cut it off.
CUTS_OFF = frozenset({"site", "mqtt", "paths"})
MAX_PROBLEMS = 20  # listed in a refusal's result
MAX_PROBLEM_CHARS = 300


def _clip(line: str) -> str:
    return line if len(line) <= MAX_PROBLEM_CHARS else line[: MAX_PROBLEM_CHARS - 1] + "…"


@dataclass(frozen=True)
class Refusal:
    """Why a change was refused: the reply's error code, text and values, and every problem."""

    error: str
    reason: str
    values: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        """The reply's result: every problem, each and their number bounded (a hostile
        command with thousands of bad keys, or a huge value echoed back, must not make a
        reply the broker refuses)."""
        if not self.problems:
            return {}
        shown = [_clip(p) for p in self.problems[:MAX_PROBLEMS]]
        if len(self.problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(self.problems) - MAX_PROBLEMS} more")
        return {"problems": shown}


@dataclass(frozen=True)
class Change:
    """An accepted change: the config to run with, the hub's settings to keep, what moved."""

    cfg: ProbeConfig
    settings: dict[str, Any]
    changed: dict[str, list[Any]]  # "table.key" -> [before, after]

    def summary(self) -> dict[str, str]:
        """What changed, for a person: ``key: before → after`` (``->`` in English)."""
        pairs = [(k, _show(a), _show(b)) for k, (a, b) in self.changed.items()]
        return {"vi": "; ".join(f"{k}: {a} → {b}" for k, a, b in pairs),
                "en": "; ".join(f"{k}: {a} -> {b}" for k, a, b in pairs)}  # fmt: skip

    def result(self) -> dict[str, Any]:
        return {"changed": {k: {"from": a, "to": b} for k, (a, b) in self.changed.items()},
                "hub_settings": self.settings}  # fmt: skip


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _bad_args(problem_vi: str, problem_en: str) -> Refusal:
    return Refusal("bad_args", "cmd.bad_args", {"problem": {"vi": problem_vi, "en": problem_en}},
                   [problem_en])  # fmt: skip


USAGE_VI = 'cần "config": {"bảng": {"khóa": giá trị}} và/hoặc "reset": true'
USAGE_EN = 'expected "config": {"table": {"key": value}} and/or "reset": true'


def _unknown(key: str) -> str:
    return f"{key}: unknown key (check its spelling and its [section])"  # tomlconfig's words


def _permission(patch: dict[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    """Keys the hub may not set (a {vi, en} text each, naming the key and why), unknown keys."""
    forbidden: list[dict[str, str]] = []
    unknown: list[str] = []
    fields = ProbeConfig.model_fields
    for name, value in patch.items():
        if name not in fields:
            unknown.append(_unknown(name))
            continue
        if name not in HUB_MAY_CHANGE:
            keys = [f"{name}.{k}" for k in value] if isinstance(value, dict) and value else [name]
            why = "cmd.config_cuts_off" if name in CUTS_OFF else "cmd.config_box_only"
            forbidden += [text(why, key=k) for k in keys]
            continue
        if not isinstance(value, dict):
            continue  # null gives the table back; anything else the model refuses, by name
        known = fields[name].annotation.model_fields  # type: ignore[union-attr]
        for key in value:
            if key not in known:
                unknown.append(_unknown(f"{name}.{key}"))
            elif key not in HUB_MAY_CHANGE[name]:
                forbidden.append(text("cmd.config_box_only", key=f"{name}.{key}"))
    return forbidden, unknown


def _not_finite(patch: dict[str, Any]) -> list[str]:
    """Infinity passes every ``gt=0`` check and is no setting (the contract refuses it too)."""
    out = []
    for name, table in patch.items():
        for key, value in table.items() if isinstance(table, dict) else []:
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                out.append(f"{name}.{key} = {value!r}: not a finite number")
    return out


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 on the settings' two levels: null removes, a table merges, a value replaces."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in target.items()}
    for name, value in patch.items():
        if value is None:
            out.pop(name, None)
        elif isinstance(value, dict) and isinstance(out.get(name), dict):
            for key, v in value.items():
                if v is None:
                    out[name].pop(key, None)
                else:
                    out[name][key] = v
            if not out[name]:
                del out[name]
        elif isinstance(value, dict):
            kept = {k: v for k, v in value.items() if v is not None}
            if kept:
                out[name] = kept
            else:
                out.pop(name, None)
        else:
            out[name] = value
    return out


def _problems(exc: ValidationError) -> list[str]:
    """tomlconfig's lines; a table-wide rule names its table, not the whole table's values."""
    lines = tomlconfig.problems_of(exc)
    for i, error in enumerate(exc.errors(include_url=False)):
        if isinstance(error.get("input"), dict) and error["type"] == "value_error":
            key = ".".join(str(p) for p in error["loc"]) or "(top level)"
            lines[i] = f"{key}: {error['msg'].removeprefix('Value error, ')}"
    return lines


def overlay(base: ProbeConfig, settings: dict[str, Any]) -> ProbeConfig:
    """The box's config with the hub's settings laid over it; raises ValidationError."""
    doc = base.model_dump()
    for name, value in settings.items():
        if isinstance(value, dict) and isinstance(doc.get(name), dict):
            doc[name] = {**doc[name], **value}
        else:
            doc[name] = value
    # Strict: the dump's own values pass as they are; the hub's must have the right JSON type.
    return ProbeConfig.model_validate(doc, strict=True)


def _changed(old: ProbeConfig, new: ProbeConfig) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name in HUB_MAY_CHANGE:
        before, after = getattr(old, name).model_dump(), getattr(new, name).model_dump()
        for key in sorted(HUB_MAY_CHANGE[name]):
            if before[key] != after[key]:
                out[f"{name}.{key}"] = [before[key], after[key]]
    return out


def change(
    base: ProbeConfig, current: ProbeConfig, settings: dict[str, Any], args: Any
) -> Change | Refusal:
    """Check one set-config command against the box's own config and the hub's kept settings.

    ``base`` is the box's file, ``current`` what runs now (``base`` with ``settings``).
    Nothing is written or applied here: the caller keeps and applies a :class:`Change`.
    """
    if not isinstance(args, dict) or not args or set(args) - {"config", "reset"}:
        extra = sorted(set(args) - {"config", "reset"}) if isinstance(args, dict) else []
        if extra:
            names = ", ".join(extra)
            return _bad_args(f"tham số lạ {names}; {USAGE_VI}", f"unknown argument {names}; "
                             f"{USAGE_EN}")  # fmt: skip
        return _bad_args(USAGE_VI, USAGE_EN)
    reset = args.get("reset", False)
    if not isinstance(reset, bool):
        return _bad_args('"reset" phải là true hoặc false', '"reset" must be true or false')
    patch = args.get("config", {})
    if not isinstance(patch, dict):
        return _bad_args(f'"config" phải là một đối tượng JSON; {USAGE_VI}',
                         f'"config" must be a JSON object; {USAGE_EN}')  # fmt: skip
    if not patch and not reset:
        return _bad_args('"config" rỗng: không có gì để đổi',
                         '"config" is empty: nothing to change')  # fmt: skip
    empty = [n for n, v in patch.items() if isinstance(v, dict) and not v]
    if empty:
        names = ", ".join(empty)
        return _bad_args(f"bảng {names} rỗng: không có gì để đổi",
                         f"{names}: empty table, nothing to change")  # fmt: skip
    forbidden, unknown = _permission(patch)
    if forbidden:
        vi, en = "; ".join(f["vi"] for f in forbidden), "; ".join(f["en"] for f in forbidden)
        return Refusal("forbidden", "cmd.config_forbidden", {"problems": {"vi": vi, "en": en}},
                       [f["en"] for f in forbidden] + unknown)  # fmt: skip
    problems = unknown + _not_finite(patch)
    if not problems:
        merged = merge_patch({} if reset else settings, patch)
        try:
            new = overlay(base, merged)
        except ValidationError as exc:
            problems = _problems(exc)
    if problems:
        return Refusal("config_rejected", "cmd.config_rejected",
                       {"problems": "; ".join(problems)}, problems)  # fmt: skip
    return Change(new, merged, _changed(current, new))


# -- kept on the box -------------------------------------------------------------------------


def path_in(state_dir: Path | str) -> Path:
    return Path(state_dir) / FILE_NAME


def keep(state_dir: Path | str, settings: dict[str, Any], request_id: str | None) -> None:
    """Write the hub's settings atomically and durably: a power cut leaves old or new.

    Raises OSError (a full or read-only card); the caller then applies nothing.
    """
    doc = {"version": FORMAT_VERSION, "config": settings, "set_at": utc_iso(),
           "request_id": request_id}  # fmt: skip
    body = json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=1) + "\n"
    write_atomic(path_in(state_dir), body.encode("utf-8"), mode=0o600)


def read_kept(state_dir: Path | str) -> dict[str, Any]:
    """The hub's kept settings ({} when there are none); raises ValueError if unusable."""
    path = path_in(state_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not readable JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: not a version {FORMAT_VERSION} settings file")
    settings = doc.get("config")
    if not isinstance(settings, dict):
        raise ValueError(f'{path}: "config" is not an object')
    return settings


def at_start(cfg: ProbeConfig) -> tuple[ProbeConfig, dict[str, Any], list[str]]:
    """The config to run with: the box's own, with the hub's kept settings over it.

    Kept settings that no longer fit (the box's file changed under them, a
    firmware that allows fewer keys, a damaged file) are all left out, and
    their problems returned, to be reported like a bad config file: the box
    then runs on its own file alone. The file stays until the hub sends
    settings that fit.
    """
    state_dir = cfg.paths.state_dir
    try:
        settings = read_kept(state_dir)
    except ValueError as exc:
        return cfg, {}, [f"settings from the hub ignored: {exc}"]
    if not settings:
        return cfg, {}, []
    checked = change(cfg, cfg, {}, {"config": settings})
    if isinstance(checked, Refusal):
        where = path_in(state_dir)
        return cfg, {}, [f"settings from the hub ({where}) ignored: {p}" for p in checked.problems]
    log.info("settings from the hub: %s", checked.summary()["en"] or "none differ from the file")
    return checked.cfg, checked.settings, []
