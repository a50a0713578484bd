"""Builds the flashable SD image: ``roomprobe-<version>-arm64.img.xz`` and its checksum.

Run as root on a Debian host (``scripts/build-image`` installs the tools first):

    python3 image_build/build.py [--out DIR] [--authorized-keys FILE] [--fresh]

The steps, each shown with its progress:

1. check the host: root, the tools (each missing one named with its Debian package),
   arm64 emulation (binfmt_misc mounted and qemu-aarch64 enabled if it is not);
2. wheels: the probe's own wheel and the aarch64 wheels of its PyPI dependencies
   (pyalsaaudio as source, built in the image against Debian's libasound2-dev);
3. the Debian root: mmdebstrap, arm64, bookworm main and non-free-firmware, the packages
   in ``packages.txt``; cached by the list's hash, since it is the slow step under
   emulation;
4. the probe and the settings: ``rootfs/`` copied over, the firmware's units and wheels put
   in, ``customize.sh`` run in a chroot (venv, accounts, services, initramfs, boot files);
5. the disk image: genimage assembles the FAT boot, ext4 root and ext4 data partitions
   into an MBR image without loop devices or mounts;
6. compression (xz) and the SHA-256 checksum.

Only the standard library: the host needs nothing of the project installed. Why each
choice was made is in image_build/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
COMPONENTS = "main non-free-firmware"
PYTHON_TAG = "311"  # bookworm's python3 is 3.11: the wheels must match it
# PyPI's aarch64 wheels that run on bookworm's glibc 2.36.
PLATFORMS = (
    "manylinux2014_aarch64",
    *(f"manylinux_2_{v}_aarch64" for v in (17, 24, 26, 28, 31, 34, 35, 36)),
)
# Dependencies the image takes from Debian (the venv sees system site packages): the
# systemd bindings, built against the image's libsystemd. Not numpy and scipy: Debian's
# python3-scipy depends on python3-pythran and through it on g++ and python3-dev, so it
# would keep a compiler in the image; PyPI's wheels are self-contained (their own
# OpenBLAS) and the same versions the test suite runs.
FROM_DEBIAN = {"systemd-python"}
# Built from source in the image: PyPI has no aarch64 wheel of it.
FROM_SOURCE = {"pyalsaaudio"}
# gpiozero's pin library on a Pi running a mainline kernel (not a dependency of the
# package itself: tests and the hub run without it).
# (Its 0.0.0.x releases on PyPI are empty placeholders.)
EXTRA_WHEELS = ("lgpio>=0.2.2",)
BOOT_SIZE_MIB = 256
DATA_SIZE_MIB = 256
LABELS = {"boot": "RASPIFIRM", "root": "RASPIROOT", "data": "RPDATA"}

# The host's tools, with the Debian package that has each.
TOOLS = {
    "mmdebstrap": "mmdebstrap",
    "qemu-aarch64-static": "qemu-user-static",
    "update-binfmts": "binfmt-support",
    "arch-test": "arch-test",
    "genimage": "genimage",
    "mkdosfs": "dosfstools",
    "mcopy": "mtools",
    "mke2fs": "e2fsprogs",
    "xz": "xz-utils",
    "sfdisk": "fdisk",
}


class BuildError(RuntimeError):
    """A problem the person building can fix; the message says what to do."""


def missing_tools(which=shutil.which) -> list[tuple[str, str]]:
    """The tools not found on PATH, each with its Debian package."""
    return [(tool, pkg) for tool, pkg in TOOLS.items() if which(tool) is None]


def check_host(which=shutil.which, euid: int | None = None) -> None:
    missing = missing_tools(which)
    if missing:
        names = ", ".join(f"{t} (package {p})" for t, p in missing)
        pkgs = " ".join(sorted({p for _, p in missing}))
        raise BuildError(
            f"missing tools: {names}.\n  Install them with: apt-get install {pkgs}\n"
            "  or run scripts/build-image, which installs them."
        )
    if (os.geteuid() if euid is None else euid) != 0:
        raise BuildError(
            "the build must run as root (mmdebstrap and chroot need it): sudo scripts/build-image"
        )


def version() -> str:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def packages(path: Path = HERE / "packages.txt") -> list[str]:
    """Debian packages from packages.txt (comments and blank lines ignored)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name):
                raise BuildError(f"{path}: {name!r} is not a Debian package name")
            names.append(name)
    return names


