"""A private PostgreSQL cluster for the tests: initdb in a temporary folder, a free port.

The hub's store must behave the same on SQLite and PostgreSQL, so the store's
tests run against both. Like mosquitto, the server is the real one from
Debian's package, started by the tests themselves with nothing shared with
the machine's own service; it is stopped and its folder removed at the end.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from roomhub.broker import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: apt-get install postgresql "
            "(scripts/bootstrap.sh does)"
        )
    return found[-1]


class PgServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="roomhub-pg-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        # PostgreSQL refuses to run as root: as root, run it as the package's user
        # (Popen's own setuid, so signals reach the server itself, not a wrapper).
        self.user = "postgres" if os.geteuid() == 0 else None

    def start(self) -> PgServer:
        data = self.dir / "data"
        if self.user:
            shutil.chown(self.dir, self.user)
        subprocess.run(
            [_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
             "--no-sync", "-E", "UTF8", "--locale=C"],
            check=True, capture_output=True, user=self.user,
        )  # fmt: skip
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115 - the server owns it
        self.proc = subprocess.Popen(
            [_bin("postgres"), "-D", str(data), "-p", str(self.port),
             "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
             "-c", "shared_buffers=64MB", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, user=self.user,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._sql("SELECT 1", check=False).returncode == 0:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start: {(self.dir / 'server.log').read_text()}")

    def _sql(self, sql: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
            check=check, capture_output=True,
        )  # fmt: skip

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._sql(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", check=False)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: does not wait for clients
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.dir)
