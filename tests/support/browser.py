"""A headless Chromium under Playwright, for the browser and site tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.user_runs import cannot_run

CHROMIUM_ENV = "COURSE_CHROMIUM"
HOW_TO_GET_CHROMIUM = (
    "Chromium not found, so the browser test did NOT run. Install Debian's build (`sudo apt-get install chromium`; "
    f".ci/run does this), or point {CHROMIUM_ENV} at a Chromium or Chrome executable. Never `playwright install`."
)


def chromium_executable() -> str | None:
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        return named if Path(named).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_chromium(what: str = "the browser test"):
    """Yield Debian's Chromium under Playwright, headless and offline-quiet; ``what`` names the test in a skip."""
    executable = chromium_executable()
    if executable is None:
        cannot_run(HOW_TO_GET_CHROMIUM.replace("the browser test", what))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        cannot_run(f"{what} did NOT run: Playwright's Python package is missing (`make setup` installs it)")
    playwright = sync_playwright().start()
    flags = ["--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
    flags += ["--disable-component-update", "--disable-sync", "--no-first-run"]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    try:
        browser = playwright.chromium.launch(executable_path=executable, args=flags)
    except Exception as error:
        playwright.stop()
        pytest.fail(f"{executable} did not start under Playwright: {error}")
    yield browser
    browser.close()
    playwright.stop()
