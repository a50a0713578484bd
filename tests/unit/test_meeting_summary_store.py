"""Per-meeting summaries (roomhub.meeting_summary) from a real store, SQLite and PostgreSQL.

Messages are contract-valid payloads (built from each schema's own example and
validated) written through ``Store.write`` as the consumer writes them; only
their arrival time is then set, since a test cannot wait hours for a probe.
Meetings are rows of the ``meetings`` table, as schedule.add writes them, in
the past: the summaries are computed at the real time, as the hub does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from roomhub import meeting_summary as ms
from roomhub.store import Incoming, Store
from roomprobe.contract import Stamp, schema_document, topics, utc_iso, validate

NAMES = {"dak-ang": "Xã Đắk Ang", "bo-y": "Xã Bờ Y"}
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(hours=3)
END = START + timedelta(hours=1)
MIN = timedelta(minutes=1)
TOPIC = {
    "roomprobe.result.monitor": lambda s: topics.result(s, "monitor"),
    "roomprobe.result.readiness": lambda s: topics.result(s, "readiness"),
    "roomprobe.event": topics.event,
    "roomprobe.status": topics.status,
}


def verdict(check: str, status: str, reason: str, actor: str | None = None,
            vi: str = "Đạt", en: str = "OK") -> dict[str, Any]:  # fmt: skip
    return {"check": check, "status": status, "reason": reason,
            "message": {"vi": vi, "en": en}, "actor": actor}  # fmt: skip


OK_PARTS = {
    "network": verdict("net", "ok", "net.ok", None, "Đường truyền đạt yêu cầu", "Line OK"),
    "audio": verdict("audio", "ok", "audio.ok", None, "Âm thanh đạt yêu cầu", "Audio OK"),
    "system": verdict("system", "ok", "system.ok", None, "Thiết bị bình thường", "Probe OK"),
}


class Probe:
    """One site's messages, numbered as a probe numbers them, stored when the test says."""

    def __init__(self, store: Store, site: str):
        self.store, self.site, self.seq = store, site, 0
        self.stamp = Stamp(site, str(uuid.uuid4()), lambda: True)
        self.held: list[tuple[dict[str, Any], datetime]] = []

    def make(self, schema: str, at: datetime, durable: bool = True, **body: Any) -> dict:
        self.seq += durable
        example = schema_document(schema)["examples"][0]
        envelope = self.stamp.envelope(schema, max(self.seq, 1))
        payload = {**{k: v for k, v in example.items() if k not in envelope}, **envelope,
                   "ts": utc_iso(at), **body}  # fmt: skip
        return validate(json.loads(json.dumps(payload)), schema)

    def put(self, payloads: list[dict], received: datetime | None = None,
            delay: timedelta = timedelta(seconds=1)) -> None:  # fmt: skip
        """Store as the consumer does; arrived ``delay`` after each was taken (or at
        ``received``): the probe was heard live unless the test says otherwise."""
        batch = [Incoming(TOPIC[p["schema"]](self.site), json.dumps(p).encode(), p)
                 for p in payloads]  # fmt: skip
        assert set(self.store.write(batch).outcomes) <= {"stored"}
        with self.store.engine.begin() as conn:
            conn.execute(
                text("UPDATE messages SET received_at = :r WHERE msg_id = :m"),
                [{"m": p["msg_id"], "r": utc_iso(received or (_ts(p) + delay))} for p in payloads],
            )

    def monitor(self, at: datetime, status: str = "ok", jitter: float = 1.5, loss: float = 0.0,
                rtt: float = 22.0, mos: float = 4.3, **metrics: Any) -> dict:  # fmt: skip
        words = {"ok": ("Đường truyền ổn định", "The line is stable"),
                 "degraded": ("Jitter cao", "Jitter is high"),
                 "fail": ("Mất gói nhiều", "Heavy packet loss")}[status]  # fmt: skip
        reason = {"ok": "monitor.ok", "degraded": "net.jitter_high", "fail": "net.loss_high"}
        v = verdict("monitor", status, reason[status], None if status == "ok" else "isp", *words)
        m = {**schema_document("roomprobe.result.monitor")["examples"][0]["metrics"],
             "window_s": 60, "rtt_ms": {"min": rtt - 4, "median": rtt, "p95": rtt + 9},
             "jitter_ms": jitter, "loss_pct": loss, "mos": mos, **metrics}  # fmt: skip
        m.pop("targets")  # the window's own figures, nothing hidden in the targets
        return self.make("roomprobe.result.monitor", at, verdict=v, metrics=m,
                         started_at=utc_iso(at - MIN), duration_s=60.0)  # fmt: skip

    def readiness(self, at: datetime, meeting_id: str | None, state: str,
                  **parts: dict[str, Any]) -> dict:  # fmt: skip
        actor = next((p["actor"] for p in parts.values() if p["status"] == "fail"), None)
        v = verdict("readiness", {"ready": "ok", "not-ready": "fail"}.get(state, "unknown"),
                    f"readiness.{state.replace('-', '_')}", actor,
                    f"Phòng họp {state}", f"The room is {state}")  # fmt: skip
        return self.make("roomprobe.result.readiness", at, verdict=v, readiness=state, metrics={},
                         meeting_id=meeting_id, parts={**OK_PARTS, **parts})  # fmt: skip

    def event(self, at: datetime, event: str, vi: str, en: str, **details: Any) -> dict:
        return self.make("roomprobe.event", at, event=event, message={"vi": vi, "en": en},
                         details=details)  # fmt: skip

    def status(self, at: datetime, online: bool = True) -> dict:
        return self.make("roomprobe.status", at, durable=False, online=online)


