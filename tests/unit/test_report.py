"""The monthly report: figures computed by hand from real contract payloads, CSV and PDF.

Every payload is built with the contract's envelope (``Stamp.envelope``) on
its schema's own example and checked with ``roomprobe.contract.validate``, so
the report is tested on messages the hub can really store.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import subprocess
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text as sql_text

from roomhub import report as rpt
from roomhub import report_pdf
from roomprobe.contract import Stamp, parse_utc, schema_document, utc_iso, validate

NOV = (2026, 11)
# November 2026 in Asia/Ho_Chi_Minh (UTC+7) runs from 31 Oct 17:00 to 30 Nov 17:00 UTC.
S = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
E = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
SITES = {"dak-ang": "Xã Đắk Ang", "plei-kan": "Thị trấn Plei Kần"}


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A local (UTC+7) time in November 2026, as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def text(vi: str, en: str) -> dict[str, str]:
    return {"vi": vi, "en": en}


def verdict(check: str, status: str, reason: str, actor: str | None = None) -> dict[str, Any]:
    return {
        "check": check,
        "status": status,
        "reason": reason,
        "message": text(f"{reason} (vi)", f"{reason} (en)"),
        "actor": actor,
    }


class Probe:
    """One site's probe: stamps real contract payloads at chosen times."""

    def __init__(self, site: str, check: bool = True):
        self.stamp = Stamp(site, str(uuid.uuid4()), clock_synced=lambda: True)
        self.seq = 0
        self.check = check  # validate each payload (off only for the timing run)

    def _message(
        self,
        schema: str,
        when: datetime,
        received: datetime | None,
        durable: bool,
        synced: bool = True,
        **body: Any,
    ) -> dict[str, Any]:
        if durable:
            self.seq += 1
        payload = self.stamp.envelope(schema, self.seq, **body)
        payload["ts"] = utc_iso(when)
        payload["clock_synced"] = synced
        if self.check:
            validate(payload, schema)
        return {"received_at": utc_iso(received or when), "payload": payload}

    def _result(self, name: str, when: datetime) -> dict[str, Any]:
        body = copy.deepcopy(schema_document(name)["examples"][0])
        for key in (
            "schema",
            "schema_version",
            "msg_id",
            "site",
            "boot_id",
            "seq",
            "ts",
            "clock_synced",
        ):
            body.pop(key)
        body["started_at"] = utc_iso(when - timedelta(seconds=body["duration_s"]))
        return body

    def net(
        self,
        when: datetime,
        down: float,
        up: float,
        rtt: float = 20.0,
        jitter: float = 2.0,
        loss: float = 0.0,
        status: str | None = None,
        simulated: bool = False,
        received: datetime | None = None,
        synced: bool = True,
    ) -> dict[str, Any]:
        body = self._result("roomprobe.result.net", when)
        body["metrics"].update(
            download_mbps=down, upload_mbps=up, rtt_ms=rtt, jitter_ms=jitter, loss_pct=loss
        )
        if status is None:
            status = "ok" if down >= 50 and up >= 50 else "degraded"
        reason = {"ok": "net.ok", "unknown": "net.test_failed"}.get(status, "net.download_low")
        body["verdict"] = verdict("net", status, reason, None if status == "ok" else "isp")
        body["simulated"] = simulated
        if simulated:
            body["metrics"]["method"] = "simulated"
        return self._message("roomprobe.result.net", when, received, True, synced, **body)

    def audio(
        self,
        when: datetime,
        status: str,
        components: list[tuple[str, str, str]] = (),
        reason: str | None = None,
        simulated: bool = False,
    ) -> dict[str, Any]:
        body = self._result("roomprobe.result.audio", when)
        body["verdict"] = verdict("audio", status, reason or f"audio.{status}")
        body["components"] = [verdict(c, s, r) for c, s, r in components]
        body["simulated"] = simulated
        return self._message("roomprobe.result.audio", when, None, True, **body)

    def event(self, when: datetime, event: str, details: dict[str, Any]) -> dict[str, Any]:
        return self._message(
            "roomprobe.event",
            when,
            None,
            True,
            event=event,
            message=text("sự cố", "fault"),
            details=details,
        )

    def monitor(self, when: datetime, status: str = "ok") -> dict[str, Any]:
        """A light probes' window of a minute, ending at ``when``, judged ``status``."""
        body = self._result("roomprobe.result.monitor", when)
        reason = {"ok": "monitor.ok", "degraded": "net.jitter_high", "fail": "net.loss_high"}
        body["verdict"] = verdict(
            "monitor", status, reason[status], None if status == "ok" else "isp"
        )
        body["started_at"] = utc_iso(when - M)
        return self._message("roomprobe.result.monitor", when, None, True, **body)

    def readiness(self, when: datetime, meeting_id: str, state: str) -> dict[str, Any]:
        """A readiness run for ``meeting_id``: ready, not-ready (the audio fails) or unknown."""
        body = self._result("roomprobe.result.readiness", when)  # the example: audio fails
        body.update(meeting_id=meeting_id, readiness=state)
        if state != "not-ready":
            status = "ok" if state == "ready" else "unknown"
            body["verdict"] = verdict("readiness", status, f"readiness.{state}")
            body["parts"]["audio"] = verdict("audio", status, f"audio.{status}")
        return self._message("roomprobe.result.readiness", when, None, True, **body)

    def status(self, received: datetime, online: bool = True) -> dict[str, Any]:
        body = copy.deepcopy(schema_document("roomprobe.status")["examples"][0])
        for key in (
            "schema",
            "schema_version",
            "msg_id",
            "site",
            "boot_id",
            "seq",
            "ts",
            "clock_synced",
        ):
            body.pop(key)
        body["online"] = online
        # A Last Will's ts is when the probe connected; the hub's arrival time is what counts.
        when = received - 3 * H if not online else received
        return self._message("roomprobe.status", when, received, False, **body)


