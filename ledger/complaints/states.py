"""The complaint state machine: which event may follow which state, recorded by which role.

``TRANSITIONS`` is the whole table (event type -> roles, from-status -> to-status, signed).
``GUARDS`` holds the rules the table cannot express (information must have been requested
before it is received, escalation only goes up, one holding reply per cycle, no offer after a
rejection, payment equals the accepted offer, one rating per rateable step, a message is about
an earlier step, one Net Promoter Score per complaint, ...) and
``EFFECTS`` what each step changes besides the status. ``apply`` checks one step against all
three; the monitor (ledger.monitor.chains) uses the same tables on a mutable state.
``replay`` folds a whole chain of envelopes, checking seq, prev, reference, log and time order,
so anyone holding the leaves can recompute a complaint's state without trusting the operator.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from ledger.complaints import payloads, playbooks
from ledger.complaints.errors import ChainError, ComplaintError, TransitionError
from ledger.complaints.events import Envelope, context_heads, parse_envelope
from ledger.complaints.officers import OfficerKey, check_step_authority
from ledger.complaints.payloads import Money
from ledger.complaints.reference import format_reference
from ledger.complaints.timestamps import parse_timestamp
from ledger.complaints.vocab import (
    ASSIGNER_ROLES,
    ESCALATION_RANK,
    OFFICER_KEY_EVENTS,
    RATEABLE_EVENTS,
    SIGNED_EVENTS,
    AssignmentKind,
    Category,
    Channel,
    CloseReason,
    CompensationKind,
    Confirmation,
    EscalationLevel,
    EventType,
    Language,
    Outcome,
    PlaybookStep,
    Role,
    Specialism,
    Status,
)

S = Status
E = EventType
R = Role
_Vocab = TypeVar("_Vocab", bound=StrEnum)


@dataclass(frozen=True)
class Rule:
    """Who may record an event type, and from which status it leads to which status.

    ``refused``: the error code when the status is not one it moves from, where a more precise
    one than INVALID_TRANSITION tells the caller why (a score before the closure)."""

    roles: frozenset[Role]
    moves: Mapping[Status, Status]
    signed: bool = False
    refused: str | None = None


def _same(*statuses: Status) -> dict[Status, Status]:
    return {s: s for s in statuses}


# Investigation work moves an acknowledged or reopened complaint into "investigating".
_INVESTIGATE = {
    S.ACKNOWLEDGED: S.INVESTIGATING,
    S.INVESTIGATING: S.INVESTIGATING,
    S.REOPENED: S.INVESTIGATING,
}
# Evidence and notes may be added at any point until the complaint is closed or withdrawn.
_WORK = {
    S.RECEIVED: S.RECEIVED,
    **_INVESTIGATE,
    **_same(
        S.DECIDED,
        S.COMPENSATION_OFFERED,
        S.COMPENSATION_ACCEPTED,
        S.COMPENSATION_DECLINED,
        S.COMPENSATION_PAID,
        S.REFERRED,
    ),
}
_STAFF = frozenset({R.AGENT, R.OFFICER, R.SUPERVISOR})
# Records about the case that do not move it: allowed while it is open (referred included).
_OPEN_SAME = _same(*(s for s in Status if s not in (S.CLOSED, S.WITHDRAWN)))

TRANSITIONS: dict[EventType, Rule] = {
    E.ACKNOWLEDGED: Rule(_STAFF | {R.SYSTEM}, {S.RECEIVED: S.ACKNOWLEDGED}),
    E.INFO_REQUESTED: Rule(_STAFF | {R.LEGAL}, _INVESTIGATE),
    E.INFO_RECEIVED: Rule(frozenset({R.CUSTOMER, R.AGENT}), _same(S.INVESTIGATING)),
    E.EVIDENCE_ADDED: Rule(_STAFF | {R.CUSTOMER, R.LEGAL}, _WORK),
    E.NOTE_ADDED: Rule(_STAFF | {R.LEGAL}, _WORK),
    E.ESCALATED: Rule(_STAFF | {R.CUSTOMER, R.SYSTEM}, {S.RECEIVED: S.RECEIVED, **_INVESTIGATE}),
    E.HOLDING_REPLY: Rule(_STAFF, _INVESTIGATE),
    E.DECISION: Rule(
        frozenset({R.OFFICER}),
        {s: S.DECIDED for s in (S.ACKNOWLEDGED, S.INVESTIGATING, S.REOPENED)},
        signed=True,
    ),
    E.COMPENSATION_OFFERED: Rule(
        frozenset({R.OFFICER}),
        {s: S.COMPENSATION_OFFERED for s in (S.DECIDED, S.COMPENSATION_DECLINED)},
        signed=True,
    ),
    E.COMPENSATION_ACCEPTED: Rule(
        frozenset({R.CUSTOMER, R.AGENT}), {S.COMPENSATION_OFFERED: S.COMPENSATION_ACCEPTED}
    ),
    E.COMPENSATION_DECLINED: Rule(
        frozenset({R.CUSTOMER, R.AGENT}), {S.COMPENSATION_OFFERED: S.COMPENSATION_DECLINED}
    ),
    # Paid by an officer, or recorded by the payout worker (role system, its own registered
    # key) for a vault payout only (check_context).
    E.COMPENSATION_PAID: Rule(
        frozenset({R.OFFICER, R.SYSTEM}),
        {S.COMPENSATION_ACCEPTED: S.COMPENSATION_PAID},
        signed=True,
    ),
    E.CLOSED: Rule(
        _STAFF | {R.SYSTEM},
        {
            s: S.CLOSED
            for s in (
                S.DECIDED,
                S.COMPENSATION_OFFERED,  # only when the offer lapsed, see GUARDS
                S.COMPENSATION_DECLINED,
                S.COMPENSATION_PAID,
                S.REFERRED,
            )
        },
    ),
    E.REOPENED: Rule(
        frozenset({R.OFFICER, R.SUPERVISOR, R.LEGAL, R.REGULATOR}),
        {s: S.REOPENED for s in (S.DECIDED, S.CLOSED, S.REFERRED)},
    ),
    E.WITHDRAWN: Rule(
        frozenset({R.CUSTOMER, R.AGENT}),
        {
            s: S.WITHDRAWN
            for s in (
                S.RECEIVED,
                S.ACKNOWLEDGED,
                S.INVESTIGATING,
                S.REOPENED,
                S.DECIDED,
                S.COMPENSATION_OFFERED,
                S.COMPENSATION_ACCEPTED,
                S.COMPENSATION_DECLINED,
            )
        },
    ),
    E.REFERRED: Rule(
        frozenset({R.CUSTOMER, R.OFFICER, R.SUPERVISOR, R.LEGAL, R.REGULATOR}),
        {s: S.REFERRED for s in Status if s not in (S.WITHDRAWN, S.REFERRED)},
    ),
    # The service playbook (playbooks.py). Playbook steps are investigation work; the customer
    # records a confirming step (they confirm the fix), see _playbook_guard.
    E.IDENTITY_VERIFIED: Rule(_STAFF | {R.SYSTEM}, _OPEN_SAME),
    E.PLAYBOOK_STEP: Rule(_STAFF | {R.SYSTEM, R.CUSTOMER}, _WORK),
    E.TARGET_SET: Rule(_STAFF, _OPEN_SAME),
    E.INCIDENT_LINKED: Rule(_STAFF, _OPEN_SAME),
    # Ratings, erasures and exports never change the status and are allowed at any time.
    E.RATED: Rule(frozenset({R.CUSTOMER}), _same(*Status)),
    E.ERASED: Rule(frozenset({R.ADMIN, R.LEGAL}), _same(*Status)),
    # Recorded after an evidence bundle was built (it cannot contain its own export event).
    E.BUNDLE_EXPORTED: Rule(frozenset({R.LEGAL, R.CUSTOMER, R.REGULATOR, R.ADMIN}), _same(*Status)),
    # The dispatcher (role system) records each customer message once delivered or given up
    # on, whatever the status by then (a letter may leave after the complaint moved on, even
    # after its closure); it never moves the complaint, and it is no response of its own: the
    # step whose letter it delivers is (deadlines.FIRST_RESPONSE_EVENTS).
    E.MESSAGE_SENT: Rule(frozenset({R.SYSTEM}), _same(*Status)),
    # The customer's Net Promoter Score: once the complaint is closed, once per complaint.
    E.NPS_GIVEN: Rule(frozenset({R.CUSTOMER}), _same(S.CLOSED), refused="NPS_BEFORE_CLOSURE"),
    # Who is responsible: claimed, assigned or reassigned while the complaint is open; it moves
    # no status and stops no clock. Which role may record which kind: check_context.
    E.ASSIGNED: Rule(_STAFF | {R.SYSTEM}, _OPEN_SAME),
}
START_ROLES = frozenset({R.CUSTOMER, R.AGENT, R.SYSTEM})  # who may record "received"
# Recorded by the ledger as the trace of another action (building an evidence bundle,
# delivering a message), never chosen as a step: ``allowed_events`` does not offer them.
TRACE_EVENTS = frozenset({E.BUNDLE_EXPORTED, E.MESSAGE_SENT})
# Events whose evidence may be cited by a decision.
EVIDENCE_EVENTS = frozenset({E.RECEIVED, E.INFO_RECEIVED, E.EVIDENCE_ADDED})


@dataclass(frozen=True)
class ChainEntry:
    leaf_hash: str
    type: EventType


@dataclass(frozen=True)
class ComplaintState:
    """A complaint after some prefix of its chain. Chain fields are filled by ``link``."""

    status: Status
    category: Category
    channel: Channel
    language: Language
    jurisdiction: str
    level: EscalationLevel = EscalationLevel.AGENT
    specialism: Specialism | None = None
    info_pending: bool = False
    holding_reply_sent: bool = False
    outcome: Outcome | None = None
    offer: Money | None = None  # the open or accepted offer, when its amount is public
    payments: tuple[Money, ...] = ()
    reopen_count: int = 0
    ratings: tuple[int, ...] = ()  # the csat of each rating, in chain order
    rated: frozenset[int] = frozenset()  # the seqs of the steps rated
    identity_verified: bool = False
    playbook: tuple[PlaybookStep, ...] = ()  # the playbook's steps done in this cycle, in order
    confirm_by: str | None = None  # the wait for the customer's confirmation, when stated
    target_set: bool = False  # an untimed category's target was set in this cycle
    incident: str | None = None  # the mass incident this complaint is linked to
    offer_kind: CompensationKind | None = None  # the open or accepted offer's kind
    offer_needs_identity: bool = False  # that offer may be paid only after identity_verified
    offer_terms: str | None = None  # a vault offer's payout_terms (payouts.py)
    accepted_payout: str | None = None  # the accepted vault offer's payout commitment
    nps_given: bool = False  # the customer gave their Net Promoter Score (once per complaint)
    owner: str | None = None  # the pseudonym of whoever is responsible now (assigned steps)
    log: str | None = None
    reference: str | None = None
    seq: int = -1
    head: str | None = None  # hex leaf hash of the last event: the next event's prev
    last_at: str | None = None
    events: tuple[ChainEntry, ...] = field(default=(), repr=False)
    erased: frozenset[str] = frozenset()

    @property
    def next_seq(self) -> int:
        return self.seq + 1

    def event_type_of(self, leaf_hash_hex: str) -> EventType | None:
        for entry in self.events:
            if entry.leaf_hash == leaf_hash_hex:
                return entry.type
        return None

    def event_type_at(self, seq: int) -> EventType | None:
        """The type of this chain's step ``seq``, or None when there is no such step."""
        return self.events[seq].type if 0 <= seq < len(self.events) else None

    @property
    def context_heads(self) -> tuple[str, ...]:
        """The heads a signed body for the next step may name as its context's ``prev``:
        the head, or one only letters were recorded after (``events.context_heads``)."""
        return context_heads([(e.leaf_hash, e.type) for e in self.events])


