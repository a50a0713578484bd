"""A site's bundle written onto an SD image's FAT boot partition (issue 7, per-site provisioning).

The image is a real disk image: an MBR partition table made by sfdisk, a FAT32
boot partition made by mkfs.vfat and a Linux partition after it. What is
written is read back with mtools and the file system checked with fsck.vfat.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from roomhub import provision, sdcard
from roomhub.cli import main
from roomhub.config import load as load_hub
from roomprobe import tomlconfig

SECTOR = 512
BOOT_START = 2048  # sectors, as Raspberry Pi images lay it out
BOOT_SECTORS = 65536  # 32 MiB


def make_image(path: Path, boot_type: str = "c") -> Path:
    """A 48 MiB disk image: a FAT boot partition holding config.txt, then a Linux one."""
    with open(path, "wb") as f:
        f.truncate(48 * 1024 * 1024)
    script = (f"label: dos\nstart={BOOT_START}, size={BOOT_SECTORS}, type={boot_type}\n"
              f"start={BOOT_START + BOOT_SECTORS}, type=83\n")  # fmt: skip
    subprocess.run(["sfdisk", "--no-reread", "--no-tell-kernel", str(path)], input=script,
                   text=True, check=True, capture_output=True)  # fmt: skip
    part = path.with_suffix(".fat")
    size_kib = str(BOOT_SECTORS * SECTOR // 1024)  # FAT16 at this size; the Pi's is FAT32
    subprocess.run(["mkfs.vfat", "-C", "-n", "BOOT", str(part), size_kib], check=True,
                   capture_output=True)  # fmt: skip
    config_txt = path.parent / "config.txt"
    config_txt.write_text("arm_64bit=1\n")
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    subprocess.run(["mcopy", "-i", str(part), str(config_txt), "::/config.txt"], check=True,
                   env=env)  # fmt: skip
    with open(path, "r+b") as f:
        f.seek(BOOT_START * SECTOR)
        f.write(part.read_bytes())
    part.unlink()
    return path


def boot_partition_is_clean(image: Path) -> bool:
    part = image.with_suffix(".check")
    with open(image, "rb") as f:
        f.seek(BOOT_START * SECTOR)
        part.write_bytes(f.read(BOOT_SECTORS * SECTOR))
    try:
        return subprocess.run(["fsck.vfat", "-n", str(part)], capture_output=True).returncode == 0
    finally:
        part.unlink()


@pytest.fixture
def district(tmp_path: Path) -> Path:
    """A hub config with the district's PKI made and two sites added (real mosquitto_passwd)."""
    conf = tmp_path / "hub.toml"
    conf.write_text(tomlconfig.dumps({
        "hub_id": "test-hub",
        "security": {"dir": tmp_path / "security", "broker_host": "hub.ngoc-hoi.example",
                     "broker_pid_file": tmp_path / "no-broker.pid"},
    }), encoding="utf-8")  # fmt: skip
    assert main(["pki", "init", "--config", str(conf), "--hostname", "hub.ngoc-hoi.example"]) == 0
    for site, name in (("dak-ang", "Xã Đắk Ang"), ("bo-y", "Xã Bờ Y")):
        provision.add_site(load_hub(conf), site, name)
    return conf


def test_the_bundle_lands_on_the_boot_partition_and_nothing_else_changes(
    district: Path, tmp_path: Path, capsys
):
    image = make_image(tmp_path / "roomprobe.img")
    before = image.read_bytes()
    assert main(["site", "write-image", "dak-ang", str(image), "--config", str(district)]) == 0
    out = capsys.readouterr().out
    bundle = provision.Layout(tmp_path / "security").bundle("dak-ang")
    assert (bundle / "mqtt-password").read_text().strip() not in out  # never printed
    assert "roomprobe/roomprobe.toml" in out

    on_card = sdcard.read_bundle(image)
    assert on_card == {n: (bundle / n).read_bytes() for n in sdcard.BUNDLE_FILES}
    assert "Xã Đắk Ang" in on_card["roomprobe.toml"].decode("utf-8")
    after = image.read_bytes()
    boot = slice(BOOT_START * SECTOR, (BOOT_START + BOOT_SECTORS) * SECTOR)
    assert after[: boot.start] == before[: boot.start]  # the partition table is untouched
    assert after[boot.stop :] == before[boot.stop :]  # and so is the root file system
    assert boot_partition_is_clean(image)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    listing = subprocess.run(["mdir", "-b", "-i", f"{image}@@{BOOT_START * SECTOR}", "::/"],
                             capture_output=True, text=True, env=env).stdout  # fmt: skip
    assert "config.txt" in listing.lower()  # the Pi's own files stay


def test_writing_another_sites_bundle_replaces_the_first(district: Path, tmp_path: Path):
    image = make_image(tmp_path / "roomprobe.img")
    for site in ("dak-ang", "bo-y"):
        assert main(["site", "write-image", site, str(image), "--config", str(district)]) == 0
    on_card = sdcard.read_bundle(image)
    assert "Xã Bờ Y" in on_card["roomprobe.toml"].decode("utf-8")
    bundle = provision.Layout(tmp_path / "security").bundle("bo-y")
    assert on_card["mqtt-password"] == (bundle / "mqtt-password").read_bytes()
    assert boot_partition_is_clean(image)


def test_a_gpt_image_with_an_efi_system_partition_works_too(tmp_path: Path):
    image = tmp_path / "gpt.img"
    with open(image, "wb") as f:
        f.truncate(48 * 1024 * 1024)
    script = (f"label: gpt\nstart={BOOT_START}, size={BOOT_SECTORS}, "
              "type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n")  # fmt: skip
    subprocess.run(["sfdisk", "--no-reread", "--no-tell-kernel", str(image)], input=script,
                   text=True, check=True, capture_output=True)  # fmt: skip
    assert sdcard.boot_partition_offset(image) == BOOT_START * SECTOR


def compressed(path: Path) -> Path:
    path = path.with_suffix(".img.xz")
    path.write_bytes(b"\xfd7zXZ\x00")
    return path


def random_bytes(path: Path) -> Path:
    path.write_bytes(os.urandom(4096))
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        (compressed, "is compressed: decompress it first"),
        (random_bytes, "has no partition table"),
        (lambda p: make_image(p, boot_type="83"), "has no FAT boot partition"),
        (lambda p: p.with_name("nowhere.img"), "does not exist"),
    ],
)
def test_a_wrong_image_is_named_with_what_to_do(district: Path, tmp_path: Path, capsys,
                                                make, words: str):  # fmt: skip
    image = make(tmp_path / "card.img")
    assert main(["site", "write-image", "dak-ang", str(image), "--config", str(district)]) == 1
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_site_without_a_bundle_is_refused(district: Path, tmp_path: Path, capsys):
    image = make_image(tmp_path / "roomprobe.img")
    assert main(["site", "write-image", "sa-loong", str(image), "--config", str(district)]) == 1
    assert "run 'roomhub site add' first" in capsys.readouterr().err
    assert sdcard.read_bundle(image) == {}
