"""The tests' rig: a real mosquitto, real probe and hub processes, and how to wait on them.

A plain module (not conftest.py) so that any test folder, including ones with
a conftest of their own, imports it by one name: ``from rig import Rig``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from roomhub.broker import Broker, free_port, wait_for_port
from roomprobe import tomlconfig


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy; fail the test naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Proc:
    """A roomprobe or roomhub process with its log file."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def probe_toml(
    site: str, port: int, state_dir: Path, profile: str = "good", host: str = "127.0.0.1",
    **sections: dict[str, Any],
) -> str:  # fmt: skip
    """A probe config with fast intervals; ``sections`` override or add keys."""
    doc: dict[str, Any] = {
        "site": site,
        "mqtt": {"host": host, "port": port, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "paths": {"state_dir": state_dir},
        "daemon": {"heartbeat_s": 1},
        "net": {"interval_s": 0.2, "monitor_interval_s": 0.5},
        "audio": {"interval_s": 0.3},
        "simulation": {"profile": profile},
    }
    for name, values in sections.items():
        doc.setdefault(name, {}).update(values)
    return tomlconfig.dumps(doc)


def hub_toml(
    port: int, db: Path, web_port: int, host: str = "127.0.0.1", udp_port: int = 0,
    mqtt: dict[str, Any] | None = None, db_url: str | None = None,
    sections: dict[str, dict[str, Any]] | None = None, **consumer: Any,
) -> str:  # fmt: skip
    """The hub's config; ``sections`` adds whole sections ([alerts], [meetings] ...)."""
    return tomlconfig.dumps({
        "hub_id": "test-hub",
        "name": "Hub thử nghiệm",
        "mqtt": {"host": host, "port": port, **(mqtt or {})},
        "storage": {"path": db, "url": db_url},
        "web": {"host": host, "port": web_port},
        "line": {"udp_echo_port": udp_port},
        "consumer": consumer or None,
        "sites": [{"id": "dak-ang", "name": "Xã Đắk Ang"}],
        **(sections or {}),
    })  # fmt: skip


class Rig:
    """A test's broker, hub and probes, all torn down at the end.

    ``host`` is the address the broker and hub listen on; with ``probe_ns`` the
    probes run in that network namespace (behind a shaped line, see netlab.py).
    """

    def __init__(self, tmp: Path, host: str = "127.0.0.1", probe_ns: str | None = None,
                 db_url: str | None = None):  # fmt: skip
        self.tmp = tmp
        self.db_url = db_url  # PostgreSQL; None stores in SQLite at hub_db
        self.host = host
        self.probe_ns = probe_ns
        self.broker = Broker(tmp / "broker", bind=host)
        self.procs: list[Proc] = []
        self.hub_db = tmp / "hub" / "roomhub.sqlite"
        self.web_port = free_port()
        self.udp_port = free_port()  # the hub's UDP echo (light probes)

    def start_broker(self) -> Broker:
        self.broker.start()
        return self.broker

    def probe(self, site: str = "dak-ang", profile: str = "good", start: bool = True,
              env: dict[str, str] | None = None, **sections: dict[str, Any]) -> Proc:  # fmt: skip
        conf = self.tmp / f"probe-{site}.toml"
        state = self.tmp / "state" / site
        conf.write_text(
            probe_toml(site, self.broker.port, state, profile, self.host, **sections), "utf-8"
        )
        argv = [sys.executable, "-m", "roomprobe.cli", "run", "--config", str(conf)]
        if self.probe_ns:
            argv = ["ip", "netns", "exec", self.probe_ns, *argv]
        proc = Proc(f"probe-{site}", argv, self.tmp / f"probe-{site}.log", env)
        self.procs.append(proc)
        return proc.start() if start else proc

    def hub(
        self, start: bool = True, mqtt: dict[str, Any] | None = None,
        sections: dict[str, dict[str, Any]] | None = None, **consumer: Any,
    ) -> Proc:  # fmt: skip
        conf = self.tmp / "hub.toml"
        conf.write_text(
            hub_toml(
                self.broker.port,
                self.hub_db,
                self.web_port,
                self.host,
                self.udp_port,
                mqtt,
                self.db_url,
                sections,
                **consumer,
            ),
            "utf-8",
        )
        argv = [sys.executable, "-m", "roomhub.cli", "run", "--config", str(conf)]
        proc = Proc("hub", argv, self.tmp / "hub.log")
        self.procs.append(proc)
        if start:
            proc.start()
            assert wait_for_port(self.web_port, self.host, timeout=30), proc.output()
        return proc

    def roomhub(self, *args: str, timeout: float = 200) -> subprocess.CompletedProcess[str]:
        """A ``roomhub`` command as district IT types it, against this rig's hub."""
        return subprocess.run(
            [sys.executable, "-m", "roomhub.cli", *args, "--config", str(self.tmp / "hub.toml")],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def roomprobe(self, site: str, *args: str, timeout: float = 200
                  ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """A ``roomprobe`` command as typed at the box, with that site's probe config."""
        return subprocess.run(
            [sys.executable, "-m", "roomprobe.cli", *args,
             "--config", str(self.tmp / f"probe-{site}.toml")],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def hub_query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of the hub's store, SQLite or PostgreSQL; ``?`` marks a parameter."""
        if self.db_url:
            import psycopg
            from psycopg.rows import dict_row

            try:
                with psycopg.connect(self.db_url, row_factory=dict_row) as db:
                    return db.execute(sql.replace("?", "%s"), args).fetchall()
            except psycopg.errors.UndefinedTable:
                return []  # the hub has not migrated yet
        if not self.hub_db.exists():
            return []
        db = sqlite3.connect(f"file:{self.hub_db}?mode=ro", uri=True, timeout=5)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute(sql, args).fetchall()]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # the hub has not migrated yet
            raise
        finally:
            db.close()

    @property
    def web(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    def stored(self, site: str = "dak-ang") -> int:
        rows = self.hub_query(
            "SELECT count(*) AS n FROM messages WHERE site = ? AND schema != 'roomprobe.status'",
            site,
        )
        return rows[0]["n"] if rows else 0

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.broker.stop()
