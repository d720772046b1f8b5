"""Fast checks of what the soak relies on: database faults answer 503 problem+json (never
500), a pool of dead connections recovers by itself, and a Redis outage does not stop the
API. These run in every session; the soak itself is tests/soak/test_soak.py."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ledger.logstore.sequencer import SequencerClosed

COMPLAINT = {"category": "sync_fault", "channel": "chat", "description": "wallet out of sync"}


class _SqlState(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        InterfaceError("SELECT 1", {}, Exception("connection already closed")),
        PoolTimeout("QueuePool limit reached"),
        PendingRollbackError("can't reconnect until invalid transaction is rolled back"),
        SequencerClosed("the sequencer is stopped"),
        psycopg.OperationalError("consuming input failed"),
        DBAPIError("COMMIT", {}, _SqlState("57P01")),  # admin shutdown
        DBAPIError("COMMIT", {}, _SqlState("08006")),  # connection failure
    ],
    ids=lambda e: type(e).__name__,
)
def test_database_faults_answer_503(app, client, monkeypatch, error) -> None:
    ledger = app.extensions["ledger"]

    def fail(*_a, **_k):
        raise error

    monkeypatch.setattr(ledger.complaints.writes, "file", fail)
    resp = client.post("/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": "k1"})
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    assert resp.json["type"] == "/problems/unavailable"
    assert resp.headers["Retry-After"]


def test_statement_errors_are_not_masked_as_503(app, client, monkeypatch) -> None:
    ledger = app.extensions["ledger"]

    def fail(*_a, **_k):
        raise IntegrityError("INSERT", {}, _SqlState("23505"))

    monkeypatch.setattr(ledger.complaints.writes, "file", fail)
    resp = client.post("/v1/complaints", json=COMPLAINT)
    assert resp.status_code == 500
    assert resp.mimetype == "application/problem+json"


@pytest.mark.postgres
def test_dead_pooled_connections_are_replaced(app, client, is_postgres) -> None:
    """What a PostgreSQL restart leaves behind: every pooled connection is dead."""
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    ledger = app.extensions["ledger"]
    assert client.post("/v1/complaints", json=COMPLAINT).status_code == 201
    with ledger.engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    for _ in range(3):
        assert client.post("/v1/complaints", json=COMPLAINT).status_code == 201
    assert client.get("/readyz").status_code == 200


def test_redis_outage_does_not_stop_the_api(ledger) -> None:
    """Rate limits fall back to per-process memory while Redis is unreachable."""
    from dataclasses import replace

    from api import create_app

    settings = replace(ledger.settings, redis_url="redis://127.0.0.1:1/0")
    client = create_app(settings, ledger).test_client()
    assert client.post("/v1/complaints", json=COMPLAINT).status_code == 201
    assert client.get("/v1/log/keys").status_code == 200