# Fields ``link`` sets (where a state sits in its chain); the others are the complaint's own,
# read by the guards and changed by the effects below.
CHAIN_FIELDS = frozenset({"log", "reference", "seq", "head", "last_at", "events"})


class StepState(Protocol):
    """What ``GUARDS`` and ``EFFECTS`` read: a ``ComplaintState``, or the monitor's mutable
    state made of the same fields (ledger.monitor.chains). Properties: read, never set."""

    @property
    def status(self) -> Status: ...

    @property
    def category(self) -> Category: ...

    @property
    def level(self) -> EscalationLevel: ...

    @property
    def specialism(self) -> Specialism | None: ...

    @property
    def info_pending(self) -> bool: ...

    @property
    def holding_reply_sent(self) -> bool: ...

    @property
    def outcome(self) -> Outcome | None: ...

    @property
    def offer(self) -> Money | None: ...

    @property
    def payments(self) -> tuple[Money, ...]: ...

    @property
    def reopen_count(self) -> int: ...

    @property
    def ratings(self) -> tuple[int, ...]: ...

    @property
    def rated(self) -> frozenset[int]: ...

    @property
    def erased(self) -> frozenset[str]: ...

    @property
    def identity_verified(self) -> bool: ...

    @property
    def playbook(self) -> tuple[PlaybookStep, ...]: ...

    @property
    def confirm_by(self) -> str | None: ...

    @property
    def target_set(self) -> bool: ...

    @property
    def incident(self) -> str | None: ...

    @property
    def offer_kind(self) -> CompensationKind | None: ...

    @property
    def offer_needs_identity(self) -> bool: ...

    @property
    def offer_terms(self) -> str | None: ...

    @property
    def accepted_payout(self) -> str | None: ...

    @property
    def nps_given(self) -> bool: ...

    @property
    def owner(self) -> str | None: ...

    @property
    def events(self) -> Collection[object]:
        """Only its size is read: empty when the chain is not known (a state built by apply)."""
        ...

    def event_type_of(self, leaf_hash_hex: str) -> EventType | None: ...

    def event_type_at(self, seq: int) -> EventType | None: ...


