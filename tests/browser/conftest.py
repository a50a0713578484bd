"""The dashboard in a real browser: Debian's chromium, headless, driven by selenium.

``browser`` is one chromium for the whole session (starting one costs about a
second), reset to 1280x900 after every test; ``fleet`` is a real hub fed by real
simulated probes, one per room profile, shared by a test module. PNG
screenshots are read with the standard library (``pixels.decode_png``) so a test can
look at the pixels where an element is drawn.

Only fixtures live here; what the tests import by name is in plain modules
(fleet.py, pixels.py, ../rig.py), never in a conftest: pytest loads every
conftest.py as the module ``conftest``, so importing from one is ambiguous.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet import PROFILES, Fleet, statuses

from rig import Rig, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH, HEIGHT = 1280, 900


def _chrome_options() -> Any:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},{HEIGHT}",
        "--lang=vi",
        # One CSS pixel is one screenshot pixel, in sRGB: colours can be compared exactly.
        "--force-device-scale-factor=1",
        "--force-color-profile=srgb",
        "--disable-extensions",
        "--no-first-run",
    ):
        options.add_argument(arg)
    # On Linux --lang does not reach Accept-Language; this preference does.
    options.add_experimental_option("prefs", {"intl.accept_languages": "vi-VN,vi"})
    return options


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless chromium at 1280x900 asking for Vietnamese; quit in teardown, always."""
    missing = [
        f"{path} (Debian package {package})"
        for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver"))
        if not os.access(path, os.X_OK)
    ]
    if missing:
        pytest.fail(
            "the browser tests need " + " and ".join(missing)
            + ": apt-get install chromium chromium-driver (scripts/test installs them)",
            pytrace=False,
        )  # fmt: skip
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    log = tmp_path_factory.mktemp("chromedriver") / "chromedriver.log"
    service = Service(str(CHROMEDRIVER), log_output=str(log))
    driver = webdriver.Chrome(options=_chrome_options(), service=service)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            service.stop()  # a no-op after a good quit; ends chromedriver if quit failed


@pytest.fixture(autouse=True)
def _fresh_window(browser: Any) -> Iterator[None]:
    """Every test starts at 1280x900 on a blank page, whatever the previous one did."""
    browser.set_window_size(WIDTH, HEIGHT)
    yield
    browser.get("about:blank")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """mosquitto, ``roomhub run`` and one ``roomprobe run`` per profile, until every room
    is online with a line and an audio verdict."""
    rig = Rig(tmp_path_factory.mktemp("fleet"))
    try:
        rig.start_broker()
        rig.hub()
        for site, profile in PROFILES.items():
            rig.probe(site, profile)
        fleet = Fleet(rig, dict(PROFILES))

        def settled() -> bool:
            sites = fleet.sites()
            return all(
                site in sites
                and sites[site]["online"]
                and "unknown" not in (statuses(sites[site])[p] for p in ("network", "audio"))
                for site in PROFILES
            )

        wait_for(settled, timeout=60, what="every probe online with line and audio verdicts")
        yield fleet
    finally:
        rig.close()
