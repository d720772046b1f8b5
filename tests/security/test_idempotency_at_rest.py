"""Idempotency records at rest: no key or secret in the database, nothing opens without the
server secret, anonymous keys scoped to the request, records expire and are purged."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from api import create_app
from ledger.access.apikeys import create_api_key
from ledger.casework.records import IdempotencyRecord
from ledger.config import Settings
from ledger.idempotency import CannotOpen, IdempotencyRecords
from ledger.processes import wait_for
from ledger.runtime import open_ledger
from ledger.secretfiles import SecretFileError, load_secret_key
from tests.support.callers import COMPLAINT, bearer

KEY = "probe-key-3f9c1e7a"
OTHER_BODY = {**COMPLAINT, "description": "someone else's complaint, John Doe"}


def file(client, body: dict, key: str = KEY, headers: dict | None = None):
    return client.post(
        "/v1/complaints", json=body, headers={"Idempotency-Key": key, **(headers or {})}
    )


def request_hash(body: bytes) -> bytes:
    """As api.idempotency hashes a filing: method, path and the exact body."""
    return hashlib.sha256(b"POST /v1/complaints\n" + body).digest()


def raw_database(settings: Settings) -> bytes:
    """Every byte SQLite keeps for the ledger (main file and write-ahead log)."""
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    parts = [path, path.with_name(path.name + "-wal")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def stored_rows(settings: Settings) -> list[tuple]:
    path = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM idempotency_records").fetchall()


@pytest.fixture
def sqlite_only(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("reads the SQLite file's raw bytes")


def test_the_database_holds_no_key_and_no_secret(ledger, client, settings, sqlite_only) -> None:
    first = file(client, COMPLAINT)
    assert first.status_code == 201
    secret, reference = first.json["secret"], first.json["reference"]
    again = file(client, COMPLAINT)
    assert again.json["secret"] == secret  # the record works: it is replayed

    raw = raw_database(settings)
    assert secret.encode() not in raw
    assert secret.removeprefix("cs_").encode() not in raw
    assert KEY.encode() not in raw
    rows = stored_rows(settings)
    assert len(rows) == 1
    for value in rows[0]:
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        assert secret not in text and KEY not in text and reference not in text


def test_a_record_does_not_open_without_the_server_secret(ledger, client) -> None:
    body = b'{"category": "hacked_account", "channel": "email", "description": "d"}'
    resp = client.post(
        "/v1/complaints",
        data=body,
        content_type="application/json",
        headers={"Idempotency-Key": KEY},
    )
    assert resp.status_code == 201
    with ledger.engine.connect() as conn:
        row = conn.execute(select(IdempotencyRecord.__table__)).one()

    # Someone with the database and even the raw key and request, but another secret.
    guess = IdempotencyRecords(ledger.engine, b"\x07" * 32, 3600)
    keys = guess.keys_for("anonymous", KEY, request_hash(body), bind_request=True)
    assert keys.key_hash != row.key_hash  # the row cannot even be found
    with pytest.raises(CannotOpen):
        keys.open(row.response)
    # The pre-hardening derivation (SHA-256 of principal and key) opens nothing either.
    legacy = replace(keys, key_hash=row.key_hash, seal_key=_legacy_key(KEY))
    with pytest.raises(CannotOpen):
        legacy.open(row.response)
    # The server secret without the request (another body) does not open it either.
    wrong = ledger.idempotency.keys_for("anonymous", KEY, request_hash(b"{}"), bind_request=False)
    with pytest.raises(CannotOpen):
        replace(wrong, key_hash=row.key_hash).open(row.response)
    # Control: the server secret with the exact request opens it, and it holds the secret.
    right = ledger.idempotency.keys_for("anonymous", KEY, request_hash(body), bind_request=True)
    assert right.key_hash == row.key_hash
    assert right.open(row.response)["secret"] == resp.json["secret"]


def _legacy_key(key: str) -> bytes:
    return hashlib.sha256(f"ledger-idempotency\nanonymous\n{key}".encode()).digest()


def test_the_server_key_file_is_private(ledger, settings) -> None:
    path = settings.server_key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_secret_key(path)) == 32
    path.chmod(0o644)
    with pytest.raises(SecretFileError, match="0600"):
        load_secret_key(path)
    path.chmod(0o600)
    path.write_text("not hex\n")
    with pytest.raises(SecretFileError, match="32 hex bytes"):
        load_secret_key(path)


def test_server_key_path_and_ttl_come_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LEDGER_SERVER_KEY_FILE", str(tmp_path / "elsewhere.key"))
    monkeypatch.setenv("LEDGER_IDEMPOTENCY_TTL", "600")
    s = Settings(data_dir=tmp_path)
    assert s.server_key_file == tmp_path / "elsewhere.key" and s.idempotency_ttl == 600
    monkeypatch.delenv("LEDGER_SERVER_KEY_FILE")
    monkeypatch.delenv("LEDGER_IDEMPOTENCY_TTL")
    s = Settings(data_dir=tmp_path)
    assert s.server_key_file == tmp_path / "server.key" and s.idempotency_ttl == 86400
    monkeypatch.setenv("LEDGER_IDEMPOTENCY_TTL", "0")
    with pytest.raises(ValueError, match="LEDGER_IDEMPOTENCY_TTL"):
        Settings(data_dir=tmp_path)


def test_an_anonymous_key_is_not_shared_between_filers(ledger, client) -> None:
    a = file(client, COMPLAINT)
    size = ledger.store.size()
    # Filer B picks the same key for another complaint: a complaint of its own, no hint.
    b = file(client, OTHER_BODY)
    assert b.status_code == 201
    assert b.json["reference"] != a.json["reference"]
    assert b.json["secret"] != a.json["secret"]
    assert a.json["secret"] not in b.get_data(as_text=True)
    assert ledger.store.size() == size + 1
    # Each retry (byte-identical) gets its own first answer, and appends nothing.
    assert file(client, COMPLAINT).json["secret"] == a.json["secret"]
    assert file(client, OTHER_BODY).json["secret"] == b.json["secret"]
    assert ledger.store.size() == size + 1


def test_keys_of_callers_are_scoped_apart(ledger, client) -> None:
    """An agent's key and the same anonymous key are different records."""
    token, _ = create_api_key(ledger.engine, "agent key", "agent")
    anonymous = file(client, COMPLAINT)
    agent = file(client, COMPLAINT, headers=bearer(token))
    assert agent.status_code == 201
    assert agent.json["reference"] != anonymous.json["reference"]
    # An authenticated caller owns its key: another request with it is refused.
    refused = file(client, OTHER_BODY, headers=bearer(token))
    assert refused.status_code == 422
    assert refused.json["type"].endswith("idempotency-key-reused")


