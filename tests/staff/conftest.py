"""Fixtures of the staff account tests: accounts on the test database with a movable clock."""

from __future__ import annotations

import pytest

from ledger.access.apikeys import ROLES, create_api_key
from tests.support.staff import Clock, staff_accounts, staff_sessions


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(engine, tmp_path, clock):
    return staff_accounts(engine, tmp_path / "staff.key", clock)


@pytest.fixture
def sessions(engine, clock):
    return staff_sessions(engine, clock)


@pytest.fixture
def api_keys(ledger) -> dict[str, str]:
    """A token per API role."""
    return {role: create_api_key(ledger.engine, f"{role} key", role)[0] for role in ROLES}
