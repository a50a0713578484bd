"""Real disk images for the SD card tests: an MBR table by sfdisk, a FAT partition by mkfs.vfat."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
