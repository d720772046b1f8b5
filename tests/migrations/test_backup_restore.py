"""Backup and restore: a restored log is served only when it matches its anchored checkpoint."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from api import create_app
from ledger.anchoring.contract import log_id_for_origin
from ledger.anchoring.models import AnchorRecord, AnchorState
from ledger.backup import (
    REFUSED,
    VERIFIED,
    UnverifiedDatabase,
    add_mark,
    dump_database,
    latest_mark,
    restore_database,
    verify_database,
)
from ledger.config import Settings
from ledger.db import make_engine
from ledger.log.keys import create_key_file
from ledger.runtime import open_ledger

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "backup.test/log"
COMPLAINT = {"category": "stuck_transaction", "channel": "email", "description": "lost funds"}


@pytest.fixture
def source(scratch, tmp_path: Path) -> Settings:
    """A ledger with a few complaints whose latest checkpoint is anchored (confirmed)."""
    key = tmp_path / "log.key"
    create_key_file(key, ORIGIN)
    settings = Settings(
        data_dir=tmp_path, database_url=scratch.create(), log_origin=ORIGIN, log_key_file=key
    )
    led = open_ledger(settings)
    try:
        client = create_app(settings, led).test_client()
        for _ in range(3):
            assert client.post("/v1/complaints", json=COMPLAINT).status_code == 201
        cp = led.store.latest_checkpoint()
        record_anchor(led.engine, cp.size, cp.root)
    finally:
        led.close()
    return settings


def record_anchor(engine, size: int, root: bytes) -> None:
    """A confirmed anchor record, as the anchor worker writes it."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(AnchorRecord).values(
                log_origin=ORIGIN,
                log_id=log_id_for_origin(ORIGIN),
                tree_size=size,
                root_hash=root,
                from_size=0,
                note_hash=b"\1" * 32,
                chain_id=31337,
                contract_address="0x" + "ab" * 20,
                sender="0x" + "cd" * 20,
                nonce=0,
                tx_hash=b"\2" * 32,
                raw_tx=b"raw",
                gas_limit=1,
                max_fee_per_gas=1,
                max_priority_fee_per_gas=1,
                state=AnchorState.CONFIRMED,
                confirmations=1,
                broadcasts=1,
                reorgs=0,
                created_at=now,
                updated_at=now,
            )
        )


def restored_settings(source: Settings, scratch) -> Settings:
    return replace(source, database_url=scratch.new())


