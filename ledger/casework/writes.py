"""The complaint write path: filing a complaint and recording its later steps.

Every step is checked by the pure domain (``workflow``) before anything is written; the
leaf, its index rows, its body and salt, and the idempotency record commit in the same
transaction as the log append (``PendingEntry``), so a crash leaves all or nothing.
Appends to one complaint are serialised: in-process by a lock per complaint, across
processes by checking the chain head inside the log's write transaction.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from ledger.access.secrets import hash_secret, new_secret
from ledger.attachments.store import (
    AttachmentStore,
    check_uploaded,
    listed_attachments,
    mark_erased,
)
from ledger.casework.appends import ChainConflict, Hooks, run_check, run_write
from ledger.casework.clock import Clock, utc_now
from ledger.casework.facts import PreparedFact, prepare_fact, write_fact
from ledger.casework.letters import (
    DEFAULT_SETTINGS,
    LetterSettings,
    needs_letter,
    render_letter,
    time_frame,
)
from ledger.casework.officer_keys import OfficerKeys
from ledger.casework.reads import ComplaintReads, IncidentLink
from ledger.casework.records import ComplaintEvent, ComplaintRecord, EventBody
from ledger.casework.work_items import DEFAULT_WARN_SHARE, PreparedWork, WorkItemWriter
from ledger.complaints.deadlines import get_jurisdiction, initial_deadlines
from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Actor, BuiltEvent, Envelope
from ledger.complaints.figures import Fact
from ledger.complaints.payloads import AMOUNT
from ledger.complaints.payouts import last_of, payout_commitment, terms_commitment
from ledger.complaints.playbooks import playbook
from ledger.complaints.service_rules import DEFAULT_RULES, ServiceRules
from ledger.complaints.states import ComplaintState, allowed_events
from ledger.complaints.texts import MessageKind
from ledger.complaints.vocab import SIGNED_EVENTS, Category, EventType, Role
from ledger.complaints.workflow import append_event, start_complaint
from ledger.logstore.sequencer import Sequencer
from ledger.logstore.store import PendingEntry, Receipt, Rejected, RowGuard, defer_insert

log = logging.getLogger(__name__)

CAPABILITY_PREFIX = "cs_"
ROLES = frozenset(Role)  # the roles the domain knows (with_letter's ``role``)
MAX_RETRIES = 5

# Work that joins every step's write transaction, after its rows (the runtime passes the
# message outbox's enqueue): (connection, reference, envelope, body, log index). It must not
# fail for a valid step: raising rolls back the step and the rest of its append batch.
StepListener = Callable[[Connection, str, Envelope, Mapping[str, Any], int], None]


class _OnDemand:
    """A read connection taken from the pool at its first statement, if any (a step whose
    complaint this process holds reads nothing)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None

    def __enter__(self) -> Connection:
        return self  # type: ignore[return-value]  # only execute() is used

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        if self.conn is None:
            self.conn = self.engine.connect()
        return self.conn.execute(*args, **kwargs)

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()


class _StepFact:
    """A step's regulator audit fact: prepared before the append, so the log's lock only
    queues its row and its index is filled in after; or, for a complaint whose facts are
    older than the table (``prepared`` None), derived and written in the transaction."""

    def __init__(self, prepared: PreparedFact | None) -> None:
        self.prepared = prepared
        self.derived: Fact | None = None

    def write(self, conn: Connection, envelope: Envelope, index: int) -> None:
        if self.prepared is None:
            self.derived = write_fact(conn, envelope, index)
        else:
            self.prepared.write(conn, index)

    def at(self, index: int) -> Fact | None:
        """The fact of the step appended at ``index`` (after the append)."""
        return self.prepared.at(index) if self.prepared is not None else self.derived


def _conflict() -> ChainConflict:
    return ChainConflict("the complaint changed while this step was prepared")


@dataclass(frozen=True)
class Recorded:
    """A step written to the log: its envelope, the complaint state after it, its receipt."""

    envelope: Envelope
    state: ComplaintState
    receipt: Receipt