def apply(
    state: ComplaintState | None,
    event_type: EventType | str,
    role: Role | str,
    public: Mapping[str, Any],
) -> ComplaintState:
    """The state after one more event, or TransitionError/PayloadError; never mutates ``state``.

    ``public`` may omit ``state`` (the API fills it in from the result); if present it must
    equal the resulting status.
    """
    et = _enum(EventType, event_type, "UNKNOWN_EVENT_TYPE", "event type")
    role = _enum(Role, role, "UNKNOWN_ROLE", "role")
    if et in OFFICER_KEY_EVENTS:
        raise TransitionError(f"{et} is a log entry, not a complaint step", "NOT_A_COMPLAINT_EVENT")
    if state is None:
        return _start(et, role, public)
    target = transition_target(state, et, role)
    _check_public(et, public, target)
    guard(state, et, public)
    effect = EFFECTS.get(et)
    if effect is None:
        return replace(state, status=target)
    return replace(state, status=target, **effect(state, public))


def transition_target(state: ComplaintState, et: EventType, role: Role) -> Status:
    """The status a later step ``et`` by ``role`` leads to; TransitionError when the table
    (roles and moves) does not allow it. Guards on the step's fields are ``apply``'s."""
    if et == E.RECEIVED:
        raise TransitionError("this complaint has already been received", "ALREADY_STARTED")
    rule = TRANSITIONS[et]
    if role not in rule.roles:
        raise TransitionError(
            f"a {role} may not record {et}; allowed: {', '.join(sorted(rule.roles))}",
            "ROLE_NOT_ALLOWED",
        )
    target = rule.moves.get(state.status)
    if target is None:
        allowed = ", ".join(sorted(rule.moves)) or "nowhere"
        raise TransitionError(
            f"cannot record {et} on a complaint that is {state.status} (allowed from: {allowed})",
            rule.refused or "INVALID_TRANSITION",
        )
    return target


