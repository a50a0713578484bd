"""What the built generic image holds, read from its partitions without booting or mounting.

No password anywhere, no secret and no identity (they would be the same on
every box), the services enabled, the probe installed for arm64, and the
settings the box depends on (read-only root, data partition, watchdog,
firewall, SSH keys only). Runs with the boot test (``scripts/boot-test``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qemu_box import decompress, ext4_read, extract, fat_list, fat_read, partitions


@pytest.fixture(scope="module")
def card(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("contents")
    img = decompress(image, tmp / "card.img")
    parts = partitions(img)
    yield {
        "img": img,
        "root": extract(img, parts[1], tmp / "root.ext4"),
        "data": extract(img, parts[2], tmp / "data.ext4"),
    }


def read(fs: Path, path: str) -> str:
    data = ext4_read(fs, path)
    assert data is not None, f"{path} is not in the image"
    return data.decode()


def ls(fs: Path, path: str) -> list[str]:
    done = subprocess.run(["debugfs", "-R", f"ls -p {path}", str(fs)], capture_output=True,
                          text=True)  # fmt: skip
    return [f.split("/")[5] for f in done.stdout.splitlines() if f.count("/") >= 6]


def test_no_account_has_a_password(card: dict[str, Path]):
    shadow = read(card["root"], "/etc/shadow")
    for line in shadow.splitlines():
        user, pw = line.split(":")[:2]
        # '!' or '*' (locked or never set): nothing to guess, on any account.
        assert pw.startswith(("!", "*")), f"{user} has a password hash"
    sshd = read(card["root"], "/etc/ssh/sshd_config.d/roomprobe.conf")
    assert "PasswordAuthentication no" in sshd and "PermitRootLogin no" in sshd


def test_no_secret_and_no_identity_in_the_generic_image(card: dict[str, Path]):
    in_ssh = ls(card["root"], "/etc/ssh")
    assert "sshd_config" in in_ssh  # the listing worked
    assert not [f for f in in_ssh if f.startswith("ssh_host_")]
    assert read(card["root"], "/etc/machine-id") == ""
    assert ext4_read(card["root"], "/var/lib/dbus/machine-id") is None
    boot = partitions(card["img"])[0]
    assert not [f for f in fat_list(card["img"], boot) if f.startswith("roomprobe/")]
    assert set(ls(card["data"], "/roomprobe")) == {".", ".."}  # no outbox, no password
    assert ext4_read(card["data"], "/persist/etc/machine-id") is None


def test_the_services_are_enabled(card: dict[str, Path]):
    wants = {u for target in ("multi-user", "sysinit")  # nftables' is sysinit.target
             for u in ls(card["root"], f"/etc/systemd/system/{target}.target.wants")}  # fmt: skip
    for unit in ("roomprobe.service", "roomprobe-firstboot.service", "roomprobe-persist.service",
                 "roomprobe-growdata.service", "nftables.service", "chrony.service",
                 "ssh.service", "systemd-networkd.service"):  # fmt: skip
        assert unit in wants, f"{unit} is not enabled"
    watchdog = read(card["root"], "/etc/systemd/system.conf.d/watchdog.conf")
    assert "RuntimeWatchdogSec=" in watchdog


def test_the_boot_partition_boots_a_pi_with_a_read_only_root(card: dict[str, Path]):
    boot = partitions(card["img"])[0]
    config = (fat_read(card["img"], boot, "config.txt") or b"").decode()
    cmdline = (fat_read(card["img"], boot, "cmdline.txt") or b"").decode()
    assert "arm_64bit=1" in config
    names = fat_list(card["img"], boot)
    for dtb in ("bcm2837-rpi-3-b.dtb", "bcm2711-rpi-4-b.dtb", "bcm2837-rpi-zero-2-w.dtb"):
        assert dtb in names
    assert "root=LABEL=RASPIROOT" in cmdline and "overlayroot=tmpfs" in cmdline
    fstab = read(card["root"], "/etc/fstab")
    assert "LABEL=RPDATA" in fstab and "/var/lib/roomprobe" in fstab


def test_the_probe_is_installed_for_arm64(card: dict[str, Path]):
    site = ls(card["root"], "/opt/roomprobe/lib/python3.11/site-packages")
    built = [f for f in site if f.startswith("alsaaudio") and f.endswith(".so")]
    assert built and "aarch64" in built[0], site
    assert any(f.startswith("roomprobe-") and f.endswith(".dist-info") for f in site)
    for pkg in ("numpy", "scipy", "paho", "gpiozero", "lgpio.py", "pydantic"):
        assert pkg in site
    # Nothing only the build needed.
    assert ext4_read(card["root"], "/usr/bin/gcc") is None
