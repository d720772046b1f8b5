"""Fixtures for schema and backup tests: empty scratch databases (tests/support/database.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.database import DEFAULT_PG, PG_URL, ScratchDatabases, pg_reachable


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[ScratchDatabases]:
    """Scratch databases on the backend under test (SQLite, or PostgreSQL when set)."""
    dbs = ScratchDatabases(tmp_path, PG_URL)
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture
def pg_scratch(tmp_path: Path) -> Iterator[ScratchDatabases]:
    """Scratch PostgreSQL databases whatever the backend under test (skips without a server)."""
    url = PG_URL or DEFAULT_PG
    if not pg_reachable(url):
        pytest.skip("no PostgreSQL server reachable")
    dbs = ScratchDatabases(tmp_path, url)
    try:
        yield dbs
    finally:
        dbs.drop_all()