def _start(et: EventType, role: Role, public: Mapping[str, Any]) -> ComplaintState:
    if et != E.RECEIVED:
        raise TransitionError(f"a complaint starts with a received event, not {et}", "NOT_STARTED")
    if role not in START_ROLES:
        raise TransitionError(
            f"a {role} may not register a complaint; allowed: {', '.join(sorted(START_ROLES))}",
            "ROLE_NOT_ALLOWED",
        )
    _check_public(et, public, S.RECEIVED)
    return ComplaintState(
        status=S.RECEIVED,
        category=Category(public["category"]),
        channel=Channel(public["channel"]),
        language=Language(public["language"]),
        jurisdiction=public["jurisdiction"],
        level=EscalationLevel(public.get("level", EscalationLevel.AGENT)),
    )


def _check_public(et: EventType, public: Mapping[str, Any], target: Status) -> None:
    if not isinstance(public, Mapping):
        raise TransitionError("public must be a JSON object", "INVALID_PAYLOAD")
    claimed = public.get("state", str(target))
    payloads.validate_public(et, {**public, "state": claimed})
    if claimed != target:
        raise TransitionError(
            f"public.state says {claimed} but {et} leads to {target}", "STATE_MISMATCH"
        )


# --- guards: rules that depend on more than the status -------------------------------------
# Each reads the state before the step (its status is still the old one) and raises
# TransitionError; ``GUARDS`` is the whole list, shared with the monitor.


def _info_received_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if not state.info_pending:
        raise TransitionError(
            "no information was requested; use evidence_added for unsolicited material",
            "INFO_NOT_REQUESTED",
        )


def _escalated_guard(state: StepState, public: Mapping[str, Any]) -> None:
    level = EscalationLevel(public["level"])
    rank, current = ESCALATION_RANK[level], ESCALATION_RANK[state.level]
    lateral = level == EscalationLevel.SPECIALIST and public.get("specialism") != state.specialism
    if rank < current or (rank == current and not lateral):
        raise TransitionError(
            f"escalation goes up (bot → agent → specialist); already at {state.level}"
            + (f" ({state.specialism})" if state.specialism else ""),
            "ESCALATION_NOT_HIGHER",
        )


def _holding_reply_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if state.holding_reply_sent:
        raise TransitionError(
            "a holding reply was already sent in this cycle; the extended deadline is final",
            "HOLDING_REPLY_ALREADY_SENT",
        )


def _decision_guard(state: StepState, public: Mapping[str, Any]) -> None:
    for ref in public["evidence"]:
        if state.events and state.event_type_of(ref) not in EVIDENCE_EVENTS:
            raise TransitionError(
                f"evidence {ref} is not an earlier received/info/evidence event of this complaint",
                "EVIDENCE_UNKNOWN",
            )


def _offered_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if state.outcome == Outcome.REJECTED:
        raise TransitionError(
            "compensation follows an upheld or partially upheld decision, not a rejection",
            "OFFER_AFTER_REJECTION",
        )


def _paid_guard(state: StepState, public: Mapping[str, Any]) -> None:
    paid = Money.from_fields(public)
    if paid is not None and state.offer is not None and paid != state.offer:
        raise TransitionError(
            f"payment of {paid} differs from the accepted offer of {state.offer}",
            "PAYMENT_MISMATCH",
        )
    kind = public.get("kind", payloads.DEFAULT_KIND)
    if state.offer_kind is not None and kind != state.offer_kind:
        raise TransitionError(
            f"a {kind} payment differs from the accepted offer of a {state.offer_kind}",
            "PAYMENT_MISMATCH",
        )
    _vault_payment_guard(state, public)
    needs = state.category in playbooks.IDENTITY_FIRST or state.offer_needs_identity
    if needs and not state.identity_verified:
        why = (
            f"a {state.category} complaint" if state.offer_needs_identity is False else "this offer"
        )
        raise TransitionError(
            f"{why} is paid only after the customer's identity is verified (identity_verified)",
            "IDENTITY_NOT_VERIFIED",
        )


def _accepted_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if state.offer_terms is not None and "payout" not in public:
        raise TransitionError(
            "a vault offer is accepted with the customer's receiving address (public.payout)",
            "PAYOUT_ADDRESS_REQUIRED",
        )
    if state.offer_terms is None and "payout" in public:
        raise TransitionError("this offer is not paid by the vault", "PAYOUT_NOT_OFFERED")


def _vault_payment_guard(state: StepState, public: Mapping[str, Any]) -> None:
    """A vault offer is paid by the vault (the payment names the accepted commitment), and
    only a vault offer is."""
    if public.get("payout") != state.accepted_payout:
        raise TransitionError(
            "the payment must name the accepted payout commitment"
            if state.accepted_payout is not None
            else "this offer is not paid by the vault",
            "PAYOUT_MISMATCH",
        )


def _identity_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if state.identity_verified:
        raise TransitionError("the customer's identity is already verified", "IDENTITY_VERIFIED")