@dataclass(frozen=True)
class IncidentReply:
    """One linked complaint's answer to an incident's holding reply: the step recorded, or
    why not (``code``, ``detail``: nothing was written for it). Neither: a twin request
    with the same idempotency hooks recorded it meanwhile (its hooks' check refused this)."""

    link: IncidentLink
    recorded: Recorded | None = None
    code: str | None = None
    detail: str | None = None


def with_intake_deadlines(
    public: Mapping[str, Any], at: datetime, rules: ServiceRules
) -> Mapping[str, Any]:
    """A received step's public fields with the deadlines its rules promise from ``at``.
    An unknown category is left for the domain to refuse; an unknown jurisdiction raises
    CalendarError (UNKNOWN_JURISDICTION)."""
    try:
        category = Category(public.get("category"))
    except ValueError:
        return public
    jurisdiction = get_jurisdiction(str(public.get("jurisdiction")))
    return {**public, "deadlines": initial_deadlines(at, category, jurisdiction, rules=rules)}


def with_payout_terms(public: Mapping[str, Any], body: Mapping[str, Any]) -> Mapping[str, Any]:
    """A vault offer's public fields with its ``payout_terms`` (ledger.complaints.payouts),
    derived from the signed body (the contract checks it in the leaf; the domain checks it
    against the body). Other offers, and malformed terms the domain will refuse, unchanged."""
    if "vault" not in body:
        return public
    try:
        terms = terms_commitment(
            body["chain_id"], body["vault"], body.get("token"), int(body["amount_base_units"])
        )
    except (KeyError, TypeError, ValueError):
        return public
    return {**public, "payout_terms": terms}


def _signed_on(state: ComplaintState, body: Mapping[str, Any]) -> bool:
    """Whether a signed body's context names a head this state may still follow: its own, or
    one only letters were recorded after (``ComplaintState.context_heads``)."""
    context = body.get("context")
    return isinstance(context, Mapping) and context.get("prev") in state.context_heads


def new_capability_secret() -> str:
    return CAPABILITY_PREFIX + new_secret()


def with_identity_requirement(
    rules: ServiceRules, public: Mapping[str, Any], body: Mapping[str, Any]
) -> Mapping[str, Any]:
    """An offer's public fields, with ``identity_required`` set when the rules need the
    customer's identity verified before a payout of its amount.

    The service sets it, whatever the request says: the flag is outside the officer's
    signed body (which stays as signed), so no signer can leave it off. A malformed amount
    is left for the domain to refuse.
    """
    amount = body.get("amount")  # an offer's body always has it; its public copy may not
    unit = body.get("asset") or body.get("currency")
    if not (isinstance(amount, str) and AMOUNT.fullmatch(amount) and isinstance(unit, str)):
        return public
    if not rules.needs_identity_for_payout(amount, unit):
        return public
    return {**public, "identity_required": True}


