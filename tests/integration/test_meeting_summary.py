"""The readiness button and the per-meeting summary, on a real broker, hub and probe.

Real mosquitto, ``roomhub run`` and a probe daemon; time is accelerated by
configuration only (the probe's lead times and quiet window, a meeting of
twenty seconds). The dashboard's forms are posted as a browser posts them and
their redirects read, not followed.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from rig import Rig, wait_for
from roomprobe.contract import utc_iso

QUIET = {"interval_s": 3600}  # no regular heavy tests: only what the test asks for
FAST = {"readiness_lead_s": [15.0, 8.0], "meeting_guard_s": 3.0, "heartbeat_s": 1.0,
        "trust_unsynced_clock": True}  # fmt: skip
TITLE = '<script>alert("x")</script> Họp & "giao ban"'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Họp &amp; &#34;giao ban&#34;"


def get(rig: Rig, path: str) -> Any:
    with urllib.request.urlopen(rig.web + path, timeout=10) as resp:
        body = resp.read()
        return json.loads(body) if "json" in resp.headers["Content-Type"] else body.decode()


def form(rig: Rig, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """POST a form as the browser does; the status and where it is sent next."""
    conn = http.client.HTTPConnection(rig.host, rig.web_port, timeout=10)
    try:
        conn.request("POST", path, urllib.parse.urlencode(fields),
                     {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.headers.get("Location", "")
    finally:
        conn.close()


def readiness_runs(rig: Rig, site: str = "dak-ang") -> list[dict[str, Any]]:
    rows = rig.hub_query("SELECT payload FROM messages WHERE schema = 'roomprobe.result.readiness'"
                         " AND site = ? ORDER BY id", site)  # fmt: skip
    return [json.loads(r["payload"]) for r in rows]


def test_the_readiness_button_sends_ready_and_the_probes_run_arrives(rig: Rig):
    rig.start_broker()
    rig.hub()
    rig.probe(profile="slow-line", net=QUIET, audio=QUIET)
    wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 1"), what="probe online")
    page = get(rig, "/sites/dak-ang")
    assert 'action="/sites/dak-ang/ready?lang=vi"' in page and "Kiểm tra sẵn sàng" in page
    board = get(rig, "/readiness?lang=en")
    assert 'action="/sites/dak-ang/ready?lang=en"' in board and "Check readiness" in board

    status, where = form(rig, "/sites/dak-ang/ready?lang=en", {"to": "room"})
    assert status == 303 and where == "/sites/dak-ang?lang=en&notice=cmd.ready_sent"
    cmd = wait_for(lambda: [c for c in get(rig, "/api/sites/dak-ang")["commands"]
                            if c["command"] == "ready" and c["state"] == "replied"],
                   what="the probe's reply")[0]  # fmt: skip
    assert cmd["sent_by"] == "dashboard" and cmd["reply"]["ok"] is True
    (run,) = wait_for(lambda: readiness_runs(rig), timeout=60, what="the readiness result")
    assert run["readiness"] == "not-ready" and run["parts"]["network"]["actor"] == "isp"
    assert "Readiness check sent" in get(rig, where)

    # From the board's row, back to the board; the probe is busy or done: either way it answers.
    status, where = form(rig, "/sites/dak-ang/ready", {"to": "readiness"})
    assert status == 303 and where == "/readiness?lang=vi&notice=cmd.ready_sent"
    # A site id that cannot be one is refused in words, and nothing is sent.
    status, where = form(rig, "/sites/Dak%20Ang/ready?lang=en", {"to": "room"})
    assert status == 303 and "error=" in where and "not%20a%20valid%20site%20id" in where
    assert all(c["command"] != "Dak Ang" for c in get(rig, "/api/sites/dak-ang")["commands"])


def test_a_meeting_is_summarised_shown_escaped_and_stored(rig: Rig):
    rig.start_broker()
    rig.hub()
    rig.probe(profile="good", daemon=FAST, net=QUIET, audio=QUIET)
    wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 1"), what="probe online")
    start = (datetime.now(UTC) + timedelta(seconds=25)).replace(microsecond=0)
    end = start + timedelta(seconds=20)
    req = urllib.request.Request(
        rig.web + "/api/meetings", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"title": TITLE, "start": start.isoformat(), "end": end.isoformat(),
                         "sites": ["dak-ang"]}).encode(),
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as resp:
        meeting_id = json.loads(resp.read())["id"]

    before = get(rig, f"/api/meetings/{meeting_id}/summary")
    assert before["state"] == "not-started" and before["rooms"][0]["readiness"]["state"] == "none"
    wait_for(lambda: readiness_runs(rig), timeout=40, what="the run before the meeting")
    time.sleep(max(0.0, end.timestamp() + 2 - time.time()))

    s = get(rig, f"/api/meetings/{meeting_id}/summary")
    assert s["state"] == "provisional" and s["meeting"]["title"] == TITLE
    (r,) = s["rooms"]
    assert r["readiness"]["state"] == "ready" and r["readiness"]["at"] < utc_iso(start)
    assert r["line"]["windows"] >= 20 and r["line"]["bad"] == 0  # a window every 0.5 s
    assert r["coverage"]["silent"] == [] and r["audio"]["count"] == 0
    assert r["overall"]["en"] == "ready; line fine during the meeting; no audio fault"

    for lang, words in (("vi", "sẵn sàng; đường truyền tốt trong cuộc họp"),
                        ("en", "ready; line fine during the meeting")):  # fmt: skip
        page = get(rig, f"/meetings/{meeting_id}?lang={lang}")
        assert "<script>alert" not in page  # the title is shown as typed, never run
        assert ESCAPED in page
        assert 'data-site="dak-ang" data-readiness="ready" data-trouble="no"' in page
        assert words in page
    listing = get(rig, "/meetings?lang=en")
    assert f'href="/meetings/{meeting_id}?lang=en"' in listing and "Past meetings" in listing

    done = rig.roomhub("meeting", "summary", meeting_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.index("Tổng kết cuộc họp: " + TITLE) < done.stdout.index("Meeting summary")
    assert "- Xã Đắk Ang (dak-ang): sẵn sàng; đường truyền tốt trong cuộc họp" in done.stdout
    done = rig.roomhub("meeting", "summary", meeting_id, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["rooms"][0]["site"] == "dak-ang"
    done = rig.roomhub("meeting", "summary", "no-such-meeting")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no meeting 'no-such-meeting' is known to this hub" in done.stderr
    try:
        get(rig, "/api/meetings/no-such-meeting/summary")
        raise AssertionError("an unknown meeting must be a 404")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        assert (
            json.loads(exc.read())["detail"] == "no meeting 'no-such-meeting' is known to this hub"
        )

    # The hub's own round stores a meeting over for more than the grace time, alerts or not.
    rig.procs[0].stop()
    db = sqlite3.connect(rig.hub_db)
    old_start = datetime.now(UTC) - timedelta(minutes=30)
    db.execute("INSERT INTO meetings (id, title, starts_at, ends_at, sites, created_at) "
               "VALUES ('old-one', 'Họp cũ', ?, ?, '[\"dak-ang\"]', ?)",
               (utc_iso(old_start), utc_iso(old_start + timedelta(minutes=20)),
                utc_iso(old_start - timedelta(days=1))))  # fmt: skip
    db.commit()
    db.close()
    rig.hub()
    sql = "SELECT site FROM meeting_summaries WHERE meeting_id = 'old-one' ORDER BY site"
    rows = wait_for(lambda: rig.hub_query(sql), what="the stored summary")
    assert [row["site"] for row in rows] == ["", "dak-ang"]
    old = get(rig, "/api/meetings/old-one/summary")
    assert old["state"] == "stored" and old["rooms"][0]["coverage"]["silent_s"] > 0
    assert get(rig, "/api/health")["summaries"]["last_error"] is None
