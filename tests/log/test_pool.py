"""Pooled PostgreSQL connections: no round trip to check a live one, a dead one is replaced."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from ledger.processes import wait_for


def _terminate_others(engine) -> list[int]:
    """Terminate every other backend on the database; returns their process ids."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        return [pid for pid, terminated in rows if terminated]


def _exited(engine, pids: list[int]) -> bool:
    """None of ``pids`` is a backend any more (asked on a connection outside the pool).

    A terminated backend sends its client the FATAL message before it leaves
    pg_stat_activity, so by then the pooled connection has input waiting.
    """
    probe = create_engine(engine.url, poolclass=NullPool)
    try:
        with probe.connect() as conn:
            query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
            return conn.execute(query, {"pids": pids}).scalar() == 0
    finally:
        probe.dispose()


@pytest.mark.postgres
def test_live_connections_are_not_pinged(engine, is_postgres) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for _ in range(3):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 2")).scalar() == 2
    assert statements == ["SELECT 2"] * 3  # and no "SELECT 1" pre-ping


@pytest.mark.postgres
def test_connections_closed_by_the_server_are_replaced(engine, is_postgres) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    with engine.connect() as a, engine.connect() as b:  # two pooled connections
        a.execute(text("SELECT 1"))
        b.execute(text("SELECT 1"))
    terminated = _terminate_others(engine)  # from one of them: the other one dies
    assert terminated
    wait_for(lambda: _exited(engine, terminated), 10, interval=0.02, what="the backend to exit")
    for _ in range(4):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 3")).scalar() == 3
