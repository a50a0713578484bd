"""``roomprobe doctor`` on a daemon's real state folder: the lights, the results, what to do."""

from __future__ import annotations

import json

import pytest

from roomprobe import config, service
from roomprobe.cli import main
from roomprobe.leds.legend import state


def probe_config(tmp_path, profile: str = "good") -> str:
    path = tmp_path / "probe.toml"
    path.write_text(
        f'site = "dak-ang"\nname = "Xã Đắk Ang"\n[paths]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[simulation]\nprofile = "{profile}"\n',
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture
def ran(tmp_path, monkeypatch):
    """A daemon (no broker) that has run its first line and audio tests on a broken speaker."""
    monkeypatch.setattr(service, "BOOT_S", 0.0)
    conf = probe_config(tmp_path, "broken-speaker")
    svc = service.ProbeService(config.load(conf))
    now = 0.0
    for kind in ("net", "audio"):
        svc._run_test(kind, now)
    svc._publish_status()
    yield conf, svc
    svc.outbox.close()
    svc._lock.close()


def test_doctor_explains_the_lights_and_what_to_do(ran, capsys):
    conf, svc = ran
    assert main(["doctor", "--config", conf]) == 1  # something to do
    out = capsys.readouterr().out
    audio = state("audio", svc._leds()["audio"].key)
    assert audio.key == "fail"
    assert audio.meaning[0] in out and audio.meaning[1] in out
    assert audio.action[0] in out  # who to call, in Vietnamese
    assert "Đường truyền" in out and "Mbps" in out
    assert "WARNING" not in out  # the daemon holds its lock: it is running
    doc = json.loads((svc.outbox.path.parent / service.NOW_FILE).read_text())
    assert doc["last"]["audio"]["verdict"]["status"] == "fail"


def test_doctor_says_when_the_daemon_is_not_running(ran, capsys):
    conf, svc = ran
    svc._lock.close()  # as if the daemon had stopped
    assert main(["doctor", "--config", conf]) == 1
    out = capsys.readouterr().out
    assert "the probe daemon is not running" in out and "chương trình kiểm tra không chạy" in out


def test_doctor_on_a_fresh_box(tmp_path, capsys):
    conf = probe_config(tmp_path)
    assert main(["doctor", "--config", conf]) == 2
    assert "No results yet" in capsys.readouterr().out


def test_the_now_file_is_not_rewritten_when_nothing_changed(ran):
    _, svc = ran
    path = svc.outbox.path.parent / service.NOW_FILE
    before = path.stat().st_mtime_ns
    svc._publish_status()
    assert path.stat().st_mtime_ns == before


def test_doctor_shows_the_latest_readiness_check_and_what_failed(ran, capsys):
    conf, svc = ran
    assert svc.start_readiness("button")  # the broken speaker: not ready
    out = (capsys.readouterr(), main(["doctor", "--config", conf]), capsys.readouterr().out)[2]
    assert "Kiểm tra sẵn sàng" in out and "Readiness check" in out
    assert "Phòng họp chưa sẵn sàng cho cuộc họp" in out
    assert "The room is not ready for the meeting" in out
    doc = json.loads((svc.outbox.path.parent / service.NOW_FILE).read_text())
    assert doc["last"]["readiness"]["parts"]["audio"]["status"] == "fail"


def test_a_new_result_alone_rewrites_the_now_file(ran):
    import time

    _, svc = ran
    path = svc.outbox.path.parent / service.NOW_FILE
    svc._write_now(svc._status(True))
    before = json.loads(path.read_text())["last"]["net"]["at"]
    time.sleep(0.01)
    svc._run_test("net", 0.0)  # a newer line result; the status may well stay the same
    svc._write_now(svc._status(True))
    assert json.loads(path.read_text())["last"]["net"]["at"] != before
