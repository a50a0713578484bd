"""set-config on the probe (issue 9): what the hub may change, how it is checked, kept, applied.

Rule 3 throughout: a refusal names the key and the problem, in Vietnamese and
English, and changes nothing (neither what runs nor the kept file); a change
is kept atomically before it runs, so a restart or a power cut finds the last
good one.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from roomhub.cli import set_config_args
from roomprobe import config, host, remote_config, service
from roomprobe.contract import Stamp, decode, encode, topics, utc_iso
from roomprobe.texts import text

REQUEST = "00000000-0000-4000-8000-00000000000a"


def box_config(state_dir: Path, extra: str = "") -> config.ProbeConfig:
    return config.parse(f'site = "dak-ang"\n[paths]\nstate_dir = "{state_dir}"\n{extra}')


def start(cfg: config.ProbeConfig) -> service.ProbeService:
    return service.ProbeService(cfg)


def stop(svc: service.ProbeService) -> None:
    svc.outbox.close()
    svc._lock.close()


@pytest.fixture
def probe(tmp_path):
    svc = start(box_config(tmp_path))
    yield svc
    stop(svc)


def set_config(svc: service.ProbeService, args: Any) -> tuple[bool, str | None, dict, dict]:
    """Run one set-config as the daemon does; the reply's ok, error, {vi, en} and result."""
    ok, error, reason, values, result = svc._set_config(args, REQUEST)
    return ok, error, text(reason, **values), result


# -- a good change ---------------------------------------------------------------------------


def test_a_good_change_is_applied_at_once_kept_and_said(probe):
    before_due = dict(probe._due)
    ok, error, words, result = set_config(probe, {"config": {
        "thresholds": {"download_mbps": 40}, "net": {"interval_s": 900, "daily_budget_mb": 500},
        "daemon": {"heartbeat_s": 30},
    }})  # fmt: skip
    assert (ok, error) == (True, None)
    assert probe.cfg.thresholds.download_mbps == 40
    assert probe.cfg.net.interval_s == 900
    assert probe.budget.day_limit_mb == 500  # the budget's own copy follows
    assert probe._due["net"] <= before_due["net"]
    assert result["changed"]["thresholds.download_mbps"] == {"from": 50.0, "to": 40.0}
    assert set(result["changed"]) == {"thresholds.download_mbps", "net.interval_s",
                                      "net.daily_budget_mb", "daemon.heartbeat_s"}  # fmt: skip
    assert "thresholds.download_mbps: 50 → 40" in words["vi"]
    assert "thresholds.download_mbps: 50 -> 40" in words["en"]
    kept = json.loads(remote_config.path_in(probe.cfg.paths.state_dir).read_text("utf-8"))
    assert kept["config"] == {"thresholds": {"download_mbps": 40},
                              "net": {"interval_s": 900, "daily_budget_mb": 500},
                              "daemon": {"heartbeat_s": 30}}  # fmt: skip
    assert kept["request_id"] == REQUEST
    # Only the hub's settings are kept; the box's own file is not touched.
    assert probe.file_cfg.thresholds.download_mbps == 50


def test_a_shorter_interval_counts_from_now_not_from_the_last_test(probe):
    probe._due["net"] = time.monotonic() + 3600
    set_config(probe, {"config": {"net": {"interval_s": 5}}})
    assert probe._due["net"] <= time.monotonic() + 5


def test_settings_add_up_and_null_gives_a_key_back_to_the_box(probe):
    set_config(probe, {"config": {"thresholds": {"download_mbps": 40}}})
    set_config(probe, {"config": {"thresholds": {"upload_mbps": 30}}})
    assert (probe.cfg.thresholds.download_mbps, probe.cfg.thresholds.upload_mbps) == (40, 30)
    ok, _, _, result = set_config(probe, {"config": {"thresholds": {"download_mbps": None}}})
    assert ok and probe.cfg.thresholds.download_mbps == 50  # the box's file again
    assert result["hub_settings"] == {"thresholds": {"upload_mbps": 30}}
    ok, *_ = set_config(probe, {"reset": True})
    assert ok and probe.cfg == probe.file_cfg
    assert remote_config.read_kept(probe.cfg.paths.state_dir) == {}


