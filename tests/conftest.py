"""Shared fixtures: a migrated database per test (a copy of one template per session: SQLite
file, or PostgreSQL when LEDGER_DATABASE_URL is set), a log key, an initialised log store, a
ledger, its app and a live server. Also: markers by fixture, and the PostgreSQL-only subset."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.config import Settings
from ledger.db import make_engine
from ledger.log.keys import create_key_file
from ledger.log.note import Signer
from ledger.logstore.store import LogStore
from ledger.runtime import Ledger, open_ledger
from tests.support.browser import CHROMIUM
from tests.support.complaint_api import make_actors
from tests.support.database import PG_URL, TemplateDatabases
from tests.support.paths import ROOT
from tests.support.server import LiveServer

ORIGIN = "test.ledger.example/log"

# A test that uses one of these fixtures gets these markers: pytest -m "not slow" (the fast
# loop) leaves out every browser and EVM test; "not postgres" those needing a server.
MARKERS_BY_FIXTURE = {
    "browser": ("browser", "slow"),
    "chromium_path": ("browser", "slow"),
    "anvil": ("evm", "slow"),
    "chain": ("evm", "slow"),  # py-evm in process, or anvil (tests/anchoring/conftest.py)
    "pg_scratch": ("postgres",),
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        for fixture, markers in MARKERS_BY_FIXTURE.items():
            if fixture in fixtures:
                for marker in markers:
                    item.add_marker(marker)
    _only_database_tests(config, items)


def _only_database_tests(config, items) -> None:
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


@pytest.fixture(scope="session")
def template_databases(tmp_path_factory) -> Iterator[TemplateDatabases]:
    """This session's (this xdist worker's) migrated template, and the copies made of it."""
    databases = TemplateDatabases(tmp_path_factory.mktemp("template"), PG_URL)
    yield databases
    databases.close()


@pytest.fixture
def database_url(template_databases: TemplateDatabases, tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test, migrated to the latest schema revision."""
    url = template_databases.create(tmp_path)
    try:
        yield url
    finally:
        template_databases.drop(url)


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture
def engine(database_url: str):
    eng = make_engine(database_url)
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


@pytest.fixture
def actors(live_server: LiveServer, ledger: Ledger) -> dict:
    """API keys and HTTP clients for every staff role, and a registered officer key."""
    return make_actors(live_server.url, ledger)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, installed if missing; a missing browser fails the tests."""
    script = ROOT / "scripts" / "install_system_packages.sh"
    try:
        proc = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/install_system_packages.sh did not finish within 15 minutes")
    if proc.returncode != 0 or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is required at {CHROMIUM} for the browser tests and could not be "
            f"installed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return CHROMIUM
