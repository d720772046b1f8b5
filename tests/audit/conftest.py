"""Fixtures: the March dataset (tests/support/audit_dataset.py) in a ledger, and API keys."""

from __future__ import annotations

import pytest

from ledger.access.apikeys import create_api_key
from tests.support.audit_dataset import FakeClock, build_march


@pytest.fixture
def march(ledger):
    """The ledger with complaints A-G written at known instants; returns their references."""
    clock = FakeClock()
    ledger.complaints.writes.clock = clock
    ledger.officer_keys.clock = clock
    ledger.access_log.clock = clock
    refs = build_march(ledger, clock)
    return refs


@pytest.fixture
def tokens(ledger):
    return {
        role: create_api_key(ledger.engine, f"audit test {role}", role)[0]
        for role in ("regulator", "agent", "admin", "supervisor")
    }
