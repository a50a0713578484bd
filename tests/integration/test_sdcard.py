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

from disk_image import BOOT_SECTORS, BOOT_START, SECTOR, make_image
from roomhub import provision, sdcard
from roomhub.cli import main


def boot_partition_is_clean(image: Path) -> bool:
    part = image.with_suffix(".check")
    with open(image, "rb") as f:
        f.seek(BOOT_START * SECTOR)
        part.write_bytes(f.read(BOOT_SECTORS * SECTOR))
    try:
        return subprocess.run(["fsck.vfat", "-n", str(part)], capture_output=True).returncode == 0
    finally:
        part.unlink()


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