def tamper(url: str, statements: list[str]) -> None:
    """Alter rows behind the append-only triggers (as an attacker with database access)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("ALTER TABLE log_entries DISABLE TRIGGER USER"))
            else:
                conn.execute(text("DROP TRIGGER log_entries_no_update"))
            for stmt in statements:
                conn.execute(text(stmt))
    finally:
        engine.dispose()


def test_unaltered_backup_is_verified_and_served(source: Settings, scratch, tmp_path) -> None:
    backup = tmp_path / "ledger.backup"
    dump_database(source.database_url, backup)
    target = restored_settings(source, scratch)
    restore_database(target.database_url, backup)
    if source.database_url.startswith("sqlite"):
        # Both copies hold personal data: private to the service's user.
        restored = Path(target.database_url.removeprefix("sqlite:///"))
        assert {oct(p.stat().st_mode & 0o777) for p in (backup, restored)} == {"0o600"}

    # Restored but not yet checked: not served.
    with pytest.raises(UnverifiedDatabase):
        open_ledger(target)

    report = verify_database(target)
    assert report.ok, report.summary()
    assert report.log_size == 3 and report.anchored_size == 3
    engine = make_engine(target.database_url)
    assert latest_mark(engine).state == VERIFIED
    engine.dispose()

    led = open_ledger(target)
    try:
        client = create_app(target, led).test_client()
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/complaints", json=COMPLAINT).status_code == 201
    finally:
        led.close()


@pytest.mark.parametrize(
    "alteration",
    [
        # An entry's bytes changed: the recomputed tree no longer matches.
        ["UPDATE log_entries SET data = CAST('forged' AS BLOB) WHERE idx = 1"],
        # The anchor says another root for the anchored size.
        ["UPDATE anchor_records SET root_hash = tx_hash"],
    ],
    ids=["entry-bytes", "anchored-root"],
)
def test_altered_backup_is_refused(
    source: Settings, scratch, tmp_path, alteration: list[str]
) -> None:
    if source.database_url.startswith("postgresql"):
        alteration = [s.replace("CAST('forged' AS BLOB)", "'forged'::bytea") for s in alteration]
    tamper(source.database_url, alteration)
    backup = tmp_path / "altered.backup"
    dump_database(source.database_url, backup)
    target = restored_settings(source, scratch)
    restore_database(target.database_url, backup)

    report = verify_database(target)
    assert not report.ok
    engine = make_engine(target.database_url)
    status = latest_mark(engine)
    engine.dispose()
    assert status.state == REFUSED and status.detail
    with pytest.raises(UnverifiedDatabase, match="refused"):
        open_ledger(target)


def test_anchor_beyond_the_restored_log_is_refused(source: Settings, scratch, tmp_path) -> None:
    """A backup older than what the chain anchored has lost acknowledged entries."""
    backup = tmp_path / "old.backup"
    dump_database(source.database_url, backup)
    target = restored_settings(source, scratch)
    restore_database(target.database_url, backup)
    engine = make_engine(target.database_url)
    record_anchor_at = text("UPDATE anchor_records SET tree_size = 10")
    with engine.begin() as conn:
        conn.execute(record_anchor_at)
    engine.dispose()
    report = verify_database(target)
    assert not report.ok and "missing" in report.summary()


def test_readyz_refuses_an_unverified_or_inconsistent_database(source: Settings) -> None:
    led = open_ledger(source)
    try:
        client = create_app(source, led).test_client()
        assert client.get("/readyz").status_code == 200

        # An anchor that disagrees with the log: not ready.
        record = text("UPDATE anchor_records SET root_hash = tx_hash")
        with led.engine.begin() as conn:
            conn.execute(record)
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert resp.mimetype == "application/problem+json"
        assert "anchor" in resp.json["not_ready"]

        # A restore mark that was not verified: not ready either.
        with led.engine.begin() as conn:
            add_mark(conn, "some.backup")
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert "restore" in resp.json["not_ready"]
    finally:
        led.close()


@pytest.mark.slow
def test_backup_command_round_trip(source: Settings, scratch, tmp_path) -> None:
    """scripts/backup.py dump | restore (which verifies) | verify, as an operator runs it."""
    backup = tmp_path / "cli.backup"
    env = {
        "LEDGER_DATABASE_URL": source.database_url,
        "LEDGER_DATA_DIR": str(tmp_path),
        "LEDGER_LOG_ORIGIN": ORIGIN,
        "LEDGER_LOG_KEY_FILE": str(source.log_key_file),
        "PATH": "/usr/bin:/bin",
    }

    def run(*args: str, url: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "backup.py"), *args],
            env=env | {"LEDGER_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = run("dump", "--out", str(backup), url=source.database_url)
    assert done.returncode == 0, done.stderr
    target = scratch.new()
    done = run("restore", str(backup), url=target)
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout
    done = run("restore", str(backup), url=target)  # not over a live database
    assert done.returncode == 2 and "force" in done.stderr
    if not target.startswith("postgresql"):
        # Alter the restored file directly, then check it again: refused.
        path = make_url(target).database
        conn = sqlite3.connect(path)
        conn.execute("DROP TRIGGER log_entries_no_update")
        conn.execute("UPDATE log_entries SET data = x'00' WHERE idx = 0")
        conn.commit()
        conn.close()
        engine = make_engine(target)
        with engine.begin() as c:
            add_mark(c, "cli.backup")
        engine.dispose()
        done = run("verify", url=target)
        assert done.returncode == 1 and "REFUSED" in done.stderr
