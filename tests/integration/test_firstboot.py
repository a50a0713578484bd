"""The box takes its site's bundle from the boot partition (issue 7, per-site provisioning).

The bundle is the real one (``roomhub site add``), written onto a real disk
image (``roomhub site write-image``) and read back off its FAT partition; the
box's file system is a folder standing in for its root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from disk_image import make_image
from roomhub import provision, sdcard
from roomhub.cli import main as roomhub
from roomprobe import firstboot
from roomprobe.config import load as load_probe


def boot_partition_of(district: Path, tmp_path: Path, site: str = "dak-ang") -> Path:
    """The card's boot partition as the box mounts it: its roomprobe/ folder."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    image = make_image(tmp_path / "roomprobe.img")
    assert roomhub(["site", "write-image", site, str(image), "--config", str(district)]) == 0
    boot = tmp_path / "boot" / "roomprobe"
    boot.mkdir(parents=True)
    for name, data in sdcard.read_bundle(image).items():
        (boot / name).write_bytes(data)
    return boot


def first_boot(boot: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roomprobe.cli", "firstboot", "--bundle", str(boot),
         "--root", str(root), "--config", "/etc/roomprobe/roomprobe.toml"],
        capture_output=True, text=True,
    )  # fmt: skip


def test_the_box_takes_the_bundle_and_the_card_forgets_the_password(district: Path, tmp_path: Path):
    boot = boot_partition_of(district, tmp_path)
    bundle = provision.Layout(tmp_path / "security").bundle("dak-ang")
    root = tmp_path / "root"
    done = first_boot(boot, root)
    assert done.returncode == 0, done.stderr
    password = (bundle / "mqtt-password").read_text().strip()
    assert password not in done.stdout + done.stderr

    cfg = load_probe(root / "etc/roomprobe/roomprobe.toml")
    assert cfg.site == "dak-ang" and cfg.mqtt.username == "dak-ang"
    secret = root / str(cfg.mqtt.password_file).lstrip("/")
    assert secret.read_text().strip() == password
    assert secret.stat().st_mode & 0o777 == 0o600
    ca = root / str(cfg.mqtt.tls_ca).lstrip("/")
    assert ca.read_bytes() == (bundle / "district-ca.crt").read_bytes()
    assert (root / "etc/hostname").read_text() == "roomprobe-dak-ang\n"

    assert sorted(p.name for p in boot.iterdir()) == [firstboot.NOTE]  # secrets gone
    note = (boot / firstboot.NOTE).read_text(encoding="utf-8")
    assert note.index("Hộp kiểm tra đã nhận") < note.index("The probe took")  # Vietnamese first

    again = first_boot(boot, root)  # every later boot: nothing to take
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_the_secrets_belong_to_the_probes_account(district: Path, tmp_path: Path):
    """firstboot runs as root; the probe, as its own account, must read its password."""
    boot = boot_partition_of(district, tmp_path)
    root = tmp_path / "root"
    state = root / "var" / "lib" / "roomprobe"
    state.mkdir(parents=True)
    os.chown(state, 4242, 4343)  # the box's roomprobe account owns its state folder
    assert first_boot(boot, root).returncode == 0
    for name in ("mqtt-password", "district-ca.crt"):
        st = (state / name).stat()
        assert (st.st_uid, st.st_gid) == (4242, 4343), name
    assert (state / "mqtt-password").stat().st_mode & 0o777 == 0o600


def test_a_damaged_bundle_stays_on_the_card_with_a_note_that_says_why(
    district: Path, tmp_path: Path
):
    boot = boot_partition_of(district, tmp_path)
    (boot / "roomprobe.toml").write_text('site = "Dak Ang!"\n', encoding="utf-8")
    root = tmp_path / "root"
    done = first_boot(boot, root)
    assert done.returncode == 78
    assert "not a valid probe config" in done.stderr and "Traceback" not in done.stderr
    assert (boot / "mqtt-password").exists()  # nothing taken, nothing lost
    assert not (root / "etc/roomprobe/roomprobe.toml").exists()
    error = (boot / firstboot.ERROR).read_text(encoding="utf-8")
    assert "Không nhận được bộ cấu hình" in error and "site add" in error


@pytest.mark.parametrize("broken, words", [
    ("mqtt-password", "lacks mqtt-password"),
    ("district-ca.crt", "is not a PEM certificate"),
])  # fmt: skip
def test_a_bundle_missing_a_part_is_refused_by_name(
    district: Path, tmp_path: Path, broken: str, words: str
):
    boot = boot_partition_of(district, tmp_path)
    if broken == "mqtt-password":
        (boot / broken).unlink()
    else:
        (boot / broken).write_text("not a certificate")
    done = first_boot(boot, tmp_path / "root")
    assert done.returncode == 78 and words in done.stderr


def test_a_new_bundle_written_later_replaces_the_settings(district: Path, tmp_path: Path):
    boot = boot_partition_of(district, tmp_path, "dak-ang")
    root = tmp_path / "root"
    assert first_boot(boot, root).returncode == 0
    other = boot_partition_of(district, tmp_path / "again", "bo-y")
    assert first_boot(other, root).returncode == 0
    assert load_probe(root / "etc/roomprobe/roomprobe.toml").site == "bo-y"
    assert (root / "etc/hostname").read_text() == "roomprobe-bo-y\n"


def test_a_bundle_cannot_aim_its_secrets_outside_the_probes_folder(district: Path, tmp_path: Path):
    """Anyone with the card in a PC can edit the bundle; firstboot runs as root."""
    boot = boot_partition_of(district, tmp_path)
    toml = (boot / "roomprobe.toml").read_text(encoding="utf-8")
    (boot / "roomprobe.toml").write_text(toml.replace(
        "/var/lib/roomprobe/mqtt-password", "/home/quantri/.ssh/authorized_keys"
    ), encoding="utf-8")  # fmt: skip
    root = tmp_path / "root"
    done = first_boot(boot, root)
    assert done.returncode == 78
    assert "password_file = /home/quantri/.ssh/authorized_keys" in done.stderr
    assert "/var/lib/roomprobe/" in done.stderr
    assert not (root / "home").exists()
    (boot / "roomprobe.toml").write_text(toml.replace(
        "/var/lib/roomprobe/district-ca.crt", "/var/lib/roomprobe/../../etc/ca.crt"
    ), encoding="utf-8")  # fmt: skip
    assert first_boot(boot, root).returncode == 78


def test_a_power_cut_after_the_settings_were_taken_leaves_no_secret_on_the_card(
    district: Path, tmp_path: Path
):
    """Cut between the rename and the delete: the renamed folder still holds the password;
    the next boot removes it and keeps the settings it took."""
    boot = boot_partition_of(district, tmp_path)
    root = tmp_path / "root"
    leftover = boot.with_name(boot.name + firstboot.TAKEN_SUFFIX)
    assert first_boot(boot, root).returncode == 0
    # The card as the cut left it: the bundle renamed whole, not yet deleted.
    boot.rename(leftover)
    boot.mkdir()
    make_image(tmp_path / "again.img")
    assert roomhub(["site", "write-image", "dak-ang", str(tmp_path / "again.img"),
                    "--config", str(district)]) == 0  # fmt: skip
    for name, data in sdcard.read_bundle(tmp_path / "again.img").items():
        (leftover / name).write_bytes(data)
    done = first_boot(boot, root)
    assert done.returncode == 0, done.stderr
    assert not leftover.exists()  # the password is off the card
    assert load_probe(root / "etc/roomprobe/roomprobe.toml").site == "dak-ang"
