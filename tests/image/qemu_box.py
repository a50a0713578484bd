"""The SD image booted under qemu-system-aarch64, as a Pi boots it but on qemu's ``virt`` board.

The kernel, initrd and command line are taken from the image's own FAT boot
partition (what raspi-firmware put there for the Pi), so the test boots what a
card would hold; only the console (qemu's PL011 UART, ttyAMA0) and the disk
(virtio instead of the SD controller) differ. User-mode networking gives the box
a DHCP address and reaches this machine at 10.0.2.2, where the test's broker
listens on 127.0.0.1. An i6300esb watchdog stands in for the Pi's bcm2835-wdt.

Partitions are read from the image file by offset (sfdisk --json, mtools,
debugfs on a copy): no loop device, no mount.
"""

from __future__ import annotations

import json
import lzma
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from rig import Proc

HOST_FROM_GUEST = "10.0.2.2"  # qemu's user-mode network: this machine, seen from the box


@dataclass(frozen=True)
class Partition:
    number: int
    start: int  # bytes
    size: int  # bytes
    type: str


def partitions(image: Path) -> list[Partition]:
    done = subprocess.run(["sfdisk", "--json", str(image)], check=True,
                          capture_output=True, text=True)  # fmt: skip
    table = json.loads(done.stdout)["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    return [
        Partition(i + 1, int(p["start"]) * sector, int(p["size"]) * sector, str(p["type"]))
        for i, p in enumerate(table["partitions"])
    ]


def extract(image: Path, part: Partition, dest: Path) -> Path:
    """Copy one partition out of the image (for debugfs and checksums)."""
    with open(image, "rb") as src, open(dest, "wb") as out:
        src.seek(part.start)
        left = part.size
        while left:
            chunk = src.read(min(left, 8 << 20))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)
    return dest


def after_power_cut(fs_image: Path) -> Path:
    """An ext4 copy as the box will find it at its next boot: its journal replayed (as
    mounting does), then checked. The data partition journals file contents too
    (data=journal), so what was last written may be only in the journal until then:
    debugfs alone reads the file system without replaying it."""
    subprocess.run(["e2fsck", "-fy", str(fs_image)], capture_output=True)
    check = subprocess.run(["e2fsck", "-fn", str(fs_image)], capture_output=True, text=True)
    if check.returncode != 0:
        raise AssertionError(f"{fs_image} is damaged after the power cut:\n{check.stdout}")
    return fs_image


def fat_read(image: Path, part: Partition, path: str) -> bytes | None:
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    done = subprocess.run(["mtype", "-i", f"{image}@@{part.start}", f"::/{path}"],
                          capture_output=True, env=env)  # fmt: skip
    return done.stdout if done.returncode == 0 else None


def fat_list(image: Path, part: Partition) -> list[str]:
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    done = subprocess.run(["mdir", "-b", "-/", "-i", f"{image}@@{part.start}", "::/"],
                          capture_output=True, text=True, env=env)  # fmt: skip
    return [line.removeprefix("::/") for line in done.stdout.splitlines()]


def ext4_read(fs_image: Path, path: str) -> bytes | None:
    """A file from an ext4 image with debugfs (read-only, no mount)."""
    done = subprocess.run(["debugfs", "-R", f"cat {path}", str(fs_image)], capture_output=True)
    if done.returncode != 0 or b"File not found" in done.stderr:
        return None
    return done.stdout


def journal(data_fs: Path, dest: Path) -> str:
    """The box's system journal, read from the data partition (/data/journal) with the
    host's journalctl: what the box logged, with no login on it."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["debugfs", "-R", f"rdump /journal {dest}", str(data_fs)],
                   capture_output=True, check=True)  # fmt: skip
    files = sorted(str(p) for p in dest.rglob("*.journal"))
    if not files:
        raise AssertionError("the box kept no journal on its data partition")
    done = subprocess.run(["journalctl", "--no-pager", "-o", "short-monotonic",
                           *(f"--file={f}" for f in files)],
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout


def ext4_blocks(fs_image: Path) -> int:
    out = subprocess.run(["dumpe2fs", "-h", str(fs_image)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    for line in out.splitlines():
        if line.startswith("Block count:"):
            return int(line.split(":")[1])
    raise ValueError(f"no block count in dumpe2fs of {fs_image}")


def decompress(src: Path, dest: Path) -> Path:
    """The card image, uncompressed (``.img.xz`` as published, or an ``.img``)."""
    if src.suffix == ".xz":
        with lzma.open(src) as f, open(dest, "wb") as out:
            shutil.copyfileobj(f, out, 8 << 20)
    else:
        shutil.copyfile(src, dest)
    return dest


class QemuBox:
    """One boot of the card image; ``stop()`` powers it off (or kills it) and always reaps."""

    def __init__(self, image: Path, folder: Path, memory_mib: int = 1024, cpus: int = 2):
        self.image = image
        self.folder = folder
        self.memory_mib = memory_mib
        self.cpus = cpus
        self.console = folder / "console.log"
        self.proc: Proc | None = None
        self.started = 0.0

    def boot_files(self) -> tuple[Path, Path, str]:
        """Kernel, initrd and command line as the Pi's firmware would take them."""
        boot = partitions(self.image)[0]
        config = (fat_read(self.image, boot, "config.txt") or b"").decode()
        kernel_name = initrd_name = None
        for line in config.splitlines():
            if line.startswith("kernel="):
                kernel_name = line.split("=", 1)[1].strip()
            if line.startswith("initramfs "):
                initrd_name = line.split()[1].strip()
        if not kernel_name or not initrd_name:
            raise AssertionError(f"config.txt names no kernel and initramfs:\n{config}")
        files = []
        for name in (kernel_name, initrd_name):
            data = fat_read(self.image, boot, name)
            if data is None:
                raise AssertionError(f"{name} (named in config.txt) is not on the boot partition")
            (self.folder / name).write_bytes(data)
            files.append(self.folder / name)
        cmdline = (fat_read(self.image, boot, "cmdline.txt") or b"").decode().strip()
        # The Pi's consoles do not exist on qemu's board; its UART is ttyAMA0.
        args = [a for a in cmdline.split() if not a.startswith("console=")]
        return files[0], files[1], " ".join([*args, "console=ttyAMA0,115200"])

    def start(self) -> QemuBox:
        kernel, initrd, cmdline = self.boot_files()
        argv = [
            "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72",
            "-smp", str(self.cpus), "-m", str(self.memory_mib),
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline,
            "-drive", f"if=none,file={self.image},format=raw,id=card",
            "-device", "virtio-blk-pci,drive=card",
            "-netdev", "user,id=lan", "-device", "virtio-net-pci,netdev=lan",
            "-device", "i6300esb",
            "-display", "none", "-monitor", "none", "-serial", f"file:{self.console}",
            "-no-reboot",
        ]  # fmt: skip
        self.started = time.monotonic()
        self.proc = Proc("qemu", argv, self.folder / "qemu.log").start()
        return self

    def console_text(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive

    def stop(self, timeout: float = 90.0) -> None:
        """Power off: ACPI is absent on ``virt`` without firmware, so SIGTERM makes qemu
        stop the machine the way pulling the plug does; the test is about surviving that."""
        if self.proc is not None:
            self.proc.stop(timeout=timeout)
            self.proc = None