def stream(*messages: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages as the store gives them: ordered by received_at."""
    return sorted(messages, key=lambda m: m["received_at"])


def build(messages: list[dict[str, Any]], **kwargs: Any) -> rpt.MonthReport:
    kwargs.setdefault("now", datetime(2027, 1, 1, tzinfo=UTC))
    return rpt.build_report(stream(*messages), kwargs.pop("sites", SITES), NOV, **kwargs)


def site(report: rpt.MonthReport, site_id: str) -> rpt.SiteReport:
    return next(r for r in report.sites if r.site == site_id)


# -- the month and its edges -----------------------------------------------------------


def test_the_month_is_the_local_calendar_month():
    w = rpt.month_window(2026, 11)
    assert (w.start, w.end) == (S, E)
    assert w.query_start == S - rpt.LEAD_IN and w.query_end == E + rpt.LEAD_OUT
    days = w.day_starts()
    assert len(days) == 31 and days[1] == local(2, 0) and days[-1] == E
    assert rpt.month_window(2026, 12).end == datetime(2026, 12, 31, 17, tzinfo=UTC)
    assert rpt.last_full_month(datetime(2027, 1, 1, 3, tzinfo=UTC)) == (2026, 12)
    assert rpt.last_full_month(datetime(2026, 12, 31, 18, tzinfo=UTC)) == (2026, 12)  # local Jan
    with pytest.raises(ValueError, match="time zone"):
        rpt.month_window(2026, 11, "Asia/Hanoi-Nowhere")
    with pytest.raises(ValueError, match="month"):
        rpt.month_window(2026, 13)


def test_results_belong_to_the_local_month_they_were_measured_in():
    p = Probe("dak-ang")
    msgs = [
        p.net(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), 60, 60),  # 06:30 on 1 Dec, local
        p.net(datetime(2026, 10, 31, 17, 30, tzinfo=UTC), 40, 60),  # 00:30 on 1 Nov, local
        p.net(datetime(2026, 10, 31, 16, 30, tzinfo=UTC), 70, 70),  # 23:30 on 31 Oct, local
        # Measured at 23:30 on 30 Nov, delivered after midnight by the outbox: November's.
        p.net(local(30, 23, 30), 55, 55, received=local(1, 2, month=12)),
        # A clock that was not synchronised says nothing: the hub's arrival time is used.
        p.net(datetime(1970, 1, 1, tzinfo=UTC), 80, 80, received=local(15, 12), synced=False),
    ]
    november = site(build(msgs), "dak-ang")
    assert november.line.tests == 3
    assert november.line.download_ok == 2  # 55 and 80; the 40 at 00:30 on the 1st is not
    days = {d.day.day: d for d in november.daily if d.tests}
    assert sorted(days) == [1, 15, 30]
    assert days[1].download_median == 40 and days[30].download_median == 55
    december = rpt.build_report(
        stream(*msgs), SITES, (2026, 12), now=datetime(2027, 2, 1, tzinfo=UTC)
    )
    assert site(december, "dak-ang").line.tests == 1
    assert site(december, "dak-ang").line.download.median == 60


# -- the line --------------------------------------------------------------------------

DOWN = [60, 55, 50, 49.9, 30, 70, 80, 45, 52, 51]
UP = [60, 40, 55, 55, 55, 20, 60, 60, 60, 60]


def line_messages() -> list[dict[str, Any]]:
    p = Probe("dak-ang")
    msgs = []
    for i, (down, up) in enumerate(zip(DOWN, UP, strict=True)):
        msgs.append(
            p.net(
                local(2 + i, 9),
                down,
                up,
                rtt=10 + i,
                jitter=i,
                loss=i / 10,
                status="fail" if down < 40 else None,
                simulated=i == 9,
            )
        )
    # Two tests that could not run: "not measured", not failures (their numbers are 0).
    msgs.append(p.net(local(20, 9), 0, 0, rtt=0, jitter=0, status="unknown"))
    msgs.append(p.net(local(21, 9), 0, 0, rtt=0, jitter=0, status="unknown"))
    return msgs


def test_share_meeting_the_targets_and_the_spread():
    r = site(build(line_messages()), "dak-ang")
    line = r.line
    assert (line.tests, line.measured, line.not_measured, line.simulated) == (12, 10, 2, 1)
    # Download >= 50: 60 55 50 70 80 52 51 (49.9, 30 and 45 miss). Upload misses 40 and 20.
    assert (line.download_ok, line.upload_ok, line.both_ok) == (7, 8, 5)
    assert (line.share_download_ok, line.share_upload_ok, line.share_both_ok) == (0.7, 0.8, 0.5)
    # Sorted downloads 30 45 49.9 50 51 52 55 60 70 80: median (51 + 52) / 2, P10 30 + 0.9 * 15.
    assert line.download.median == pytest.approx(51.5)
    assert line.download.p10 == pytest.approx(43.5)
    # Sorted uploads 20 40 55 55 55 60 60 60 60 60: median (55 + 60) / 2, P10 20 + 0.9 * 20.
    assert line.upload.median == 57.5 and line.upload.p10 == pytest.approx(38.0)
    assert line.rtt_median_ms == pytest.approx(14.5)  # 10 .. 19
    assert line.jitter_median_ms == pytest.approx(4.5)
    assert line.loss_median_pct == pytest.approx(0.45)
    assert r.simulated  # one simulated test flags the site; it is still counted


def test_targets_are_parameters():
    line = site(build(line_messages(), download_mbps=45.0, upload_mbps=60.0), "dak-ang").line
    assert (line.download_ok, line.upload_ok) == (9, 5)  # only 30 misses 45; five uploads of 60


def test_unknown_verdicts_alone_are_not_measured_not_failed():
    p = Probe("dak-ang")
    line = site(build([p.net(local(3, 9), 0, 0, status="unknown")]), "dak-ang").line
    assert (line.tests, line.measured, line.not_measured) == (1, 0, 1)
    assert line.share_download_ok is None and line.download is None  # no data, not 0 %
    assert rpt.grades(site(build([]), "dak-ang"), rpt.Targets(50, 50))["share_both_ok"] == "none"


def test_grades_against_the_targets():
    r = site(build(line_messages()), "dak-ang")
    g = rpt.grades(r, rpt.Targets(50, 50, rtt_ms=14.0))
    assert (g["share_download_ok"], g["share_upload_ok"], g["share_both_ok"]) == (
        "poor",  # 70 % < 80 %
        "fair",  # 80 %
        "poor",
    )
    assert g["download"] == "fair"  # median 51.5 meets 50, P10 43.5 does not
    assert g["upload"] == "fair"
    assert g["rtt"] == "poor" and g["jitter"] == "plain"  # 14.5 ms > 14; no jitter limit
    assert g["availability"] == "none" and g["faults"] == "none"


# -- availability ----------------------------------------------------------------------


def availability_messages() -> list[dict[str, Any]]:
    """30 hours from the month's start (the report's ``now``), hand-counted:

    00:00-01:00 no data (first status at 01:00)
    01:00-10:05 online (heartbeats every 10 min to 10:00; the Last Will arrives at 10:05)
    10:05-12:05 offline
    12:05-20:30 online (heartbeats every 5 min to 20:00, then silence: 30 min still count)
    20:30-26:00 offline (silence longer than the limit)
    26:00-30:00 online (heartbeats every 10 min)
    """
    p = Probe("dak-ang")
    msgs = []
    t = S + H
    while t <= S + 10 * H:
        msgs.append(p.status(t))
        t += 10 * M
    msgs.append(p.status(S + 10 * H + 5 * M, online=False))  # the Last Will
    t = S + 12 * H + 5 * M
    while t <= S + 20 * H:
        msgs.append(p.status(t))
        t += 5 * M
    t = S + 26 * H
    while t < S + 30 * H:
        msgs.append(p.status(t))
        t += 10 * M
    return msgs


def test_availability_with_an_outage_a_last_will_and_a_silence():
    report = build(availability_messages(), now=S + 30 * H)
    a = site(report, "dak-ang").availability
    assert a.period_s == 30 * 3600
    assert a.no_data_s == 3600
    assert a.online_s == (9 * 60 + 5 + 8 * 60 + 25 + 4 * 60) * 60  # 21 h 30 min
    assert a.offline_s == (2 * 60 + 5 * 60 + 30) * 60  # 7 h 30 min
    assert a.availability == pytest.approx(21.5 / 29)
    assert a.no_data_share == pytest.approx(1 / 30)
    assert (a.outages, a.longest_outage_s) == (2, 5.5 * 3600)
    assert not report.complete


def test_the_silence_limit_is_a_parameter():
    a = site(build(availability_messages(), now=S + 30 * H, silence_s=3600), "dak-ang").availability
    assert a.online_s == 22 * 3600 and a.offline_s == 7 * 3600  # online to 21:00, not 20:30


def test_the_silence_limit_follows_a_heartbeat_the_status_states():
    # Not in contract v1's status (docs/operators/reports.md proposes it); read if present.
    p = Probe("dak-ang")
    beat = p.status(S)
    beat["payload"]["heartbeat_s"] = 60
    a = site(build([beat], now=S + H), "dak-ang").availability
    assert a.online_s == 180 and a.offline_s == 3600 - 180


def test_a_probe_gone_before_the_month_is_offline_not_without_data():
    p = Probe("dak-ang")
    msgs = [p.status(S - 10 * 24 * H), p.status(S - 10 * 24 * H + 5 * M, online=False)]
    r = site(build(msgs), "dak-ang")
    assert r.has_data
    assert r.availability.availability == 0.0 and r.availability.no_data_s == 0
    assert r.availability.offline_s == 30 * 24 * 3600 and r.availability.outages == 1


def test_online_at_the_months_start_carries_over_from_the_lead_in():
    p = Probe("dak-ang")
    msgs = [p.status(S - 10 * M), p.status(S + 10 * M)]
    a = site(build(msgs, now=S + H), "dak-ang").availability
    assert a.no_data_s == 0
    assert a.online_s == 40 * 60 and a.offline_s == 20 * 60  # the lease runs to 00:40


# -- audio faults ----------------------------------------------------------------------


def fault_messages() -> list[dict[str, Any]]:
    p = Probe("dak-ang")
    return [
        # Open since 30 Oct (the lead-in): the microphones.
        p.audio(
            local(30, 10, month=10), "fail", [("audio.microphones", "fail", "audio.mics_silent")]
        ),
        # 2 Nov 08:00 all fine: the carried-over fault is fixed after 70 h.
        p.audio(local(2, 8), "ok", [("audio.speakers", "ok", "audio.speakers_ok")]),
        # 3 Nov: the speakers fail at 10:00, are degraded at 11:00 (the same fault), fine 14:30.
        p.audio(
            local(3, 10),
            "fail",
            [
                ("audio.speakers", "fail", "audio.speakers_silent"),
                ("audio.mixer", "ok", "audio.mixer_ok"),
            ],
        ),
        p.audio(
            local(3, 11), "degraded", [("audio.speakers", "degraded", "audio.response_changed")]
        ),
        p.audio(local(3, 14, 30), "ok"),
        # 5 Nov: the passive watch hears hum for 20 minutes (events as the probe sends them:
        # the fault names its component, the all-clear its reason).
        p.event(
            local(5, 9),
            "fault",
            {"check": "audio.cabling", "status": "fail", "actor": "room-audio"},
        ),
        p.event(local(5, 9, 20), "fault_cleared", {"cleared": "audio.hum"}),
        # 10 Nov: feedback in the mixer 15:00-15:45; at 16:00 a test gets no signal at all.
        p.event(
            local(10, 15),
            "fault",
            {
                "check": "audio.mixer",
                "status": "degraded",
                "reason": "audio.feedback",
                "actor": "room-audio",
            },
        ),
        p.event(local(10, 15, 45), "fault_cleared", {"cleared": "audio.feedback"}),
        p.audio(local(10, 16), "fail", reason="audio.no_signal"),
        # A test that could not run says nothing; the fault stays open.
        p.audio(local(11, 9), "unknown"),
        # Fixed only after the month: still open at its end.
        p.audio(local(1, 9, month=12), "ok"),
    ]


def test_faults_and_time_to_fix():
    f = site(build(fault_messages()), "dak-ang").faults
    assert f.audio_tests == 6  # from 2 Nov to 11 Nov; not the lead-in's, not December's
    assert f.opened == 4
    assert dict(f.by_component) == {
        "audio": 1,
        "audio.cabling": 1,
        "audio.mixer": 1,
        "audio.speakers": 1,
    }
    assert (f.open_at_start, f.fixed, f.open_at_end) == (1, 4, 1)
    # Fixed: 20 min, 45 min, 4 h 30 min and the carried-over 70 h.
    assert f.fix_median_s == (45 * 60 + 4.5 * 3600) / 2
    assert f.fix_max_s == 70 * 3600
    listed = [(x.component, x.source, x.time_to_fix_s) for x in f.faults]
    assert listed == [
        ("audio.microphones", "test", 70 * 3600),
        ("audio.speakers", "test", 4.5 * 3600),
        ("audio.cabling", "event", 20 * 60),
        ("audio.mixer", "event", 45 * 60),
        ("audio", "test", None),
    ]
    assert f.faults[-1].closed_at is None and f.faults[-1].reason == "audio.no_signal"
    assert f.faults[1].message["vi"] == "audio.speakers_silent (vi)"


def test_degraded_opens_a_fault_unless_told_otherwise():
    p = Probe("dak-ang")
    msgs = [
        p.audio(local(3, 10), "degraded", [("audio.mixer", "degraded", "audio.clipping")]),
        p.audio(local(3, 12), "ok"),
    ]
    assert site(build(msgs), "dak-ang").faults.opened == 1
    assert site(build(msgs, fault_statuses=("fail",)), "dak-ang").faults.opened == 0


# -- the district and an empty month ---------------------------------------------------


def test_the_district_pools_every_site():
    other = Probe("plei-kan")
    msgs = [
        *line_messages(),
        other.net(local(4, 9), 90, 90),
        other.net(local(5, 9), 20, 20),
        *fault_messages(),
    ]
    report = build(msgs)
    d = report.district
    assert d.site == "" and d.line.measured == 12 and d.line.not_measured == 2
    assert d.line.download_ok == 8 and d.line.both_ok == 6
    assert d.line.download.median == 51.5  # 12 values: (51 + 52) / 2 again
    assert d.faults.opened == 4 and d.faults.open_at_end == 1
    assert d.faults.fix_max_s == 70 * 3600
    assert [r.site for r in report.sites] == ["dak-ang", "plei-kan"]


def test_an_empty_month_says_no_data():
    report = build([])
    for r in (*report.sites, report.district):
        assert not r.has_data
        assert r.line.tests == 0 and r.line.share_both_ok is None and r.line.download is None
        assert r.availability.availability is None
        assert r.faults.opened == 0 and r.faults.fix_median_s is None
        assert set(rpt.grades(r, report.targets).values()) == {"none"}
    assert site(report, "dak-ang").availability.no_data_s == 30 * 24 * 3600
    rows = list(csv.DictReader(io.StringIO(report_pdf.render_csv(report, "en").lstrip("\ufeff"))))
    assert rows[0]["notes"] == "No data" and rows[0]["share_both_ok_pct"] == ""
    assert "nan" not in report_pdf.render_csv(report, "vi").lower()
    assert report_pdf.render_pdf(report).startswith(b"%PDF")


def test_only_the_order_within_a_site_matters():
    msgs = stream(*full_report_messages())
    by_site = sorted(msgs, key=lambda m: m["payload"]["site"])  # stable: each site in order
    now = datetime(2027, 1, 1, tzinfo=UTC)
    one = rpt.build_report(msgs, SITES, NOV, now=now)
    other = rpt.build_report(iter(by_site), SITES, NOV, now=now)
    assert report_pdf.render_csv(one, "en") == report_pdf.render_csv(other, "en")
    assert report_pdf.render_faults_csv(one) == report_pdf.render_faults_csv(other)


def test_an_unreadable_message_is_left_out_and_counted():
    p = Probe("dak-ang")
    bad = p.status(S + H)
    del bad["payload"]["online"]
    report = build([p.net(local(3, 9), 60, 60), bad, {"received_at": utc_iso(S), "payload": None}])
    assert report.skipped == 2 and site(report, "dak-ang").line.tests == 1
    assert report_pdf.render_pdf(report).startswith(b"%PDF")


def test_a_site_not_configured_is_still_reported():
    p = Probe("dak-xu")
    report = build([p.net(local(3, 9), 60, 60)])
    assert [r.site for r in report.sites] == ["dak-ang", "plei-kan", "dak-xu"]
    assert not site(report, "dak-xu").configured and site(report, "dak-xu").name == "dak-xu"


# -- meetings, from the summaries the hub stores ----------------------------------------

HUB_CONFIG = """
hub_id = "ngoc-hoi"
name = "Văn phòng HĐND và UBND huyện Ngọc Hồi"
[[sites]]
id = "dak-ang"
name = "Xã Đắk Ang"
[[sites]]
id = "plei-kan"
name = "Thị trấn Plei Kần"
"""


def store_messages(store: Any, messages: list[dict[str, Any]]) -> None:
    """Store as the consumer does, then say each arrived a second after it was measured."""
    from roomhub.store import Incoming
    from roomprobe.contract import topics

    def topic(p: dict[str, Any]) -> str:
        if p["schema"] == "roomprobe.event":
            return topics.event(p["site"])
        return topics.result(p["site"], p["schema"].rsplit(".", 1)[1])

    payloads = [m["payload"] for m in messages]
    batch = [Incoming(topic(p), json.dumps(p).encode(), p) for p in payloads]
    assert set(store.write(batch).outcomes) <= {"stored"}
    with store.engine.begin() as conn:
        conn.execute(
            sql_text("UPDATE messages SET received_at = :r WHERE msg_id = :m"),
            [{"m": p["msg_id"], "r": utc_iso(parse_utc(p["ts"]) + timedelta(seconds=1))}
             for p in payloads],
        )  # fmt: skip


def add_meeting(store: Any, meeting_id: str, title: str, start: datetime, end: datetime) -> None:
    """A meeting row as schedule.add writes one (it refuses a meeting in the past)."""
    with store.engine.begin() as conn:
        conn.execute(
            sql_text("INSERT INTO meetings (id, title, starts_at, ends_at, sites, created_at) "
                     "VALUES (:id, :t, :s, :e, :sites, :s)"),
            {"id": meeting_id, "t": title, "s": utc_iso(start), "e": utc_iso(end),
             "sites": json.dumps(list(SITES))},
        )  # fmt: skip


def every_minute(first: datetime, last: datetime) -> list[datetime]:
    return [first + n * M for n in range(int((last - first) / M) + 1)]


@pytest.fixture(scope="module")
def meetings_report(tmp_path_factory: pytest.TempPathFactory) -> rpt.MonthReport:
    """November with two meetings (and one on 31 October, another month's), summarised by the
    hub's own Summarizer from messages in a real store, then built as `roomhub report` does."""
    from roomhub import config, meeting_summary, monthly
    from roomhub.store import Store

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('hub') / 'roomhub.sqlite'}")
    try:
        dak, plei = Probe("dak-ang"), Probe("plei-kan")
        # 3 Nov: Đắk Ang ready, its line degraded twice; Plei Kần not ready, a howl during it.
        start, end = local(3, 8), local(3, 9)
        add_meeting(store, "2026-11-03-giao-ban", "Họp giao ban tháng 11", start, end)
        bad = {start + 10 * M: "degraded", start + 11 * M: "fail"}
        store_messages(store, [
            dak.readiness(start - 30 * M, "2026-11-03-giao-ban", "ready"),
            plei.readiness(start - 20 * M, "2026-11-03-giao-ban", "not-ready"),
            *(dak.monitor(at, bad.get(at, "ok")) for at in every_minute(start - 5 * M, end)),
            *(plei.monitor(at) for at in every_minute(start - 5 * M, end)),
            plei.event(start + 30 * M, "fault", {"check": "audio.speakers",
                                                  "reason": "audio.feedback"}),
        ])  # fmt: skip
        # 20 Nov: Đắk Ang never checked, Plei Kần could not test; nothing went wrong during it.
        start, end = local(20, 14), local(20, 15)
        add_meeting(store, "2026-11-20-trien-khai", "Họp triển khai nhiệm vụ", start, end)
        store_messages(store, [
            plei.readiness(start - 20 * M, "2026-11-20-trien-khai", "unknown"),
            *(p.monitor(at) for p in (dak, plei) for at in every_minute(start - 5 * M, end)),
        ])  # fmt: skip
        # 31 Oct, 10:00 local: October's.
        add_meeting(store, "2026-10-31-hop", "Họp cuối tháng 10", local(31, 10, month=10),
                    local(31, 11, month=10))  # fmt: skip
        done = meeting_summary.Summarizer(store.engine, SITES).run_once(local(20, 16))
        assert len(done) == 3
        return monthly.build(config.parse(HUB_CONFIG), store.engine, NOV)
    finally:
        store.close()