def _ts(p: dict) -> datetime:
    return datetime.fromisoformat(p["ts"].replace("Z", "+00:00"))


def every_minute(first: datetime, last: datetime) -> Iterator[datetime]:
    at = first
    while at <= last:
        yield at
        at += MIN


def add_meeting(store: Store, title: str = "Họp giao ban", start: datetime = START,
                end: datetime = END, sites: tuple[str, ...] = ("dak-ang",)) -> str:  # fmt: skip
    """A meeting row as schedule.add writes one (schedule.add refuses a meeting in the past)."""
    meeting_id = f"{start:%Y-%m-%d}-hop-{uuid.uuid4().hex[:6]}"
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO meetings (id, title, starts_at, ends_at, sites, created_at) "
                 "VALUES (:id, :t, :s, :e, :sites, :now)"),
            {"id": meeting_id, "t": title, "s": utc_iso(start), "e": utc_iso(end),
             "sites": json.dumps(list(sites)), "now": utc_iso(start - timedelta(days=1))},
        )  # fmt: skip
    return meeting_id


@pytest.fixture
def store(hub_db_url: str) -> Iterator[Store]:
    s = Store(hub_db_url)  # migrates
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def summarizer(store: Store) -> Iterator[ms.Summarizer]:
    s = ms.Summarizer(store.engine, NAMES)
    try:
        yield s
    finally:
        s.stop()


def summary_of(store: Store, meeting_id: str, now: datetime = NOW) -> dict[str, Any]:
    with store.engine.connect() as conn:
        found = ms.for_meeting(conn, meeting_id, NAMES, now)
    assert found is not None
    return found


def room(summary: dict[str, Any], site: str) -> dict[str, Any]:
    (found,) = [r for r in summary["rooms"] if r["site"] == site]
    return found


def quiet_meeting(p: Probe, meeting_id: str) -> None:
    """Ready 20 min before, then a good window every minute from 10 min before to 10 after."""
    p.put([p.readiness(START - 20 * MIN, meeting_id, "ready")])
    p.put([p.monitor(at) for at in every_minute(START - 10 * MIN, END + 10 * MIN)])


# -- the cases -------------------------------------------------------------------------------