def probe_requirements(pyproject: Path = REPO / "pyproject.toml") -> dict[str, str]:
    """The probe's requirements (base and the probe extra), by lower-case name, each without
    its environment marker (those are for the host; the image is Linux)."""
    with open(pyproject, "rb") as f:
        project = tomllib.load(f)["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["probe"]]
    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower(): r.split(";", 1)[0].strip()
            for r in reqs}  # fmt: skip


def pypi_requirements() -> list[str]:
    """What comes from PyPI's wheels: all but what Debian provides or the image builds."""
    wheels = [r for n, r in probe_requirements().items() if n not in FROM_DEBIAN | FROM_SOURCE]
    return [*wheels, *EXTRA_WHEELS]


def source_requirements() -> list[str]:
    return [r for n, r in probe_requirements().items() if n in FROM_SOURCE]


def _ext4(name: str, label: str, mountpoint: str, size_mib: int) -> str:
    return f"""\
image {name}.ext4 {{
    ext4 {{
        label = "{label}"
        use-mke2fs = true
    }}
    mountpoint = "{mountpoint}"
    size = {size_mib}M
}}
"""


def genimage_config(root_mib: int, labels: dict[str, str] = LABELS) -> str:
    """genimage's description of the card: MBR (the Pi 3's boot ROM reads no GPT), the FAT
    boot partition first (the firmware looks there), the read-only root, then the data
    partition last so it can grow to fill the card."""
    return f"""\
image boot.vfat {{
    vfat {{
        label = "{labels["boot"]}"
    }}
    mountpoint = "/boot/firmware"
    size = {BOOT_SIZE_MIB}M
}}

{_ext4("root", labels["root"], "/", root_mib)}
{_ext4("data", labels["data"], "/data", DATA_SIZE_MIB)}
image roomprobe.img {{
    hdimage {{
        partition-table-type = "mbr"
    }}
    partition boot {{
        partition-type = 0xC
        bootable = "true"
        image = "boot.vfat"
        offset = 4M
    }}
    partition root {{
        partition-type = 0x83
        image = "root.ext4"
    }}
    partition data {{
        partition-type = 0x83
        image = "data.ext4"
    }}
}}
"""


def root_size_mib(rootfs: Path) -> int:
    """Room for the root's files plus a fifth for ext4's own structures, rounded up to
    64 MiB; the root is read-only, so it needs no free space beyond that."""
    used = 0
    skip = {rootfs / "boot" / "firmware", rootfs / "data"}
    for dirpath, dirnames, filenames in os.walk(rootfs):
        if Path(dirpath) in skip:
            dirnames.clear()
            continue
        for name in filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                used += max(p.lstat().st_size, 4096)
    mib = int(used * 1.2 / 2**20) + 64
    return (mib + 63) // 64 * 64


@dataclass
class Progress:
    """Numbered steps with elapsed times; long commands' output goes to the log, with a
    line every ``beat_s`` seconds saying how long it has run and what it last printed."""

    total: int
    log: Path
    beat_s: float = 30.0
    n: int = 0
    started: float = 0.0

    def step(self, what: str) -> None:
        self.n += 1
        self.started = time.monotonic()
        print(f"[{self.n}/{self.total}] {what}", flush=True)

    def done(self, extra: str = "") -> None:
        took = time.monotonic() - self.started
        print(f"      done in {_minutes(took)}{'; ' + extra if extra else ''}", flush=True)

    def run(self, argv: Sequence[str | Path], **kw) -> None:
        """Run a command with its output in the log; fail with the log's tail."""
        argv = [str(a) for a in argv]
        with open(self.log, "ab") as log:
            log.write(f"\n$ {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kw)
            stop = threading.Event()
            beat = threading.Thread(target=self._beat, args=(proc, stop), daemon=True)
            beat.start()
            rc = proc.wait()
            stop.set()
            beat.join()
        if rc != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-25:]
            raise BuildError(
                f"{argv[0]} failed (exit {rc}); the end of {self.log}:\n    " + "\n    ".join(tail)
            )

    def _beat(self, proc: subprocess.Popen, stop: threading.Event) -> None:
        t0 = time.monotonic()
        while not stop.wait(self.beat_s):
            last = _last_line(self.log)
            print(f"      ... {_minutes(time.monotonic() - t0)}: {last[:100]}", flush=True)


