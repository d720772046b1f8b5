"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
LEDGER_DATABASE_URL is set), a log key, and an initialised log store."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledger.config import Settings
from ledger.db import make_engine
from ledger.log.keys import create_key_file
from ledger.log.note import Signer
from ledger.logstore.store import LogStore
from ledger.runtime import Ledger, create_schema, open_ledger

PG_URL = os.environ.get("LEDGER_DATABASE_URL")
ORIGIN = "test.ledger.example/log"


def pytest_collection_modifyitems(config, items) -> None:
    """With LEDGER_TEST_ONLY_DATABASE=1 on PostgreSQL, run only tests that use the database.

    Tests that never touch the ``database_url`` fixture (pure functions, the EVM, tests with
    their own SQLite files) give the same result on every database, so CI runs them once.
    """
    if not (PG_URL and os.environ.get("LEDGER_TEST_ONLY_DATABASE") == "1"):
        return
    keep = [i for i in items if "database_url" in getattr(i, "fixturenames", ())]
    dropped = [i for i in items if "database_url" not in getattr(i, "fixturenames", ())]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _admin_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        return
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(_admin_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture
def engine(database_url: str):
    eng = make_engine(database_url)
    create_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def store(engine, signer: Signer) -> LogStore:
    s = LogStore(engine, ORIGIN, signer)
    s.initialise()
    return s


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    key_file = tmp_path / "log.key"
    create_key_file(key_file, ORIGIN)
    return Settings(
        data_dir=tmp_path, database_url=database_url, log_origin=ORIGIN, log_key_file=key_file
    )


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    led = open_ledger(settings)
    yield led
    led.close()


class LiveServer:
    """The Flask app served over real HTTP on a free local port, in a thread."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


@pytest.fixture
def app(ledger: Ledger):
    from api import create_app

    return create_app(ledger.settings, ledger)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.stop()
