"""The image builder's own logic: host checks, package list, wheel requirements, genimage layout.

The slow parts (mmdebstrap, the chroot) run only in the real build; what is
decided before them is checked here, including the errors a person sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "image_build"))
import build  # noqa: E402


def test_missing_tools_are_named_with_their_debian_package():
    have = {"mmdebstrap", "xz", "mke2fs", "mkdosfs", "mcopy", "sfdisk", "arch-test",
            "update-binfmts"}  # fmt: skip
    with pytest.raises(build.BuildError) as err:
        build.check_host(which=lambda t: f"/usr/bin/{t}" if t in have else None, euid=0)
    text = str(err.value)
    assert "genimage (package genimage)" in text
    assert "qemu-aarch64-static (package qemu-user-static)" in text
    assert "apt-get install genimage qemu-user-static" in text
    assert "mmdebstrap" not in text


def test_the_build_needs_root():
    with pytest.raises(build.BuildError, match="as root"):
        build.check_host(which=lambda t: f"/usr/bin/{t}", euid=1000)
    build.check_host(which=lambda t: f"/usr/bin/{t}", euid=0)  # all there: no error


def test_the_command_says_what_is_missing_without_a_traceback(tmp_path: Path):
    # A PATH without the image tools: the message and exit 1, no Python traceback.
    (tmp_path / "bin").mkdir()
    done = subprocess.run([sys.executable, str(REPO / "image_build" / "build.py")],
                          capture_output=True, text=True,
                          env={**os.environ, "PATH": str(tmp_path / "bin")})  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("build-image: missing tools:")
    assert "Traceback" not in done.stderr


def test_package_list_is_read_and_checked(tmp_path: Path):
    pkgs = build.packages()
    for needed in ("linux-image-arm64", "raspi-firmware", "overlayroot", "chrony",
                   "openssh-server", "nftables", "python3-systemd"):  # fmt: skip
        assert needed in pkgs
    assert len(pkgs) == len(set(pkgs))
    bad = tmp_path / "packages.txt"
    bad.write_text("systemd\nNot A Package  # oops\n")
    with pytest.raises(build.BuildError, match="'Not A Package' is not a Debian package"):
        build.packages(bad)


def test_wheels_skip_what_debian_provides_and_what_is_built_in_the_image():
    reqs = build.pypi_requirements()
    names = {r.split(">")[0].split("<")[0].split("=")[0].strip().lower() for r in reqs}
    assert {"paho-mqtt", "pydantic", "gpiozero", "speedtest-cli", "icmplib"} <= names
    assert {"numpy", "scipy"} <= names  # Debian's scipy would drag a compiler in
    assert not names & {"systemd-python", "pyalsaaudio"}
    assert "lgpio>=0.2.2" in reqs  # 0.0.0.x on PyPI are empty placeholders
    assert all(";" not in r for r in reqs)  # markers are for the host, not the image
    assert [r.split(">")[0] for r in build.source_requirements()] == ["pyalsaaudio"]


def test_genimage_layout_puts_boot_first_and_data_last():
    cfg = build.genimage_config(root_mib=1024)
    boot, root, data = (cfg.index(f"partition {n}") for n in ("boot", "root", "data"))
    assert boot < root < data
    assert 'partition-table-type = "mbr"' in cfg  # the Pi 3's boot ROM reads no GPT
    assert 'mountpoint = "/boot/firmware"' in cfg and 'mountpoint = "/data"' in cfg
    assert "size = 1024M" in cfg
    for label in build.LABELS.values():
        assert f'label = "{label}"' in cfg


def test_labels_match_what_the_box_mounts_by():
    fstab = (REPO / "image_build" / "rootfs" / "etc" / "fstab").read_text()
    for label in build.LABELS.values():
        assert f"LABEL={label}" in fstab
    assert (
        f"LABEL={build.LABELS['root']}"
        in (REPO / "image_build" / "rootfs" / "etc" / "default" / "raspi-firmware").read_text()
    )
    persist = (REPO / "image_build" / "rootfs" / "usr" / "share" / "initramfs-tools"
               / "scripts" / "init-bottom" / "roomprobe-persist").read_text()  # fmt: skip
    assert f"by-label/{build.LABELS['data']}" in persist


def test_root_size_covers_the_files_and_leaves_out_boot_and_data(tmp_path: Path):
    (tmp_path / "usr").mkdir()
    (tmp_path / "usr" / "big").write_bytes(b"\0" * (100 << 20))
    (tmp_path / "boot" / "firmware").mkdir(parents=True)
    (tmp_path / "boot" / "firmware" / "kernel").write_bytes(b"\0" * (300 << 20))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "outbox").write_bytes(b"\0" * (300 << 20))
    mib = build.root_size_mib(tmp_path)
    assert 120 <= mib <= 256 and mib % 64 == 0


def test_the_image_is_named_by_the_project_version():
    import tomllib

    with open(REPO / "pyproject.toml", "rb") as f:
        assert build.version() == tomllib.load(f)["project"]["version"]


@pytest.mark.parametrize(
    "unit",
    sorted((REPO / "image_build" / "rootfs" / "etc" / "systemd" / "system").glob("*.service")),
)
def test_systemd_accepts_the_images_own_units(unit: Path, tmp_path: Path):
    import shutil

    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian package systemd) is needed to check the units"
    script = REPO / "image_build" / "rootfs" / "usr" / "local" / "sbin"
    text = unit.read_text()
    for exe in script.iterdir():  # the scripts are in the image, not on this machine
        text = text.replace(f"/usr/local/sbin/{exe.name}", "/bin/true")
    copy = tmp_path / unit.name
    copy.write_text(text)
    done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
    assert "Unknown key" not in done.stderr and "Failed" not in done.stderr, done.stderr
    assert "/bin/true" in text  # each runs one of the image's scripts


def test_a_killed_builds_mounts_are_found_deepest_first(tmp_path: Path):
    root = tmp_path / "rootfs"
    info = "\n".join([
        f"36 25 0:5 / {root}/dev rw - devtmpfs udev rw",
        f"37 36 0:6 / {root}/dev/pts rw - devpts devpts rw",
        f"38 25 0:7 / {root}/proc rw - proc proc rw",
        f"39 25 0:8 / {root}-other/dev rw - devtmpfs udev rw",
        "40 25 0:9 / /dev rw - devtmpfs udev rw",
    ])  # fmt: skip
    found = build.mounts_under(root, info)
    assert found[0] == root / "dev" / "pts"
    assert set(found) == {root / "dev", root / "dev" / "pts", root / "proc"}
