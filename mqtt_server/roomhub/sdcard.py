"""A site's bundle onto an SD card image's boot partition, without mounting anything.

One generic image serves every site (issue 7): district IT writes the site's
bundle (``roomhub site add``) onto the card's FAT boot partition, the one
partition any office PC can open and edit, and the box takes it on first boot.
``sfdisk --json`` reads the partition table and mtools writes into the FAT
file system at the partition's offset inside the image file: no loop device,
no root, works on a plain ``.img`` file or on a card's block device.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

#: The folder on the boot partition the box looks for on first boot.
BUNDLE_DIR = "roomprobe"
BUNDLE_FILES = ("roomprobe.toml", "district-ca.crt", "mqtt-password")
# MBR types of FAT file systems, and the GPT types a FAT boot partition carries.
_FAT_MBR = {"1", "4", "6", "b", "c", "e", "ef"}
_FAT_GPT = {"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"}
_COMPRESSED = (".xz", ".gz", ".zst", ".bz2", ".zip")


class SdCardError(RuntimeError):
    """The image or the bundle cannot be used; the message says why and what to do."""


def _tool(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise SdCardError(f"{name} is not installed: apt-get install {package}")
    return found


def boot_partition_offset(image: Path) -> int:
    """Byte offset of the image's first FAT partition; SdCardError if there is none."""
    if image.name.endswith(_COMPRESSED):
        raise SdCardError(f"{image} is compressed: decompress it first (e.g. xz -dk {image})")
    if not image.exists():
        raise SdCardError(f"{image} does not exist")
    done = subprocess.run([_tool("sfdisk", "fdisk"), "--json", str(image)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise SdCardError(f"{image} has no partition table sfdisk can read: "
                          f"{done.stderr.strip() or 'not a disk image'}")  # fmt: skip
    table = json.loads(done.stdout)["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    for part in table.get("partitions", []):
        kind = str(part.get("type", "")).lower().removeprefix("0x")
        if kind in _FAT_MBR or kind.upper() in _FAT_GPT:
            return int(part["start"]) * sector
    raise SdCardError(f"{image} has no FAT boot partition (is it a roomprobe image?)")


def _mtools(image: Path, offset: int, tool: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}  # an image file has no drive geometry
    return subprocess.run([_tool(tool, "mtools"), "-i", f"{image}@@{offset}", *args],
                          capture_output=True, env=env)  # fmt: skip


def write_bundle(image: Path, bundle: Path) -> list[str]:
    """Replace ``roomprobe/`` on the boot partition with the bundle; return what was written.

    Each file is read back and compared, so a card that did not take the write
    is reported here, not at the box's first boot.
    """
    missing = [n for n in BUNDLE_FILES if not (bundle / n).is_file()]
    if missing:
        raise SdCardError(f"the bundle {bundle} lacks {', '.join(missing)}: "
                          "make it with 'roomhub site add'")  # fmt: skip
    offset = boot_partition_offset(image)
    _mtools(image, offset, "mdeltree", f"::/{BUNDLE_DIR}")  # none yet is fine
    made = _mtools(image, offset, "mmd", f"::/{BUNDLE_DIR}")
    if made.returncode != 0:
        raise SdCardError(f"cannot write to the boot partition of {image}: "
                          f"{made.stderr.decode(errors='replace').strip()}")  # fmt: skip
    for name in BUNDLE_FILES:
        copied = _mtools(image, offset, "mcopy", "-o", str(bundle / name),
                         f"::/{BUNDLE_DIR}/{name}")  # fmt: skip
        if copied.returncode != 0:
            raise SdCardError(f"cannot copy {name} onto {image}: "
                              f"{copied.stderr.decode(errors='replace').strip()}")  # fmt: skip
    written = read_bundle(image)
    for name in BUNDLE_FILES:
        if written.get(name) != (bundle / name).read_bytes():
            raise SdCardError(f"{name} on {image} differs from the bundle after writing")
    return [f"{BUNDLE_DIR}/{n}" for n in BUNDLE_FILES]


def read_bundle(image: Path) -> dict[str, bytes]:
    """The files in ``roomprobe/`` on the boot partition (empty if there is none)."""
    offset = boot_partition_offset(image)
    out: dict[str, bytes] = {}
    for name in BUNDLE_FILES:
        done = _mtools(image, offset, "mtype", f"::/{BUNDLE_DIR}/{name}")  # bytes as they are
        if done.returncode == 0:
            out[name] = done.stdout
    return out
