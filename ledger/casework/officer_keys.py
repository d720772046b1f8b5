"""Officer keys on the log: the registry folded from their entries, and registering or
revoking a key (each a log entry, indexed in ``officer_key_entries``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from ledger.casework.appends import ChainConflict, Hooks, run_check, run_write
from ledger.casework.clock import Clock, utc_now
from ledger.casework.records import EventBody, OfficerKeyEntry
from ledger.complaints.events import BuiltEvent, Envelope, parse_envelope
from ledger.complaints.officers import (
    OfficerRegistry,
    build_key_registration,
    build_key_revocation,
)
from ledger.db import read_engine
from ledger.errors import LedgerError
from ledger.logstore.sequencer import Sequencer
from ledger.logstore.store import LogStore, PendingEntry, Receipt


class OfficerKeyNotFound(LedgerError, LookupError):
    """No officer key with this id."""


class OfficerKeys:
    def __init__(
        self,
        engine: Engine,
        store: LogStore,
        sequencer: Sequencer,
        clock: Clock = utc_now,
    ) -> None:
        self.reader = read_engine(engine)
        self.store = store
        self.sequencer = sequencer
        self.clock = clock
        self._registry: tuple[int, OfficerRegistry] | None = None

    def registry(self) -> OfficerRegistry:
        """Officer keys folded from their log entries, in log order (cached by entry count)."""
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(OfficerKeyEntry.log_index).order_by(OfficerKeyEntry.log_index)
            ).all()
        indexes = [r[0] for r in rows]
        cached = self._registry
        if cached is not None and cached[0] == len(indexes):
            return cached[1]
        leaves = self.store.entries_at(indexes)
        registry = OfficerRegistry.fold([leaves[i] for i in indexes])
        self._registry = (len(indexes), registry)
        return registry

    def entries(self, key_id: str) -> list[tuple[int, Envelope]]:
        """The key's registration (and revocation, if any): log index and envelope."""
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(OfficerKeyEntry.log_index)
                .where(OfficerKeyEntry.key_id == key_id)
                .order_by(OfficerKeyEntry.seq)
            ).all()
        if not rows:
            raise OfficerKeyNotFound(key_id)
        leaves = self.store.entries_at([r[0] for r in rows])
        return [(r[0], parse_envelope(leaves[r[0]])) for r in rows]

    def register(
        self,
        *,
        admin_id: str,
        public_key: bytes,
        roles: list[str],
        valid_from: datetime | str,
        valid_until: datetime | str | None,
        name: str,
        limits: Mapping[str, Any] | None = None,
        hooks: Hooks | None = None,
    ) -> tuple[Envelope, Receipt]:
        built = build_key_registration(
            log=self.store.origin,
            at=self.clock(),
            admin_id=admin_id,
            public_key=public_key,
            roles=roles,
            valid_from=valid_from,
            valid_until=valid_until,
            name=name,
            limits=limits,
        )
        key_id = built.envelope.public["key_id"]
        # Fold it into the registry first: refuses duplicates and bad validity periods.
        self.registry().add(built.envelope)
        return self._append(key_id, 0, built, hooks)

    def revoke(
        self,
        *,
        admin_id: str,
        key_id: str,
        reason: str,
        hooks: Hooks | None = None,
    ) -> tuple[Envelope, Receipt]:
        entries = self.entries(key_id)
        built = build_key_revocation(
            log=self.store.origin,
            at=self.clock(),
            admin_id=admin_id,
            registration=entries[0][1],
            reason=reason,
        )
        self.registry().add(built.envelope)
        return self._append(key_id, 1, built, hooks)

    def _append(
        self, key_id: str, seq: int, built: BuiltEvent, hooks: Hooks | None
    ) -> tuple[Envelope, Receipt]:
        def check(conn: Connection) -> None:
            run_check(hooks, conn)
            taken = conn.execute(
                select(OfficerKeyEntry.seq).where(
                    OfficerKeyEntry.key_id == key_id, OfficerKeyEntry.seq == seq
                )
            ).first()
            if taken is not None:
                raise ChainConflict(
                    "this officer key is already registered"
                    if seq == 0
                    else "this officer key is already revoked"
                )

        def write(conn: Connection, index: int, leaf_hash: bytes) -> None:
            conn.execute(
                insert(OfficerKeyEntry).values(
                    key_id=key_id, seq=seq, log_index=index, leaf_hash=leaf_hash.hex()
                )
            )
            conn.execute(
                insert(EventBody).values(
                    leaf_hash=leaf_hash.hex(), salt=built.salt, body_jcs=built.body_jcs
                )
            )
            run_write(hooks, conn, index, leaf_hash)

        receipt = self.sequencer.append(PendingEntry(built.leaf, check, write))
        self._registry = None
        return built.envelope, receipt