def _playbook_guard(state: StepState, public: Mapping[str, Any]) -> None:
    step = PlaybookStep(public["step"])
    steps = playbooks.playbook(state.category)
    if step not in steps:
        raise TransitionError(
            f"{step} is not a step of the {state.category} playbook ({' → '.join(steps)})",
            "PLAYBOOK_STEP_UNKNOWN",
        )
    if step == playbooks.IDENTITY_STEP:
        raise TransitionError(
            "the identity check is recorded as identity_verified, with its method",
            "PLAYBOOK_USE_IDENTITY",
        )
    expected = playbooks.next_step(state.category, state.playbook)
    if step != expected:
        if step in state.playbook:
            raise TransitionError(f"{step} was already done in this cycle", "PLAYBOOK_REPEATED")
        raise TransitionError(
            f"{step} comes after {expected} in the {state.category} playbook",
            "PLAYBOOK_ORDER",
        )
    confirming = step in playbooks.CONFIRMING_STEPS
    confirmation = public.get("confirmation")
    if confirming != (confirmation is not None):
        raise TransitionError(
            f"{step} " + ("is confirmed by the customer or lapses: give 'confirmation'"
                          if confirming else "is not a confirming step: no 'confirmation'"),
            "PLAYBOOK_CONFIRMATION",
        )  # fmt: skip
    if confirmation == Confirmation.LAPSED and state.confirm_by is None:
        raise TransitionError(
            "a confirmation lapses only after a wait the previous step stated (confirm_by)",
            "CONFIRMATION_NOT_LAPSED",
        )
    if "confirm_by" in public and not playbooks.states_wait(state.category, step):
        raise TransitionError(
            f"{step} is not followed by a confirming step: no 'confirm_by'",
            "PLAYBOOK_CONFIRMATION",
        )
    if step in playbooks.AFTER_DECISION_STEPS and state.outcome is None:
        raise TransitionError(f"{step} reports a decision: record the decision first",
                              "PLAYBOOK_NEEDS_DECISION")  # fmt: skip


def _target_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if state.category not in playbooks.UNTIMED_CATEGORIES:
        raise TransitionError(
            f"{state.category} has fixed service times; a target is set only for "
            + ", ".join(sorted(playbooks.UNTIMED_CATEGORIES)),
            "TARGET_FIXED",
        )
    if state.target_set:
        raise TransitionError("the target was already set in this cycle", "TARGET_ALREADY_SET")


def _incident_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if state.incident is not None:
        raise TransitionError(
            f"the complaint is already linked to incident {state.incident}",
            "INCIDENT_ALREADY_LINKED",
        )


def _closed_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if state.status == S.COMPENSATION_OFFERED and public.get("reason") != CloseReason.OFFER_LAPSED:
        raise TransitionError(
            "an open offer must be accepted, declined, or closed with reason offer_lapsed",
            "OFFER_OPEN",
        )


def _rated_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if "rates" not in public:
        return  # recorded before ratings named their step (payloads.REQUIRED_WHEN_RECORDING)
    target = public["rates"]
    target_type = state.event_type_at(target)
    if target_type not in RATEABLE_EVENTS:
        what = "no earlier step" if target_type is None else f"a {target_type} step"
        raise TransitionError(
            f"rates {target}: that is {what}; a rating rates an earlier step of this complaint "
            f"that is one of {', '.join(sorted(RATEABLE_EVENTS))}",
            "RATING_TARGET",
        )
    if target in state.rated:
        raise TransitionError(f"step {target} has already been rated", "RATING_DUPLICATE")


def _message_sent_guard(state: StepState, public: Mapping[str, Any]) -> None:
    # The message delivers the letter of a step already on the chain (its own seq is the
    # chain's length; unknown, as in a bare ``apply``, when no chain is held).
    if state.events and public["for_seq"] >= len(state.events):
        raise TransitionError(
            f"for_seq {public['for_seq']} is not an earlier step of this complaint: a message "
            "is sent for a step already recorded",
            "MESSAGE_FOR_SEQ",
        )


def _nps_guard(state: StepState, public: Mapping[str, Any]) -> None:
    if state.nps_given:
        raise TransitionError(
            "the customer already gave their Net Promoter Score for this complaint",
            "NPS_ALREADY_GIVEN",
        )


def _assigned_guard(state: StepState, public: Mapping[str, Any]) -> None:
    how = AssignmentKind(public["how"])
    if how == AssignmentKind.REASSIGN:
        if state.owner is None:
            raise TransitionError(
                "the complaint has no owner to replace: it is claimed or assigned",
                "NOT_OWNED",
            )
        if public["owner"] == state.owner:
            raise TransitionError(f"the complaint is already owned by {state.owner}", "SAME_OWNER")
    elif state.owner is not None:
        raise TransitionError(
            f"the complaint is already owned by {state.owner}: a supervisor reassigns it",
            "ALREADY_OWNED",
        )


def _erased_guard(state: StepState, public: Mapping[str, Any]) -> None:
    target = public["erases"]
    target_type = state.event_type_of(target)
    if target_type is None:
        raise TransitionError(
            f"erased event {target} is not an earlier event of this complaint",
            "ERASE_TARGET_UNKNOWN",
        )
    if target_type == E.ERASED:
        raise TransitionError("an erasure record itself cannot be erased", "ERASE_TARGET_INVALID")
    if target in state.erased:
        raise TransitionError(f"event {target} is already erased", "ALREADY_ERASED")


