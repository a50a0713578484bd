"""Running mosquitto with the project's configuration.

The demo, the tests and (through the rendered file) the district's broker all
use :func:`render_config`, so there is one broker configuration. :class:`Broker`
starts the real mosquitto from Debian on a given port and stops it; tests use
it to own a broker of their own on a free port.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template


class BrokerError(RuntimeError):
    """mosquitto is missing or would not start."""


@dataclass(frozen=True)
class Security:
    """TLS with the district's CA, and accounts with an ACL (roomhub.pki, roomhub.access)."""

    cafile: Path
    certfile: Path
    keyfile: Path
    password_file: Path
    acl_file: Path

    def tls_lines(self) -> str:
        # Per-listener options: they follow the listener line. TLS 1.2 or newer only;
        # probes authenticate with their account, not with a client certificate.
        return (
            f"cafile {self.cafile}\ncertfile {self.certfile}\nkeyfile {self.keyfile}\n"
            "tls_version tlsv1.2\nrequire_certificate false\n"
        )

    def auth_lines(self) -> str:
        return f"password_file {self.password_file}\nacl_file {self.acl_file}\n"


def render_config(
    port: int,
    data_dir: Path,
    bind: str = "127.0.0.1",
    allow_anonymous: bool = True,
    log_dest: str = "stderr",
    user: str | None = None,
    security: Security | None = None,
) -> str:
    """The project's mosquitto.conf; ``user`` defaults to whoever runs this (owner of data_dir).

    With ``security``, the listener takes TLS only, anonymous access is refused
    whatever ``allow_anonymous`` says, and accounts and the ACL apply.
    """
    template = (resources.files("roomhub") / "mosquitto.conf.template").read_text("utf-8")
    return Template(template).substitute(
        port=port,
        bind=bind,
        data_dir=str(data_dir),
        allow_anonymous="true" if allow_anonymous and security is None else "false",
        log_dest=log_dest,
        user=user or getpass.getuser(),
        tls=security.tls_lines() if security else "",
        auth=security.auth_lines() if security else "",
    )


def find_mosquitto() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return candidate
    raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Broker:
    """A mosquitto process with the project's config in ``workdir``."""

    def __init__(
        self, workdir: Path, port: int | None = None, bind: str = "127.0.0.1",
        security: Security | None = None,
    ):  # fmt: skip
        self.workdir = Path(workdir)
        self.security = security
        self.bind = bind
        self.port = port or free_port()
        self.data_dir = self.workdir / "data"
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            render_config(self.port, self.data_dir, self.bind, security=self.security),
            encoding="utf-8",
        )
        log = open(self.log, "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(
            [find_mosquitto(), "-c", str(self.conf)],
            stdout=log,
            stderr=log,
            # Its own session: a Ctrl-C meant for the demo must not stop the broker
            # before the probes have said goodbye.
            start_new_session=True,
        )
        log.close()
        if not wait_for_port(self.port, self.bind):
            self.stop()
            raise BrokerError(f"mosquitto did not listen on {self.port}; see {self.log}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (mosquitto saves its persistence file on SIGTERM)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
