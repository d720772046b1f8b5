"""Fixtures of the portal tests: a customer's browser (a test client with its cookies), the
firm's staff through the API, and a complaint filed through the portal."""

from __future__ import annotations

import pytest

from tests.portal.helpers import Filed, Staff, file_complaint


@pytest.fixture
def browser_client(app):
    """One customer's browser: a test client keeping its own cookies."""
    return app.test_client()


@pytest.fixture
def staff(app, ledger) -> Staff:
    return Staff(app.test_client(), ledger)


@pytest.fixture
def filed(browser_client) -> Filed:
    """A complaint filed through the portal; the browser is signed in to it."""
    return file_complaint(browser_client)
