"""Fixtures: the March dataset (tests/audit/dataset.py) in a ledger, and API keys."""

from __future__ import annotations

import pytest

from ledger.access.apikeys import create_api_key
from tests.audit.dataset import FakeClock, build_march


@pytest.fixture
def march(ledger):
    """The ledger with complaints A-G written at known instants; returns their references."""
    clock = FakeClock()
    ledger.complaints.clock = clock
    refs = build_march(ledger.complaints, clock)
    return refs


@pytest.fixture
def tokens(ledger):
    return {
        role: create_api_key(ledger.engine, f"audit test {role}", role)[0]
        for role in ("regulator", "agent", "admin", "supervisor")
    }