def test_the_months_meetings_come_from_their_stored_summaries(meetings_report):
    first, second = meetings_report.meetings  # October's is not November's
    assert (first.meeting_id, first.title) == ("2026-11-03-giao-ban", "Họp giao ban tháng 11")
    assert (first.start, first.end) == (local(3, 8), local(3, 9))
    assert (first.rooms, first.ready, first.not_ready, first.unknown, first.no_check) == (
        2, 1, 1, 0, 0)  # fmt: skip
    assert (first.line_trouble, first.audio_trouble) == (1, 1)
    assert set(first.troubled) == {"Xã Đắk Ang", "Thị trấn Plei Kần"}
    assert (second.ready, second.not_ready, second.unknown, second.no_check) == (0, 0, 1, 1)
    assert (second.line_trouble, second.audio_trouble, second.troubled) == (0, 0, ())


def test_the_meetings_csv(meetings_report, tmp_path):
    rows = list(csv.DictReader(io.StringIO(
        report_pdf.render_meetings_csv(meetings_report, "en").lstrip("\ufeff"))))  # fmt: skip
    assert list(rows[0]) == list(report_pdf.MEETING_CSV_COLUMNS)
    assert [r["meeting_id"] for r in rows] == ["2026-11-03-giao-ban", "2026-11-20-trien-khai"]
    first = rows[0]
    assert first["start"] == "2026-11-03T08:00:00+07:00"
    assert first["end"] == "2026-11-03T09:00:00+07:00"
    figures = ("rooms", "ready", "not_ready", "unknown", "no_check", "line_trouble",
               "audio_trouble")  # fmt: skip
    assert [first[k] for k in figures] == ["2", "1", "1", "0", "0", "1", "1"]
    assert [rows[1][k] for k in figures] == ["2", "0", "0", "1", "1", "0", "0"]
    assert sorted(first["troubled"].split("; ")) == ["Thị trấn Plei Kần", "Xã Đắk Ang"]
    assert rows[1]["troubled"] == ""
    vi = list(csv.reader(io.StringIO(report_pdf.render_meetings_csv(meetings_report, "vi"))))
    assert vi[0][:3] == ["\ufeffMã cuộc họp", "Cuộc họp", "Giờ bắt đầu"]
    assert vi[1][1] == "Họp giao ban tháng 11"
    paths = report_pdf.write_report(meetings_report, tmp_path, "en")
    assert paths[3].name == "roomhub-meetings-2026-11-en.csv"
    assert paths[3].read_bytes().count(b"\r\n") == 3  # the header and two meetings
    # The summary CSV keeps its columns: nobody's spreadsheet breaks.
    assert csv_header(report_pdf.render_csv(meetings_report, "en")) == list(report_pdf.CSV_COLUMNS)


