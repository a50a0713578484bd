"""Alerts: the rules that watch the rooms, de-duplication, recovery, and the watcher thread.

Every ``interval_s`` the watcher reads what the store knows and decides which
conditions hold now:

- ``offline:<site>``: the site's latest status says offline (its Last Will), or
  the hub, while listening, has heard nothing from it for ``offline_after_s``.
  A site that never reported raises no offline alert (the dashboard shows it as
  never connected; a meeting that needs it raises a not-ready alert).
- ``line:<site>``: the last ``line_bad_tests`` line tests that measured (their
  verdict is not ``unknown``) all fell short: download or upload below the
  district's targets (``[line] target_download_mbps``/``target_upload_mbps``),
  or their verdict is ``fail``.
- ``audio:<site>``: the latest audio test's verdict is ``fail``, or the probe
  reported an audio ``fault`` event in its current boot without a later
  ``fault_cleared``.
- ``not-ready:<meeting>:<site>``: a meeting starts within ``meeting_lead_min``
  (or is on) and a site it concerns is not ready by the board's own answer
  (``readiness.judge``: never connected, offline, silent, a ``fail`` or an
  ``unknown`` part in the probe's readiness run for the meeting or its latest
  status). It closes when the room is ready, or when the meeting ends or is
  removed (a ``closed`` notice, not a recovery).
- ``no-data:<hub>``: two or more sites are online as far as the store knows
  and none has been heard for ``offline_after_s``: the hub or its broker is
  cut off, not the rooms. While that holds no room is called offline.

De-duplication is by key: an alert opens (a row in ``alerts`` with
``closed_at`` NULL) when its condition starts to hold, sends nothing more
while it holds, and is closed with one notice when it stops holding; if the
condition comes back, a new alert (a new row) opens. A judgement the watcher
cannot make yet (silence just after the hub started listening, which may be
the broker catching up) neither opens nor closes anything.

State is in the store, so a restarted hub neither re-sends nor forgets. Two
hubs sharing a PostgreSQL store (shared subscriptions) must not both send:
each round runs under a session advisory lock taken with
``pg_try_advisory_lock``; a hub that does not get it skips the round (the
other is doing it), and PostgreSQL drops the lock if its holder dies. On
SQLite the same role is played by ``flock`` on ``<database>.alerts-lock``;
the open/close transaction is also ``BEGIN IMMEDIATE`` there, and it
re-reads the open alerts inside the transaction either way.

Notices go to every channel (each webhook URL, e-mail) after the
transitions are committed. Every attempt is a row in ``deliveries``; a
failed one is retried on a later round after ``retry_after_s``, doubling,
up to ``max_attempts``. A channel that is down is not tried again in the
same round, so one dead receiver costs one timeout per round, and the other
channels deliver regardless. A recovery goes only where the alert's opening
notice arrived; an opening notice still undelivered when its alert closes is
dropped (it would alarm people about what is over); notices older than a day
are not sent any more.

Texts are Vietnamese first, then English (shared/GLOSSARY.md), and say who
must act: the ISP, the commune's room staff (its LAN, its audio), or IT
staff (the probe).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, bindparam, text

from roomprobe.contract import parse_utc, utc_iso

from . import faults, notify, readiness, schedule
from .config import AlertsConfig, HubConfig
from .database import StoreError, open_engine
from .rounds import Rounds
from .texts import LABELS

log = logging.getLogger(__name__)

# PostgreSQL advisory locks: the round (session), and its open/close transaction (+1).
# The migrations use 7242611.
LOCK_KEY = 7242612
NOTICE_HORIZON = timedelta(hours=24)  # older notices are not sent any more
KINDS = ("offline", "line", "audio", "not-ready", "no-data")
ACTORS = ("isp", "room-lan", "room-audio", "probe")
PARTS = ("network", "audio", "system")
_PART_LABEL = {"network": "line", "audio": "audio", "system": "system"}  # texts.LABELS keys
_PART_ACTOR = {"network": "room-lan", "audio": "room-audio", "system": "probe"}

# -- texts: Vietnamese first, then English ------------------------------------------------

#: Every word an alert shows a person. Templates take named values.
TEXTS: dict[str, tuple[str, str]] = {
    # titles, by kind and event ({site} is the room's name)
    "offline.opened": ("Cảnh báo: {site} mất kết nối", "Alert: {site} is offline"),
    "offline.recovered": (
        "Đã khôi phục: {site} đã kết nối lại",
        "Recovered: {site} is back online",
    ),
    "line.opened": (
        "Cảnh báo: đường truyền của {site} không đạt yêu cầu",
        "Alert: the line of {site} does not meet the requirement",
    ),
    "line.recovered": (
        "Đã khôi phục: đường truyền của {site} đạt yêu cầu trở lại",
        "Recovered: the line of {site} meets the requirement again",
    ),
    "audio.opened": (
        "Cảnh báo: âm thanh của {site} có lỗi",
        "Alert: the audio of {site} has a fault",
    ),
    "audio.recovered": (
        "Đã khôi phục: âm thanh của {site} hoạt động bình thường",
        "Recovered: the audio of {site} works again",
    ),
    "not-ready.opened": (
        'Cảnh báo: {site} chưa sẵn sàng cho cuộc họp "{meeting}" lúc {start}',
        'Alert: {site} is not ready for the meeting "{meeting}" at {start}',
    ),
    "not-ready.recovered": (
        'Đã sẵn sàng: {site} sẵn sàng cho cuộc họp "{meeting}" lúc {start}',
        'Ready: {site} is ready for the meeting "{meeting}" at {start}',
    ),
    "not-ready.meeting_ended": (
        'Đã đóng cảnh báo: cuộc họp "{meeting}" đã kết thúc ({site})',
        'Alert closed: the meeting "{meeting}" has ended ({site})',
    ),
    "not-ready.meeting_removed": (
        'Đã đóng cảnh báo: cuộc họp "{meeting}" đã bị xóa khỏi lịch ({site})',
        'Alert closed: the meeting "{meeting}" was removed from the schedule ({site})',
    ),
    "no-data.opened": (
        "Cảnh báo: máy chủ không nhận được dữ liệu từ điểm cầu nào",
        "Alert: the hub receives nothing from any conference point",
    ),
    "no-data.recovered": (
        "Đã khôi phục: máy chủ nhận được dữ liệu trở lại",
        "Recovered: the hub receives data again",
    ),
    # labels of the body
    "label.site": ("Điểm cầu", "Conference point"),
    "label.hub": ("Máy chủ", "Hub"),
    "label.meeting": ("Cuộc họp", "Meeting"),
    "label.since": ("Từ lúc", "Since"),
    "label.ended": ("Kết thúc lúc", "Ended at"),
    "label.lasted": ("Kéo dài", "Lasted"),
    "label.details": ("Chi tiết", "Details"),
    "label.who": ("Ai cần xử lý", "Who must act"),
    "label.dashboard": ("Bảng theo dõi", "Dashboard"),
    "times_in": ("Giờ theo múi giờ {zone}.", "Times are in the {zone} time zone."),
    "nothing_to_do": ("Không cần xử lý thêm.", "No further action is needed."),
    "minutes": ("{m} phút", "{m} min"),
    "hours_minutes": ("{h} giờ {m} phút", "{h} h {m} min"),
    # what happened
    "offline.will": (
        "Máy chủ mất liên lạc với hộp kiểm tra lúc {time}.",
        "The hub lost contact with the probe at {time}.",
    ),
    "offline.silent": (
        "Máy chủ không nhận được tin nào từ hộp kiểm tra từ {time} (hơn {minutes} phút).",
        "The hub has heard nothing from the probe since {time} (over {minutes} min).",
    ),
    "offline.last_line": (
        "Lần cuối hộp báo về đường truyền: {message}",
        "The probe's last word on the line: {message}",
    ),
    "line.summary": (
        "{n} lần đo gần nhất đều không đạt yêu cầu (tải xuống {down:g} Mbps, tải lên {up:g} Mbps):",
        "The last {n} tests all fell short of the requirement ({down:g} Mbps download, "
        "{up:g} Mbps upload):",
    ),
    "line.test": (
        "{time}: tải xuống {down} Mbps, tải lên {up} Mbps",
        "{time}: download {down} Mbps, upload {up} Mbps",
    ),
    "line.verdict": ("Kết luận của hộp kiểm tra: {message}", "The probe's verdict: {message}"),
    "audio.test": (
        "Lần kiểm tra âm thanh lúc {time}: {message}",
        "Audio test at {time}: {message}",
    ),
    "audio.fault": ("Phát hiện lúc {time}: {message}", "Found at {time}: {message}"),
    "meeting.starts": (
        "Cuộc họp bắt đầu lúc {start} (còn {minutes} phút).",
        "The meeting starts at {start} (in {minutes} min).",
    ),
    "meeting.started": ("Cuộc họp đã bắt đầu lúc {start}.", "The meeting started at {start}."),
    "reason.never": (
        "Hộp kiểm tra chưa từng kết nối với máy chủ",
        "The probe has never connected to the hub",
    ),
    "reason.offline": (
        "Hộp kiểm tra mất kết nối từ {time}",
        "The probe has been offline since {time}",
    ),
    "reason.stale": (
        "Hộp kiểm tra không gửi tin từ {time}",
        "The probe has sent nothing since {time}",
    ),
    "reason.part": ("{part}: {message}", "{part}: {message}"),
    "no-data.what": (
        "Không điểm cầu nào gửi dữ liệu từ {time}: máy chủ, broker MQTT hoặc mạng của máy chủ "
        "có thể bị lỗi, không phải các phòng họp.",
        "No conference point has been heard since {time}: the hub, its MQTT broker or its "
        "network is likely at fault, not the rooms.",
    ),
    # who must act (the actions of actor.* come from texts.LABELS)
    "who.isp": ("Nhà mạng", "The ISP"),
    "who.room-lan": ("Cán bộ phụ trách phòng họp của xã", "The commune's room staff"),
    "who.room-audio": ("Cán bộ phụ trách phòng họp của xã", "The commune's room staff"),
    "who.probe": (
        "Cán bộ CNTT — kiểm tra hộp kiểm tra của phòng",
        "IT staff — check the room's probe",
    ),
    "who.offline": (
        "Cán bộ CNTT — nhờ cán bộ phụ trách phòng họp của xã kiểm tra nguồn điện, dây mạng của "
        "hộp kiểm tra và đường truyền Internet của phòng; nếu mất Internet, liên hệ nhà mạng",
        "IT staff — ask the commune's room staff to check the probe's power and network cable "
        "and the room's Internet line; if the Internet is down, call the ISP",
    ),
    "who.untested": (
        "Cán bộ phụ trách phòng họp của xã — nhấn nhanh nút kiểm tra trên hộp khi phòng yên tĩnh",
        "The commune's room staff — short-press the test button on the box while the room is quiet",
    ),
    "who.never": (
        "Cán bộ CNTT — lắp đặt hoặc kiểm tra hộp kiểm tra của phòng",
        "IT staff — install or check the room's probe",
    ),
    "who.no-data": (
        "Cán bộ CNTT — kiểm tra máy chủ, broker MQTT và mạng của máy chủ",
        "IT staff — check the hub, its MQTT broker and its network",
    ),
}


def _t(key: str, lang: int, **values: Any) -> str:
    return TEXTS[key][lang].format(**values)


def who_line(code: str, lang: int) -> str:
    """Who must act and what to do, for an actor (isp, room-lan, ...) or a special case."""
    words = _t(f"who.{code}", lang)
    if code in ("isp", "room-lan", "room-audio"):
        words += " — " + LABELS[f"actor.{code}"][lang]
    return words


# -- what the store says about a site ------------------------------------------------------


@dataclass(frozen=True)
class SiteState:
    """One site as the rules see it: its latest status and the results that matter."""

    site: str
    name: str
    seen: bool = False  # the hub has stored something from it
    online: bool | None = None  # from its latest status; None: no status yet
    last_seen: datetime | None = None  # when the hub last stored a message of it
    status: dict[str, Any] | None = None  # its latest online status payload
    net: tuple[dict[str, Any], ...] = ()  # line tests that measured, newest first
    audio: dict[str, Any] | None = None  # latest audio test that measured
    faults: tuple[dict[str, Any], ...] = ()  # audio fault events still standing, oldest first
    readiness: dict[str, Any] | None = None  # the probe's latest readiness run


@dataclass(frozen=True)
class Condition:
    """A condition that holds now: an alert is open for its key, or opens."""

    key: str
    site: str
    kind: str
    detail: dict[str, Any]  # for the texts; holds "actors" and "who"


@dataclass(frozen=True)
class Transition:
    """An alert opened or closed by one round."""

    alert_id: int
    key: str
    site: str
    kind: str
    event: str  # opened | recovered | closed
    at: str


@dataclass
class Judgement:
    """What one round concludes: the conditions that hold, and keys it cannot judge."""

    conditions: dict[str, Condition] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)  # neither open nor close these now

    def add(self, c: Condition) -> None:
        self.conditions[c.key] = c


_NET_SQL = text(
    "SELECT payload FROM messages WHERE site = :s AND schema = 'roomprobe.result.net' "
    "AND (status IS NULL OR status <> 'unknown') ORDER BY id DESC LIMIT :n"
)
_AUDIO_SQL = text(
    "SELECT payload FROM messages WHERE site = :s AND schema = 'roomprobe.result.audio' "
    "AND (status IS NULL OR status <> 'unknown') ORDER BY id DESC LIMIT 1"
)
# The LIKE only narrows the scan; each payload is checked after parsing.
_FAULT_SQL = text(
    "SELECT payload FROM messages WHERE site = :s AND schema = 'roomprobe.event' "
    "AND boot_id = :b AND payload LIKE '%fault%' ORDER BY id DESC LIMIT 200"
)
_READINESS_SQL = text(
    "SELECT payload FROM messages WHERE site = :s AND schema = 'roomprobe.result.readiness' "
    "ORDER BY id DESC LIMIT 1"
)
_BOOT_SQL = text("SELECT boot_id FROM messages WHERE site = :s ORDER BY id DESC LIMIT 1")


def read_states(
    conn: Connection, names: dict[str, str], line_tests: int, also: Iterable[str] = ()
) -> list[SiteState]:
    """Every site the hub knows (configured, seen, or named by a meeting), as the rules need it."""
    rows = {
        r["site"]: r
        for r in conn.execute(
            text("SELECT site, last_seen, online, last_status FROM sites")
        ).mappings()
    }
    out = []
    for site in sorted(set(rows) | set(names) | set(also)):
        name = names.get(site, site)
        row = rows.get(site)
        if row is None:
            out.append(SiteState(site, name))
            continue
        status = json.loads(row["last_status"]) if row["last_status"] else None
        net = tuple(
            json.loads(p) for p in conn.execute(_NET_SQL, {"s": site, "n": line_tests}).scalars()
        )
        audio_raw = conn.execute(_AUDIO_SQL, {"s": site}).scalar()
        run_raw = conn.execute(_READINESS_SQL, {"s": site}).scalar()
        boot = status["boot_id"] if status else conn.execute(_BOOT_SQL, {"s": site}).scalar()
        events = [json.loads(p) for p in conn.execute(_FAULT_SQL, {"s": site, "b": boot}).scalars()]
        out.append(
            SiteState(
                site,
                name,
                seen=True,
                online=None if row["online"] is None else bool(row["online"]),
                last_seen=parse_utc(row["last_seen"]),
                status=status,
                net=net,
                audio=json.loads(audio_raw) if audio_raw else None,
                faults=standing_faults(reversed(events)),
                readiness=json.loads(run_raw) if run_raw else None,
            )
        )
    return out


def standing_faults(events: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The audio faults of ``events`` (oldest first) that no later ``fault_cleared`` ended
    (the rule, shared with the meeting summary, is ``faults.standing``)."""
    pairs = ((ev.get("event"), ev.get("details") or {}, ev) for ev in events)
    return tuple(faults.standing(pairs, faults.is_audio))


