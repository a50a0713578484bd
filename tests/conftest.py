"""Fixtures shared by the whole suite: real mosquitto, real probe and hub processes.

Every test that needs a broker starts its own mosquitto on a free port with
the project's configuration (roomhub.broker), and every process a test starts
is stopped in the fixture's teardown, even when the test fails. The classes
behind the fixtures are in rig.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rig import Rig


@pytest.fixture(scope="session")
def long_run(request: pytest.FixtureRequest) -> bool:
    """True with ``--long`` (or ROOMPROBE_LONG=1): the fault tests use their long sizes."""
    import os

    return bool(request.config.getoption("--long")) or os.environ.get("ROOMPROBE_LONG") == "1"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One private PostgreSQL cluster for the whole run (see pgserver.py)."""
    from pgserver import PgServer

    server = PgServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh hub store of each kind: the store's tests run against both."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub' / 'roomhub.sqlite'}"
        return
    server = request.getfixturevalue("pg_server")
    url = server.new_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def rig_db(tmp_path: Path, hub_db_url: str) -> Iterator[Rig]:
    """A rig whose hub stores in SQLite, then (a second run) in PostgreSQL."""
    r = Rig(tmp_path, db_url=hub_db_url if hub_db_url.startswith("postgresql") else None)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def line50(tmp_path: Path) -> Iterator[tuple[Any, Rig]]:
    """A probe namespace behind a 50 Mbit tbf line; broker and hub on its far end."""
    from netlab import NetLab

    lab = NetLab(50, hub_in_root=True).up()
    rig = Rig(tmp_path, host=lab.hub_ip, probe_ns=lab.probe_ns)
    try:
        rig.start_broker()
        rig.hub()
        yield lab, rig
    finally:
        rig.close()
        lab.close()


@pytest.fixture
def district(tmp_path: Path) -> Path:
    """A hub config with the district's PKI made and two sites added (real mosquitto_passwd)."""
    from roomhub import provision
    from roomhub.cli import main
    from roomhub.config import load as load_hub
    from roomprobe import tomlconfig

    conf = tmp_path / "hub.toml"
    conf.write_text(tomlconfig.dumps({
        "hub_id": "test-hub",
        "security": {"dir": tmp_path / "security", "broker_host": "hub.ngoc-hoi.example",
                     "broker_pid_file": tmp_path / "no-broker.pid"},
    }), encoding="utf-8")  # fmt: skip
    assert main(["pki", "init", "--config", str(conf), "--hostname", "hub.ngoc-hoi.example"]) == 0
    for site, name in (("dak-ang", "Xã Đắk Ang"), ("bo-y", "Xã Bờ Y")):
        provision.add_site(load_hub(conf), site, name)
    return conf


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="run the long variants of the fault-injection and soak tests (issue 9): "
        "more kills, a longer outage and soak; the default sizes keep scripts/test short",
    )
    parser.addoption(
        "--image",
        metavar="IMG",
        help="the built SD image (.img.xz or .img) for the boot test in tests/image; "
        "without it that test is not collected (scripts/boot-test passes it)",
    )