def test_a_room_ready_before_and_quiet_during(store: Store, summarizer: ms.Summarizer):
    meeting_id = add_meeting(store)
    quiet_meeting(Probe(store, "dak-ang"), meeting_id)

    assert summarizer.run_once(NOW) == [meeting_id]
    s = summary_of(store, meeting_id)
    assert s["state"] == "stored" and s["meeting"]["title"] == "Họp giao ban"
    r = room(s, "dak-ang")
    assert r["readiness"]["state"] == "ready" and r["readiness"]["runs"] == 1
    assert r["readiness"]["at"] == utc_iso(START - 20 * MIN) and r["readiness"]["actors"] == []
    line = r["line"]
    assert (line["windows"], line["ok"], line["bad"]) == (60, 60, 0)  # windows within [start, end]
    assert line["rtt_ms"] == {"median": 22.0, "worst": 31.0} and line["mos"]["lowest"] == 4.3
    assert r["audio"]["count"] == 0 and r["coverage"]["silent"] == r["coverage"]["offline"] == []
    assert r["coverage"]["missing"] == 0 and r["skipped"] == 0 and not r["trouble"]
    assert r["overall"] == {
        "vi": "sẵn sàng; đường truyền tốt trong cuộc họp; không có lỗi âm thanh",
        "en": "ready; line fine during the meeting; no audio fault",
    }
    assert s["counts"]["ready"] == 1 and s["counts"]["rooms"] == 1
    # Nothing new arrived: the next round leaves it alone.
    assert summarizer.run_once(NOW + 2 * MIN) == []


def test_a_room_not_ready_with_degraded_windows_comes_first(store: Store):
    meeting_id = add_meeting(store, sites=("dak-ang", "bo-y"))
    quiet_meeting(Probe(store, "dak-ang"), meeting_id)
    p = Probe(store, "bo-y")
    slow = verdict("net", "fail", "net.download_low", "isp", "Tải xuống 31 Mbps",
                   "Download speed 31 Mbps is below the required 50 Mbps")  # fmt: skip
    p.put([p.readiness(START - 60 * MIN, meeting_id, "unknown"),  # the first run, superseded
           p.readiness(START - 20 * MIN, meeting_id, "not-ready", network=slow)])  # fmt: skip
    bad = {START + 5 * MIN: "degraded", START + 6 * MIN: "degraded",
           START + 30 * MIN: "degraded", START + 31 * MIN: "fail"}  # fmt: skip
    p.put([p.monitor(at, bad.get(at, "ok"), jitter=45.0 if at in bad else 1.5,
                     loss=6.0 if bad.get(at) == "fail" else 0.0)
           for at in every_minute(START - 10 * MIN, END + 10 * MIN)])  # fmt: skip

    s = summary_of(store, meeting_id)
    assert s["state"] == "provisional"  # over, not stored yet: computed for the reader
    assert [r["site"] for r in s["rooms"]] == ["bo-y", "dak-ang"]  # not ready first
    r = room(s, "bo-y")
    assert r["readiness"]["state"] == "not-ready" and r["readiness"]["runs"] == 2
    assert r["readiness"]["actors"] == ["isp"]
    assert r["readiness"]["parts"]["network"]["message"]["en"].startswith("Download speed 31")
    line = r["line"]
    assert (line["windows"], line["degraded"], line["fail"], line["bad"]) == (60, 3, 1, 4)
    assert line["jitter_ms"] == {"median": 1.5, "worst": 45.0}
    assert line["loss_pct"]["worst"] == 6.0
    jitter = {"vi": "Jitter cao", "en": "Jitter is high"}
    assert line["reasons"][0] == {"reason": "net.jitter_high", "count": 3, "actor": "isp",
                                  "message": jitter}  # fmt: skip
    assert r["overall"]["en"] == (
        "not ready (ISP); line degraded in 4 of 60 windows (1 failing); no audio fault"
    )
    assert r["overall"]["vi"] == (
        "chưa sẵn sàng (nhà mạng); đường truyền kém trong 4/60 khoảng đo (1 khoảng lỗi); "
        "không có lỗi âm thanh"
    )
    assert s["counts"]["not-ready"] == 1 and s["counts"]["line_trouble"] == 1