Guard = Callable[[StepState, Mapping[str, Any]], None]
GUARDS: Mapping[EventType, Guard] = MappingProxyType(
    {
        E.INFO_RECEIVED: _info_received_guard,
        E.ESCALATED: _escalated_guard,
        E.HOLDING_REPLY: _holding_reply_guard,
        E.DECISION: _decision_guard,
        E.COMPENSATION_OFFERED: _offered_guard,
        E.COMPENSATION_ACCEPTED: _accepted_guard,
        E.COMPENSATION_PAID: _paid_guard,
        E.CLOSED: _closed_guard,
        E.RATED: _rated_guard,
        E.ERASED: _erased_guard,
        E.IDENTITY_VERIFIED: _identity_guard,
        E.PLAYBOOK_STEP: _playbook_guard,
        E.TARGET_SET: _target_guard,
        E.INCIDENT_LINKED: _incident_guard,
        E.MESSAGE_SENT: _message_sent_guard,
        E.NPS_GIVEN: _nps_guard,
        E.ASSIGNED: _assigned_guard,
    }
)


def guard(state: StepState, et: EventType, public: Mapping[str, Any]) -> None:
    """TransitionError unless step ``et`` with ``public`` passes the rules beyond the table."""
    check = GUARDS.get(et)
    if check is not None:
        check(state, public)


# The steps ``check_context`` has rules for (the monitor calls it for these alone).
CONTEXT_EVENTS = frozenset({E.PLAYBOOK_STEP, E.COMPENSATION_PAID, E.ASSIGNED})


def check_context(
    state: StepState,
    et: EventType,
    role: Role | str,
    public: Mapping[str, Any],
    at: str,
    actor_id: str | None = None,
) -> None:
    """The rules that need the step's actor or time (``step`` and the monitor pass the leaf's):
    the customer records only their own confirmation of a fix, the system never does, and a
    confirmation lapses only once the wait the previous step stated has passed; the system
    (the payout worker) records a payment only for the vault; handlers claim a complaint for
    themselves (``actor_id`` is the owner; unchecked when None), supervisors and the system
    assign and reassign."""
    if et == E.ASSIGNED:
        _check_assigner(AssignmentKind(public["how"]), Role(role), public["owner"], actor_id)
        return
    if et == E.COMPENSATION_PAID:
        if role == R.SYSTEM and state.accepted_payout is None:
            raise TransitionError(
                "the system records only payouts by the vault", "ROLE_NOT_ALLOWED"
            )
        return
    if et != E.PLAYBOOK_STEP:
        return
    confirmation = public.get("confirmation")
    if role == R.CUSTOMER and confirmation != Confirmation.CUSTOMER:
        raise TransitionError(
            "a customer records only their own confirmation of a fix "
            "(a confirming step with confirmation 'customer')",
            "ROLE_NOT_ALLOWED",
        )
    if role == R.SYSTEM and confirmation == Confirmation.CUSTOMER:
        raise TransitionError(
            "the system cannot confirm for the customer; it may record a lapse",
            "ROLE_NOT_ALLOWED",
        )
    if (
        confirmation == Confirmation.LAPSED
        and state.confirm_by is not None
        and parse_timestamp(at) < parse_timestamp(state.confirm_by)
    ):
        raise TransitionError(
            f"the customer has until {state.confirm_by} to confirm; it has not lapsed at {at}",
            "CONFIRMATION_NOT_LAPSED",
        )


def _check_assigner(how: AssignmentKind, role: Role, owner: str, actor_id: str | None) -> None:
    if role not in ASSIGNER_ROLES[how]:
        raise TransitionError(
            f"a {role} may not {how} a complaint; allowed: "
            + ", ".join(sorted(ASSIGNER_ROLES[how])),
            "ROLE_NOT_ALLOWED",
        )
    if how == AssignmentKind.CLAIM and actor_id is not None and actor_id != owner:
        raise TransitionError(
            f"{actor_id} claims the complaint for {owner}: a claim is for oneself "
            "(a supervisor assigns it to someone else)",
            "CLAIM_FOR_ANOTHER",
        )


# --- effects: the fields a step changes besides the status ----------------------------------
# Each returns the changed fields' new values, computed from the state before the step; the
# domain builds a new frozen state from them, the monitor sets them on its mutable one.


def _info_requested(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"info_pending": True}


def _info_received(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"info_pending": False}


