"""Browser fixtures: Debian's Chromium (installed if missing), one browser per test module,
and ``visit`` pages of the live server. Every test using ``browser`` is marked browser and
slow (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import playwright.sync_api as playwright_api
import pytest
from playwright.sync_api import expect

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, Visit
from tests.support.paths import ROOT

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, installed if missing; a missing browser fails the tests."""
    script = ROOT / "scripts" / "install_browser.sh"
    try:
        proc = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/install_browser.sh did not finish within 15 minutes")
    if proc.returncode != 0 or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is required at {CHROMIUM} for the browser tests and could not be "
            f"installed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator:
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def visit(browser, live_server) -> Iterator[Callable[..., Visit]]:
    """Open pages of the live server (``visit(locale=..., viewport=...)``); all closed after."""
    opened: list[Visit] = []

    def make(**kwargs) -> Visit:
        v = Visit(browser, live_server.url, **kwargs)
        opened.append(v)
        return v

    yield make
    for v in opened:
        v.close()