def csv_header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def pdf_text(report: rpt.MonthReport, lang: str, tmp_path: Any) -> str:
    path = tmp_path / f"r-{lang}.pdf"
    report_pdf.write_pdf(report, path, lang)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_pdf_has_a_table_of_the_months_meetings(meetings_report, tmp_path):
    assert shutil.which("pdftotext"), "pdftotext is missing: apt-get install poppler-utils"
    out = pdf_text(meetings_report, "vi", tmp_path)
    assert "Các cuộc họp trong tháng" in out and "Họp cuối tháng 10" not in out
    # A row: when, title, rooms, ready, not ready, could not test, no check, line, audio, names.
    first = re.search(r"03/11 08:00–09:00 +Họp giao ban tháng 11 +2 +1 +1 +0 +0 +1 +1 +(.+)", out)
    assert first and {"Xã Đắk Ang", "Thị trấn Plei Kần"} <= set(first[1].strip().split(", "))
    assert re.search(r"20/11 14:00–15:00 +Họp triển khai nhiệm vụ +2 +0 +0 +1 +1 +0 +0 +—", out)
    out = pdf_text(meetings_report, "en", tmp_path)
    assert "Meetings this month" in out and "No meeting this month" not in out
    assert re.search(r"20/11 14:00–15:00 +Họp triển khai nhiệm vụ +2 +0 +0 +1 +1 +0 +0", out)


