"""Fixtures for the evidence bundle tests (the ``actors`` of a live server: tests/conftest.py;
bundle helpers: tests/support/bundles.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def vkey(ledger) -> str:
    return str(ledger.store.verifier)
