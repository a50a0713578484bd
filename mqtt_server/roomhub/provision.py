"""Provisioning: the district's PKI once, then one account and one bundle per site.

``roomhub pki init`` makes the CA, the broker's certificate, the hub's own
account and the ACL in ``[security] dir``. ``roomhub site add SITE`` creates
the site's account with a random password, asks mosquitto to re-read its
accounts, and writes the site's bundle (``bundles/SITE/``): the probe's
config, the CA certificate and the password file, for the image builder to
put on the SD card's boot partition. ``site remove`` revokes the account (the
broker refuses the probe from then on) and deletes the bundle. Secrets are
written to files with mode 0600 and never printed or logged.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from roomprobe import tomlconfig

from . import access, pki
from .broker import Security
from .config import HubConfig

#: Where the probe finds its bundle's files once first boot has moved them (issue 7).
PROBE_PASSWORD_FILE = "/var/lib/roomprobe/mqtt-password"
PROBE_CA_FILE = "/var/lib/roomprobe/district-ca.crt"


class ProvisionError(RuntimeError):
    """A provisioning step failed; the message says which and why."""


@dataclass(frozen=True)
class Layout:
    dir: Path

    @property
    def ca(self) -> pki.CertPaths:
        return pki.CertPaths(self.dir / "ca.crt", self.dir / "ca.key")

    @property
    def broker(self) -> pki.CertPaths:
        return pki.CertPaths(self.dir / "broker.crt", self.dir / "broker.key")

    @property
    def passwords(self) -> Path:
        return self.dir / "passwd"

    @property
    def acl(self) -> Path:
        return self.dir / "acl"

    @property
    def hub_secret(self) -> Path:
        return self.dir / "roomhub-password"

    def bundle(self, site: str) -> Path:
        return self.dir / "bundles" / site

    def security(self) -> Security:
        return Security(self.ca.cert, self.broker.cert, self.broker.key, self.passwords, self.acl)


def _secret_file(path: Path, secret: str) -> None:
    pki.write_private(path, (secret + "\n").encode("utf-8"))


def reload_broker(cfg: HubConfig) -> str:
    """Ask mosquitto to re-read its accounts and ACL (SIGHUP); say how."""
    pid_file = cfg.security.broker_pid_file
    if pid_file is not None:
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as exc:
            raise ProvisionError(f"cannot signal mosquitto via {pid_file}: {exc}") from exc
        return f"mosquitto (pid {pid}) re-reads its accounts"
    if shutil.which("systemctl") is None:
        raise ProvisionError("no broker_pid_file and no systemctl: reload mosquitto yourself")
    done = subprocess.run(["systemctl", "reload", "mosquitto"], capture_output=True, text=True)
    if done.returncode != 0:
        raise ProvisionError(f"systemctl reload mosquitto failed: {done.stderr.strip()}")
    return "mosquitto reloaded"


def init_pki(cfg: HubConfig, hostnames: list[str]) -> Layout:
    """The CA, the broker's certificate, the hub's account and the ACL (once per district)."""
    lay = Layout(cfg.security.dir)
    ca = pki.make_ca(lay.dir)  # refuses to replace an existing CA
    pki.make_server_cert(ca, lay.dir, hostnames or [cfg.security.broker_host])
    password = secrets.token_urlsafe(24)
    access.set_password(lay.passwords, access.HUB_USER, password)
    _secret_file(lay.hub_secret, password)
    lay.acl.write_text(access.render_acl(), encoding="utf-8")
    return lay


def probe_hardware(cfg: HubConfig, hardware: str) -> dict[str, dict[str, str]]:
    """The bundle's hardware settings. A box in a room ('pi') tests the real line against
    the hub's /mini/ endpoint, the real audio chain through ALSA's default devices and
    drives its LEDs; 'simulated' leaves the probe's defaults, which invent results (a
    test bench or a virtual machine, where there is no sound card and no GPIO)."""
    if hardware == "simulated":
        return {}
    if hardware != "pi":
        raise ProvisionError(f"hardware {hardware!r}: expected 'pi' or 'simulated'")
    return {
        "net": {"backend": "hub", "server_url": cfg.security.probe_line_url(cfg.web.port)},
        "audio": {"backend": "alsa"},
        "hardware": {"leds": "gpio"},
    }


def add_site(cfg: HubConfig, site: str, name: str, hardware: str = "pi") -> Path:
    """The site's account and bundle; returns the bundle's folder."""
    access.check_account(site)
    settings = probe_hardware(cfg, hardware)
    lay = Layout(cfg.security.dir)
    if not lay.ca.cert.exists():
        raise ProvisionError(f"no CA in {lay.dir}: run 'roomhub pki init' first")
    password = secrets.token_urlsafe(24)
    access.set_password(lay.passwords, site, password)
    bundle = lay.bundle(site)
    bundle.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lay.ca.cert, bundle / "district-ca.crt")
    _secret_file(bundle / "mqtt-password", password)
    probe_config = tomlconfig.dumps({
        "site": site,
        "name": name,
        "mqtt": {
            "host": cfg.security.broker_host,
            "port": cfg.security.broker_port,
            "username": site,
            "password_file": PROBE_PASSWORD_FILE,
            "tls_ca": PROBE_CA_FILE,
        },
        "daemon": cfg.meetings.probe_settings(),  # readiness runs when the board expects them
        **settings,
    })  # fmt: skip
    (bundle / "roomprobe.toml").write_text(probe_config, encoding="utf-8")
    return bundle


def list_sites(cfg: HubConfig) -> list[tuple[str, bool]]:
    """(site, has a bundle) for every probe account."""
    lay = Layout(cfg.security.dir)
    if not lay.passwords.exists():
        return []
    users = [line.split(":", 1)[0] for line in lay.passwords.read_text().splitlines() if line]
    return [(u, lay.bundle(u).exists()) for u in users if u != access.HUB_USER]


def remove_site(cfg: HubConfig, site: str) -> None:
    """Revoke the site's account and delete its bundle."""
    access.check_account(site)
    lay = Layout(cfg.security.dir)
    if site not in {s for s, _ in list_sites(cfg)}:
        raise ProvisionError(f"{site} has no account")
    access.remove_account(lay.passwords, site)
    shutil.rmtree(lay.bundle(site), ignore_errors=True)