# -- the rules (pure: states, meetings and a time in, conditions out) ---------------------


def _iso(when: datetime | None) -> str | None:
    return utc_iso(when) if when is not None else None


def _dedupe(items: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item is not None and item not in out:
            out.append(item)
    return out


def judge(
    states: Sequence[SiteState],
    meetings: Sequence[schedule.Meeting],
    now: datetime,
    hub: HubConfig,
    listening_since: datetime,
) -> Judgement:
    """Which conditions hold at ``now``; ``listening_since``: when this hub began to listen."""
    cfg, hub_id, hub_name = hub.alerts, hub.hub_id, hub.name
    target = (hub.line.target_download_mbps, hub.line.target_upload_mbps)
    out = Judgement()
    limit = timedelta(seconds=cfg.offline_after_s)
    in_grace = now - listening_since < limit

    def quiet(s: SiteState) -> bool:
        return s.last_seen is not None and now - s.last_seen >= limit

    live = [s for s in states if s.seen and s.online is not False]
    deaf = len(live) >= 2 and all(quiet(s) for s in live)
    if deaf:
        freshest = max(s.last_seen for s in live if s.last_seen is not None)
        if in_grace:
            out.held.add(f"no-data:{hub_id}")
        else:
            out.add(Condition(f"no-data:{hub_id}", hub_id, "no-data", {
                "last_seen": _iso(freshest), "sites": [s.site for s in live],
                "actors": ["probe"], "who": ["no-data"], "site_name": hub_name or hub_id,
            }))  # fmt: skip

    offline: dict[str, str] = {}  # site -> will | silent
    held_sites: set[str] = set()
    for s in states:
        if not s.seen:
            continue
        if s.online is False:
            offline[s.site] = "will"
        elif quiet(s):
            if deaf or in_grace:
                held_sites.add(s.site)  # the hub may be the one not hearing: wait
            else:
                offline[s.site] = "silent"

    for s in states:
        key = f"offline:{s.site}"
        if s.site in held_sites:
            out.held.add(key)
        elif s.site in offline:
            detail: dict[str, Any] = {"how": offline[s.site], "last_seen": _iso(s.last_seen),
                                      "actors": ["probe"], "who": ["offline"]}  # fmt: skip
            network = ((s.status or {}).get("verdicts") or {}).get("network")
            if network and network.get("status") in ("degraded", "fail"):
                detail["last_line"] = network
            out.add(Condition(key, s.site, "offline", detail))
        line = _line_condition(s, cfg.line_bad_tests, target)
        if line is not None:
            out.add(line)
        audio = _audio_condition(s)
        if audio is not None:
            out.add(audio)

    by_site = {s.site: s for s in states}
    lead = timedelta(minutes=cfg.meeting_lead_min)
    for m in meetings:
        if not (m.start - lead <= now < m.end):
            continue
        for site in m.sites or tuple(s.site for s in states):
            s = by_site.get(site) or SiteState(site, site)
            key = f"not-ready:{m.id}:{site}"
            # The board's answer (readiness.py), so the dashboard and the alert agree.
            room = readiness.judge(_overview_row(s), now, m, hub.meetings)
            if room.state == readiness.READY or room.checking:
                continue  # ready, or its run may still be under way: no alarm yet
            if site in held_sites and all(r.part == "connection" for r in room.reasons):
                out.held.add(key)  # silent, but the hub may be the one not hearing
                continue
            reasons = [_reason(r, s) for r in room.reasons]
            out.add(Condition(key, site, "not-ready", {
                "meeting": {"id": m.id, "title": m.title, "start": utc_iso(m.start),
                            "end": utc_iso(m.end)},
                "state": room.state, "source": room.source, "reasons": reasons,
                "actors": _dedupe(r["actor"] for r in reasons),
                "who": _dedupe(r["who"] for r in reasons),
            }))  # fmt: skip
    return out


def _line_bad(test: dict[str, Any], target: tuple[float, float]) -> bool:
    m = test.get("metrics") or {}
    down, up = m.get("download_mbps"), m.get("upload_mbps")
    below = (down is not None and down < target[0]) or (up is not None and up < target[1])
    return below or (test.get("verdict") or {}).get("status") == "fail"


def _line_condition(s: SiteState, n: int, target: tuple[float, float]) -> Condition | None:
    tests = s.net[:n]
    if len(tests) < n or not all(_line_bad(t, target) for t in tests):
        return None
    verdict = tests[0].get("verdict") or {}
    actor = verdict.get("actor") if verdict.get("status") in ("degraded", "fail") else None
    actor = actor or "isp"  # short of the district's target: the line's provider
    return Condition(f"line:{s.site}", s.site, "line", {
        "target": {"download_mbps": target[0], "upload_mbps": target[1]},
        "tests": [{"ts": t.get("ts"),
                   "download_mbps": (t.get("metrics") or {}).get("download_mbps"),
                   "upload_mbps": (t.get("metrics") or {}).get("upload_mbps"),
                   "verdict": t.get("verdict")} for t in tests],
        "actors": [actor], "who": [actor],
    })  # fmt: skip


def _audio_condition(s: SiteState) -> Condition | None:
    problems = []
    if s.audio is not None and (s.audio.get("verdict") or {}).get("status") == "fail":
        v = s.audio["verdict"]
        failing = [c for c in s.audio.get("components") or () if c.get("status") == "fail"]
        problems.append({"source": "test", "ts": s.audio.get("ts"), "verdict": v,
                         "components": failing,
                         "actor": v.get("actor") or "room-audio"})  # fmt: skip
    for ev in s.faults:
        d = ev.get("details") or {}
        problems.append({"source": "fault", "ts": ev.get("ts"), "message": ev.get("message"),
                         "check": d.get("check"), "reason": d.get("reason"),
                         "actor": d.get("actor") or "room-audio"})  # fmt: skip
    if not problems:
        return None
    actors = _dedupe(p["actor"] for p in problems)
    return Condition(f"audio:{s.site}", s.site, "audio",
                     {"problems": problems, "actors": actors, "who": actors})  # fmt: skip


def _overview_row(s: SiteState) -> dict[str, Any]:
    """A site as readiness.judge reads it (a row of store.sites_overview, the parts it uses)."""
    return {
        "site": s.site,
        "name": s.name,
        "online": s.online if s.seen else None,
        "last_seen": _iso(s.last_seen),
        "verdicts": (s.status or {}).get("verdicts"),
        "results": {"readiness": s.readiness} if s.readiness else {},
    }


def _reason(r: readiness.Reason, s: SiteState) -> dict[str, Any]:
    """One reason a room is not ready, with who acts on it."""
    out: dict[str, Any] = {"part": r.part, "status": r.status, "message": r.message}
    if r.part == "connection":
        code = "never" if not s.seen or s.online is None else "offline" if not s.online else "stale"
        who = "never" if code == "never" else "offline"
        return out | {"code": code, "since": _iso(s.last_seen), "actor": r.actor or "probe",
                      "who": who}  # fmt: skip
    if r.status == "fail":
        actor = r.actor or _PART_ACTOR.get(r.part, "probe")
        return out | {"code": "fail", "actor": actor, "who": actor}
    return out | {"code": "untested", "actor": _PART_ACTOR.get(r.part, "probe"), "who": "untested"}


# -- texts of a notice ---------------------------------------------------------------------


def _local(iso: str | None, zone: ZoneInfo) -> str:
    if not iso:
        return "—"
    return parse_utc(iso).astimezone(zone).strftime("%H:%M %d/%m/%Y")


def _duration(start: str, end: str, lang: int) -> str:
    minutes = max(0, round((parse_utc(end) - parse_utc(start)).total_seconds() / 60))
    h, m = divmod(minutes, 60)
    return _t("hours_minutes", lang, h=h, m=m) if h else _t("minutes", lang, m=m)


def _mbps(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "—"


def _words(msg: Any, lang: int) -> str:
    """A verdict's or event's message (``{"vi", "en"}``) in one language."""
    if isinstance(msg, dict):
        return str(msg.get(("vi", "en")[lang]) or msg.get("en") or "")
    return str(msg or "")


def closing_event(detail: dict[str, Any]) -> str:
    """The notice a closed alert sends: recovered, or closed (its meeting is over)."""
    return "recovered" if detail.get("closed_because", "recovered") == "recovered" else "closed"


def compose(
    kind: str, event: str, site: str, site_name: str, detail: dict[str, Any],
    opened_at: str, closed_at: str | None, zone: ZoneInfo, dashboard_url: str | None = None,
) -> tuple[dict[str, str], dict[str, str]]:  # fmt: skip
    """The notice's title and text, ``{"vi": ..., "en": ...}``."""
    titles, texts = {}, {}
    meeting = detail.get("meeting") or {}
    for lang, code in enumerate(("vi", "en")):
        title_key = f"{kind}.{event}"
        if event == "closed":
            title_key = f"{kind}.{detail.get('closed_because', 'meeting_ended')}"
        title = _t(title_key, lang, site=site_name, meeting=meeting.get("title", ""),
                   start=_local(meeting.get("start"), zone))  # fmt: skip
        lines = [title, ""]
        label = "label.hub" if kind == "no-data" else "label.site"
        lines.append(f"{_t(label, lang)}: {site_name} ({site})")
        if meeting:
            lines.append(
                f"{_t('label.meeting', lang)}: {meeting.get('title')}, "
                f"{_local(meeting.get('start'), zone)} – {_local(meeting.get('end'), zone)}"
            )
        if event == "opened":
            details = _details(kind, detail, opened_at, zone, lang)
            if details:
                lines += ["", f"{_t('label.details', lang)}:", *(f"- {d}" for d in details)]
            lines += ["", f"{_t('label.since', lang)}: {_local(opened_at, zone)}"]
            lines += ["", f"{_t('label.who', lang)}:"]
            lines += [f"- {who_line(w, lang)}" for w in detail.get("who") or ["probe"]]
        else:
            lines += ["", f"{_t('label.since', lang)}: {_local(opened_at, zone)}"]
            if closed_at:
                lines.append(f"{_t('label.ended', lang)}: {_local(closed_at, zone)} "
                             f"({_t('label.lasted', lang).lower()} "
                             f"{_duration(opened_at, closed_at, lang)})")  # fmt: skip
            lines += ["", _t("nothing_to_do", lang)]
        if dashboard_url:
            lines += ["", f"{_t('label.dashboard', lang)}: {dashboard_url}"]
        lines += ["", _t("times_in", lang, zone=zone.key)]
        titles[code], texts[code] = title, "\n".join(lines)
    return titles, texts


def _details(
    kind: str, detail: dict[str, Any], opened_at: str, zone: ZoneInfo, lang: int
) -> list[str]:
    out: list[str] = []
    if kind == "offline":
        how = "offline.silent" if detail.get("how") == "silent" else "offline.will"
        seen = detail.get("last_seen")
        minutes = int((parse_utc(opened_at) - parse_utc(seen)).total_seconds() // 60) if seen else 0
        out.append(_t(how, lang, time=_local(seen, zone), minutes=minutes))
        if detail.get("last_line"):
            out.append(_t("offline.last_line", lang,
                          message=_words(detail["last_line"].get("message"), lang)))  # fmt: skip
    elif kind == "line":
        target = detail.get("target") or {}
        tests = detail.get("tests") or []
        out.append(_t("line.summary", lang, n=len(tests), down=target.get("download_mbps", 0),
                      up=target.get("upload_mbps", 0)))  # fmt: skip
        for t in tests:
            down, up = _mbps(t.get("download_mbps")), _mbps(t.get("upload_mbps"))
            out.append(_t("line.test", lang, time=_local(t.get("ts"), zone), down=down, up=up))
        if tests and (tests[0].get("verdict") or {}).get("status") != "ok":
            out.append(_t("line.verdict", lang,
                          message=_words(tests[0]["verdict"].get("message"), lang)))  # fmt: skip
    elif kind == "audio":
        for p in detail.get("problems") or []:
            if p.get("source") == "test":
                message = _words((p.get("verdict") or {}).get("message"), lang)
                out.append(_t("audio.test", lang, time=_local(p.get("ts"), zone), message=message))
                out += [_words(c.get("message"), lang) for c in p.get("components") or []]
            else:
                out.append(_t("audio.fault", lang, time=_local(p.get("ts"), zone),
                              message=_words(p.get("message"), lang)))  # fmt: skip
    elif kind == "not-ready":
        meeting = detail.get("meeting") or {}
        start = meeting.get("start")
        if start and parse_utc(start) > parse_utc(opened_at):
            left = math.ceil((parse_utc(start) - parse_utc(opened_at)).total_seconds() / 60)
            out.append(_t("meeting.starts", lang, start=_local(start, zone), minutes=left))
        elif start:
            out.append(_t("meeting.started", lang, start=_local(start, zone)))
        for r in detail.get("reasons") or []:
            code = r.get("code")
            if code == "never":
                out.append(_t("reason.never", lang))
            elif code in ("offline", "stale"):
                out.append(_t(f"reason.{code}", lang, time=_local(r.get("since"), zone)))
            else:
                part = LABELS[_PART_LABEL.get(r.get("part", ""), "system")][lang]
                message = _words(r.get("message"), lang)
                out.append(_t("reason.part", lang, part=part, message=message))
    elif kind == "no-data":
        out.append(_t("no-data.what", lang, time=_local(detail.get("last_seen"), zone)))
    return out


# -- the watcher ---------------------------------------------------------------------------


class AlertWatcher:
    """Runs the rules, keeps the alerts in the store and sends their notices.

    ``run_once(now)`` does one round (the tests call it with the time they
    choose); ``start()`` runs a round every ``alerts.interval_s`` in a daemon
    thread until ``stop()``. ``engine`` is a writing engine on the hub's store
    (``database.open_engine``), already migrated (``store.Store`` migrates).
    """

    def __init__(self, cfg: HubConfig, engine: Engine, senders: list[notify.Sender] | None = None):
        self.cfg = cfg
        self.acfg = cfg.alerts
        self.engine = engine
        # Reads need no write lock: on SQLite they go through a read-only engine of their own,
        # so the consumer's writes never wait on a round (the writer BEGINs IMMEDIATE).
        self.reader = engine
        if engine.dialect.name == "sqlite":
            self.reader = open_engine(engine.url.render_as_string(hide_password=False), True)
        self.names = {s.id: s.name for s in cfg.sites}
        self.zone = ZoneInfo(cfg.web.timezone)
        self.senders = senders if senders is not None else notify.senders(cfg.alerts)
        self.listening_since: datetime | None = None  # the first round's time
        self.last_round: str | None = None
        self._round = threading.Lock()  # the thread and a direct caller never overlap
        self._rounds = Rounds("roomhub-alerts", lambda: self.run_once(datetime.now(UTC)),
                              lambda: self.acfg.interval_s)  # fmt: skip

    # one round

    def run_once(self, now: datetime) -> list[Transition]:
        """Judge the rooms at ``now`` (timezone-aware), open and close alerts, send notices.

        Returns the transitions this round made (none if another hub holds the round).
        """
        if now.tzinfo is None:
            raise ValueError("run_once needs a timezone-aware time")
        now = now.astimezone(UTC)
        with self._round:
            if self.listening_since is None:
                self.listening_since = now
            with self._exclusive() as mine:
                if not mine:
                    log.debug("alerts: another hub holds this round")
                    return []
                transitions = self._transitions(now)
                for t in transitions:
                    log.info("alert %s %s (id %d)", t.key, t.event, t.alert_id)
                self._deliver(now)
            self.last_round = utc_iso(now)
        return transitions

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[bool]:
        """One round at a time across hubs sharing the store; False: someone else's turn."""
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            try:
                got = bool(
                    conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
                )
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        try:
                            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                            conn.commit()
                        except StoreError:
                            conn.invalidate()  # closing the session releases its locks
            finally:
                conn.close()
            return
        database = self.engine.url.database
        assert database, "an SQLite store is a file"
        with open(Path(database + ".alerts-lock"), "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                got = False
            else:
                got = True
            try:
                yield got
            finally:
                if got:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _transitions(self, now: datetime) -> list[Transition]:
        at = utc_iso(now)
        assert self.listening_since is not None
        out = []
        with self.reader.connect() as conn:  # one consistent view of what the probes said
            meetings = schedule.ahead(conn, now)
            lead = timedelta(minutes=self.acfg.meeting_lead_min)
            named = {s for m in meetings if m.start - lead <= now for s in m.sites}
            states = read_states(conn, self.names, self.acfg.line_bad_tests, named)
            conn.rollback()
        found = judge(states, meetings, now, self.cfg, self.listening_since)
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # Belt and braces: even a hub whose round lock was lost (its session cut)
                # cannot open or close alerts beside another; SQLite's BEGIN IMMEDIATE does this.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY + 1})
            current: dict[str, Any] = {}
            open_sql = "SELECT id, key, site, kind, detail FROM alerts WHERE closed_at IS NULL"
            for row in conn.execute(text(open_sql + " ORDER BY id")).mappings():
                current.setdefault(row["key"], row)
            for key, c in found.conditions.items():
                if key in current:
                    continue  # still true: nothing more to say
                alert_id = conn.execute(
                    text("INSERT INTO alerts (key, site, kind, opened_at, closed_at, detail) "
                         "VALUES (:key, :site, :kind, :at, NULL, :detail) RETURNING id"),
                    {"key": key, "site": c.site, "kind": c.kind, "at": at,
                     "detail": json.dumps(c.detail, ensure_ascii=False)},
                ).scalar_one()  # fmt: skip
                out.append(Transition(int(alert_id), key, c.site, c.kind, "opened", at))
            ahead = {m.id: m for m in meetings}
            for key, row in current.items():
                if key in found.conditions or key in found.held:
                    continue
                detail = json.loads(row["detail"])
                detail["closed_because"] = _why_closed(row["kind"], detail, ahead, now)
                conn.execute(
                    text("UPDATE alerts SET closed_at = :at, detail = :detail "
                         "WHERE id = :id AND closed_at IS NULL"),
                    {"at": at, "id": row["id"], "detail": json.dumps(detail, ensure_ascii=False)},
                )  # fmt: skip
                event = closing_event(detail)
                out.append(Transition(int(row["id"]), key, row["site"], row["kind"], event, at))
        return out

    # notices

    def _deliver(self, now: datetime) -> None:
        if not self.senders:
            return
        horizon = utc_iso(now - NOTICE_HORIZON)
        with self.reader.connect() as conn:
            alerts = [dict(r) for r in conn.execute(
                text("SELECT id, key, site, kind, opened_at, closed_at, detail FROM alerts "
                     "WHERE (closed_at IS NULL AND opened_at >= :h) OR closed_at >= :h "
                     "ORDER BY id"), {"h": horizon}).mappings()]  # fmt: skip
            attempts: dict[tuple[int, str, str], list[tuple[str, bool]]] = {}
            if alerts:
                rows = conn.execute(
                    text("SELECT alert_id, event, channel, attempted_at, ok FROM deliveries "
                         "WHERE alert_id IN :ids").bindparams(bindparam("ids", expanding=True)),
                    {"ids": [a["id"] for a in alerts]},
                ).mappings()  # fmt: skip
                for r in rows:
                    attempts.setdefault((int(r["alert_id"]), r["event"], r["channel"]), []).append(
                        (r["attempted_at"], bool(r["ok"]))
                    )
            conn.rollback()  # nothing written: end the read before the network waits
        if not alerts:
            return
        for a in alerts:
            a["detail"] = json.loads(a["detail"])
        for sender in self.senders:
            due = plan(alerts, attempts, sender.channel, now, self.acfg, horizon)
            try:
                for a, event in due:
                    if not self._attempt(sender, a, event, now):
                        break  # the channel is down: the rest wait for the next round
            finally:
                try:
                    sender.close()
                except Exception:  # a sender must never stop the watcher
                    log.exception("alerts: closing %s failed", sender.channel)

    def _attempt(self, sender: notify.Sender, a: dict[str, Any], event: str, now: datetime) -> bool:
        """Send one notice on one channel and record the attempt; False: the channel is down."""
        ok, error, channel_up = True, None, True
        try:
            sender.send(self.notice(a, event))
        except notify.DeliveredWithWarning as exc:
            error = str(exc)
        except notify.DeliveryError as exc:
            ok, error, channel_up = False, str(exc), not exc.channel_down
        except Exception as exc:  # a bug in a sender must not stop the other alerts
            log.exception("alerts: %s failed on %s", a["key"], sender.channel)
            ok, error, channel_up = False, f"internal error: {type(exc).__name__}: {exc}", False
        if not ok:
            log.warning("alert %s: the %s notice on %s failed: %s", a["key"], event,
                        sender.channel, error)  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO deliveries (alert_id, event, channel, attempted_at, ok, error) "
                     "VALUES (:a, :e, :c, :at, :ok, :err)"),
                {"a": a["id"], "e": event, "c": sender.channel, "at": utc_iso(now),
                 "ok": int(ok), "err": error},
            )  # fmt: skip
        return channel_up

    def notice(self, a: dict[str, Any], event: str) -> notify.Notice:
        """The notice of alert row ``a`` (its detail parsed) for ``event``."""
        detail = a["detail"]
        if a["kind"] == "no-data":
            site_name = detail.get("site_name") or self.cfg.name or a["site"]
        else:
            site_name = self.names.get(a["site"], a["site"])
        title, body = compose(a["kind"], event, a["site"], site_name, detail, a["opened_at"],
                              a["closed_at"], self.zone, self.acfg.dashboard_url)  # fmt: skip
        actors = tuple(detail.get("actors") or ())
        return notify.Notice(
            alert_id=int(a["id"]), key=a["key"], kind=a["kind"], event=event, site=a["site"],
            site_name=site_name, opened_at=a["opened_at"], closed_at=a["closed_at"],
            at=a["opened_at"] if event == "opened" else (a["closed_at"] or a["opened_at"]),
            actor=actors[0] if actors else None, actors=actors, title=title, text=body,
            detail={k: v for k, v in detail.items() if k not in ("actors", "who")},
            hub_id=self.cfg.hub_id, hub_name=self.cfg.name,
            dashboard_url=self.acfg.dashboard_url,
        )  # fmt: skip

    # the thread

    def start(self) -> AlertWatcher:
        """Run a round now and then every ``interval_s``, in a daemon thread."""
        if not self.acfg.enabled:
            log.info("alerts are switched off ([alerts] enabled = false)")
            return self
        self._rounds.start()
        return self

    @property
    def last_error(self) -> str | None:
        return self._rounds.last_error

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread (after the round it may be in); the engine stays the caller's."""
        self._rounds.stop(timeout)
        if self.reader is not self.engine:
            self.reader.dispose()

    def state(self) -> dict[str, Any]:
        """For /api/health: whether it runs, its last round and its last error."""
        return {
            "running": self._rounds.running,
            "last_round": self.last_round,
            "last_error": self.last_error,
            "channels": [s.channel for s in self.senders],
        }


def _why_closed(
    kind: str, detail: dict[str, Any], ahead: dict[str, schedule.Meeting], now: datetime
) -> str:
    """recovered, or for a not-ready alert whose meeting is over: meeting_ended/_removed."""
    if kind != "not-ready":
        return "recovered"
    meeting = detail.get("meeting") or {}
    current = ahead.get(meeting.get("id", ""))
    if current is None:
        end = meeting.get("end")
        return "meeting_ended" if end and parse_utc(end) <= now else "meeting_removed"
    return "meeting_ended" if now >= current.end else "recovered"


def _retry_due(tries: list[tuple[str, bool]], now: datetime, cfg: AlertsConfig) -> bool:
    if not tries:
        return True
    if len(tries) >= cfg.max_attempts:
        return False  # given up
    last = max(parse_utc(at) for at, _ in tries)
    wait = cfg.retry_after_s * 2 ** (len(tries) - 1)
    return now >= last + timedelta(seconds=wait)


def plan(
    alerts: Sequence[dict[str, Any]],
    attempts: dict[tuple[int, str, str], list[tuple[str, bool]]],
    channel: str,
    now: datetime,
    cfg: AlertsConfig,
    horizon: str,
) -> list[tuple[dict[str, Any], str]]:
    """The notices due on ``channel`` now, oldest alert first."""
    due = []
    for a in alerts:
        opened = attempts.get((a["id"], "opened", channel), [])
        opened_ok = any(ok for _, ok in opened)
        if a["closed_at"] is None:
            if not opened_ok and a["opened_at"] >= horizon and _retry_due(opened, now, cfg):
                due.append((a, "opened"))
            continue
        if not opened_ok:
            continue  # this receiver never heard of it: nothing to end
        event = closing_event(a["detail"])
        tries = attempts.get((a["id"], event, channel), [])
        if not any(ok for _, ok in tries) and _retry_due(tries, now, cfg):
            due.append((a, event))
    return due


def open_alerts(conn: Connection) -> list[dict[str, Any]]:
    """The alerts open now, oldest first, with their detail: for the API and the board."""
    sql = "SELECT id, key, site, kind, opened_at, detail FROM alerts WHERE closed_at IS NULL"
    rows = conn.execute(text(sql + " ORDER BY id")).mappings()
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


__all__ = [
    "KINDS",
    "TEXTS",
    "AlertWatcher",
    "Condition",
    "Judgement",
    "SiteState",
    "Transition",
    "compose",
    "judge",
    "open_alerts",
    "read_states",
    "standing_faults",
]
