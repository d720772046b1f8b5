"""The complaint write and read paths on a running ledger (database + log).

Every step is checked by the pure domain (``workflow``) before anything is written; the
leaf, its index rows, its body and salt, and the idempotency record commit in the same
transaction as the log append (``PendingEntry``), so a crash leaves all or nothing.
Appends to one complaint are serialised: in-process by a lock per complaint, across
processes by checking the chain head inside the log's write transaction.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ledger.access.secrets import hash_secret, new_secret, secret_matches
from ledger.casework.facts import write_fact
from ledger.casework.records import (
    AccessRecord,
    ComplaintEvent,
    ComplaintRecord,
    EventBody,
    OfficerKeyEntry,
)
from ledger.complaints.deadlines import get_jurisdiction
from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Actor, BuiltEvent, Envelope, parse_envelope
from ledger.complaints.figures import Fact
from ledger.complaints.officers import (
    OfficerRegistry,
    build_key_registration,
    build_key_revocation,
)
from ledger.complaints.states import ComplaintState, replay
from ledger.complaints.texts import MessageFacts, render_message
from ledger.complaints.vocab import SIGNED_EVENTS, EventType, Role
from ledger.complaints.workflow import append_event, start_complaint
from ledger.errors import LedgerError
from ledger.logstore.models import LogEntry
from ledger.logstore.sequencer import Sequencer
from ledger.logstore.store import LogError, LogStore, PendingEntry, Receipt, Rejected, defer_insert

CAPABILITY_PREFIX = "cs_"
RESPOND_WITHIN = timedelta(days=14)
# Steps whose body carries the customer letter rendered from a template.
LETTERS = {
    "acknowledged": "acknowledgement",
    "info_requested": "info_request",
    "holding_reply": "holding_reply",
    "decision": "decision",
    "compensation_offered": "compensation_offer",
}
MAX_RETRIES = 5

# Read statements built once (building one costs more than running it from the cache).
_SEQ = select(ComplaintRecord.seq).where(ComplaintRecord.reference == bindparam("reference"))
_CAPABILITY = select(ComplaintRecord.capability_hash).where(
    ComplaintRecord.reference == bindparam("reference")
)
# The chain-head check of a step: moves the head only if it is still where the step began.
_MOVE_HEAD = (
    update(ComplaintRecord.__table__)
    .where(ComplaintRecord.reference == bindparam("b_reference"))
    .where(ComplaintRecord.seq == bindparam("b_expected_seq"))
    .values(
        seq=bindparam("b_seq"),
        head=bindparam("b_head"),
        status=bindparam("b_status"),
        updated_at=bindparam("b_updated_at"),
    )
)
_EVENTS = (
    select(
        ComplaintEvent.seq,
        ComplaintEvent.log_index,
        LogEntry.data,
        EventBody.salt,
        EventBody.body_jcs,
        EventBody.erased_by,
    )
    .join(EventBody, EventBody.leaf_hash == ComplaintEvent.leaf_hash)
    .outerjoin(
        LogEntry,
        (LogEntry.log_id == bindparam("log_id")) & (LogEntry.idx == ComplaintEvent.log_index),
    )
    .where(ComplaintEvent.reference == bindparam("reference"))
    .order_by(ComplaintEvent.seq)
)


class ComplaintNotFound(LedgerError, LookupError):
    """No complaint with this reference."""


class ChainConflict(Rejected):
    """The complaint changed since the step was prepared (another writer got there first)."""


class OfficerKeyNotFound(LedgerError, LookupError):
    """No officer key with this id."""


@dataclass(frozen=True)
class Recorded:
    """A step written to the log: its envelope, the complaint state after it, its receipt."""

    envelope: Envelope
    state: ComplaintState
    receipt: Receipt


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    log_index: int
    envelope: Envelope
    salt: bytes | None
    body_jcs: bytes | None
    erased_by: str | None


@dataclass(frozen=True)
class Hooks:
    """Caller work that joins a step's write transaction (e.g. an idempotency record)."""

    check: Callable[[Connection], None] | None = None
    write: Callable[[Connection, int, bytes], None] | None = None


def _run_hooks_check(hooks: Hooks | None, conn: Connection) -> None:
    if hooks is not None and hooks.check is not None:
        hooks.check(conn)


