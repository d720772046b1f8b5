"""Pooled PostgreSQL connections: no round trip to check a live one, a dead one is replaced."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text


def _terminate_others(engine) -> None:
    with engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )


def test_live_connections_are_not_pinged(engine, is_postgres) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for _ in range(3):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 2")).scalar() == 2
    assert statements == ["SELECT 2"] * 3  # and no "SELECT 1" pre-ping


def test_connections_closed_by_the_server_are_replaced(engine, is_postgres) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    with engine.connect() as a, engine.connect() as b:  # two pooled connections
        a.execute(text("SELECT 1"))
        b.execute(text("SELECT 1"))
    _terminate_others(engine)  # from one of them: the other one dies
    time.sleep(0.2)  # the backends exit (their sockets close) asynchronously
    for _ in range(4):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 3")).scalar() == 3