def test_audio_faults_during_the_meeting_and_one_standing_at_its_start(store: Store):
    meeting_id = add_meeting(store)
    p = Probe(store, "dak-ang")
    quiet_meeting(p, meeting_id)
    hum = ("Có tiếng ù (nguồn điện 50 Hz)", "Mains hum in the room")
    howl = ("Có tiếng hú trong phòng", "Howling in the room")
    p.put([
        p.event(START - 5 * MIN, "fault", *hum, check="audio.cabling", reason="audio.hum",
                status="degraded", actor="room-audio"),
        p.event(START + 10 * MIN, "fault", *howl, check="audio.speakers",
                reason="audio.feedback", status="fail", actor="room-audio"),
        p.event(START + 12 * MIN, "fault_cleared", "Âm thanh bình thường", "Audio OK",
                cleared="audio.feedback"),
        p.event(START + 15 * MIN, "meeting_mode", "Đã bật chế độ đang họp",
                "Meeting mode switched on", on=True, source="button"),
    ])  # fmt: skip

    r = room(summary_of(store, meeting_id), "dak-ang")
    faults = {f["reason"]: f for f in r["audio"]["faults"]}
    assert r["audio"]["count"] == 2 and set(faults) == {"audio.hum", "audio.feedback"}
    assert faults["audio.hum"]["before_start"] and faults["audio.hum"]["cleared_at"] is None
    assert faults["audio.feedback"]["cleared_at"] == utc_iso(START + 12 * MIN)
    assert faults["audio.feedback"]["message"]["en"] == "Howling in the room"
    assert r["events"]["meeting_mode"] == [
        {"at": utc_iso(START + 15 * MIN), "on": True, "source": "button"}]  # fmt: skip
    assert r["overall"]["en"].endswith("2 audio faults") and r["trouble"]
    cells = ms.describe(r, 1, lambda iso: iso[11:16])
    assert any("Howling in the room" in c and "cleared at" in c for c in cells["audio"])
    assert any(c.startswith("already there at the start") for c in cells["audio"])


def test_a_probe_silent_during_the_meeting(store: Store):
    meeting_id = add_meeting(store)
    p = Probe(store, "dak-ang")
    p.put([p.readiness(START - 20 * MIN, meeting_id, "ready")])
    gone = (START + 20 * MIN, START + 40 * MIN)  # powered off: nothing measured, nothing sent
    p.put([p.monitor(at) for at in every_minute(START - 10 * MIN, END + 10 * MIN)
           if not gone[0] < at <= gone[1]])  # fmt: skip

    r = room(summary_of(store, meeting_id), "dak-ang")
    cov = r["coverage"]
    assert [(g["from"], g["to"]) for g in cov["silent"]] == [(utc_iso(gone[0]), utc_iso(gone[1]))]
    # Heard last at 20:01 (the window ending at 20:00, delivered a second later), then 41:01.
    assert cov["silent_s"] == 1200 and cov["offline_s"] == 1260
    assert r["line"]["windows"] == 40 and r["trouble"]
    assert r["overall"]["en"] == (
        "ready; line fine during the meeting; no audio fault; probe silent for 20 min"
    )


