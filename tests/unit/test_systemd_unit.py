"""The probe's systemd unit: valid for systemd, and consistent with the daemon."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from roomprobe import cli, config

UNIT = Path(__file__).parents[2] / "firmware" / "roomprobe.service"


def settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_systemd_accepts_the_unit(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian package systemd) is needed to check the unit"
    # Verify the unit as written, with only what does not exist on a build machine replaced.
    text = UNIT.read_text()
    text = text.replace("/opt/roomprobe/bin/roomprobe", "/bin/true")
    text = text.replace("User=roomprobe", "User=root").replace("Group=roomprobe", "Group=root")
    text = text.replace("SupplementaryGroups=audio gpio\n", "")
    unit = tmp_path / "roomprobe.service"
    unit.write_text(text)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Unknown key" not in result.stderr, result.stderr


def test_unit_matches_the_daemon():
    s = settings()
    assert s["Type"] == ["notify"]  # the daemon sends READY=1
    assert s["Restart"] == ["always"]
    assert s["RestartPreventExitStatus"] == [str(cli.EX_CONFIG)]
    assert str(config.DEFAULT_PATH) in s["ExecStart"][0]
    assert int(s["WatchdogSec"][0]) >= 10  # the loop pings every WatchdogSec/2
    assert s["StateDirectory"] == ["roomprobe"]  # = the default paths.state_dir
    assert str(config.PathsConfig().state_dir) == "/var/lib/roomprobe"


def test_unit_is_hardened_but_lets_the_probe_read_the_clock_state():
    s = settings()
    for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp"):
        assert key in s, f"{key} missing"
    # ProtectClock would filter adjtimex(), and every timestamp would say "not synchronised".
    assert "ProtectClock" not in s


FIRSTBOOT = UNIT.with_name("roomprobe-firstboot.service")


def test_systemd_accepts_the_firstboot_unit_and_it_runs_before_the_probe(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian package systemd) is needed to check the unit"
    text = FIRSTBOOT.read_text().replace("/opt/roomprobe/bin/roomprobe", "/bin/true")
    unit = tmp_path / "roomprobe-firstboot.service"
    unit.write_text(text)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert "Unknown key" not in result.stderr and "Failed" not in result.stderr, result.stderr
    assert "Before=roomprobe.service" in text and "WantedBy=roomprobe.service" in text
    assert "RequiredBy" not in text  # a bad bundle must not keep the probe from starting
    # It reads the bundle where the secrets' paths of `roomhub site add` say the box has them.
    from roomhub.provision import PROBE_PASSWORD_FILE

    assert PROBE_PASSWORD_FILE.startswith("/var/lib/roomprobe/")
    assert "RequiresMountsFor=/boot/firmware /var/lib/roomprobe /etc/roomprobe" in text
    assert f"--config {config.DEFAULT_PATH}" in text
