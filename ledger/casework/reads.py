"""The complaint reads: records, capability checks, the chain of events and the current state.

States, capability hashes and parsed envelopes are cached in process. A cached state is
served only while it matches the stored chain head; the write path (``writes``) keeps it
current, together with the audit fact of the step it just committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from ledger.access.secrets import hash_secret, secret_matches
from ledger.casework.cache import BoundedCache
from ledger.casework.facts import AuditFact
from ledger.casework.records import ComplaintEvent, ComplaintRecord, EventBody
from ledger.complaints.events import Envelope, parse_envelope
from ledger.complaints.figures import Fact
from ledger.complaints.service_rules import ServiceRules
from ledger.complaints.states import ComplaintState, replay
from ledger.complaints.vocab import EventType, Role
from ledger.db import DirectReads, read_engine
from ledger.errors import LedgerError
from ledger.logstore.models import LogEntry
from ledger.logstore.store import LogError, LogStore

# Read statements built once (building one costs more than running it from the cache).
_SEQ = select(ComplaintRecord.seq).where(ComplaintRecord.reference == bindparam("reference"))
_CAPABILITY = select(ComplaintRecord.capability_hash).where(
    ComplaintRecord.reference == bindparam("reference")
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
# The complaints linked to an incident: their incident_linked facts (the partial index on
# audit_facts.incident), with each complaint's current status and category.
_INCIDENT_LINKS = (
    select(
        ComplaintEvent.reference,
        ComplaintEvent.at,
        ComplaintRecord.status,
        ComplaintRecord.category,
    )
    .select_from(AuditFact)
    .join(
        ComplaintEvent,
        (ComplaintEvent.reference == AuditFact.reference) & (ComplaintEvent.seq == AuditFact.seq),
    )
    .join(ComplaintRecord, ComplaintRecord.reference == AuditFact.reference)
    .where(
        AuditFact.incident == bindparam("incident"),
        AuditFact.type == str(EventType.INCIDENT_LINKED),
    )
    .order_by(AuditFact.log_index)
)
# Why a body is not shown (the timeline's and the proof's ``withheld``).
IDENTITY_NOT_VERIFIED = "identity_not_verified"


class ComplaintNotFound(LedgerError, LookupError):
    """No complaint with this reference."""


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    log_index: int
    envelope: Envelope
    salt: bytes | None
    body_jcs: bytes | None
    erased_by: str | None


@dataclass(frozen=True)
class IncidentLink:
    """A complaint linked to a mass incident, as it stands now."""

    reference: str
    linked_at: str
    status: str
    category: str


def withheld_from_customer(events: Sequence[StoredEvent], rules: ServiceRules) -> frozenset[int]:
    """The seqs of the bodies the complaint's secret may not read yet.

    For a category in ``rules.disclose_after_identity``, whoever holds the secret sees the
    bodies only once the customer's identity was verified (the secret alone does not prove
    who holds it), except the bodies of the steps the customer recorded themselves.
    """
    if not events:
        return frozenset()
    category = events[0].envelope.public.get("category")
    if category not in rules.disclose_after_identity:
        return frozenset()
    if any(e.envelope.type == EventType.IDENTITY_VERIFIED for e in events):
        return frozenset()
    return frozenset(e.seq for e in events if e.envelope.actor.role != Role.CUSTOMER)


@dataclass(frozen=True)
class CachedState:
    """A complaint's state and, if this process committed its last step, that step's fact
    (the next step's audit fact derives from it without a read)."""

    state: ComplaintState
    fact: Fact | None = None


def _keep_newer(current: CachedState, new: CachedState) -> CachedState:
    if current.state.seq > new.state.seq:
        return current  # a slower reader replayed an older chain: keep the newer state
    if new.fact is None:  # a replayed state: keep the fact held (write_fact checks its seq)
        return CachedState(new.state, current.fact)
    return new


class ComplaintReads:
    def __init__(self, engine: Engine, store: LogStore, cache_size: int = 4096) -> None:
        self.engine = engine
        self.reader = read_engine(engine)
        # The hottest single-row reads (a cached state's head, a status view's seq).
        self.direct = DirectReads(engine)
        self.store = store
        self.states: BoundedCache[str, CachedState] = BoundedCache(cache_size)
        # Capability hashes never change once filed: customers' requests need no read for them.
        self.capabilities: BoundedCache[str, bytes] = BoundedCache(16 * cache_size)
        # A leaf always parses the same.
        self._envelopes: BoundedCache[bytes, Envelope] = BoundedCache(16 * cache_size)
        # Each complaint's chain as last read or written here (the worklist writer's too:
        # a step after another process's reads the chain once, for its state and its row).
        self.chains: BoundedCache[str, tuple[Envelope, ...]] = BoundedCache(cache_size)

    def complaint(self, reference: str) -> ComplaintRecord:
        with Session(self.engine, expire_on_commit=False) as session:
            record = session.get(ComplaintRecord, reference)
        if record is None:
            raise ComplaintNotFound(reference)
        return record

    def check_secret(self, reference: str, secret: str) -> bool:
        """Constant-time check of a customer's capability secret for this complaint."""
        stored = self.capabilities.get(reference)
        if stored is None:
            with self.reader.connect() as conn:
                row = conn.execute(_CAPABILITY, {"reference": reference}).first()
            if row is None:
                secret_matches(secret, hash_secret("no such complaint"))
                return False
            stored = row[0]
            self.capabilities.put(reference, stored)
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
        self.chains.put(reference, tuple(e.envelope for e in out))
        return out

    def _envelope(self, leaf: bytes) -> Envelope:
        leaf = bytes(leaf)
        env = self._envelopes.get(leaf)
        if env is None:
            env = parse_envelope(leaf)
            self._envelopes.put(leaf, env)
        return env

    def state(self, reference: str) -> ComplaintState:
        """The complaint's current state (cached; checked against the stored chain head)."""
        row = self.direct.first(_SEQ, {"reference": reference})
        if row is None:
            raise ComplaintNotFound(reference)
        cached = self.states.get(reference)
        if cached is not None and cached.state.seq == row[0]:
            return cached.state
        state = replay([e.envelope for e in self.events(reference)])
        self.remember(state)
        return state

    def state_of(self, reference: str, events: list[StoredEvent]) -> ComplaintState:
        """The state after ``events`` (just read by ``events``): cached, or replayed from them."""
        cached = self.states.get(reference)
        if cached is not None and cached.state.seq == events[-1].seq:
            return cached.state
        state = replay([e.envelope for e in events])
        self.remember(state)
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

    def incident_links(self, incident: str) -> list[IncidentLink]:
        """The complaints linked to ``incident`` (by an ``incident_linked`` step), in the
        order they were linked."""
        with self.reader.connect() as conn:
            rows = conn.execute(_INCIDENT_LINKS, {"incident": incident}).all()
        return [IncidentLink(r.reference, r.at, r.status, r.category) for r in rows]

    def remember(self, state: ComplaintState, fact: Fact | None = None) -> None:
        """Cache ``state`` (and, for a step this process just committed, its audit fact)."""
        if state.reference is not None:
            self.states.put(state.reference, CachedState(state, fact), _keep_newer)

    def forget(self, reference: str) -> None:
        self.states.pop(reference)