def test_the_same_values_again_change_nothing_and_say_so(probe):
    set_config(probe, {"config": {"thresholds": {"download_mbps": 40}}})
    ok, error, words, result = set_config(probe, {"config": {"thresholds": {"download_mbps": 40}}})
    assert (ok, error, result["changed"]) == (True, None, {})
    assert words["en"].startswith("Kept; the running configuration did not change")


def test_every_key_the_hub_may_change_exists_and_takes_its_own_value(probe):
    """The allow-list names real keys: setting each to what runs now is accepted."""
    for table, keys in remote_config.HUB_MAY_CHANGE.items():
        current = getattr(probe.cfg, table).model_dump()
        for key in keys:
            ok, error, words, _ = set_config(probe, {"config": {table: {key: current[key]}}})
            assert (ok, error) == (True, None), (table, key, words["en"])


def test_the_audio_probes_own_copies_follow(tmp_path):
    class Holder:
        cfg: object = None
        thresholds: object = None

    svc = start(box_config(tmp_path))
    try:
        svc.audio_probe = Holder()  # type: ignore[assignment]
        set_config(svc, {"config": {"thresholds": {"audio_max_thd_pct": 5},
                                    "audio": {"quiet_before_s": 60}}})  # fmt: skip
        assert svc.audio_probe.thresholds.audio_max_thd_pct == 5  # type: ignore[union-attr]
        assert svc.audio_probe.cfg.quiet_before_s == 60  # type: ignore[union-attr]
    finally:
        svc.audio_probe = None
        stop(svc)


# -- refusals: each names the key and why, and changes nothing ---------------------------------

