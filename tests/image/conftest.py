"""The boot test runs only when given a built image (``--image``, as scripts/boot-test does).

Building the image takes about half an hour and booting it under emulation
minutes, so the default run (scripts/test, CI) leaves this folder out; the
image's parts that can be checked without booting are tested in tests/unit and
tests/integration (test_image_*).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.getoption("--image") is None and collection_path.name.startswith("test_"):
        return True
    return None


@pytest.fixture(scope="session")
def image(pytestconfig: pytest.Config) -> Path:
    path = Path(pytestconfig.getoption("--image")).resolve()
    if not path.is_file():
        raise pytest.UsageError(f"--image {path}: no such file (sudo scripts/build-image)")
    for tool in ("qemu-system-aarch64", "mtype", "debugfs", "sfdisk"):
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None:
            raise pytest.UsageError(f"{tool} is missing: scripts/boot-test installs it")
    return path