def _escalated(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    specialism = public.get("specialism")
    # The complaint moves to another queue and waits there to be claimed: no owner.
    return {
        "level": EscalationLevel(public["level"]),
        "specialism": None if specialism is None else Specialism(specialism),
        "owner": None,
    }


def _holding_reply(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"holding_reply_sent": True}


def _decision(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"outcome": Outcome(public["outcome"]), "info_pending": False}


def _offered(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "offer": Money.from_fields(public),
        "offer_kind": CompensationKind(public.get("kind", payloads.DEFAULT_KIND)),
        "offer_needs_identity": public.get("identity_required", False),
        "offer_terms": public.get("payout_terms"),
    }


_NO_OFFER = {
    "offer": None,
    "offer_kind": None,
    "offer_needs_identity": False,
    "offer_terms": None,
    "accepted_payout": None,
}


def _accepted(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"accepted_payout": public.get("payout")}


def _declined(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return dict(_NO_OFFER)


def _paid(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    paid = Money.from_fields(public)
    if paid is None:
        return dict(_NO_OFFER)
    return {**_NO_OFFER, "payments": (*state.payments, paid)}


def _restarted_playbook(state: StepState) -> tuple[PlaybookStep, ...]:
    """The playbook's steps done at the start of a cycle: the identity check, once done."""
    if state.identity_verified and state.category in playbooks.IDENTITY_FIRST:
        return (playbooks.IDENTITY_STEP,)
    return ()


def _identity_verified(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    done = state.playbook
    if state.category in playbooks.IDENTITY_FIRST and playbooks.IDENTITY_STEP not in done:
        done = (*done, playbooks.IDENTITY_STEP)
    return {"identity_verified": True, "playbook": done}


def _playbook_step(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "playbook": (*state.playbook, PlaybookStep(public["step"])),
        "confirm_by": public.get("confirm_by"),
    }


def _target_set(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"target_set": True}


def _incident_linked(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"incident": public["incident"]}


def _reopened(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    # A new cycle: a new decision and new clocks; payments already made stay recorded.
    # The playbook starts again (a verified identity stays verified).
    return {
        "outcome": None,
        **_NO_OFFER,
        "info_pending": False,
        "holding_reply_sent": False,
        "reopen_count": state.reopen_count + 1,
        "playbook": _restarted_playbook(state),
        "confirm_by": None,
        "target_set": False,
    }


def _rated(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    if "rates" not in public:  # an older rating: counted, rates no particular step
        return {"ratings": (*state.ratings, public["csat"])}
    return {
        "ratings": (*state.ratings, public["csat"]),
        "rated": state.rated | {public["rates"]},
    }


def _erased(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"erased": state.erased | {public["erases"]}}


def _nps_given(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"nps_given": True}


def _assigned(state: StepState, public: Mapping[str, Any]) -> dict[str, Any]:
    return {"owner": public["owner"]}


Effect = Callable[[StepState, Mapping[str, Any]], dict[str, Any]]
EFFECTS: Mapping[EventType, Effect] = MappingProxyType(
    {
        E.INFO_REQUESTED: _info_requested,
        E.INFO_RECEIVED: _info_received,
        E.ESCALATED: _escalated,
        E.HOLDING_REPLY: _holding_reply,
        E.DECISION: _decision,
        E.COMPENSATION_OFFERED: _offered,
        E.COMPENSATION_ACCEPTED: _accepted,
        E.COMPENSATION_DECLINED: _declined,
        E.COMPENSATION_PAID: _paid,
        E.REOPENED: _reopened,
        E.RATED: _rated,
        E.ERASED: _erased,
        E.IDENTITY_VERIFIED: _identity_verified,
        E.PLAYBOOK_STEP: _playbook_step,
        E.TARGET_SET: _target_set,
        E.INCIDENT_LINKED: _incident_linked,
        E.NPS_GIVEN: _nps_given,
        E.ASSIGNED: _assigned,
    }
)


def link(state: ComplaintState, envelope: Envelope) -> ComplaintState:
    """Record that ``envelope`` (already checked by ``apply``) is the chain's new head."""
    reference = state.reference
    if envelope.type == E.RECEIVED:
        reference = format_reference(envelope.leaf_hash)
    return replace(
        state,
        log=envelope.log,
        reference=reference,
        seq=envelope.seq,
        head=envelope.leaf_hash_hex,
        last_at=envelope.at,
        events=(*state.events, ChainEntry(envelope.leaf_hash_hex, envelope.type)),
    )


class Link(Protocol):
    """What the link checks read of an event (an ``Envelope``, or the monitor's leaf view)."""

    @property
    def log(self) -> str: ...
    @property
    def complaint(self) -> str | None: ...
    @property
    def seq(self) -> int: ...
    @property
    def prev(self) -> str | None: ...


def check_position(
    log: str | None, reference: str | None, next_seq: int, head: str | None, event: Link
) -> None:
    """Raise ChainError unless ``event`` names this log, this complaint, the next seq and the
    previous leaf hash (shared with the monitor's replay, which keeps its state mutable)."""
    if event.log != log:
        raise ChainError(f"event is from log {event.log!r}, not {log!r}", "LOG_MISMATCH")
    if event.complaint != reference:
        raise ChainError(
            f"event names complaint {event.complaint}, the chain is {reference}",
            "REFERENCE_MISMATCH",
        )
    if event.seq != next_seq:
        raise ChainError(f"seq is {event.seq}, expected {next_seq}", "BAD_SEQ")
    if event.prev != head:
        raise ChainError(
            f"prev is {event.prev}, but the previous event's leaf hash is {head}",
            "BROKEN_PREV",
        )


def check_link(state: ComplaintState | None, envelope: Envelope) -> None:
    """Raise ChainError unless ``envelope`` is the correct next link after ``state``."""
    if state is None:
        if envelope.type != E.RECEIVED:
            raise ChainError(
                f"a complaint chain starts with received, not {envelope.type}", "CHAIN_START"
            )
        return
    check_position(state.log, state.reference, state.next_seq, state.head, envelope)
    if state.last_at is not None and envelope.at_datetime < parse_timestamp(state.last_at):
        raise ChainError(
            f"event time {envelope.at} is before the previous event's {state.last_at}",
            "TIME_WENT_BACKWARDS",
        )


def step(
    state: ComplaintState | None,
    envelope: Envelope,
    registry: Mapping[str, OfficerKey] | None = None,
) -> ComplaintState:
    """Check and apply one envelope as the next link of a chain (the body of ``replay``)."""
    check_link(state, envelope)
    if registry is not None and envelope.type in SIGNED_EVENTS:
        # The signer's authority, its limits and dual control, from the leaf alone (a signed
        # step is never first: check_link refused it, so the category is known).
        check_step_authority(
            registry,
            envelope.type,
            envelope.actor.role,
            envelope.public,
            envelope.at,
            None if state is None else state.category,
        )
    new = apply(state, envelope.type, envelope.actor.role, envelope.public)
    if state is not None:  # after apply, as the monitor checks: table, guards, then these
        check_context(
            state,
            envelope.type,
            envelope.actor.role,
            envelope.public,
            envelope.at,
            envelope.actor.id,
        )
    return link(new, envelope)


def replay(
    events: Iterable[Envelope | bytes], *, registry: Mapping[str, OfficerKey] | None = None
) -> ComplaintState:
    """Fold a complaint's whole chain (leaf bytes or envelopes, in order) into its state.

    Checks every link (seq, prev, reference, log, time order) and every transition; with a
    ``registry`` also the authority of each signing officer key at the event's time, within
    its limits (amount, unit, category) and with a co-signature where dual control needs one.
    Errors carry the failing event's ``index``.
    """
    state: ComplaintState | None = None
    for i, item in enumerate(events):
        try:
            envelope = item if isinstance(item, Envelope) else parse_envelope(item)
            state = step(state, envelope, registry)
        except ComplaintError as exc:
            raise exc.at_index(i) from None
    if state is None:
        raise ChainError("a complaint chain has at least its received event", "EMPTY_CHAIN")
    return state


def rateable_steps(state: StepState) -> list[int]:
    """The seqs of the steps a rating may still name (rateable and not rated yet), in order."""
    return [
        seq
        for seq in range(len(state.events))
        if state.event_type_at(seq) in RATEABLE_EVENTS and seq not in state.rated
    ]


# For the steps whose guards refuse every payload in some states: whether some payload passes.
# (Other guards depend on the payload only, e.g. an escalation may always go sideways.)
_POSSIBLE: Mapping[EventType, Callable[[ComplaintState], bool]] = MappingProxyType(
    {
        E.INFO_RECEIVED: lambda s: s.info_pending,
        E.HOLDING_REPLY: lambda s: not s.holding_reply_sent,
        E.COMPENSATION_OFFERED: lambda s: s.outcome != Outcome.REJECTED,
        E.RATED: lambda s: bool(rateable_steps(s)),
        E.ERASED: lambda s: any(
            e.type != E.ERASED and e.leaf_hash not in s.erased for e in s.events
        ),
        E.IDENTITY_VERIFIED: lambda s: not s.identity_verified,
        E.TARGET_SET: lambda s: s.category in playbooks.UNTIMED_CATEGORIES and not s.target_set,
        E.INCIDENT_LINKED: lambda s: s.incident is None,
        E.NPS_GIVEN: lambda s: not s.nps_given,
    }
)


def allowed_events(state: ComplaintState | None, role: Role | str) -> list[EventType]:
    """The steps ``role`` may record next: allowed by the table for its status and role, and
    possible with some payload (a rating needs a step left to rate, information received
    needs a request, ...). Trace events (an export's record) are never offered."""
    role = Role(role)
    if state is None:
        return [E.RECEIVED] if role in START_ROLES else []
    return [
        et
        for et, rule in TRANSITIONS.items()
        if role in rule.roles
        and state.status in rule.moves
        and et not in TRACE_EVENTS
        and _POSSIBLE.get(et, _always)(state)
        and (et != E.PLAYBOOK_STEP or _playbook_step_possible(state, role))
        and (et != E.COMPENSATION_PAID or role != R.SYSTEM or state.accepted_payout is not None)
        and (et != E.ASSIGNED or _assignment_possible(state, role))
    ]


def _assignment_possible(state: ComplaintState, role: Role) -> bool:
    """Whether ``role`` can record some assignment now: claim or assign an unowned complaint,
    reassign an owned one (check_context's roles, the guard's owner rules)."""
    if state.owner is None:
        kinds: tuple[AssignmentKind, ...] = (AssignmentKind.CLAIM, AssignmentKind.ASSIGN)
    else:
        kinds = (AssignmentKind.REASSIGN,)
    return any(role in ASSIGNER_ROLES[how] for how in kinds)


def _playbook_step_possible(state: ComplaintState, role: Role) -> bool:
    """Whether ``role`` can record the playbook's next step now (guards and check_context)."""
    nxt = playbooks.next_step(state.category, state.playbook)
    if nxt is None or nxt == playbooks.IDENTITY_STEP:
        return False
    if nxt in playbooks.AFTER_DECISION_STEPS and state.outcome is None:
        return False
    confirming = nxt in playbooks.CONFIRMING_STEPS
    if role == R.CUSTOMER:
        return confirming
    if role == R.SYSTEM and confirming:
        return state.confirm_by is not None  # it may only record a lapse
    return True


def _always(state: ComplaintState) -> bool:
    return True


def _enum(kind: type[_Vocab], value: str, code: str, what: str) -> _Vocab:
    try:
        return kind(value)
    except ValueError:
        raise TransitionError(f"unknown {what} {value!r}", code) from None