def test_a_month_without_meetings_says_so(tmp_path):
    report = build([])
    assert report.meetings == ()
    assert csv_header(report_pdf.render_meetings_csv(report, "en")) == list(
        report_pdf.MEETING_CSV_COLUMNS)  # fmt: skip
    assert report_pdf.render_meetings_csv(report, "en").count("\r\n") == 1  # the header alone
    assert shutil.which("pdftotext"), "pdftotext is missing: apt-get install poppler-utils"
    assert "Không có cuộc họp nào trong tháng" in pdf_text(report, "vi", tmp_path)
    assert "No meeting this month" in pdf_text(report, "en", tmp_path)


# -- CSV -------------------------------------------------------------------------------


def full_report_messages() -> list[dict[str, Any]]:
    other = Probe("plei-kan")
    return [
        *line_messages(),
        *fault_messages(),
        *availability_messages(),
        other.status(S + 3 * H),
        other.net(local(4, 9), 90, 90),
        other.status(S + 5 * 24 * H, online=False),
    ]


def full_report(**kwargs: Any) -> rpt.MonthReport:
    return build(full_report_messages(), hub_name="Văn phòng HĐND và UBND huyện Ngọc Hồi", **kwargs)


def test_csv_parses_back_to_the_figures(tmp_path):
    report = full_report()
    path = tmp_path / "r.csv"
    report_pdf.write_csv(report, path, "en")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM, for Excel
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == list(report_pdf.CSV_COLUMNS)
    assert [r["site"] for r in rows] == ["dak-ang", "plei-kan", "*"]
    dak = rows[0]
    assert dak["month"] == "2026-11" and dak["simulated"] == "yes"
    assert (dak["net_tests"], dak["net_not_measured"]) == ("12", "2")
    assert float(dak["share_download_ok_pct"]) == 70.0
    assert float(dak["share_upload_ok_pct"]) == 80.0
    assert float(dak["share_both_ok_pct"]) == 50.0
    assert float(dak["download_median_mbps"]) == 51.5
    assert float(dak["download_p10_mbps"]) == 43.5
    assert float(dak["download_target_mbps"]) == 50.0
    a = site(report, "dak-ang").availability
    assert float(dak["availability_pct"]) == pytest.approx(a.availability * 100, abs=0.005)
    assert float(dak["offline_h"]) == pytest.approx(a.offline_s / 3600, abs=0.005)
    assert dak["audio_faults"] == "4" and dak["faults_open_at_end"] == "1"
    assert dak["audio_faults_by_component"] == (
        "audio=1; audio.cabling=1; audio.mixer=1; audio.speakers=1"
    )
    assert float(dak["fix_max_h"]) == 70.0
    assert float(rows[2]["share_download_ok_pct"]) == pytest.approx(800 / 11, abs=0.05)
    assert all("," not in v for r in rows for k, v in r.items() if k.endswith(("_pct", "_h")))