class ComplaintWrites:
    def __init__(
        self,
        reads: ComplaintReads,
        officer_keys: OfficerKeys,
        sequencer: Sequencer,
        clock: Clock = utc_now,
        rules: ServiceRules = DEFAULT_RULES,
        listeners: Sequence[StepListener] = (),
        *,
        attachments: AttachmentStore | None = None,
        letters: LetterSettings = DEFAULT_SETTINGS,
        lookup_key: bytes | None = None,
        warn_share: float = DEFAULT_WARN_SHARE,
    ) -> None:
        self.reads = reads
        self.officer_keys = officer_keys
        self.sequencer = sequencer
        self.origin = reads.store.origin
        self.clock = clock
        # The deployment's service rules: offers above their payout threshold are marked as
        # needing the customer's identity.
        self.rules = rules
        # The attachment store: an erasure's files leave it after the erasure commits. Steps
        # listing files are checked against the uploads anyway.
        self.attachments = attachments
        # What letters quote from the deployment: the portal's address, the block explorers.
        self.letters = letters
        # The worklist's row and search keys (under ``lookup_key``), kept in each step's
        # transaction; a clock is at risk past ``warn_share`` of its span.
        self.work_items = WorkItemWriter(
            reads.store, rules, lookup_key=lookup_key, warn_share=warn_share, chains=reads.chains
        )
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.listeners = tuple(listeners)

    # --- filing ------------------------------------------------------------------------

    def file(
        self,
        public: Mapping[str, Any],
        body: Mapping[str, Any],
        actor: Actor,
        hooks: Hooks | None = None,
        secret: str | None = None,
    ) -> tuple[Recorded, str]:
        """Record a new complaint; returns the step and the capability secret (shown once).

        Without ``public.deadlines`` the step gets the promise of the service rules, computed
        from the step's own time (``deadlines.initial_deadlines``).
        """
        at = self.clock()
        if "deadlines" not in public:
            public = with_intake_deadlines(public, at, self.rules)
        built, state = start_complaint(
            log=self.origin, at=at, actor=actor, public=public, body=body
        )
        secret = secret or new_capability_secret()
        reference = state.reference
        assert reference is not None
        capability_hash = hash_secret(secret)
        work, fact = self._prepare(reference, built, state, None)

        def check(conn: Connection) -> None:
            run_check(hooks, conn)
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
            self._write_event(conn, reference, built, index, work, fact)
            self._notify(conn, reference, built, index)
            run_write(hooks, conn, index, leaf_hash)

        receipt = self.sequencer.append(PendingEntry(built.leaf, check, write))
        self.reads.remember(state, fact.at(receipt.index))
        self.reads.capabilities.put(reference, capability_hash)
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

        Steps are rebuilt on the new head if another writer got in first; a signed step is
        bound to the head it was signed on, so it is rebuilt only while that head is still one
        its context may name (only letters recorded since: ``ComplaintState.context_heads``)
        and fails with ChainConflict otherwise.
        An offer gets ``public.identity_required`` here when the service rules need it, and a
        vault offer its ``payout_terms``; the acceptance of a vault offer with the customer's
        address gets its ``payout`` commitment (ledger.complaints.payouts).
        """
        event_type = EventType(type)
        if event_type == EventType.COMPENSATION_OFFERED:
            public = with_payout_terms(with_identity_requirement(self.rules, public, body), body)
        if event_type == EventType.COMPENSATION_ACCEPTED and "recipient" in body:
            public = self._with_payout(reference, public, body)
        with self._lock(reference):
            for attempt in range(MAX_RETRIES):
                # The cached state, checked against the stored head (one small read): with
                # several processes writing, a state they moved on would cost a whole append
                # attempt refused by the head check in the write transaction.
                state = self.reads.state(reference)
                registry = self.officer_keys.registry() if event_type in SIGNED_EVENTS else None
                if attempt > 0 and event_type in SIGNED_EVENTS and not _signed_on(state, body):
                    # Rebuilt after another writer's step that is no letter: the complaint
                    # changed while the signed step was being recorded.
                    self._raise_if_done(hooks)
                    raise ChainConflict("the complaint changed while this step was prepared")
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
                    self._raise_if_done(hooks)
                    raise
                try:
                    receipt, fact = self._append_step(reference, state, built, new_state, hooks)
                except ChainConflict:
                    self.reads.forget(reference)
                    if attempt == MAX_RETRIES - 1:
                        self._raise_if_done(hooks)
                        raise
                    continue  # a signed step too: it fits the new head if only letters came
                self.reads.remember(new_state, fact)
                if event_type == EventType.ERASED:
                    self._purge_files()
                return Recorded(built.envelope, new_state, receipt)
        raise AssertionError("unreachable")

    def _raise_if_done(self, hooks: Hooks | None) -> None:
        """Before refusing a step: if a twin of this request (same Idempotency-Key, e.g. a
        client's retry racing its first attempt) already recorded it, the hooks' check
        raises its ``Rejected`` (``AlreadyDone``) so the caller answers with that outcome
        instead of refusing the step the twin just recorded."""
        if hooks is not None and hooks.check is not None:
            with self.reads.engine.connect() as conn:
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
        cached = self.reads.states.get(reference)
        prev_fact = cached.fact if cached is not None else None
        # The worklist row, status view and audit fact are made here, outside the log's
        # write lock; the transaction only queues them with the batch's other rows.
        work, fact = self._prepare(reference, built, new_state, prev_fact)
        # The chain-head check: the head moves only if it is still where the step began
        # (checked and moved for the whole batch at once, after ``check``).
        guard = RowGuard(
            ComplaintRecord,
            "reference",
            reference,
            "seq",
            state.seq,
            {
                "seq": new_state.seq,
                "head": built.envelope.leaf_hash_hex,
                "status": str(new_state.status),
                "updated_at": built.envelope.at_datetime,
            },
            _conflict,
        )

        def check(conn: Connection) -> None:
            run_check(hooks, conn)
            # Files the body lists must be this complaint's uploads (AttachmentNotUploaded is
            # a Rejected: refused before the head moves, so nothing of the step is written).
            check_uploaded(conn, reference, listed_attachments(built.body))

        def write(conn: Connection, index: int, leaf_hash: bytes) -> None:
            self._write_event(conn, reference, built, index, work, fact)
            self._notify(conn, reference, built, index)
            if built.envelope.type == EventType.ERASED:
                target = built.envelope.public["erases"]
                self._erase_files(conn, reference, target, built.envelope.at_datetime)
                conn.execute(
                    update(EventBody)
                    .where(EventBody.leaf_hash == target)
                    .values(salt=None, body_jcs=None, erased_by=leaf_hash.hex())
                )
            run_write(hooks, conn, index, leaf_hash)

        receipt = self.sequencer.append(PendingEntry(built.leaf, check, write, guard))
        return receipt, fact.at(receipt.index)

    def _prepare(
        self,
        reference: str,
        built: BuiltEvent,
        state: ComplaintState,
        prev_fact: Fact | None,
    ) -> tuple[PreparedWork, _StepFact]:
        """What a step writes besides its leaf, made before its append (reads, outside the
        log's write transaction, only what this process does not hold: committed rows)."""
        with _OnDemand(self.reads.reader) as conn:
            work = self.work_items.prepare(conn, reference, built.envelope, built.body, state)
            fact = _StepFact(prepare_fact(conn, built.envelope, prev_fact))
        return work, fact

    def _write_event(
        self,
        conn: Connection,
        reference: str,
        built: BuiltEvent,
        index: int,
        work: PreparedWork,
        fact: _StepFact,
    ) -> None:
        """Queue the event's index, body, worklist and audit-fact rows."""
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
        self.work_items.queue(conn, work)
        fact.write(conn, env, index)  # regulator audit facts, same transaction as the leaf

    def _notify(self, conn: Connection, reference: str, built: BuiltEvent, index: int) -> None:
        for listener in self.listeners:
            listener(conn, reference, built.envelope, built.body, index)

    def _erase_files(self, conn: Connection, reference: str, target: str, at: datetime) -> None:
        """Mark erased the files the erased body lists that no other live body of the complaint
        lists (same transaction; the blobs go after the commit: ``_purge_files``)."""
        bodies = conn.execute(
            select(EventBody.leaf_hash, EventBody.body_jcs)
            .join(ComplaintEvent, ComplaintEvent.leaf_hash == EventBody.leaf_hash)
            .where(ComplaintEvent.reference == reference, EventBody.body_jcs.is_not(None))
        ).all()
        files = {
            row.leaf_hash: {str(a["sha256"]) for a in listed_attachments(json.loads(row.body_jcs))}
            for row in bodies
        }
        erased = files.pop(target, set())
        if erased:
            mark_erased(conn, reference, erased.difference(*files.values()), at)

    def _purge_files(self) -> None:
        """After an erasure: delete the blobs no live file names any more. A failure is only
        logged: the rows stay pending and the store's hourly purge tries again."""
        if self.attachments is None:
            return
        try:
            self.attachments.purge()
        except Exception:
            log.exception("attachment purge after an erasure failed; it will be retried")

    def _with_payout(
        self, reference: str, public: Mapping[str, Any], body: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The acceptance's public fields with the commitment to the open vault offer's terms,
        the customer's address and that offer; unchanged when there is no such offer (the
        domain then refuses the address: PAYOUT_NOT_OFFERED)."""
        events = self.reads.events(reference)
        at = last_of([e.envelope.type for e in events], len(events), EventType.COMPENSATION_OFFERED)
        offer = None if at is None else events[at]
        if offer is None or offer.body_jcs is None:
            return public
        terms = json.loads(offer.body_jcs)
        if "vault" not in terms:
            return public
        try:
            payout = payout_commitment(
                terms["chain_id"],
                terms["vault"],
                terms.get("token"),
                int(terms["amount_base_units"]),
                body["recipient"],
                offer.envelope.leaf_hash,
            )
        except (KeyError, TypeError, ValueError):
            return public  # a malformed address: the domain refuses the body
        return {**public, "payout": payout}

    # --- letters ------------------------------------------------------------------------

    def with_letter(
        self,
        reference: str,
        event_type: str,
        public: Mapping[str, Any],
        body: Mapping[str, Any],
        *,
        role: str | None = None,
        kind: MessageKind | None = None,
    ) -> dict[str, Any]:
        """The body plus the customer letter rendered from the step's template, if it has one.

        The letter is in the complaint's language and becomes part of the committed body, so
        what the customer was told is on the record. It quotes the customer's name (the
        received body's contact), the resolution time frame (the service rules, or the
        handler's target) and the deployment's portal and block explorers (``letters``).
        ``role`` is the recording actor's (a customer is not written to about their own
        step); ``kind`` picks another template than the step's own (an incident's holding
        reply). A fact the letter needs that is missing raises TemplateError (MISSING_FACT).
        """
        if not needs_letter(event_type, body, role):
            return dict(body)
        events = self.reads.events(reference)
        state = self.reads.state_of(reference, events)
        if event_type == EventType.PLAYBOOK_STEP and public.get("step") not in playbook(
            state.category
        ):
            return dict(body)  # no letter for a step the domain refuses (with its own code)
        if role in ROLES and event_type not in allowed_events(state, role):
            # Not this role's step now: the domain refuses it with its own code, which a
            # letter missing a fact (a customer "acknowledging") must not hide.
            return dict(body)
        received = events[0]
        # The customer's name is in the received body: erased, it is no longer quoted.
        filed = json.loads(received.body_jcs) if received.body_jcs is not None else {}
        letter = render_letter(
            reference,
            state,
            received.envelope.at_datetime,
            event_type,
            public,
            body,
            self.clock(),
            kind=kind,
            contact=filed.get("contact"),
            frame=time_frame(state, [e.envelope for e in events], self.rules),
            settings=self.letters,
        )
        return {**body, "message": letter}

    # --- mass incidents -------------------------------------------------------------------

    def incident_holding_reply(
        self,
        incident: str,
        reason: str,
        actor: Actor,
        hooks_for: Callable[[IncidentLink], Hooks | None] | None = None,
        skip: Callable[[IncidentLink], bool] | None = None,
    ) -> list[IncidentReply]:
        """One holding reply on every complaint linked to ``incident``, where the domain
        allows it; a complaint it refuses gets nothing written and its refusal reported.

        Each body carries the reason, the incident and the incident's letter. ``hooks_for``
        gives each complaint's append its hooks (idempotency); ``skip`` leaves out complaints
        the caller has answered already (an idempotent retry).
        """
        replies = []
        for link in self.reads.incident_links(incident):
            if skip is not None and skip(link):
                continue
            ref = link.reference
            body: Mapping[str, Any] = {"reason": reason, "incident": incident}
            try:
                body = self.with_letter(
                    ref, "holding_reply", {}, body, kind=MessageKind.INCIDENT_HOLDING_REPLY
                )
                hooks = hooks_for(link) if hooks_for is not None else None
                recorded = self.record(
                    ref, type=EventType.HOLDING_REPLY, public={}, body=body, actor=actor,
                    hooks=hooks,
                )  # fmt: skip
            except ComplaintError as exc:
                replies.append(IncidentReply(link, code=exc.code, detail=exc.message))
                continue
            except ChainConflict as exc:
                replies.append(IncidentReply(link, code="CHAIN_CONFLICT", detail=str(exc)))
                continue
            except Rejected:
                replies.append(IncidentReply(link))
                continue
            replies.append(IncidentReply(link, recorded=recorded))
        return replies

    # --- internals -----------------------------------------------------------------------

    def _lock(self, reference: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(reference)
            if lock is None:
                if len(self._locks) > 10 * self.reads.states.size:
                    self._locks = {k: v for k, v in self._locks.items() if v.locked()}
                lock = self._locks[reference] = threading.Lock()
            return lock