def _age_records(ledger, by: timedelta) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(update(IdempotencyRecord).values(created_at=datetime.now(UTC) - by))


def _count(ledger) -> int:
    with ledger.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(IdempotencyRecord)).scalar_one()


def test_an_expired_record_is_ignored_and_replaced(ledger, client) -> None:
    first = file(client, COMPLAINT)
    _age_records(ledger, timedelta(seconds=ledger.settings.idempotency_ttl + 1))
    later = file(client, COMPLAINT)  # past the TTL: a new request
    assert later.status_code == 201
    assert later.json["reference"] != first.json["reference"]
    assert _count(ledger) == 1  # the expired record gave way to the new one
    assert file(client, COMPLAINT).json["reference"] == later.json["reference"]


def test_expired_records_are_purged(ledger, client) -> None:
    file(client, COMPLAINT)
    file(client, OTHER_BODY, key="fresh-key")
    assert ledger.idempotency.purge() == 0  # both live
    _age_records(ledger, timedelta(hours=25))
    file(client, COMPLAINT, key="newest-key")
    assert ledger.idempotency.purge() == 2
    assert _count(ledger) == 1


def test_expired_records_are_purged_when_the_ledger_opens(ledger, client, settings) -> None:
    file(client, COMPLAINT)
    _age_records(ledger, timedelta(hours=25))
    reopened = open_ledger(settings)
    try:
        assert _count(reopened) == 0
    finally:
        reopened.close()


def test_the_purge_runs_periodically(ledger, client) -> None:
    """The background purger of a running API process, on a short interval."""
    ledger.idempotency.close()  # the fixture's hourly purger
    ledger.idempotency.start_purging(interval=0.05)  # purges once now: nothing expired yet
    file(client, COMPLAINT)
    _age_records(ledger, timedelta(hours=25))
    wait_for(lambda: _count(ledger) == 0, 10, interval=0.05, what="the periodic purge")


def test_a_short_ttl_from_settings_applies(settings, tmp_path) -> None:
    short = Settings(**{**settings.__dict__, "idempotency_ttl": 1})
    led = open_ledger(short)
    try:
        client = create_app(short, led).test_client()
        first = file(client, COMPLAINT)
        assert file(client, COMPLAINT).json["reference"] == first.json["reference"]
        _age_records(led, timedelta(seconds=2))
        assert file(client, COMPLAINT).json["reference"] != first.json["reference"]
    finally:
        led.close()


def test_a_tampered_record_is_refused_not_replayed(ledger, client) -> None:
    first = file(client, COMPLAINT)
    with ledger.engine.begin() as conn:
        sealed = conn.execute(select(IdempotencyRecord.response)).scalar_one()
        flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
        conn.execute(update(IdempotencyRecord).values(response=flipped))
    retry = file(client, COMPLAINT)
    assert retry.status_code == 409
    assert retry.mimetype == "application/problem+json"
    assert retry.json["type"].endswith("/conflict")
    assert first.json["secret"] not in retry.get_data(as_text=True)