def _run_hooks_write(hooks: Hooks | None, conn: Connection, index: int, leaf: bytes) -> None:
    if hooks is not None and hooks.write is not None:
        hooks.write(conn, index, leaf)


def new_capability_secret() -> str:
    return CAPABILITY_PREFIX + new_secret()


def _now() -> datetime:
    return datetime.now(UTC)


class ComplaintService:
    def __init__(
        self,
        engine: Engine,
        store: LogStore,
        sequencer: Sequencer,
        clock: Callable[[], datetime] = _now,
        cache_size: int = 4096,
    ) -> None:
        self.engine = engine
        # Single-statement reads need no transaction: on PostgreSQL, autocommit saves the
        # BEGIN and the ROLLBACK round trips of each (SQLite keeps its own BEGIN handling).
        self.reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self.store = store
        self.sequencer = sequencer
        self.origin = store.origin
        self.clock = clock
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._states: OrderedDict[str, ComplaintState] = OrderedDict()
        # The audit fact of each cached state's last event (the next step's fact derives from it).
        self._facts: dict[str, Fact] = {}
        self._cache_size = cache_size
        # Capability hashes never change once filed: customers' requests need no read for them.
        self._capabilities: OrderedDict[str, bytes] = OrderedDict()
        self._envelopes: OrderedDict[bytes, Envelope] = OrderedDict()
        self._envelope_cache_size = 16 * cache_size
        self._registry: tuple[int, OfficerRegistry] | None = None

    # --- filing ------------------------------------------------------------------------

    def file(
        self,
        public: Mapping[str, Any],
        body: Mapping[str, Any],
        actor: Actor,
        hooks: Hooks | None = None,
        secret: str | None = None,
    ) -> tuple[Recorded, str]:
        """Record a new complaint; returns the step and the capability secret (shown once)."""
        built, state = start_complaint(
            log=self.origin, at=self.clock(), actor=actor, public=public, body=body
        )
        secret = secret or new_capability_secret()
        reference = state.reference
        assert reference is not None
        capability_hash = hash_secret(secret)
        fact: list[Fact | None] = [None]

        def check(conn: Connection) -> None:
            _run_hooks_check(hooks, conn)
            exists = conn.execute(
                select(ComplaintRecord.seq).where(ComplaintRecord.reference == reference)
            ).first()
            if exists is not None:  # only if the same leaf were filed twice
                raise ChainConflict("this complaint was already filed")

        def write(conn: Connection, index: int, leaf_hash: bytes) -> None:
            at = built.envelope.at_datetime
            conn.execute(
                insert(ComplaintRecord).values(
                    reference=reference,
                    log_origin=self.origin,
                    capability_hash=capability_hash,
                    seq=0,
                    head=leaf_hash.hex(),
                    status=str(state.status),
                    category=str(state.category),
                    channel=str(state.channel),
                    language=str(state.language),
                    jurisdiction=state.jurisdiction,
                    received_at=at,
                    updated_at=at,
                )
            )
            fact[0] = self._write_event(conn, reference, built, index, None)
            _run_hooks_write(hooks, conn, index, leaf_hash)

        receipt = self.sequencer.append(PendingEntry(built.leaf, check, write))
        self._remember(state, fact[0])
        self._remember_capability(reference, capability_hash)
        return Recorded(built.envelope, state, receipt), secret

    # --- later steps ---------------------------------------------------------------------

    def record(
        self,
        reference: str,
        *,
        type: EventType | str,
        public: Mapping[str, Any],
        body: Mapping[str, Any],
        actor: Actor,
        hooks: Hooks | None = None,
    ) -> Recorded:
        """Check and append the next step of a complaint.

        Unsigned steps are rebuilt on the new head if another writer got in first; a signed
        step is bound to the head it was signed on, so it fails with ChainConflict instead.
        """
        event_type = EventType(type)
        with self._lock(reference):
            for attempt in range(MAX_RETRIES):
                # An unsigned step may start from the cached state (no read): if another
                # process moved the chain on, the head check in the write transaction raises
                # ChainConflict and the step is rebuilt on the stored state.
                optimistic = attempt == 0 and event_type not in SIGNED_EVENTS
                state = self._states.get(reference) if optimistic else None
                if state is None:
                    optimistic = False
                    state = self.state(reference)
                registry = self.registry() if event_type in SIGNED_EVENTS else None
                try:
                    built, new_state = append_event(
                        state,
                        type=event_type,
                        at=self.clock(),
                        actor=actor,
                        public=public,
                        body=body,
                        registry=registry,
                    )
                except ComplaintError:
                    if optimistic:  # the cache may be behind: decide on the stored state
                        self._forget(reference)
                        continue
                    self._raise_if_done(hooks)
                    raise
                try:
                    receipt, fact = self._append_step(reference, state, built, new_state, hooks)
                except ChainConflict:
                    self._forget(reference)
                    if event_type in SIGNED_EVENTS or attempt == MAX_RETRIES - 1:
                        self._raise_if_done(hooks)
                        raise
                    continue
                self._remember(new_state, fact)
                return Recorded(built.envelope, new_state, receipt)
        raise AssertionError("unreachable")

    def _raise_if_done(self, hooks: Hooks | None) -> None:
        """Before refusing a step: if a twin of this request (same Idempotency-Key, e.g. a
        client's retry racing its first attempt) already recorded it, the hooks' check
        raises its ``Rejected`` (``AlreadyDone``) so the caller answers with that outcome
        instead of refusing the step the twin just recorded."""
        if hooks is not None and hooks.check is not None:
            with self.engine.connect() as conn:
                hooks.check(conn)

    def _append_step(
        self,
        reference: str,
        state: ComplaintState,
        built: BuiltEvent,
        new_state: ComplaintState,
        hooks: Hooks | None,
    ) -> tuple[Receipt, Fact | None]:
        """Append the step; returns its receipt and its audit fact."""
        expected_seq = state.seq
        prev_fact = self._facts.get(reference)
        fact: list[Fact | None] = [None]

        def check(conn: Connection) -> None:
            _run_hooks_check(hooks, conn)
            # Check the chain head and move it in one statement: nothing after this check
            # can refuse the entry, and a refusal rolls nothing back (no row matched).
            moved = conn.execute(
                _MOVE_HEAD,
                {
                    "b_reference": reference,
                    "b_expected_seq": expected_seq,
                    "b_seq": new_state.seq,
                    "b_head": built.envelope.leaf_hash_hex,
                    "b_status": str(new_state.status),
                    "b_updated_at": built.envelope.at_datetime,
                },
            )
            if moved.rowcount != 1:
                raise ChainConflict("the complaint changed while this step was prepared")

        def write(conn: Connection, index: int, leaf_hash: bytes) -> None:
            fact[0] = self._write_event(conn, reference, built, index, prev_fact)
            if built.envelope.type == EventType.ERASED:
                target = built.envelope.public["erases"]
                conn.execute(
                    update(EventBody)
                    .where(EventBody.leaf_hash == target)
                    .values(salt=None, body_jcs=None, erased_by=leaf_hash.hex())
                )
            _run_hooks_write(hooks, conn, index, leaf_hash)

        receipt = self.sequencer.append(PendingEntry(built.leaf, check, write))
        return receipt, fact[0]

    def _write_event(
        self,
        conn: Connection,
        reference: str,
        built: BuiltEvent,
        index: int,
        prev_fact: Fact | None,
    ) -> Fact | None:
        """Queue the event's index, body and audit-fact rows; returns the fact."""
        env = built.envelope
        # No check of an append batch reads these two tables: one INSERT each per batch.
        defer_insert(
            conn,
            ComplaintEvent,
            {"reference": reference, "seq": env.seq, "log_index": index,
             "leaf_hash": env.leaf_hash_hex, "type": str(env.type), "at": env.at},
        )  # fmt: skip
        defer_insert(
            conn,
            EventBody,
            {"leaf_hash": env.leaf_hash_hex, "salt": built.salt, "body_jcs": built.body_jcs},
        )
        # Regulator audit facts, same transaction as the leaf; derived from the previous fact
        # this process committed (no read) when it has it.
        return write_fact(conn, env, index, prev_fact)

    # --- letters ------------------------------------------------------------------------

    def with_letter(
        self, reference: str, event_type: str, public: Mapping[str, Any], body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The body plus the customer letter rendered from the step's template, if it has one.

        The letter is in the complaint's language and becomes part of the committed body, so
        what the customer was told is on the record.
        """
        kind = LETTERS.get(str(event_type))
        if kind is None or "message" in body:
            return dict(body)
        state = self.state(reference)
        received_at = self.complaint(reference).received_at
        facts = MessageFacts(
            reference=reference,
            category=str(state.category),
            jurisdiction=state.jurisdiction,
            received_at=received_at,
            requested_info=body.get("request"),
            delay_reason=body.get("reason"),
            outcome=body.get("outcome") or public.get("outcome"),
            finding=body.get("finding"),
            rules=tuple(body.get("rules") or ()),
            remedy=body.get("remedy"),
            amount=body.get("amount"),
            currency=body.get("currency"),
            asset=body.get("asset"),
            method=body.get("method"),
            respond_by=body.get("respond_by")
            or public.get("respond_by")
            or self.clock() + RESPOND_WITHIN,
            final_response_date=get_jurisdiction(state.jurisdiction).final_response_date(
                received_at, extended=event_type == "holding_reply"
            ),
        )
        msg = render_message(kind, state.language, facts)
        letter = {"language": str(msg.language), "subject": msg.subject, "text": msg.body}
        return {**body, "message": letter}

    # --- reading -------------------------------------------------------------------------

    def complaint(self, reference: str) -> ComplaintRecord:
        with Session(self.engine, expire_on_commit=False) as session:
            record = session.get(ComplaintRecord, reference)
        if record is None:
            raise ComplaintNotFound(reference)
        return record

    def check_secret(self, reference: str, secret: str) -> bool:
        """Constant-time check of a customer's capability secret for this complaint."""
        with self._locks_guard:
            stored = self._capabilities.get(reference)
        if stored is None:
            with self.reader.connect() as conn:
                row = conn.execute(_CAPABILITY, {"reference": reference}).first()
            if row is None:
                secret_matches(secret, hash_secret("no such complaint"))
                return False
            stored = row[0]
            self._remember_capability(reference, stored)
        return secret_matches(secret, stored)

    def events(self, reference: str) -> list[StoredEvent]:
        """The complaint's chain from the log, with bodies and salts where not erased."""
        params = {"log_id": self.store.log_id, "reference": reference}
        with self.reader.connect() as conn:
            rows = conn.execute(_EVENTS, params).all()
        if not rows:
            raise ComplaintNotFound(reference)
        out = []
        for r in rows:
            if r.data is None:
                raise LogError(f"log entry {r.log_index} of {reference} is missing")
            out.append(StoredEvent(r.seq, r.log_index, self._envelope(r.data), *r[3:]))
        return out

    def _envelope(self, leaf: bytes) -> Envelope:
        """``parse_envelope``, memoised by the leaf's bytes (a leaf always parses the same)."""
        leaf = bytes(leaf)
        with self._locks_guard:
            env = self._envelopes.get(leaf)
            if env is not None:
                self._envelopes.move_to_end(leaf)
                return env
        env = parse_envelope(leaf)
        with self._locks_guard:
            self._envelopes[leaf] = env
            while len(self._envelopes) > self._envelope_cache_size:
                self._envelopes.popitem(last=False)
        return env

    def state(self, reference: str) -> ComplaintState:
        """The complaint's current state (cached; checked against the stored chain head)."""
        with self.reader.connect() as conn:
            row = conn.execute(_SEQ, {"reference": reference}).first()
        if row is None:
            raise ComplaintNotFound(reference)
        cached = self._states.get(reference)
        if cached is not None and cached.seq == row[0]:
            return cached
        state = replay([e.envelope for e in self.events(reference)])
        self._remember(state)
        return state

    def state_of(self, reference: str, events: list[StoredEvent]) -> ComplaintState:
        """The state after ``events`` (just read by ``events``): cached, or replayed from them."""
        cached = self._states.get(reference)
        if cached is not None and cached.seq == events[-1].seq:
            return cached
        state = replay([e.envelope for e in events])
        self._remember(state)
        return state

    def list(
        self,
        *,
        status: str | None = None,
        category: str | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[int, list[ComplaintRecord]]:
        query = select(ComplaintRecord)
        if status:
            query = query.where(ComplaintRecord.status == status)
        if category:
            query = query.where(ComplaintRecord.category == category)
        if received_from:
            query = query.where(ComplaintRecord.received_at >= received_from)
        if received_to:
            query = query.where(ComplaintRecord.received_at < received_to)
        with Session(self.engine, expire_on_commit=False) as session:
            total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = session.scalars(
                query.order_by(ComplaintRecord.received_at.desc(), ComplaintRecord.reference)
                .offset(offset)
                .limit(limit)
            ).all()
        return total, list(rows)

    def record_access(
        self, role: str, principal: str, reference: str, action: str, request_id: str
    ):
        """Record a staff, legal or regulator read of a complaint's personal data."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(AccessRecord).values(
                    at=self.clock(),
                    role=role,
                    principal=principal,
                    reference=reference,
                    action=action,
                    request_id=request_id,
                )
            )

    def access_records(self, reference: str) -> list[AccessRecord]:
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.scalars(
                select(AccessRecord)
                .where(AccessRecord.reference == reference)
                .order_by(AccessRecord.id)
            ).all()
        return list(rows)

    # --- officer keys --------------------------------------------------------------------

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

    def officer_key_entries(self, key_id: str) -> list[tuple[int, Envelope]]:
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

    def register_officer_key(
        self,
        *,
        admin_id: str,
        public_key: bytes,
        roles: list[str],
        valid_from: datetime | str,
        valid_until: datetime | str | None,
        name: str,
        hooks: Hooks | None = None,
    ) -> tuple[Envelope, Receipt]:
        built = build_key_registration(
            log=self.origin,
            at=self.clock(),
            admin_id=admin_id,
            public_key=public_key,
            roles=roles,
            valid_from=valid_from,
            valid_until=valid_until,
            name=name,
        )
        key_id = built.envelope.public["key_id"]
        # Fold it into the registry first: refuses duplicates and bad validity periods.
        self.registry().add(built.envelope)
        return self._append_officer_entry(key_id, 0, built, hooks)

    def revoke_officer_key(
        self,
        *,
        admin_id: str,
        key_id: str,
        reason: str,
        hooks: Hooks | None = None,
    ) -> tuple[Envelope, Receipt]:
        entries = self.officer_key_entries(key_id)
        built = build_key_revocation(
            log=self.origin,
            at=self.clock(),
            admin_id=admin_id,
            registration=entries[0][1],
            reason=reason,
        )
        self.registry().add(built.envelope)
        return self._append_officer_entry(key_id, 1, built, hooks)

    def _append_officer_entry(
        self, key_id: str, seq: int, built: BuiltEvent, hooks: Hooks | None
    ) -> tuple[Envelope, Receipt]:
        def check(conn: Connection) -> None:
            _run_hooks_check(hooks, conn)
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
            _run_hooks_write(hooks, conn, index, leaf_hash)

        receipt = self.sequencer.append(PendingEntry(built.leaf, check, write))
        self._registry = None
        return built.envelope, receipt

    # --- internals -----------------------------------------------------------------------

    def _lock(self, reference: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(reference)
            if lock is None:
                if len(self._locks) > 10 * self._cache_size:
                    self._locks = {k: v for k, v in self._locks.items() if v.locked()}
                lock = self._locks[reference] = threading.Lock()
            return lock

    def _remember(self, state: ComplaintState, fact: Fact | None = None) -> None:
        """Cache ``state`` (and, for a step this process just committed, its audit fact)."""
        reference = state.reference
        if reference is None:
            return
        with self._locks_guard:
            current = self._states.get(reference)
            if current is not None and current.seq > state.seq:
                return  # a slower reader replayed an older chain: keep the newer state
            self._states[reference] = state
            self._states.move_to_end(reference)
            if fact is not None:
                self._facts[reference] = fact
            while len(self._states) > self._cache_size:
                evicted, _ = self._states.popitem(last=False)
                self._facts.pop(evicted, None)

    def _remember_capability(self, reference: str, capability_hash: bytes) -> None:
        with self._locks_guard:
            self._capabilities[reference] = capability_hash
            while len(self._capabilities) > self._envelope_cache_size:
                self._capabilities.popitem(last=False)

    def _forget(self, reference: str) -> None:
        with self._locks_guard:
            self._states.pop(reference, None)
            self._facts.pop(reference, None)


__all__ = [
    "ChainConflict",
    "ComplaintError",
    "ComplaintNotFound",
    "ComplaintService",
    "OfficerKeyNotFound",
    "Recorded",
    "Role",
    "StoredEvent",
]
