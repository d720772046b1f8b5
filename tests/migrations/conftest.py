"""Helpers for schema and backup tests: scratch databases on the test's backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("LEDGER_DATABASE_URL")
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_reachable(url: str) -> bool:
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"), connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


class ScratchDatabases:
    """Database URLs that are dropped at the end of the test (PostgreSQL) or live in tmp."""

    def __init__(self, tmp_path: Path, pg_url: str | None) -> None:
        self.tmp_path = tmp_path
        self.pg_url = pg_url
        self.names: list[str] = []

    def new(self) -> str:
        if self.pg_url is None:
            return f"sqlite:///{self.tmp_path / f'db_{uuid.uuid4().hex[:8]}.sqlite3'}"
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.names.append(name)
        base = make_url(self.pg_url).set(drivername="postgresql+psycopg")
        return base.set(database=name).render_as_string(hide_password=False)

    def create(self) -> str:
        url = self.new()
        if self.pg_url is not None:
            with self._admin() as conn:
                conn.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))
        return url

    def _admin(self):
        base = make_url(self.pg_url).set(drivername="postgresql+psycopg", database="postgres")
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        return _Closing(engine)

    def drop_all(self) -> None:
        if self.pg_url is None or not self.names:
            return
        with self._admin() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class _Closing:
    def __init__(self, engine) -> None:
        self.engine = engine

    def __enter__(self):
        self.conn = self.engine.connect()
        return self.conn

    def __exit__(self, *exc) -> None:
        self.conn.close()
        self.engine.dispose()


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
