"""Browser fixtures: Debian's Chromium (installed if missing), one browser per test module,
and ``visit`` pages of the live server. Every test using ``browser`` is marked browser and
slow (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import playwright.sync_api as playwright_api
import pytest
from playwright.sync_api import expect

from tests.support.browser import CHROMIUM_ARGS, WAIT_MS, Visit

expect.set_options(timeout=WAIT_MS)


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
