"""Fixtures: the March and May datasets (tests/support/audit_dataset.py), and API keys."""

from __future__ import annotations

import pytest

from ledger.access.apikeys import create_api_key
from tests.support.audit_dataset import FakeClock, build_march, build_may


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
def may(ledger):
    """The ledger with complaints H-P following the service playbooks in May 2026."""
    clock = FakeClock()
    ledger.complaints.writes.clock = clock
    ledger.officer_keys.clock = clock
    ledger.access_log.clock = clock
    return build_may(ledger, clock)


@pytest.fixture
def tokens(ledger):
    return {
        role: create_api_key(ledger.engine, f"audit test {role}", role)[0]
        for role in ("regulator", "agent", "admin", "supervisor")
    }