def test_csv_headers_are_vietnamese_in_vietnamese():
    report = full_report()
    rows = list(csv.reader(io.StringIO(report_pdf.render_csv(report, "vi").lstrip("\ufeff"))))
    assert rows[0][:3] == ["Tháng", "Mã điểm cầu", "Điểm cầu"]
    assert "Đạt yêu cầu tải xuống (%)" in rows[0]
    assert rows[1][2] == "Xã Đắk Ang" and rows[-1][2] == "Tất cả điểm cầu"
    assert rows[1][rows[0].index("Đạt yêu cầu tải xuống (%)")] == "70.0"  # "." even in Vietnamese
    assert "Loa và âm li: 1" in rows[1][rows[0].index("Sự cố theo bộ phận")]


def test_the_fault_list_csv():
    rows = list(
        csv.DictReader(
            io.StringIO(report_pdf.render_faults_csv(full_report(), "en").lstrip("\ufeff"))
        )
    )
    assert [r["component"] for r in rows] == [
        "audio.microphones",
        "audio.speakers",
        "audio.cabling",
        "audio.mixer",
        "audio",
    ]
    assert rows[1]["opened_at"] == "2026-11-03T10:00:00+07:00"
    assert (
        rows[1]["closed_at"] == "2026-11-03T14:30:00+07:00" and rows[1]["time_to_fix_h"] == "4.50"
    )
    assert rows[-1]["closed_at"] == "" and rows[-1]["time_to_fix_h"] == ""


