"""The card image assembled by genimage from a root folder, as the build does it (no loop mount).

A small stand-in root (a few files where the real one has Debian) goes through
build.assemble(): the result must be an MBR card with the FAT boot partition
first and bootable, the read-only root, then the data partition last (so it can
grow), each labelled as fstab mounts it, each file system clean, the boot and
data folders in their own partitions and not in the root; and a site's bundle
must go onto it with ``roomhub site write-image``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from roomhub import sdcard

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "image_build"))
import build  # noqa: E402

sys.path.insert(0, str(REPO / "tests" / "image"))
from qemu_box import ext4_read, extract, fat_list, fat_read, partitions  # noqa: E402


@pytest.fixture
def card(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("roomprobe\n")
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "probe").write_bytes(os.urandom(1 << 20))
    (root / "usr" / "bin" / "probe").chmod(0o755)
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "boot" / "firmware" / "config.txt").write_text("arm_64bit=1\n")
    (root / "data" / "roomprobe").mkdir(parents=True)
    (root / "data" / "roomprobe").chmod(0o750)
    (root / "data" / "persist").mkdir()
    log = tmp_path / "build.log"
    log.touch()
    return build.assemble(root, tmp_path / "work", build.Progress(total=1, log=log))


def test_the_card_has_boot_root_and_data_in_that_order(card: Path, tmp_path: Path):
    parts = partitions(card)
    assert [p.type.lower().removeprefix("0x") for p in parts] == ["c", "83", "83"]
    table = subprocess.run(["sfdisk", "--dump", str(card)], capture_output=True, text=True,
                           check=True).stdout  # fmt: skip
    boot_line = next(line for line in table.splitlines() if "type=c" in line)
    assert "bootable" in boot_line
    assert parts[0].start == 4 << 20  # aligned for SD cards' erase blocks
    assert parts[0].size == build.BOOT_SIZE_MIB << 20
    assert parts[2].size == build.DATA_SIZE_MIB << 20
    assert parts[2].start > parts[1].start  # data last: it grows into the rest of the card

    boot = extract(card, parts[0], tmp_path / "boot.vfat")
    root = extract(card, parts[1], tmp_path / "root.ext4")
    data = extract(card, parts[2], tmp_path / "data.ext4")
    assert subprocess.run(["fsck.vfat", "-n", str(boot)], capture_output=True).returncode == 0
    for fs in (root, data):
        assert subprocess.run(["e2fsck", "-fn", str(fs)], capture_output=True).returncode == 0
    labels = {name: label_of(fs) for name, fs in (("boot", boot), ("root", root), ("data", data))}
    assert labels == build.LABELS

    assert fat_read(card, parts[0], "config.txt") == b"arm_64bit=1\n"
    assert ext4_read(root, "/etc/hostname") == b"roomprobe\n"
    assert ext4_read(root, "/boot/firmware/config.txt") is None  # in its own partition
    listing = subprocess.run(["debugfs", "-R", "ls -p /", str(data)], capture_output=True,
                             text=True).stdout  # fmt: skip
    assert "/roomprobe/" in listing and "/persist/" in listing
    stat = subprocess.run(["debugfs", "-R", "stat /roomprobe", str(data)], capture_output=True,
                          text=True).stdout  # fmt: skip
    assert "Mode:  0750" in stat  # modes survive into the data partition


def label_of(fs: Path) -> str:
    done = subprocess.run(["blkid", "-p", "-o", "value", "-s", "LABEL", str(fs)],
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip()


def test_a_sites_bundle_goes_onto_the_assembled_card(card: Path, tmp_path: Path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "roomprobe.toml").write_text('site = "dak-ang"\n')
    (bundle / "district-ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (bundle / "mqtt-password").write_text("s3cret\n")
    written = sdcard.write_bundle(card, bundle)
    assert written == [f"roomprobe/{n}" for n in sdcard.BUNDLE_FILES]
    boot = partitions(card)[0]
    assert fat_read(card, boot, "roomprobe/mqtt-password") == b"s3cret\n"
    assert "config.txt" in fat_list(card, boot)