def test_late_results_change_the_stored_summary(store: Store, summarizer: ms.Summarizer):
    meeting_id = add_meeting(store)
    p = Probe(store, "dak-ang")
    p.put([p.readiness(START - 20 * MIN, meeting_id, "ready")])
    cut = (START + 20 * MIN, START + 40 * MIN)  # the line was down: results kept in the outbox
    windows = [(at, p.monitor(at, "fail" if cut[0] < at <= cut[1] else "ok", loss=100.0
                              if cut[0] < at <= cut[1] else 0.0))
               for at in every_minute(START - 10 * MIN, END + 10 * MIN)]  # fmt: skip
    p.put([w for at, w in windows if not cut[0] < at <= cut[1]])

    assert summarizer.run_once(NOW) == [meeting_id]
    first = room(summary_of(store, meeting_id), "dak-ang")
    assert first["coverage"]["silent_s"] == 1200 and first["coverage"]["missing"] == 20
    assert first["line"]["windows"] == 40

    # The line is back: the outbox delivers, hours later.
    p.put([w for at, w in windows if cut[0] < at <= cut[1]], received=NOW + MIN)
    assert summarizer.run_once(NOW + 2 * MIN) == [meeting_id]
    s = summary_of(store, meeting_id, NOW + 2 * MIN)
    assert s["computed_at"] == utc_iso(NOW + 2 * MIN)
    r = room(s, "dak-ang")
    assert r["coverage"]["silent_s"] == 0 and r["coverage"]["missing"] == 0
    assert (r["line"]["windows"], r["line"]["fail"], r["line"]["late"]) == (60, 20, 20)
    assert r["coverage"]["offline_s"] == 1260  # heard nothing live while the line was down
    assert r["overall"]["en"] == ("ready; line degraded in 20 of 60 windows (20 failing); "
                                  "no audio fault; cut off from the hub for 21 min")  # fmt: skip
    assert summarizer.run_once(NOW + 4 * MIN) == []  # nothing newer since


def test_unreadable_stored_payloads_are_skipped_not_fatal(store: Store, summarizer: ms.Summarizer):
    meeting_id = add_meeting(store)
    quiet_meeting(Probe(store, "dak-ang"), meeting_id)
    insert = text(
        "INSERT INTO messages (msg_id, site, schema, boot_id, seq, ts, clock_synced, "
        "received_at, status, payload) VALUES (:m, 'dak-ang', :schema, 'b', 1, :ts, 1, :ts, "
        "NULL, :payload)"
    )
    at = utc_iso(START + 30 * MIN)
    with store.engine.begin() as conn:
        for schema, payload in (
            ("roomprobe.result.monitor", "{not json"),
            ("roomprobe.result.monitor", json.dumps({"kind": "monitor", "metrics": {}})),
            ("roomprobe.event", json.dumps(["an", "array"])),
            ("roomprobe.result.readiness", json.dumps({"meeting_id": meeting_id})),
        ):
            conn.execute(insert, {"m": str(uuid.uuid4()), "schema": schema, "ts": at,
                                  "payload": payload})  # fmt: skip

    assert summarizer.run_once(NOW) == [meeting_id]
    r = room(summary_of(store, meeting_id), "dak-ang")
    assert r["skipped"] == 4 and r["line"]["windows"] == 60
    assert r["readiness"]["state"] == "ready"  # the broken run is not taken for the last one
    assert "4 unreadable messages skipped" in ms.describe(r, 1, str)["gaps"]

    # A stored summary row that cannot be read is left out, not fatal either.
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE meeting_summaries SET summary = '{broken' WHERE site = :s"),
                     {"s": "dak-ang"})  # fmt: skip
    s = summary_of(store, meeting_id)
    assert s["state"] == "stored" and s["rooms"] == []


def test_a_meeting_with_no_room_is_summarised_as_such(store: Store):
    meeting_id = add_meeting(store, sites=())  # every site, and the hub knows none
    summarizer = ms.Summarizer(store.engine, {})
    try:
        assert summarizer.run_once(NOW) == [meeting_id]
        assert summarizer.run_once(NOW + 2 * MIN) == []
    finally:
        summarizer.stop()
    s = summary_of(store, meeting_id)
    assert s["rooms"] == [] and s["counts"]["rooms"] == 0 and s["state"] == "stored"
    assert "The meeting has no conference point" in ms.as_text(s, str)


