"""``roomprobe ready`` at the box: the running daemon checks the room and the command prints it.

Real daemons, a real broker and hub (for meeting mode by the hub's command); the
command runs as room staff or IT would type it, in its own process.
"""

from __future__ import annotations

import json
import urllib.request

from rig import Rig, wait_for

QUIET = {"interval_s": 3600}  # no regular tests: only the check asked for


def readiness_results(rig: Rig, site: str) -> list[dict]:
    rows = rig.hub_query("SELECT payload FROM messages WHERE schema = 'roomprobe.result.readiness'"
                         " AND site = ? ORDER BY id", site)  # fmt: skip
    return [json.loads(r["payload"]) for r in rows]


def test_ready_prints_each_part_and_who_acts_and_exits_by_the_answer(rig: Rig):
    rig.start_broker()
    rig.hub()
    rig.probe(site="dak-ang", profile="slow-line", net=QUIET, audio=QUIET)
    rig.probe(site="bo-y", profile="good", net=QUIET, audio=QUIET)
    wait_for(lambda: len(rig.hub_query("SELECT 1 FROM sites WHERE online = 1")) == 2,
             what="both probes online")  # fmt: skip

    slow = rig.roomprobe("dak-ang", "ready", "--wait", "60")
    assert slow.returncode == 1, slow.stdout + slow.stderr
    assert "Phòng họp chưa sẵn sàng cho cuộc họp" in slow.stdout
    assert "The room is not ready for the meeting" in slow.stdout
    # Each part with its own words; the line's says what was measured and whom to call.
    assert "• Đường truyền: Tốc độ tải xuống" in slow.stdout and "Call the ISP" in slow.stdout
    assert "Audio: The audio chain is working" in slow.stdout
    assert "Traceback" not in slow.stderr
    good = rig.roomprobe("bo-y", "ready", "--wait", "60")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "The room is ready for the meeting" in good.stdout
    # The same run as the button's and the hub's: published, and counted on the board.
    (run,) = wait_for(lambda: readiness_results(rig, "dak-ang"), what="the published run")
    assert run["readiness"] == "not-ready"

    # The room's page shows the box's meeting light as the room sees it.
    def lit() -> str | None:
        html = room_page(rig, "bo-y")
        return html if 'id="meeting-light"' in html else None

    page = wait_for(lit, what="the meeting light on the room page")
    assert "The room is ready for the coming meeting (green, steady)" in page


def room_page(rig: Rig, site: str) -> str:
    with urllib.request.urlopen(f"{rig.web}/sites/{site}?lang=en", timeout=10) as resp:
        return resp.read().decode()


def test_ready_says_why_not_now_and_when_the_daemon_is_not_running(rig: Rig):
    rig.start_broker()
    rig.hub()
    probe = rig.probe(site="dak-ang", profile="good", net=QUIET, audio=QUIET)
    wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 1"), what="probe online")
    assert rig.roomhub("probe", "meeting-mode", "dak-ang", "on").returncode == 0
    wait_for(lambda: any(json.loads(r["last_status"])["meeting_mode"]
                         for r in rig.hub_query("SELECT last_status FROM sites")),
             what="meeting mode on")  # fmt: skip
    refused = rig.roomprobe("dak-ang", "ready", "--wait", "30")
    assert refused.returncode == 69, refused.stdout + refused.stderr
    assert "Không kiểm tra lúc này: đang bật chế độ đang họp." in refused.stderr
    assert "No check now: meeting mode is on." in refused.stderr
    assert readiness_results(rig, "dak-ang") == []  # nothing ran

    probe.stop()
    stopped = rig.roomprobe("dak-ang", "ready")
    assert stopped.returncode == 69
    assert "The probe daemon is not running" in stopped.stderr and "Traceback" not in stopped.stderr


def test_a_bad_config_is_named_not_a_traceback(rig: Rig, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('site = "Not A Site"\n', "utf-8")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "roomprobe.cli", "ready", "--config", str(bad)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 78
    assert "site" in done.stderr and "Traceback" not in done.stderr