def test_every_label_has_both_languages():
    for key, (vi, en) in rpt.LABELS.items():
        assert vi.strip() and en.strip(), key
    vi = rpt.labels("vi")
    columns = (*report_pdf.CSV_COLUMNS, *report_pdf.FAULT_CSV_COLUMNS)
    for column in (*columns, *report_pdf.MEETING_CSV_COLUMNS):
        assert f"csv.{column}" in vi
        assert rpt.labels("en")[f"csv.{column}"] == column
    assert rpt.labels("xx") == vi  # Vietnamese first


# -- PDF -------------------------------------------------------------------------------


def pdf_page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", data))


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_pdf_has_a_summary_and_a_page_per_site(tmp_path, lang):
    report = full_report()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph missing from the font is a warning: fail on it
        paths = report_pdf.write_report(report, tmp_path, lang)
    assert [p.name for p in paths] == [
        f"roomhub-report-2026-11-{lang}.csv",
        f"roomhub-faults-2026-11-{lang}.csv",
        f"roomhub-report-2026-11-{lang}.pdf",
        f"roomhub-meetings-2026-11-{lang}.csv",
    ]
    data = paths[2].read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    # The summary, the month's meetings (none here: a page saying so), a page per site.
    assert pdf_page_count(data) == 1 + 1 + len(report.sites) == report_pdf.pdf_pages(report)
    assert b"DejaVuSans" in data and b"/FontFile2" in data  # embedded TrueType, text is text


