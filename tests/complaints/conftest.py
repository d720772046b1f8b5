"""Fixtures for the complaint domain tests (chains and keys: tests/support/complaint_chain.py)."""

from __future__ import annotations

import pytest

from ledger.complaints.officers import OfficerRegistry
from tests.support.complaint_chain import REGISTRY


@pytest.fixture
def registry() -> OfficerRegistry:
    return REGISTRY