def test_every_site_means_the_configured_and_the_seen(store: Store):
    meeting_id = add_meeting(store, sites=())
    p = Probe(store, "sa-loong")  # not configured, but heard from
    p.put([p.status(START)])
    s = summary_of(store, meeting_id)
    assert sorted(r["site"] for r in s["rooms"]) == ["bo-y", "dak-ang", "sa-loong"]
    assert room(s, "bo-y")["overall"]["en"] == (
        "no readiness check; no line data during the meeting; no audio fault; "
        "probe silent for 60 min"
    )


def test_before_the_end_the_summary_is_live_and_not_stored(store: Store,
                                                          summarizer: ms.Summarizer):  # fmt: skip
    start = NOW - 30 * MIN
    meeting_id = add_meeting(store, start=start, end=NOW + 30 * MIN)
    p = Probe(store, "dak-ang")
    p.put([p.readiness(start - 20 * MIN, meeting_id, "ready")])
    p.put([p.monitor(at) for at in every_minute(start - 5 * MIN, NOW)])
    assert summarizer.run_once(NOW) == []
    s = summary_of(store, meeting_id)
    assert s["state"] == "in-progress" and s["until"] == utc_iso(NOW)
    assert room(s, "dak-ang")["line"]["windows"] == 30
    ahead = add_meeting(store, start=NOW + 60 * MIN, end=NOW + 90 * MIN)
    assert summary_of(store, ahead)["state"] == "not-started"
    with store.engine.connect() as conn:
        assert ms.for_meeting(conn, "no-such-meeting", NAMES, NOW) is None


def test_the_summary_outlives_message_retention(store: Store, summarizer: ms.Summarizer):
    meeting_id = add_meeting(store)
    quiet_meeting(Probe(store, "dak-ang"), meeting_id)
    summarizer.run_once(NOW)
    later = NOW + timedelta(days=40)
    removed = store.prune(keep_results_days=30, keep_quarantine_days=30, now=later)
    assert removed["messages"] > 60
    s = summary_of(store, meeting_id, later)
    assert s["state"] == "final" and room(s, "dak-ang")["line"]["windows"] == 60
    # A meeting removed from the schedule keeps its summary too.
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM meetings WHERE id = :id"), {"id": meeting_id})
    assert summary_of(store, meeting_id, later)["meeting"]["id"] == meeting_id


def test_the_console_text_is_vietnamese_then_english(store: Store):
    meeting_id = add_meeting(store, title="Họp <b>giao ban</b>")
    quiet_meeting(Probe(store, "dak-ang"), meeting_id)
    out = ms.as_text(summary_of(store, meeting_id), lambda iso: iso[11:16])
    vi, en = out.index("Tổng kết cuộc họp: Họp <b>giao ban</b>"), out.index("Meeting summary:")
    assert vi < en
    assert "- Xã Đắk Ang (dak-ang): sẵn sàng; đường truyền tốt" in out[:en]
    assert "- Xã Đắk Ang (dak-ang): ready; line fine during the meeting" in out[en:]


def test_every_label_the_pages_use_exists_in_both_languages():
    """Jinja shows a missing label as nothing at all: check the keys instead."""
    import re
    from importlib import resources

    from roomhub.texts import LABELS

    known = LABELS | ms.LABELS
    folder = resources.files("roomhub") / "templates"
    for name in ("meeting.html", "meetings.html", "readiness.html", "room.html"):
        source = (folder / name).read_text(encoding="utf-8")
        used = set(re.findall(r"""\bt\["([a-z_.-]+)"\]""", source))
        used |= set(re.findall(r"""\bt\.([a-z_]+)\b""", source))
        assert used, name
        missing = {k for k in used if k not in known}
        assert not missing, f"{name}: {sorted(missing)}"
        assert all(known[k][0] and known[k][1] for k in used)
    for key in ms.LABELS:  # the summaries' own words never hide one of the dashboard's
        assert key not in LABELS, key