def test_the_pdf_text_is_vietnamese(tmp_path):
    """pdftotext (Debian's poppler-utils, installed by scripts/bootstrap.sh) reads it back."""
    assert shutil.which("pdftotext"), "pdftotext is missing: apt-get install poppler-utils"
    path = tmp_path / "r.pdf"
    report_pdf.write_pdf(full_report(), path, "vi")
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    for words in (
        "Báo cáo tháng 11/2026",
        "Xã Đắk Ang",
        "Thị trấn Plei Kần",
        "Tỷ lệ trực tuyến",
        "Loa và âm li",
        "Văn phòng HĐND và UBND huyện Ngọc Hồi",
        "Tải xuống",
    ):
        assert words in out, words
    report_pdf.write_pdf(full_report(), path, "en")
    out = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Monthly report, November 2026" in out and "Availability" in out


def test_many_sites_continue_the_summary_on_more_pages(monkeypatch):
    # As with more than 12 sites and 30 rows a page, on a smaller scale (and faster).
    monkeypatch.setattr(report_pdf, "CHARTS_WITH_TABLE", 2)
    monkeypatch.setattr(report_pdf, "TABLE_ROWS", 2)
    names = {f"xa-{i:02d}": f"Xã số {i}" for i in range(5)}
    report = rpt.build_report([], names, NOV, now=datetime(2027, 1, 1, tzinfo=UTC))
    data = report_pdf.render_pdf(report, "en")
    # The table on three pages (2 + 2 + 1 sites), the charts on a fourth, the meetings (none),
    # a page per site.
    assert pdf_page_count(data) == 4 + 1 + 5 == report_pdf.pdf_pages(report)
