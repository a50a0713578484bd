"""What the district does through the hub: commands, the schedule, readiness, metrics.

Real mosquitto, real ``roomhub run``, real probe daemons; the commands are the
ones district IT types (``roomhub probe``, ``roomhub meeting``), which go
through the hub's API like the dashboard's buttons.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.subscribe as mqtt_subscribe
import pytest
from paho.mqtt.client import MQTTv5

from rig import Rig, wait_for
from roomprobe.contract import decode, topics


def get(rig: Rig, path: str) -> Any:
    with urllib.request.urlopen(rig.web + path, timeout=10) as resp:
        body = resp.read()
        return json.loads(body) if "json" in resp.headers["Content-Type"] else body.decode()


def post(rig: Rig, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    req = urllib.request.Request(rig.web + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def retained_schedule(rig: Rig) -> dict[str, Any]:
    msg = mqtt_subscribe.simple(topics.SCHEDULE, hostname="127.0.0.1", port=rig.broker.port,
                                protocol=MQTTv5, retained=True, keepalive=10)  # fmt: skip
    return decode(msg.payload, "roomprobe.schedule")


@pytest.fixture
def running(rig: Rig) -> Rig:
    rig.start_broker()
    rig.hub()
    rig.probe(profile="slow-line", net={"interval_s": 3600}, audio={"interval_s": 3600})
    wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 1"), what="probe online")
    return rig


def test_run_test_from_the_console_shows_the_probes_reply_and_the_room_page_too(running: Rig):
    rig = running
    done = rig.roomhub("probe", "run-test", "dak-ang", "--tests", "net")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Đã kiểm tra xong" and lines[1] == "Test finished"  # Vietnamese first
    assert "net: fail" in done.stdout  # the slow line
    (cmd,) = get(rig, "/api/sites/dak-ang")["commands"]
    assert cmd["state"] == "replied" and cmd["reply"]["ok"] is True
    assert cmd["sent_by"] == "api" and cmd["args"] == {"tests": ["net"]}
    page = get(rig, "/sites/dak-ang")
    assert f'data-command="{cmd["msg_id"]}" data-state="replied"' in page

    done = rig.roomhub("probe", "meeting-mode", "dak-ang", "on")
    assert done.returncode == 0, done.stderr
    done = rig.roomhub("probe", "run-test", "dak-ang")  # rule 1: refused while people meet
    assert done.returncode == 1
    assert "meeting" in done.stdout.lower() or "họp" in done.stdout.lower()


def test_commands_to_an_offline_probe_or_a_stopped_hub_say_so(running: Rig):
    rig = running
    rig.procs[-1].stop()  # the probe
    wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 0"), what="probe offline")
    done = rig.roomhub("probe", "run-test", "dak-ang", "--wait", "2")
    assert done.returncode == 75
    assert "no reply within 2 s" in done.stderr and "Traceback" not in done.stderr

    done = rig.roomhub("probe", "run-test", "Dak Ang!")
    assert done.returncode == 2 and "'Dak Ang!' is not a site id" in done.stderr
    status, body = post(rig, "/api/sites/dak-ang/commands", {"command": "reboot"})
    assert status == 400 and "unknown command" in body["detail"]

    rig.procs[0].stop()  # the hub
    done = rig.roomhub("probe", "run-test", "dak-ang")
    assert done.returncode == 69
    assert "does not answer" in done.stderr and "Traceback" not in done.stderr


def test_meetings_are_published_retained_and_removed_again(running: Rig):
    rig = running
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    done = rig.roomhub("meeting", "add", "--title", "Họp giao ban tuần", "--start",
                   start.isoformat(), "--minutes", "90", "--sites", "dak-ang")  # fmt: skip
    assert done.returncode == 0, done.stderr
    meeting_id = done.stdout.split()[1]
    schedule = retained_schedule(rig)
    (item,) = schedule["meetings"]
    assert item["id"] == meeting_id and item["title"] == "Họp giao ban tuần"
    assert item["sites"] == ["dak-ang"]
    assert item["end"] == (start + timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert schedule["site"] == "test-hub"  # the hub's own id
    listed = rig.roomhub("meeting", "list")
    assert meeting_id in listed.stdout and "Họp giao ban tuần" in listed.stdout

    # A hub restarted republishes what lies ahead (the broker may have lost it).
    rig.procs[0].stop()
    rig.hub()
    wait_for(lambda: "consumer" in get(rig, "/api/health"), what="hub back")

    done = rig.roomhub("meeting", "remove", meeting_id)
    assert done.returncode == 0, done.stderr
    assert retained_schedule(rig)["meetings"] == []


@pytest.mark.parametrize(
    "args, words",
    [
        (["--start", "2020-01-01T08:00"], "already over"),
        (["--start", "tomorrow"], "is not a date and time"),
        (["--start", "2030-01-01T08:00", "--sites", "nowhere"], "no site 'nowhere'"),
        (["--start", "2030-01-01T08:00", "--minutes", "900"], "at most 12 hours"),
    ],
)
def test_a_bad_meeting_is_refused_with_the_reason(running: Rig, args: list[str], words: str):
    done = running.roomhub("meeting", "add", "--title", "Họp", *args)
    assert done.returncode != 0
    assert words in done.stderr and "Traceback" not in done.stderr


def test_readiness_board_names_who_must_act(running: Rig):
    rig = running
    board = get(rig, "/api/readiness")
    assert board["meeting"] is None  # no meeting: every room as it is now
    wait_for(lambda: get(rig, "/api/readiness")["rooms"][0]["state"] == "not-ready",
             what="the slow line judged", timeout=60)  # fmt: skip
    (room,) = get(rig, "/api/readiness")["rooms"]
    assert room["site"] == "dak-ang" and room["actors"] == ["isp"]
    page = get(rig, "/readiness?lang=en")
    assert 'data-site="dak-ang" data-state="not-ready"' in page and "Call the ISP" in page

    start = datetime.now(UTC) + timedelta(hours=1)
    status, made = post(rig, "/api/meetings", {"title": "Họp riêng", "start": start.isoformat(),
                        "end": (start + timedelta(hours=1)).isoformat(), "sites": []})  # fmt: skip
    assert status == 201 and made["published"] is True
    assert get(rig, "/api/readiness")["meeting"]["id"] == made["id"]


def test_metrics_count_what_was_stored_and_quarantined(running: Rig):
    rig = running
    import paho.mqtt.publish as mqtt_publish

    mqtt_publish.single(topics.event("dak-ang"), b"not json", qos=1, hostname="127.0.0.1",
                        port=rig.broker.port, protocol=MQTTv5)  # fmt: skip

    def figures() -> dict[str, float]:
        text = get(rig, "/metrics")
        return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                if line and not line.startswith("#")}  # fmt: skip

    got = wait_for(lambda: (f := figures())["roomhub_quarantine_rows"] == 1 and f,
                   what="the bad message counted")  # fmt: skip
    assert got["roomhub_messages_quarantined_total"] == 1
    assert got["roomhub_sites_online"] == 1 and got["roomhub_broker_connected"] == 1
    stored = rig.hub_query("SELECT count(*) AS n FROM messages")[0]["n"]
    assert got["roomhub_store_rows"] >= stored - 1  # the probe keeps publishing meanwhile
    assert got["roomhub_messages_stored_total"] >= 1


def test_the_monthly_report_comes_from_the_console_and_the_dashboard(running: Rig):
    rig = running
    wait_for(lambda: rig.stored() >= 2, what="results of this month stored")
    month = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m")
    out = rig.tmp / "reports"
    done = rig.roomhub("report", "--month", month, "--out", str(out))
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in out.iterdir())
    made = (("faults", "csv"), ("meetings", "csv"), ("report", "csv"), ("report", "pdf"))
    assert names == [f"roomhub-{kind}-{month}-vi.{ext}" for kind, ext in made]
    rows = list(csv.reader(io.StringIO(
        (out / f"roomhub-report-{month}-vi.csv").read_text(encoding="utf-8-sig"))))  # fmt: skip
    header, site_row = rows[0], next(r for r in rows if r[1] == "dak-ang")
    assert header[:3] == ["Tháng", "Mã điểm cầu", "Điểm cầu"] and site_row[0] == month

    pdf = urllib.request.urlopen(f"{rig.web}/reports/{month}.pdf?lang=en", timeout=60)
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.read(5) == b"%PDF-"
    page = get(rig, "/reports")
    assert f'data-month="{month}"' in page and "Báo cáo tháng" in page
    assert f'href="/reports/{month}.meetings.csv?lang=vi"' in page
    meetings = urllib.request.urlopen(f"{rig.web}/reports/{month}.meetings.csv?lang=en",
                                      timeout=60)  # fmt: skip
    assert f'filename="roomhub-meetings-{month}-en.csv"' in meetings.headers["Content-Disposition"]
    from roomhub.report_pdf import MEETING_CSV_COLUMNS, _header

    rows = list(csv.reader(io.StringIO(meetings.read().decode("utf-8-sig"))))
    assert rows[0] == _header(MEETING_CSV_COLUMNS, "en")  # the English headings, on request

    for bad in ("2026-13", "November"):
        done = rig.roomhub("report", "--month", bad, "--out", str(out))
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert bad in done.stderr
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{rig.web}/reports/2026-13.pdf", timeout=10)
    assert refused.value.code == 400