def _last_line(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 4096))
        lines = [x for x in f.read().decode(errors="replace").splitlines() if x.strip()]
    return lines[-1].strip() if lines else ""


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def ensure_arm64_emulation(progress: Progress) -> None:
    """arm64 binaries must run on this host (the packages' scripts run in the chroot)."""
    if subprocess.run(["arch-test", "arm64"], capture_output=True).returncode == 0:
        return
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        progress.run(["mount", "-t", "binfmt_misc", "binfmt_misc", binfmt])
    progress.run(["update-binfmts", "--enable", "qemu-aarch64"])
    if subprocess.run(["arch-test", "arm64"], capture_output=True).returncode != 0:
        raise BuildError(
            "this host cannot run arm64 programs even with qemu-user-static: "
            "check 'update-binfmts --display qemu-aarch64' and 'arch-test arm64'"
        )


def build_wheels(work: Path, progress: Progress) -> Path:
    """The probe's wheel and its dependencies' aarch64 wheels, in ``work/wheels``."""
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    venv = work / "pyenv"
    if not (venv / "bin" / "pip").exists():
        progress.run([sys.executable, "-m", "venv", venv])
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
    progress.run([*pip, "wheel", "--no-deps", "-w", wheels, REPO])
    platform = [a for p in PLATFORMS for a in ("--platform", p)]
    progress.run([
        *pip, "download", "-d", wheels, "--only-binary=:all:", *platform,
        "--python-version", PYTHON_TAG, "--implementation", "cp", "--abi", f"cp{PYTHON_TAG}",
        "--abi", "abi3", "--abi", "none", *pypi_requirements(),
    ])  # fmt: skip
    # Sources built in the image, and what building them needs (offline there).
    progress.run([*pip, "download", "-d", wheels, "--no-deps", "--no-binary=:all:",
                  *source_requirements()])  # fmt: skip
    progress.run([*pip, "download", "-d", wheels, "--only-binary=:all:",
                  "setuptools>=77", "wheel"])  # fmt: skip
    return wheels


