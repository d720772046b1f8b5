"""An attacker with database access rewrites an entry or a tile (after dropping the triggers):
the integrity check names the index, and proofs served afterwards fail against the checkpoint
signed before the tamper."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from api import create_app
from ledger.log import merkle
from ledger.log.checkpoint import open_checkpoint
from ledger.log.encoding import parse_hash, parse_hashes
from ledger.logstore.integrity import check_integrity
from ledger.runtime import Ledger

ROOT = Path(__file__).resolve().parents[2]


def _drop_trigger(conn, table: str, postgres: bool) -> None:
    if postgres:
        conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
    else:
        conn.execute(text(f"DROP TRIGGER {table}_no_update"))


@pytest.fixture
def filled(ledger: Ledger):
    for i in range(0, 1000, 250):
        ledger.sequencer.append_many([f"entry {j}".encode() for j in range(i, i + 250)])
    before = open_checkpoint(
        ledger.store.latest_checkpoint().note, ledger.store.verifier, ledger.store.origin
    )
    assert before.size == 1000 and check_integrity(ledger.store).ok
    return ledger, before


def _served_proof_verifies(ledger: Ledger, index: int, checkpoint) -> bool:
    ledger.store.clear_caches()  # a fresh server process would have no cache either
    client = create_app(ledger.settings, ledger).test_client()
    body = client.get(f"/v1/log/proof/inclusion?index={index}&tree_size={checkpoint.size}").json
    proof = parse_hashes(body["proof"])
    try:
        merkle.verify_inclusion(
            index, checkpoint.size, parse_hash(body["leaf_hash"]), proof, checkpoint.root
        )
    except merkle.ProofError:
        return False
    return True


def test_tampered_entry_is_reported_and_its_proof_fails(filled, is_postgres) -> None:
    ledger, before = filled
    assert _served_proof_verifies(ledger, 777, before)
    with ledger.engine.begin() as conn:
        _drop_trigger(conn, "log_entries", is_postgres)
        conn.execute(text("UPDATE log_entries SET data = :d WHERE idx = 777"), {"d": b"forged"})
    report = check_integrity(ledger.store)
    assert not report.ok
    assert report.first.index == 777
    assert "leaf hash" in report.first.what
    assert not _served_proof_verifies(ledger, 777, before)


def test_tampered_tile_is_reported_and_proofs_through_it_fail(filled, is_postgres) -> None:
    ledger, before = filled
    with ledger.engine.begin() as conn:
        _drop_trigger(conn, "log_tiles", is_postgres)
        blob = conn.execute(
            text("SELECT hashes FROM log_tiles WHERE level = 0 AND idx = 1")
        ).scalar_one()
        forged = blob[: 5 * 32] + bytes(32) + blob[6 * 32 :]
        conn.execute(
            text("UPDATE log_tiles SET hashes = :h WHERE level = 0 AND idx = 1"), {"h": forged}
        )
    report = check_integrity(ledger.store)
    assert not report.ok
    assert report.first.index == 256 + 5
    assert "tile 0/1" in report.first.what
    # Leaf 260's audit path uses the hash of leaf 261, which now comes from the forged tile.
    assert not _served_proof_verifies(ledger, 260, before)
    # A proof that does not touch the forged tile still verifies.
    assert _served_proof_verifies(ledger, 10, before)


def _run_check(ledger: Ledger) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "check_integrity.py"),
            "--database-url",
            ledger.settings.database_url,
            "--origin",
            ledger.store.origin,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_integrity_cli_reports_the_index(filled, is_postgres) -> None:
    ledger, _ = filled
    ok = _run_check(ledger)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    with ledger.engine.begin() as conn:
        _drop_trigger(conn, "log_entries", is_postgres)
        conn.execute(text("UPDATE log_entries SET data = :d WHERE idx = 42"), {"d": b"x"})
    bad = _run_check(ledger)
    assert bad.returncode == 1
    assert "TAMPERED: first divergence at index 42" in bad.stdout
