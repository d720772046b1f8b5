"""The SQLite database and its -wal/-shm files are 0600, the data folder 0700, whatever the
umask, for new and for existing files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.cli.run import prepare_database
from ledger.config import Settings
from ledger.db import make_engine
from ledger.log.keys import create_key_file
from ledger.runtime import open_ledger
from ledger.secretfiles import write_secret_file

ORIGIN = "modes.test/log"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets everyone read new files (the worst an operator may have)."""
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


def sqlite_files(data: Path) -> list[Path]:
    db = data / "ledger.sqlite3"
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def settings_in(data: Path) -> Settings:
    return Settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'ledger.sqlite3'}",
        log_origin=ORIGIN,
        log_key_file=data / "log.key",
        server_key_file=data / "server.key",
    )


def write_something(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
            conn.execute(text("INSERT INTO probe VALUES (1)"))
    finally:
        engine.dispose()


def test_a_new_data_folder_and_database_are_private(tmp_path: Path, open_umask) -> None:
    data = tmp_path / "fresh" / "data"
    settings = settings_in(data)
    create_key_file(settings.log_key_file, ORIGIN)
    led = open_ledger(settings)
    try:
        for f in sqlite_files(data):
            assert f.exists(), f
            assert mode(f) == 0o600, f"{f.name}: {oct(mode(f))}"
        assert mode(data) == 0o700
        assert mode(settings.log_key_file) == 0o600
        assert mode(settings.server_key_file) == 0o600
    finally:
        led.close()


def test_existing_files_are_made_private(tmp_path: Path, open_umask) -> None:
    """A data folder from before this fix: 0755 folder, 0644 database and journal files."""
    data = tmp_path / "data"
    settings = settings_in(data)
    data.mkdir(mode=0o755)
    write_something(settings)
    for f in sqlite_files(data):
        if f.exists():
            f.chmod(0o644)
    data.chmod(0o755)
    create_key_file(settings.log_key_file, ORIGIN)
    led = open_ledger(settings)
    led.close()
    assert mode(data) == 0o700
    for f in sqlite_files(data):
        if f.exists():
            assert mode(f) == 0o600, f"{f.name}: {oct(mode(f))}"


def test_journal_files_created_later_are_private(tmp_path: Path, open_umask) -> None:
    """-wal and -shm made after the first connection (another process, a checkpoint)."""
    data = tmp_path / "data"
    data.mkdir()
    settings = settings_in(data)
    write_something(settings)
    db, wal, shm = sqlite_files(data)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()  # the last connection closed: SQLite removes -wal and -shm
        assert not wal.exists() and not shm.exists()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO probe VALUES (2)"))
            assert wal.exists() and shm.exists()
            assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    finally:
        engine.dispose()


def test_the_run_command_makes_the_data_folder_private(tmp_path: Path, open_umask) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    settings = settings_in(data)
    verifier = prepare_database(settings)
    assert verifier.startswith(ORIGIN)
    assert mode(data) == 0o700
    for name in ("ledger.sqlite3", "log.key", "server.key"):
        assert mode(data / name) == 0o600, name


def test_a_secret_file_gets_a_private_new_folder(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "keys" / "officer.pem"
    write_secret_file(path, "k")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
