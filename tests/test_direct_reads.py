"""``ledger.db.DirectReads``: the status read's own connections answer like the engine, and a
connection the server killed is dropped without failing the read (on SQLite, the engine)."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select, text

from ledger.casework.worklist import WorkItemRow
from ledger.db import DirectReads, make_engine

SEQ = select(WorkItemRow.seq, WorkItemRow.queue).where(
    WorkItemRow.reference == bindparam("reference")
)
ROW = {
    "reference": "CMP-TEST", "seq": 3, "status": "acknowledged", "category": "sync_fault",
    "language": "en", "channel": "email", "jurisdiction": "EU-PSD2", "level": "agent",
    "queue": "sync_fault.en", "open": True, "cycle": 0, "breached": False, "indexed": True,
    "updated_at": datetime(2026, 3, 2, 10, tzinfo=UTC),
}  # fmt: skip


def test_reads_answer_like_the_engine_and_survive_a_killed_connection(
    database_url, is_postgres
) -> None:
    engine = make_engine(database_url)
    direct = DirectReads(engine)
    try:
        with engine.begin() as conn:
            conn.execute(WorkItemRow.__table__.insert(), [ROW])
        assert direct.first(SEQ, {"reference": "CMP-TEST"}) == (3, "sync_fault.en")
        assert direct.first(SEQ, {"reference": "CMP-NONE"}) is None
        if not is_postgres:
            return
        [held] = direct._idle  # one connection, reused
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": held.info.backend_pid})
        # The killed connection fails; the engine answers, and the dead one is gone.
        assert direct.first(SEQ, {"reference": "CMP-TEST"}) == (3, "sync_fault.en")
        assert held not in direct._idle and held.closed
        assert direct.first(SEQ, {"reference": "CMP-TEST"}) == (3, "sync_fault.en")
        assert len(direct._idle) == 1 and not direct._idle[0].closed
    finally:
        direct.close()
        engine.dispose()


def test_a_direct_connection_gives_up_after_the_engines_connect_timeout(is_postgres) -> None:
    """A server that takes the connection and never answers (a hung host): the direct read's
    own connection gives up after LEDGER_DB_CONNECT_TIMEOUT as the engine's do, not after a
    fixed 5 s (libpq waits at least 2 s)."""
    if not is_postgres:
        pytest.skip("PostgreSQL only: SQLite has no connections to open")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nothing ever answers
    port = silent.getsockname()[1]
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{port}/test", connect_timeout=2)
    direct = DirectReads(engine)
    try:
        started = time.monotonic()
        assert direct._take() is None  # no connection: the read falls back to the engine
        waited = time.monotonic() - started
        assert 1.5 <= waited < 4.5, waited
    finally:
        direct.close()
        engine.dispose()
        silent.close()