def base_rootfs(work: Path, progress: Progress, fresh: bool) -> Path:
    """Debian's arm64 root with every package of packages.txt, as a tarball cached by the
    list's (and the initramfs settings') hash."""
    pkgs = packages()
    initramfs_conf = HERE / "rootfs" / "etc" / "initramfs-tools" / "conf.d" / "roomprobe.conf"
    modules = HERE / "rootfs" / "usr" / "share" / "initramfs-tools" / "modules.d" / "roomprobe"
    key = hashlib.sha256(
        "\n".join([SUITE, COMPONENTS, *pkgs, initramfs_conf.read_text()]).encode()
    ).hexdigest()[:16]
    tarball = work / f"base-{key}.tar"
    if tarball.exists() and not fresh:
        print(f"      using the cached Debian root {tarball.name} (--fresh to rebuild)")
        return tarball
    for old in work.glob("base-*.tar"):
        old.unlink()
    partial = tarball.with_suffix(".partial.tar")
    progress.run([
        "mmdebstrap", "--mode=root", "--architectures=arm64", "--variant=minbase",
        f"--components={COMPONENTS}", f"--include={','.join(pkgs)}",
        "--aptopt=APT::Install-Recommends \"false\"",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--dpkgopt=path-include=/usr/share/locale/vi/*",
        # Before the kernel's postinst: the initramfs takes a module list (see the file).
        f"--setup-hook=mkdir -p \"$1/etc/initramfs-tools/conf.d\" && "
        f"cp {shlex.quote(str(initramfs_conf))} \"$1/etc/initramfs-tools/conf.d/\"",
        f"--setup-hook=mkdir -p \"$1/usr/share/initramfs-tools/modules.d\" && "
        f"cp {shlex.quote(str(modules))} \"$1/usr/share/initramfs-tools/modules.d/\"",
        SUITE, partial, MIRROR,
    ])  # fmt: skip
    partial.rename(tarball)
    return tarball


class Chroot:
    """/proc, /sys and /dev mounted into the root for the customisation, and unmounted
    again whatever happens (a leftover mount would keep the build folder busy)."""

    def __init__(self, root: Path):
        self.root = root
        self.mounted: list[Path] = []

    def __enter__(self) -> Chroot:
        for src, fstype in (("proc", "proc"), ("sysfs", "sysfs")):
            self._mount(["-t", fstype, src], self.root / src.replace("sysfs", "sys"))
        self._mount(["--bind", "/dev"], self.root / "dev")
        self._mount(["--bind", "/dev/pts"], self.root / "dev" / "pts")
        return self

    def _mount(self, args: list[str], target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", *args, str(target)], check=True)
        self.mounted.append(target)

    def __exit__(self, *exc: object) -> None:
        for target in reversed(self.mounted):
            subprocess.run(["umount", "-l", str(target)], check=False)
        self.mounted.clear()


def mounts_under(folder: Path, mountinfo: str | None = None) -> list[Path]:
    """Mount points at or below ``folder``, deepest first (from /proc/self/mountinfo)."""
    if mountinfo is None:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    top = str(folder.resolve())
    found = []
    for line in mountinfo.splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == top or point.startswith(top + "/"):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_rootfs(rootfs: Path) -> None:
    """Delete an earlier build's root, after unmounting what a killed build left mounted
    in it: deleting through a leftover bind mount of /dev would delete the host's."""
    for point in mounts_under(rootfs):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)
    still = mounts_under(rootfs)
    if still:
        raise BuildError(f"cannot unmount {', '.join(map(str, still))}: unmount them, "
                         f"then delete {rootfs}")  # fmt: skip
    shutil.rmtree(rootfs)


def customize(tarball: Path, wheels: Path, work: Path, progress: Progress,
              authorized_keys: Path | None) -> Path:  # fmt: skip
    rootfs = work / "rootfs"
    if rootfs.exists():
        remove_rootfs(rootfs)
    rootfs.mkdir()
    progress.run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf",
                  tarball, "-C", rootfs])  # fmt: skip
    progress.run(["cp", "-a", "--no-preserve=ownership", f"{HERE}/rootfs/.", rootfs])
    for unit in ("roomprobe.service", "roomprobe-firstboot.service"):
        shutil.copy(REPO / "firmware" / unit, rootfs / "etc" / "systemd" / "system" / unit)
    tmp = rootfs / "tmp"
    shutil.copytree(wheels, tmp / "wheels")
    shutil.copy(REPO / "firmware" / "roomprobe" / "roomprobe.example.toml", tmp)
    shutil.copy(HERE / "customize.sh", tmp)
    if authorized_keys is not None:
        shutil.copy(authorized_keys, tmp / "authorized_keys")
    # The chroot resolves names with the host's resolver only while it is built.
    resolv = rootfs / "etc" / "resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copy("/etc/resolv.conf", resolv)
    # The host's pip settings (an index, a wheel folder) mean nothing inside the image.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    with Chroot(rootfs):
        progress.run(["chroot", rootfs, "/bin/sh", "/tmp/customize.sh"], env=env)
    resolv.unlink()
    # systemd-resolved's stub, as on a running box.
    resolv.symlink_to("../run/systemd/resolve/stub-resolv.conf")
    for p in tmp.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return rootfs


def assemble(rootfs: Path, work: Path, progress: Progress) -> Path:
    images = work / "images"
    shutil.rmtree(images, ignore_errors=True)
    shutil.rmtree(work / "genimage-tmp", ignore_errors=True)
    images.mkdir(parents=True)
    cfg = work / "genimage.cfg"
    cfg.write_text(genimage_config(root_size_mib(rootfs)), encoding="utf-8")
    progress.run(["genimage", "--rootpath", rootfs, "--tmppath", work / "genimage-tmp",
                  "--inputpath", images, "--outputpath", images, "--config", cfg])  # fmt: skip
    return images / "roomprobe.img"


def compress(img: Path, out: Path, progress: Progress) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"roomprobe-{version()}-arm64.img.xz"
    partial = final.with_suffix(".partial")
    # xz writes the archive to stdout, which Progress.run keeps for the log.
    with open(partial, "wb") as f:
        rc = subprocess.run(["xz", "-T0", "-6", "-c", str(img)], stdout=f).returncode
    if rc != 0:
        raise BuildError(f"xz failed (exit {rc}) compressing {img}")
    partial.rename(final)
    digest = hashlib.sha256()
    with open(final, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    checksum = final.with_name(final.name + ".sha256")
    checksum.write_text(f"{digest.hexdigest()}  {final.name}\n", encoding="ascii")
    return final, checksum


def build(out: Path, work: Path, authorized_keys: Path | None, fresh: bool) -> Path:
    check_host()
    if authorized_keys is not None and not authorized_keys.is_file():
        raise BuildError(f"--authorized-keys {authorized_keys}: no such file")
    work.mkdir(parents=True, exist_ok=True)
    log = work / "build.log"
    log.write_text("")
    progress = Progress(total=6, log=log)
    t0 = time.monotonic()
    print(f"building roomprobe {version()} for arm64; the full log is {log}")

    progress.step("checking arm64 emulation (qemu-user-static, binfmt_misc)")
    ensure_arm64_emulation(progress)
    progress.done()

    progress.step("fetching the probe's Python wheels for aarch64")
    wheels = build_wheels(work, progress)
    progress.done(f"{len(list(wheels.iterdir()))} files")

    progress.step("installing Debian bookworm arm64 (mmdebstrap; about 10 minutes under qemu)")
    tarball = base_rootfs(work, progress, fresh)
    progress.done(f"{tarball.stat().st_size / 2**20:.0f} MiB")

    progress.step("installing the probe and the box's settings (chroot under qemu)")
    rootfs = customize(tarball, wheels, work, progress, authorized_keys)
    progress.done()

    progress.step("assembling the card image (genimage: boot, root, data)")
    img = assemble(rootfs, work, progress)
    progress.done(f"{img.stat().st_size / 2**20:.0f} MiB")

    progress.step("compressing (xz) and writing the checksum")
    final, checksum = compress(img, out, progress)
    progress.done(f"{final.stat().st_size / 2**20:.0f} MiB")

    print(f"built {final} ({final.stat().st_size / 2**20:.0f} MiB, "
          f"{img.stat().st_size / 2**20:.0f} MiB written to the card) in "
          f"{_minutes(time.monotonic() - t0)}\nchecksum: {checksum}")  # fmt: skip
    return final


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build-image",
        description="Build the roomprobe SD image (Debian bookworm arm64) for the Pi 3, 4 "
        "and Zero 2 W.",
    )
    parser.add_argument("--out", type=Path, default=REPO / "dist",
                        help="where the .img.xz and its checksum go (default dist/)")  # fmt: skip
    parser.add_argument("--work", type=Path, default=REPO / "build" / "image",
                        help="working folder and cache (default build/image)")  # fmt: skip
    parser.add_argument("--authorized-keys", type=Path,
                        help="district IT's SSH public keys for the 'quantri' account "
                        "(public keys only; without it nobody can log in over SSH)")  # fmt: skip
    parser.add_argument("--fresh", action="store_true",
                        help="rebuild the Debian root even if a cached one matches")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        build(args.out.resolve(), args.work.resolve(), args.authorized_keys, args.fresh)
    except BuildError as exc:
        print(f"build-image: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build-image: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
