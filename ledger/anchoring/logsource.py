"""The real log store as the anchor worker's CheckpointSource.

The worker only reads: it needs the log's checkpoints, proofs and verifier key, never its
signing key. ``open_store_readonly`` opens a ``LogStore`` with the verifier key stored in the
``logs`` table, so the worker can run where the log signing key is not.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.log.note import Verifier
from ledger.logstore.models import Log
from ledger.logstore.store import LogStore


class LogNotInitialised(LedgerError, RuntimeError):
    """The log has no row in the database yet (start the API once, or initialise it)."""


def open_store_readonly(engine: Engine, origin: str) -> LogStore:
    """A LogStore for reading (no signer), keyed by the verifier key the log was created with."""
    with engine.connect() as conn:
        vkey = conn.execute(select(Log.verifier_key).where(Log.origin == origin)).scalar()
    if vkey is None:
        raise LogNotInitialised(f"no log with origin {origin!r} in the database")
    return LogStore(engine, origin, verifier=Verifier.from_string(vkey))


class StoreCheckpointSource:
    """``CheckpointSource`` over a ``LogStore``; exposes the log's ``verifier`` and ``origin``
    so the worker checks the checkpoint note's signature before anchoring it."""

    def __init__(self, store: LogStore) -> None:
        self.store = store

    @property
    def verifier(self) -> Verifier:
        return self.store.verifier

    @property
    def origin(self) -> str:
        return self.store.origin

    def latest_checkpoint(self) -> tuple[int, bytes, bytes]:
        cp = self.store.latest_checkpoint()
        return cp.size, cp.root, cp.note.encode("utf-8")

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return self.store.consistency_proof(size1, size2)

    def root_at(self, size: int) -> bytes:
        return self.store.root_at(size)


def store_source(engine: Engine) -> StoreCheckpointSource:
    """Default source factory of scripts/anchor_worker.py: the log of ``LEDGER_LOG_ORIGIN``
    in the worker's database, opened read-only."""
    return StoreCheckpointSource(open_store_readonly(engine, Settings().log_origin))