BAD: list[tuple[str, Any, str, str]] = [
    # (what, args, error code, words both languages must contain)
    ("args not an object", [], "bad_args", '"config"'),
    ("unknown argument", {"thresholds": {"download_mbps": 40}}, "bad_args", "thresholds"),
    ("config not an object", {"config": "thresholds.download_mbps=40"}, "bad_args", '"config"'),
    ("empty overlay", {"config": {}}, "bad_args", '"config"'),
    ("empty table", {"config": {"thresholds": {}}}, "bad_args", "thresholds"),
    ("reset not a bool", {"reset": "yes"}, "bad_args", '"reset"'),
    ("broker host", {"config": {"mqtt": {"host": "evil.example.org"}}}, "forbidden", "mqtt.host"),
    ("site id", {"config": {"site": "bo-y"}}, "forbidden", "site"),
    ("state folder", {"config": {"paths": {"state_dir": "/tmp"}}}, "forbidden", "paths.state_dir"),
    ("line endpoint", {"config": {"net": {"server_url": "http://x/mini/"}}}, "forbidden",
     "net.server_url"),
    ("sound card", {"config": {"audio": {"capture_device": "hw:1"}}}, "forbidden",
     "audio.capture_device"),
    ("LEDs", {"config": {"hardware": {"leds": "gpio"}}}, "forbidden", "hardware.leds"),
    ("unknown table", {"config": {"threshold": {"download_mbps": 40}}}, "config_rejected",
     "threshold: unknown key"),
    ("unknown key", {"config": {"thresholds": {"down_mbps_ok": 40}}}, "config_rejected",
     "thresholds.down_mbps_ok: unknown key"),
    ("a word for a number", {"config": {"thresholds": {"download_mbps": "fast"}}},
     "config_rejected", "thresholds.download_mbps"),
    ("a number as text", {"config": {"thresholds": {"download_mbps": "40"}}}, "config_rejected",
     "thresholds.download_mbps = '40'"),
    ("true for a number", {"config": {"thresholds": {"download_mbps": True}}}, "config_rejected",
     "thresholds.download_mbps = True"),
    ("below its range", {"config": {"thresholds": {"download_mbps": -5}}}, "config_rejected",
     "thresholds.download_mbps = -5: Input should be greater than 0"),
    ("interval of 0", {"config": {"net": {"interval_s": 0}}}, "config_rejected",
     "net.interval_s = 0"),
    ("infinity", {"config": {"thresholds": {"download_mbps": float("inf")}}}, "config_rejected",
     "thresholds.download_mbps = inf: not a finite number"),
    ("a lead inside the guard", {"config": {"daemon": {"meeting_guard_s": 4000}}},
     "config_rejected", "readiness_lead_s: 3600 is inside the quiet window"),
    ("a list item out of range", {"config": {"daemon": {"readiness_lead_s": [3600, -1]}}},
     "config_rejected", "daemon.readiness_lead_s[1] = -1"),
    ("a table as a number", {"config": {"thresholds": 40}}, "config_rejected", "thresholds = 40"),
    ("a speedtest mode that is none", {"config": {"net": {"speedtest_cli": "fast.com"}}},
     "config_rejected", "net.speedtest_cli"),
    ("one good key, one bad", {"config": {"thresholds": {"download_mbps": 500, "rtt_ms": 0}}},
     "config_rejected", "thresholds.rtt_ms = 0"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "args", "error", "names"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_config_is_refused_naming_the_key_and_changes_nothing(probe, what, args, error,
                                                                     names):  # fmt: skip
    set_config(probe, {"config": {"thresholds": {"upload_mbps": 45}}})  # the last good one
    kept = remote_config.path_in(probe.cfg.paths.state_dir)
    kept_before, running_before = kept.read_bytes(), probe.cfg
    ok, got, words, result = set_config(probe, args)
    assert (ok, got) == (False, error)
    assert names in words["vi"] and names in words["en"], words
    assert words["vi"] != words["en"] and not words["vi"].isascii()
    assert result["problems"], result
    assert probe.cfg is running_before  # nothing applied, not even the good half
    assert probe.cfg.thresholds.download_mbps == 50 and probe.cfg.thresholds.upload_mbps == 45
    assert kept.read_bytes() == kept_before  # nor written


def test_a_hostile_change_gets_a_reply_of_bounded_size(probe):
    """Thousands of unknown keys and a huge value: refused, and the reply stays small."""
    many = {"thresholds": {f"k{i}": i for i in range(5000)}}
    ok, error, words, result = set_config(probe, {"config": many})
    assert (ok, error) == (False, "config_rejected")
    assert len(result["problems"]) == remote_config.MAX_PROBLEMS + 1
    assert result["problems"][-1] == f"... and {5000 - remote_config.MAX_PROBLEMS} more"
    assert len(words["en"]) <= 500 and len(words["vi"]) <= 500
    huge = {"thresholds": {"download_mbps": "x" * 100_000}}
    ok, error, words, result = set_config(probe, {"config": huge})
    assert (ok, error) == (False, "config_rejected")
    assert len(json.dumps(result)) < 1000
    assert result["problems"][0].startswith("thresholds.download_mbps = 'xxx")


def test_reset_and_new_settings_in_one_command(probe):
    set_config(probe, {"config": {"thresholds": {"download_mbps": 40}}})
    ok, _, _, result = set_config(probe, {"reset": True,
                                          "config": {"net": {"interval_s": 600}}})  # fmt: skip
    assert ok and result["hub_settings"] == {"net": {"interval_s": 600}}
    assert probe.cfg.thresholds.download_mbps == 50 and probe.cfg.net.interval_s == 600
    assert set(result["changed"]) == {"thresholds.download_mbps", "net.interval_s"}


def test_every_key_the_hub_may_not_change_is_refused_with_why(probe):
    """The whole model, key by key: outside the allow-list means forbidden, never applied."""
    doc = probe.cfg.model_dump(mode="json")
    tried = 0
    for name, value in doc.items():
        keys = value if isinstance(value, dict) else {None: value}
        for key, current in keys.items():
            if key in remote_config.HUB_MAY_CHANGE.get(name, ()):
                continue
            patch = {name: {key: current}} if key is not None else {name: current}
            ok, error, words, _ = set_config(probe, {"config": patch})
            label = f"{name}.{key}" if key is not None else name
            assert (ok, error) == (False, "forbidden"), label
            assert label in words["en"] and label in words["vi"]
            assert "change it on the box" in words["en"]
            assert "hãy đổi trên thiết bị" in words["vi"]
            tried += 1
    assert tried > 40
    cut_off = set_config(probe, {"config": {"mqtt": {"port": 1}}})[2]
    assert "a wrong value would cut the box off" in cut_off["en"]
    assert "mất kết nối" in cut_off["vi"]


def test_an_expired_set_config_is_not_run(probe, monkeypatch):
    monkeypatch.setattr(host, "clock_synced", lambda: True)
    ok, error, *_ = probe._execute(command({"config": {"thresholds": {"download_mbps": 40}}}, -60))
    assert (ok, error) == (False, "expired")
    assert probe.cfg.thresholds.download_mbps == 50


def command(args: Any, expires_in_s: float = 60) -> dict:
    stamp = Stamp("dak-ang", "00000000-0000-4000-8000-000000000001", lambda: True)
    expires = utc_iso(datetime.now(UTC) + timedelta(seconds=expires_in_s))
    return stamp.envelope("roomprobe.cmd", 1, command="set-config", args=args, expires_at=expires)


def test_replies_and_the_event_fit_the_contract(probe, monkeypatch):
    """Through the daemon's own command path: every reply (and the event) is a valid message."""
    monkeypatch.setattr(host, "clock_synced", lambda: False)
    many_forbidden = {"mqtt": {k: 1 for k in ("host", "port", "username", "password_file",
                                             "keepalive_s", "tls_ca", "inflight")},
                      "hardware": {"leds": "gpio", "button_pin": 3, "hold_s": 2}}  # fmt: skip
    for args in ({"config": many_forbidden}, {"config": {"thresholds": {"rtt_ms": -1}}},
                 {"config": {"thresholds": {"rtt_ms": 80}}}):  # fmt: skip
        probe._on_command(topics.cmd("dak-ang", "set-config"), encode(command(args)))
    rows = probe.outbox.pending(100)
    got = [decode(r.payload) for r in rows]
    replies = [p for p in got if p["schema"] == "roomprobe.cmd-reply"]
    assert [r["ok"] for r in replies] == [False, False, True]
    assert [r["error"] for r in replies] == ["forbidden", "config_rejected", None]
    assert len(replies[0]["message"]["en"]) <= 500  # clipped; the result lists every one
    assert len(replies[0]["result"]["problems"]) == 10
    events = [p for p in got if p["schema"] == "roomprobe.event"]
    applied = [e for e in events if e["event"] == "config_applied"]
    assert len(applied) == 1
    assert applied[0]["details"]["changed"] == {"thresholds.rtt_ms": {"from": 100.0, "to": 80.0}}


# -- kept across restarts and power cuts ------------------------------------------------------


def test_the_hubs_settings_survive_a_restart(tmp_path):
    svc = start(box_config(tmp_path))
    set_config(svc, {"config": {"thresholds": {"download_mbps": 40},
                                "audio": {"interval_s": 600}}})  # fmt: skip
    stop(svc)
    again = start(box_config(tmp_path))
    try:
        assert again.cfg.thresholds.download_mbps == 40
        assert again.cfg.audio.interval_s == 600
        assert again.config_problems == []
        assert again.current["system"].status == "ok"
    finally:
        stop(again)


def test_a_power_cut_while_writing_leaves_the_last_good_settings(tmp_path, monkeypatch):
    svc = start(box_config(tmp_path))
    set_config(svc, {"config": {"thresholds": {"download_mbps": 40}}})
    # The card dies between writing the new file beside the old and renaming it over:
    real_replace = os.replace

    def cut(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", cut)
    ok, error, words, _ = set_config(svc, {"config": {"thresholds": {"download_mbps": 30}}})
    monkeypatch.setattr(os, "replace", real_replace)
    assert (ok, error) == (False, "not_saved")
    assert "Input/output error" in words["en"] and "Báo cán bộ CNTT" in words["vi"]
    assert svc.cfg.thresholds.download_mbps == 40  # not applied either
    stop(svc)
    # What a cut leaves beside it: the half-written new file. The old one is what counts.
    leftover = tmp_path / f".{remote_config.FILE_NAME}.new"
    assert leftover.exists()
    leftover.write_bytes(b'{"version": 1, "config": {"thresh')
    again = start(box_config(tmp_path))
    try:
        assert again.cfg.thresholds.download_mbps == 40
        assert again.config_problems == []
    finally:
        stop(again)


def test_a_damaged_settings_file_runs_on_the_box_file_and_says_so(tmp_path):
    remote_config.path_in(tmp_path).write_bytes(b"\x00\x00garbage")
    svc = start(box_config(tmp_path))
    try:
        assert svc.cfg == svc.file_cfg
        assert svc.config_problems and "settings from the hub ignored" in svc.config_problems[0]
        assert svc.current["system"].reason == "system.config_rejected"
        # New settings from the hub replace the damaged file and clear the problem.
        ok, *_ = set_config(svc, {"config": {"thresholds": {"download_mbps": 40}}})
        assert ok and svc.config_problems == []
        assert svc.current["system"].status == "ok"
        assert remote_config.read_kept(tmp_path) == {"thresholds": {"download_mbps": 40}}
    finally:
        stop(svc)


def test_kept_settings_that_no_longer_fit_the_box_file_are_left_out_whole(tmp_path):
    svc = start(box_config(tmp_path))
    set_config(svc, {"config": {"daemon": {"readiness_lead_s": [1800]},
                                "thresholds": {"download_mbps": 40}}})  # fmt: skip
    stop(svc)
    # Someone at the box widens the quiet window past the hub's lead time.
    again = start(
        box_config(tmp_path, "[daemon]\nmeeting_guard_s = 2400\nreadiness_lead_s = [3600]\n")
    )
    try:
        assert again.cfg == again.file_cfg  # all of them, not half
        assert any("readiness_lead_s: 1800 is inside the quiet window" in p
                   for p in again.config_problems)  # fmt: skip
        assert again.current["system"].status == "degraded"
    finally:
        stop(again)


def test_kept_settings_a_newer_firmware_no_longer_allows_are_refused(tmp_path):
    remote_config.keep(tmp_path, {"mqtt": {"host": "elsewhere.example.org"}}, None)
    svc = start(box_config(tmp_path))
    try:
        assert svc.cfg.mqtt.host == "localhost"
        assert any("mqtt.host cannot be changed from the hub" in p for p in svc.config_problems)
    finally:
        stop(svc)


def test_the_settings_file_is_written_atomically_and_only_by_the_owner(tmp_path):
    remote_config.keep(tmp_path, {"thresholds": {"download_mbps": 40}}, REQUEST)
    path = remote_config.path_in(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / f".{remote_config.FILE_NAME}.new").exists()


# -- the hub's console: roomhub probe set-config SITE table.key=value ... -------------------


def test_the_hub_console_turns_words_into_settings():
    args = set_config_args(["thresholds.download_mbps=40", "net.speedtest_cli=off",
                            "daemon.readiness_lead_s=[3600, 1200]", "net.interval_s=null",
                            "thresholds.rtt_ms=80.5", "site=bo-y"], reset=False)  # fmt: skip
    assert args == {"config": {
        "thresholds": {"download_mbps": 40, "rtt_ms": 80.5},
        "net": {"speedtest_cli": "off", "interval_s": None},
        "daemon": {"readiness_lead_s": [3600, 1200]},
        "site": "bo-y",  # sent as typed: the probe refuses it, naming why
    }}  # fmt: skip
    assert set_config_args([], reset=True) == {"reset": True}


@pytest.mark.parametrize(("words", "says"), [
    (["thresholds.download_mbps"], "is not table.key=value"),
    (["thresholds.download_mbps="], "has no value"),
    (["a.b.c=1"], "is not table.key=value"),
    (["=1"], "is not table.key=value"),
    (["thresholds.=1"], "is not table.key=value"),
    (["thresholds.rtt_ms=NaN"], "NaN is not a setting"),
    (["thresholds.rtt_ms=1", "thresholds.rtt_ms=2"], "given twice"),
    (["thresholds=null", "thresholds.rtt_ms=2"], "given twice"),
    ([], "nothing to set"),
])  # fmt: skip
def test_the_hub_console_refuses_words_that_are_no_setting(words, says):
    with pytest.raises(ValueError, match=says):
        set_config_args(words, reset=False)
