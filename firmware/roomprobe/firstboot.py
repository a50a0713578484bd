"""Taking a site's bundle from the SD card's boot partition (issue 7, per-site provisioning).

District IT writes a bundle onto the generic image's FAT boot partition
(``roomhub site write-image``). At every boot, before the daemon starts,
``roomprobe firstboot`` looks for it: if one is there, it is checked, its
files are moved where the config says (the secrets onto the data partition,
0600), the host name is set from the site id, and the bundle is removed from
the boot partition, which any PC can read. A note in Vietnamese and English
is left in its place saying what happened.

The order makes a power cut harmless: everything is written and synced on
the data side first, and only then removed from the card, by renaming the
bundle's folder (one directory entry) and deleting the renamed folder; cut
before the rename, the next boot takes the same bundle again; cut after it, the
next boot deletes the leftover. The boot partition is mounted read-only on the
box and made writable only while a bundle is taken. A bundle that does not check out is
left where it is, with an ERROR file beside it that says why, in words
district staff can read on a PC; the box keeps its previous settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import config as probe_config
from .atomic import write_atomic
from .tomlconfig import ConfigError

BUNDLE_FILES = ("roomprobe.toml", "district-ca.crt", "mqtt-password")
NOTE = "DA-NHAN-INSTALLED.txt"
ERROR = "LOI-ERROR.txt"
# Where a bundle may put its secrets: anyone with the card in a PC can edit the bundle,
# so a path elsewhere (say, an SSH authorized_keys file) must not be written as root.
SECRETS_DIR = Path("/var/lib/roomprobe")
# The bundle's folder is renamed to this before its files are deleted: one directory entry
# changes, so a power cut leaves either the whole bundle or a leftover the next boot removes.
TAKEN_SUFFIX = ".taken"


class BundleError(ValueError):
    """A bundle that cannot be taken; the message is for district staff."""


@dataclass(frozen=True)
class Taken:
    site: str
    hostname: str
    config: Path
    secrets: tuple[Path, ...]


def hostname_for(site: str) -> str:
    return f"roomprobe-{site}"[:63].rstrip("-")


def check(bundle: Path) -> probe_config.ProbeConfig:
    """The bundle's config, if the bundle is whole and sound; BundleError otherwise."""
    missing = [n for n in BUNDLE_FILES if not (bundle / n).is_file()]
    if missing:
        raise BundleError(f"the bundle lacks {', '.join(missing)}")
    try:
        cfg = probe_config.parse((bundle / "roomprobe.toml").read_text(encoding="utf-8"),
                                 str(bundle / "roomprobe.toml"))  # fmt: skip
    except (ConfigError, UnicodeDecodeError) as exc:
        raise BundleError(f"roomprobe.toml is not a valid probe config: {exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in (bundle / "district-ca.crt").read_bytes():
        raise BundleError("district-ca.crt is not a PEM certificate")
    if not (bundle / "mqtt-password").read_bytes().strip():
        raise BundleError("mqtt-password is empty")
    if cfg.mqtt.password_file is None or cfg.mqtt.tls_ca is None:
        raise BundleError("roomprobe.toml names no password_file or tls_ca under [mqtt]")
    for key, path in (("password_file", cfg.mqtt.password_file), ("tls_ca", cfg.mqtt.tls_ca)):
        if SECRETS_DIR not in Path(path).parents or ".." in Path(path).parts:
            raise BundleError(f"[mqtt] {key} = {path}: must be a file in {SECRETS_DIR}/")
    return cfg


def take(bundle: Path, root: Path = Path("/"), config_path: Path = probe_config.DEFAULT_PATH,
         set_hostname: bool = False, now: datetime | None = None) -> Taken | None:  # fmt: skip
    """Take the bundle in ``bundle`` (None when there is none); ``root`` prefixes every
    path the bundle names (the tests' stand-in for the box's file system)."""
    leftover = _leftover(bundle)
    if leftover.exists():  # taken at the last boot, cut off before it was deleted
        shutil.rmtree(leftover)
    if not bundle.is_dir() or not any((bundle / n).exists() for n in BUNDLE_FILES):
        return None
    try:
        cfg = check(bundle)
    except BundleError as exc:
        again = "'roomhub site add', 'roomhub site write-image'"
        _note(bundle / ERROR, f"Không nhận được bộ cấu hình: {exc}.\n"
              f"Hãy tạo lại bằng {again}.\n\n"
              f"The bundle was not taken: {exc}.\n"
              f"Make it again with {again}.\n")  # fmt: skip
        raise
    inside = root / str(config_path).lstrip("/")
    password = root / str(cfg.mqtt.password_file).lstrip("/")
    ca = root / str(cfg.mqtt.tls_ca).lstrip("/")
    write_atomic(password, (bundle / "mqtt-password").read_bytes(), 0o600)
    write_atomic(ca, (bundle / "district-ca.crt").read_bytes(), 0o644)
    for secret in (password, ca):
        _owned_like_its_folder(secret)
    write_atomic(inside, (bundle / "roomprobe.toml").read_bytes(), 0o644)
    name = hostname_for(cfg.site)
    write_atomic(root / "etc" / "hostname", f"{name}\n".encode(), 0o644)
    if set_hostname and shutil.which("hostname"):
        subprocess.run(["hostname", name], check=False)
    # Only now, with everything synced on the box, does the card forget the secrets.
    bundle.rename(leftover)
    bundle.mkdir()
    shutil.rmtree(leftover)
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    _note(bundle / NOTE, f"Hộp kiểm tra đã nhận cấu hình của điểm cầu {cfg.site} lúc {when}.\n"
          "Mật khẩu đã được chuyển vào hộp và xóa khỏi thẻ nhớ.\n\n"
          f"The probe took the settings of site {cfg.site} at {when}.\n"
          "The password was moved into the box and removed from this card.\n")  # fmt: skip
    return Taken(cfg.site, name, inside, (password, ca))


@contextmanager
def writable(folder: Path) -> Iterator[None]:
    """The file system holding ``folder`` writable for the block, read-only again after.

    The box mounts its boot partition read-only (FAT has no journal: a power cut during
    a write can damage it, and it holds the kernel); it is opened only while a bundle
    is taken. Does nothing where the mount is already writable or cannot be found.
    """
    found = subprocess.run(["findmnt", "-n", "-o", "TARGET,OPTIONS", "--target", str(folder)],
                           capture_output=True, text=True)  # fmt: skip
    target, _, options = found.stdout.strip().partition(" ")
    if found.returncode != 0 or "ro" not in options.strip().split(","):
        yield
        return
    opened = subprocess.run(["mount", "-o", "remount,rw", target], capture_output=True,
                            text=True)  # fmt: skip
    if opened.returncode != 0:
        raise OSError(f"cannot make {target} writable: {opened.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["mount", "-o", "remount,ro", target], check=False)


def pending(bundle: Path) -> bool:
    """Is there anything on the card for this boot to do (a bundle or a leftover)?"""
    return bundle.is_dir() or _leftover(bundle).exists()


def _leftover(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + TAKEN_SUFFIX)


def _owned_like_its_folder(path: Path) -> None:
    """Give a file its folder's owner: firstboot runs as root, the probe as its own
    account, which owns /var/lib/roomprobe and must read the password (0600)."""
    if os.geteuid() == 0:
        folder = path.parent.stat()
        os.chown(path, folder.st_uid, folder.st_gid)


def _note(path: Path, text: str) -> None:
    # CRLF: the note is read on office PCs.
    write_atomic(path, text.replace("\n", "\r\n").encode("utf-8"), 0o644)
