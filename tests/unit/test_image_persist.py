"""roomprobe-persist: the box's identity kept on the data partition, once, atomically.

The script runs on the box after every boot; here it runs on a stand-in file
system (ROOMPROBE_ROOT). The initramfs side that copies the files back is
exercised by the qemu boot test (tests/image).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = (Path(__file__).resolve().parents[2] / "image_build" / "rootfs" / "usr" / "local"
          / "sbin" / "roomprobe-persist")  # fmt: skip


DONE = "roomprobe-persist: the box's identity is kept on /data\n"


def persist(root: Path) -> str:
    done = subprocess.run(["sh", str(SCRIPT)], env={**os.environ, "ROOMPROBE_ROOT": str(root)},
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def box(tmp_path: Path) -> Path:
    (tmp_path / "etc" / "ssh").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "etc" / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    (tmp_path / "etc" / "hostname").write_text("roomprobe\n")
    key = tmp_path / "etc" / "ssh" / "ssh_host_ed25519_key"
    key.write_text("PRIVATE\n")
    key.chmod(0o600)
    (tmp_path / "etc" / "ssh" / "ssh_host_ed25519_key.pub").write_text("ssh-ed25519 AAAA\n")
    return tmp_path


def test_identity_is_kept_once_and_updated_when_it_changes(tmp_path: Path):
    root = box(tmp_path)
    kept = root / "data" / "persist" / "etc"
    out = persist(root)
    assert out.count(" on the data partition") == 4
    assert out.endswith(DONE)  # what the boot test waits for on the console
    assert (kept / "machine-id").read_text() == "0123456789abcdef0123456789abcdef\n"
    assert (kept / "ssh" / "ssh_host_ed25519_key").read_text() == "PRIVATE\n"
    assert (kept / "ssh" / "ssh_host_ed25519_key").stat().st_mode & 0o777 == 0o600
    assert persist(root) == DONE  # nothing changed: nothing written
    (root / "etc" / "hostname").write_text("roomprobe-dak-ang\n")  # a bundle was taken
    assert persist(root) == "roomprobe-persist: kept /etc/hostname on the data partition\n" + DONE
    assert (kept / "hostname").read_text() == "roomprobe-dak-ang\n"
    assert not list(kept.rglob("*.new"))


def test_an_empty_machine_id_is_not_kept(tmp_path: Path):
    root = box(tmp_path)
    (root / "etc" / "machine-id").write_text("")  # the generic image's, before systemd fills it
    persist(root)
    assert not (root / "data" / "persist" / "etc" / "machine-id").exists()
