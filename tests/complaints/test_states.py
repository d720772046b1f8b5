"""The state machine: every (event, status, role) allowed or refused, guards, replay."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.complaints.errors import ChainError, PayloadError, TransitionError
from ledger.complaints.payloads import Money, validate_new_step
from ledger.complaints.playbooks import CONFIRMING_STEPS, next_step, playbook
from ledger.complaints.states import (
    START_ROLES,
    TRACE_EVENTS,
    TRANSITIONS,
    ChainEntry,
    ComplaintState,
    allowed_events,
    apply,
    check_context,
    rateable_steps,
    replay,
)
from ledger.complaints.vocab import (
    ASSIGNER_ROLES,
    COMPLAINT_EVENTS,
    OFFICER_KEY_EVENTS,
    RATEABLE_EVENTS,
    Category,
    Channel,
    EscalationLevel,
    EventType,
    Language,
    Outcome,
    PlaybookStep,
    Role,
    Status,
)
from ledger.log.canonical import canonical_json
from tests.support.complaint_chain import REGISTRATION, Chain

E, S = EventType, Status
A_HASH, B_HASH, C_HASH = "aa" * 32, "bb" * 32, "cc" * 32
SIG = {"key_id": "ab" * 16, "sig": "cd" * 64}

# A state in which every guard is satisfiable: information pending, still at bot level,
# an upheld outcome, a received event to erase, an evidence event to cite and an
# acknowledgement (step 2) to rate; an untimed category (a handler may set its target) whose
# playbook has not started (risk_assessed is next), no identity check and no incident yet.
# ``apply`` checks the table and the guards only: who records a playbook step and when a
# confirmation lapses are ``states.check_context``'s rules, checked by ``step`` (and covered
# in test_playbooks.py), so here a customer may record the sample playbook step too.
BASE = ComplaintState(
    status=S.RECEIVED,
    category=Category.SECURITY_QUESTION,
    channel=Channel.CHAT,
    language=Language.EN,
    jurisdiction="EU-PSD2",
    level=EscalationLevel.BOT,
    info_pending=True,
    outcome=Outcome.UPHELD,
    events=(
        ChainEntry(A_HASH, E.RECEIVED),
        ChainEntry(B_HASH, E.EVIDENCE_ADDED),
        ChainEntry(C_HASH, E.ACKNOWLEDGED),
    ),
)
SAMPLE_PUBLIC = {
    E.ACKNOWLEDGED: {},
    E.INFO_REQUESTED: {},
    E.INFO_RECEIVED: {},
    E.EVIDENCE_ADDED: {},
    E.NOTE_ADDED: {},
    E.ESCALATED: {"level": "agent"},
    E.HOLDING_REPLY: {},
    E.DECISION: {
        "outcome": "upheld",
        "root_cause": "product_defect",
        "rules": ["T&C 7.2"],
        "evidence": [B_HASH],
        "signature": SIG,
    },
    E.COMPENSATION_OFFERED: {"method": "account_credit", "signature": SIG},
    E.COMPENSATION_ACCEPTED: {},
    E.COMPENSATION_DECLINED: {},
    E.COMPENSATION_PAID: {"method": "account_credit", "signature": SIG},
    E.CLOSED: {"reason": "offer_lapsed"},
    E.REOPENED: {},
    E.WITHDRAWN: {},
    E.REFERRED: {"to": "regulator"},
    E.RATED: {"csat": 3, "rates": 2},
    E.ERASED: {"erases": A_HASH, "basis": "gdpr_art17"},
    E.BUNDLE_EXPORTED: {"bundle_sha256": B_HASH, "format_version": 1, "tree_size": 42},
    E.IDENTITY_VERIFIED: {"method": "document_check"},
    E.PLAYBOOK_STEP: {"step": "risk_assessed"},
    E.TARGET_SET: {"target_minutes": 60, "limit_minutes": 240},
    E.INCIDENT_LINKED: {"incident": "INC-2026-0001"},
    E.MESSAGE_SENT: {
        "channel": "email",
        "template": "acknowledgement",
        "language": "en",
        "for_seq": 2,
        "text_sha256": C_HASH,
        "outcome": "delivered",
        "message_id": "msg_" + "0f" * 16,
        "attempts": 1,
    },
    E.NPS_GIVEN: {"nps": 9},
    E.ASSIGNED: {"owner": "staff-1", "how": "claim"},
}
CASES = [(et, status, role) for et in sorted(TRANSITIONS) for status in Status for role in Role]


def test_table_covers_every_complaint_event():
    assert set(TRANSITIONS) | {E.RECEIVED} == set(COMPLAINT_EVENTS)
    assert set(SAMPLE_PUBLIC) == set(TRANSITIONS)


@pytest.mark.parametrize(("et", "status", "role"), CASES)
def test_every_transition_is_allowed_or_refused(et, status, role):
    state = dataclasses.replace(BASE, status=status)
    rule = TRANSITIONS[et]
    if role not in rule.roles:
        with pytest.raises(TransitionError) as exc:
            apply(state, et, role, SAMPLE_PUBLIC[et])
        assert exc.value.code == "ROLE_NOT_ALLOWED"
    elif status not in rule.moves:
        with pytest.raises(TransitionError) as exc:
            apply(state, et, role, SAMPLE_PUBLIC[et])
        assert exc.value.code == (rule.refused or "INVALID_TRANSITION")
        assert str(status) in exc.value.message
    else:
        new = apply(state, et, role, SAMPLE_PUBLIC[et])
        assert new.status == rule.moves[status]
        assert new is not state and state.status == status  # inputs never mutated


def test_expected_core_path_and_terminal_states():
    m = {et: rule.moves for et, rule in TRANSITIONS.items()}
    assert m[E.ACKNOWLEDGED] == {S.RECEIVED: S.ACKNOWLEDGED}
    assert m[E.DECISION][S.INVESTIGATING] == S.DECIDED
    assert m[E.COMPENSATION_PAID] == {S.COMPENSATION_ACCEPTED: S.COMPENSATION_PAID}
    assert S.COMPENSATION_ACCEPTED not in m[E.CLOSED]  # pay before closing
    assert S.CLOSED not in m[E.DECISION]  # reopen first
    # withdrawn is final except for ratings, erasures, evidence exports and the record of a
    # message that left (a letter may be delivered after the complaint moved on)
    assert {et for et, moves in m.items() if S.WITHDRAWN in moves} == {
        E.RATED,
        E.ERASED,
        E.BUNDLE_EXPORTED,
        E.MESSAGE_SENT,
    }
    # an export is recorded by legal, the customer, a regulator or an admin, never moves
    assert TRANSITIONS[E.BUNDLE_EXPORTED].roles == {
        Role.LEGAL,
        Role.CUSTOMER,
        Role.REGULATOR,
        Role.ADMIN,
    }
    assert m[E.BUNDLE_EXPORTED] == {s: s for s in Status}
    # signed events: officer only, but the payout worker (system, its own key) records vault
    # payouts (check_context refuses it any other payment)
    for et in (E.DECISION, E.COMPENSATION_OFFERED):
        assert TRANSITIONS[et].roles == {Role.OFFICER} and TRANSITIONS[et].signed
    paid = TRANSITIONS[E.COMPENSATION_PAID]
    assert paid.roles == {Role.OFFICER, Role.SYSTEM} and paid.signed


@pytest.mark.parametrize("role", list(Role))
def test_received_starts_a_complaint(role):
    public = {
        "category": "sync_fault",
        "channel": "in_app",
        "language": "ru",
        "jurisdiction": "UK-FCA-DISP",
    }
    if role in START_ROLES:
        state = apply(None, "received", role, public)
        assert state.status == S.RECEIVED and state.language == Language.RU
        assert state.level == EscalationLevel.AGENT
    else:
        with pytest.raises(TransitionError) as exc:
            apply(None, "received", role, public)
        assert exc.value.code == "ROLE_NOT_ALLOWED"


@pytest.mark.parametrize("et", sorted(set(TRANSITIONS)))
def test_nothing_before_received(et):
    with pytest.raises(TransitionError) as exc:
        apply(None, et, Role.AGENT, SAMPLE_PUBLIC[et])
    assert exc.value.code == "NOT_STARTED"


def test_received_only_once_and_officer_keys_are_not_steps():
    with pytest.raises(TransitionError) as exc:
        apply(BASE, "received", Role.CUSTOMER, {})
    assert exc.value.code == "ALREADY_STARTED"
    for et in OFFICER_KEY_EVENTS:
        with pytest.raises(TransitionError) as exc:
            apply(BASE, et, Role.ADMIN, {})
        assert exc.value.code == "NOT_A_COMPLAINT_EVENT"


def test_unknown_event_or_role():
    with pytest.raises(TransitionError) as exc:
        apply(BASE, "teleported", Role.AGENT, {})
    assert exc.value.code == "UNKNOWN_EVENT_TYPE"
    with pytest.raises(TransitionError) as exc:
        apply(BASE, "acknowledged", "janitor", {})
    assert exc.value.code == "UNKNOWN_ROLE"


def guard(status=S.INVESTIGATING, **state_changes):
    return dataclasses.replace(BASE, status=status, **state_changes)


def refused(state, et, role, public) -> str:
    with pytest.raises(TransitionError) as exc:
        apply(state, et, role, public)
    return exc.value.code


def test_state_mismatch_and_invalid_public():
    assert refused(guard(S.RECEIVED), "acknowledged", Role.AGENT, {"state": "closed"}) == (
        "STATE_MISMATCH"
    )
    with pytest.raises(PayloadError):
        apply(guard(), "note_added", Role.AGENT, {"text": "personal data"})
    assert apply(guard(S.RECEIVED), "acknowledged", Role.AGENT, {"state": "acknowledged"})


def test_info_received_needs_a_request():
    assert refused(guard(info_pending=False), "info_received", Role.CUSTOMER, {}) == (
        "INFO_NOT_REQUESTED"
    )
    s = apply(guard(S.ACKNOWLEDGED, info_pending=False), "info_requested", Role.AGENT, {})
    assert s.info_pending and s.status == S.INVESTIGATING
    s = apply(s, "info_received", Role.CUSTOMER, {})
    assert not s.info_pending


def test_escalation_only_goes_up():
    s = apply(guard(), "escalated", Role.CUSTOMER, {"level": "agent"})
    assert s.level == EscalationLevel.AGENT
    assert refused(s, "escalated", Role.AGENT, {"level": "agent"}) == "ESCALATION_NOT_HIGHER"
    s = apply(s, "escalated", Role.AGENT, {"level": "specialist", "specialism": "security"})
    assert s.specialism == "security"
    lateral = {"level": "specialist", "specialism": "legal"}
    assert apply(s, "escalated", Role.SUPERVISOR, lateral).specialism == "legal"
    same = {"level": "specialist", "specialism": "security"}
    assert refused(s, "escalated", Role.AGENT, same) == "ESCALATION_NOT_HIGHER"
    assert refused(s, "escalated", Role.AGENT, {"level": "agent"}) == "ESCALATION_NOT_HIGHER"


def test_one_holding_reply_per_cycle():
    s = apply(guard(), "holding_reply", Role.AGENT, {})
    assert s.holding_reply_sent
    assert refused(s, "holding_reply", Role.AGENT, {}) == "HOLDING_REPLY_ALREADY_SENT"
    s = apply(dataclasses.replace(s, status=S.CLOSED), "reopened", Role.SUPERVISOR, {})
    assert not s.holding_reply_sent and s.reopen_count == 1 and s.outcome is None
    assert apply(s, "holding_reply", Role.AGENT, {}).holding_reply_sent


def test_decision_cites_only_evidence_of_this_complaint():
    bad = {**SAMPLE_PUBLIC[E.DECISION], "evidence": ["cc" * 32]}
    assert refused(guard(), "decision", Role.OFFICER, bad) == "EVIDENCE_UNKNOWN"
    s = apply(guard(), "decision", Role.OFFICER, SAMPLE_PUBLIC[E.DECISION])
    assert s.outcome == Outcome.UPHELD and not s.info_pending


def test_no_offer_after_rejection():
    s = guard(S.DECIDED, outcome=Outcome.REJECTED)
    assert refused(
        s, "compensation_offered", Role.OFFICER, SAMPLE_PUBLIC[E.COMPENSATION_OFFERED]
    ) == ("OFFER_AFTER_REJECTION")


def test_payment_must_equal_accepted_offer():
    offer = {"amount": "10.00", "currency": "EUR", "method": "bank_transfer", "signature": SIG}
    s = apply(guard(S.DECIDED), "compensation_offered", Role.OFFICER, offer)
    assert s.offer == Money.from_fields(offer)
    s = apply(s, "compensation_accepted", Role.CUSTOMER, {})
    wrong = {**offer, "amount": "9.99"}
    assert refused(s, "compensation_paid", Role.OFFICER, wrong) == "PAYMENT_MISMATCH"
    wrong_unit = {**offer, "currency": "GBP"}
    assert refused(s, "compensation_paid", Role.OFFICER, wrong_unit) == "PAYMENT_MISMATCH"
    paid = apply(s, "compensation_paid", Role.OFFICER, {**offer, "amount": "10.0"})
    assert paid.payments == (Money.from_fields(offer),) and paid.offer is None


def test_declined_offer_can_be_renewed():
    s = apply(guard(S.COMPENSATION_OFFERED), "compensation_declined", Role.CUSTOMER, {})
    s = apply(s, "compensation_offered", Role.OFFICER, SAMPLE_PUBLIC[E.COMPENSATION_OFFERED])
    assert s.status == S.COMPENSATION_OFFERED


def test_open_offer_closes_only_when_lapsed():
    s = guard(S.COMPENSATION_OFFERED)
    assert refused(s, "closed", Role.AGENT, {"reason": "resolved"}) == "OFFER_OPEN"
    assert refused(s, "closed", Role.AGENT, {}) == "OFFER_OPEN"
    assert apply(s, "closed", Role.SYSTEM, {"reason": "offer_lapsed"}).status == S.CLOSED


def test_erasure_targets():
    s = apply(guard(), "erased", Role.ADMIN, {"erases": A_HASH, "basis": "gdpr_art17"})
    assert s.erased == {A_HASH} and s.status == S.INVESTIGATING
    again = {"erases": A_HASH, "basis": "gdpr_art17"}
    s2 = dataclasses.replace(s, events=(*s.events, ChainEntry("dd" * 32, E.ERASED)))
    assert refused(s2, "erased", Role.ADMIN, again) == "ALREADY_ERASED"
    assert refused(s2, "erased", Role.LEGAL, {"erases": "dd" * 32, "basis": "gdpr_art17"}) == (
        "ERASE_TARGET_INVALID"
    )
    assert refused(s2, "erased", Role.ADMIN, {"erases": "ee" * 32, "basis": "gdpr_art17"}) == (
        "ERASE_TARGET_UNKNOWN"
    )


def test_ratings_are_recorded_in_any_state():
    for status in Status:
        s = apply(guard(status), "rated", Role.CUSTOMER, {"csat": 5, "rates": 2})
        assert s.ratings == (5,) and s.rated == {2} and s.status == status


def test_a_rating_without_a_target_is_an_older_rating_that_new_steps_may_not_be():
    # On the log: ratings recorded before the rule name no step; they count and verify.
    s = apply(guard(), "rated", Role.CUSTOMER, {"csat": 4})
    assert s.ratings == (4,) and s.rated == frozenset()
    assert apply(s, "rated", Role.CUSTOMER, {"csat": 2}).ratings == (4, 2)
    # A new step must name its target (workflow.append_event checks it before recording).
    with pytest.raises(PayloadError) as exc:
        validate_new_step("rated", {"csat": 5})
    assert exc.value.code == "MISSING_FIELD" and exc.value.field == "public.rates"
    validate_new_step("rated", {"csat": 5, "rates": 2})


def test_a_rating_names_an_earlier_rateable_step():
    for bad in (-1, "2", 2.0, True, None):
        with pytest.raises(PayloadError):
            apply(guard(), "rated", Role.CUSTOMER, {"csat": 5, "rates": bad})
    # received (0) and evidence (1) are not the firm's interactions; 3 is the rating's own seq
    # and 4 a later one
    for target in (0, 1, 3, 4, 2**53 - 1):
        assert refused(guard(), "rated", Role.CUSTOMER, {"csat": 5, "rates": target}) == (
            "RATING_TARGET"
        )
    # a state that knows no chain cannot show the target exists: refused too
    no_chain = guard(events=())
    assert refused(no_chain, "rated", Role.CUSTOMER, {"csat": 5, "rates": 2}) == "RATING_TARGET"


def test_one_rating_per_step():
    s = apply(guard(S.CLOSED), "rated", Role.CUSTOMER, {"csat": 1, "rates": 2})
    s = dataclasses.replace(s, events=(*s.events, ChainEntry("dd" * 32, E.RATED)))
    for csat in (1, 5):
        assert refused(s, "rated", Role.CUSTOMER, {"csat": csat, "rates": 2}) == (
            "RATING_DUPLICATE"
        )
    assert s.ratings == (1,)
    # another interaction may be rated once too
    s = dataclasses.replace(s, events=(*s.events, ChainEntry("ee" * 32, E.CLOSED)))
    s = apply(s, "rated", Role.CUSTOMER, {"csat": 4, "rates": 4})
    assert s.ratings == (1, 4) and s.rated == {2, 4}
    assert rateable_steps(s) == []


def test_every_rateable_type_is_rateable_and_only_those():
    for et in EventType:
        if et in OFFICER_KEY_EVENTS:
            continue
        s = guard(S.CLOSED, events=(ChainEntry(A_HASH, E.RECEIVED), ChainEntry(B_HASH, et)))
        public = {"csat": 3, "rates": 1}
        if et in RATEABLE_EVENTS:
            assert apply(s, "rated", Role.CUSTOMER, public).rated == {1}
            assert rateable_steps(s) == [1]
        else:
            assert refused(s, "rated", Role.CUSTOMER, public) == "RATING_TARGET"
            assert rateable_steps(s) == []
    assert E.RECEIVED not in RATEABLE_EVENTS and E.RATED not in RATEABLE_EVENTS


def test_bundle_exports_are_recorded_in_any_state():
    public = SAMPLE_PUBLIC[E.BUNDLE_EXPORTED]
    for status in Status:
        for role in (Role.LEGAL, Role.CUSTOMER, Role.REGULATOR, Role.ADMIN):
            s = apply(guard(status), "bundle_exported", role, public)
            assert s.status == status and s == guard(status)  # nothing but the record
    assert refused(guard(), "bundle_exported", Role.AGENT, public) == "ROLE_NOT_ALLOWED"
    with pytest.raises(PayloadError):
        apply(guard(), "bundle_exported", Role.LEGAL, {**public, "bundle_sha256": "AB" * 32})
    with pytest.raises(PayloadError):
        apply(guard(), "bundle_exported", Role.LEGAL, {**public, "requested_by": "Ann"})


def test_allowed_events_matches_table():
    s = guard(S.COMPENSATION_OFFERED)
    customer_steps = {
        E.EVIDENCE_ADDED,
        E.COMPENSATION_ACCEPTED,
        E.COMPENSATION_DECLINED,
        E.WITHDRAWN,
        E.REFERRED,
        E.RATED,
    }
    # The customer's playbook step is the confirmation of a fix: offered when one is next.
    confirming = guard(
        S.COMPENSATION_OFFERED,
        playbook=(PlaybookStep.RISK_ASSESSED, PlaybookStep.GUIDANCE_GIVEN),
    )
    assert set(allowed_events(confirming, Role.CUSTOMER)) == customer_steps | {E.PLAYBOOK_STEP}
    # the identity check, a handler's target and an incident link are staff records
    assert {E.IDENTITY_VERIFIED, E.TARGET_SET, E.INCIDENT_LINKED} <= set(
        allowed_events(s, Role.AGENT)
    )
    assert not {E.IDENTITY_VERIFIED, E.TARGET_SET, E.INCIDENT_LINKED} & set(
        allowed_events(s, Role.CUSTOMER)
    )
    done = guard(
        S.INVESTIGATING,
        identity_verified=True,
        target_set=True,
        incident="INC-2026-0001",
        playbook=playbook(Category.SECURITY_QUESTION),
    )
    assert not {E.IDENTITY_VERIFIED, E.PLAYBOOK_STEP, E.TARGET_SET, E.INCIDENT_LINKED} & set(
        allowed_events(done, Role.AGENT)
    )
    timed = guard(S.INVESTIGATING, category=Category.STUCK_TRANSACTION)
    assert E.TARGET_SET not in allowed_events(timed, Role.AGENT)
    # an export's record is the trace of building a bundle, never a step to choose
    assert allowed_events(guard(S.WITHDRAWN), Role.REGULATOR) == []
    assert E.ERASED in allowed_events(guard(S.WITHDRAWN), Role.ADMIN)
    assert allowed_events(None, Role.CUSTOMER) == [E.RECEIVED]
    assert allowed_events(None, Role.OFFICER) == []


def _states_in_every_status():
    """For each status, states a customer may face: fresh, and with every guard's condition
    flipped (information pending or not, the only rateable step rated or not, ...)."""
    for status in Status:
        yield guard(status)
        yield guard(status, info_pending=False, rated=frozenset({2}))
        yield guard(status, holding_reply_sent=True, outcome=Outcome.REJECTED)
        yield guard(status, events=BASE.events[:1], erased=frozenset({A_HASH}))
        # the playbook's records done: identity checked, target set, incident linked, all
        # steps done
        yield guard(
            status,
            identity_verified=True,
            target_set=True,
            incident="INC-2026-0001",
            playbook=playbook(Category.SECURITY_QUESTION),
            owner="staff-1",
        )
        # a timed category (no handler's target) waiting for the customer's confirmation
        yield guard(
            status,
            category=Category.STUCK_TRANSACTION,
            playbook=(PlaybookStep.CHAIN_ERROR_FOUND, PlaybookStep.CUSTOMER_UPDATED),
            confirm_by="2026-03-05T10:00:00.000Z",
        )


def _assignment_for(state: ComplaintState, role: Role) -> dict:
    """The assignment ``role`` would try: a claim if it claims, else an assignment; a
    reassignment to someone else once the complaint has an owner."""
    if state.owner is not None:
        return {"owner": "staff-2", "how": "reassign"}
    return {"owner": "staff-1", "how": "claim" if role in ASSIGNER_ROLES["claim"] else "assign"}


@pytest.mark.parametrize("role", list(Role))
def test_next_steps_are_steps_the_role_can_record(role):
    """Every step ``allowed_events`` offers is accepted for some payload (the samples, or a
    rating of the first step left to rate); every step it leaves out is refused."""
    for state in _states_in_every_status():
        offered = allowed_events(state, role)
        assert E.BUNDLE_EXPORTED not in offered
        for et in TRANSITIONS:
            if et in TRACE_EVENTS:
                continue
            public = dict(SAMPLE_PUBLIC[et])
            if et == E.RATED and rateable_steps(state):
                public["rates"] = rateable_steps(state)[0]
            if et == E.ESCALATED and state.level == EscalationLevel.SPECIALIST:
                public = {"level": "specialist", "specialism": "legal"}
            if et == E.DECISION and state.event_type_of(B_HASH) is None:
                public["evidence"] = []  # cite only what this chain holds
            if et == E.ERASED:
                erasable = [e.leaf_hash for e in state.events if e.leaf_hash not in state.erased]
                public["erases"] = erasable[0] if erasable else A_HASH
            if et == E.ASSIGNED:
                public = _assignment_for(state, role)
            if et == E.PLAYBOOK_STEP:
                nxt = next_step(state.category, state.playbook) or playbook(state.category)[0]
                public = {"step": str(nxt)}
                if nxt in CONFIRMING_STEPS:
                    public["confirmation"] = "lapsed" if role == Role.SYSTEM else "customer"
            try:
                apply(state, et, role, public)
                # Who may record a playbook step (and when a lapse may be) is checked with the
                # step's actor and time: states.check_context, which step() runs.
                check_context(state, et, role, public, "2030-01-01T00:00:00Z")
                ok = True
            except TransitionError:
                ok = False
            assert ok == (et in offered), (state.status, et, role)


# --- replay ---------------------------------------------------------------------------------

FULL_PATH = (
    "acknowledged",
    "escalated",
    "info_requested",
    "info_received",
    "evidence_added",
    "note_added",
    "holding_reply",
    "decision",
    "compensation_offered",
    "compensation_declined",
    "compensation_offered",
    "compensation_accepted",
    "compensation_paid",
    "closed",
    "rated",
    "referred",
    "reopened",
    "decision",
    "closed",
    "erased",
    "bundle_exported",
)


def test_replay_full_path(registry):
    c = Chain().run(*FULL_PATH)
    state = replay(c.leaves, registry=registry)
    assert state == c.state
    assert state.status == S.CLOSED and state.reopen_count == 1
    assert state.seq == len(FULL_PATH) and state.head == c.built[-1].leaf_hash.hex()
    assert state.reference == c.built[1].envelope.complaint
    assert replay(c.envelopes) == state  # envelopes or bytes


def reencode(leaf: bytes, **changes) -> bytes:
    data = json.loads(leaf)
    data.update(changes)
    return canonical_json(data)


def test_replay_detects_broken_prev():
    c = Chain().run("acknowledged", "evidence_added", "note_added")
    leaves = c.leaves
    leaves[2] = reencode(leaves[2], prev="00" * 32)
    with pytest.raises(ChainError) as exc:
        replay(leaves)
    assert exc.value.code == "BROKEN_PREV" and exc.value.index == 2


def test_replay_detects_bad_seq_missing_and_reordered_events():
    c = Chain().run("acknowledged", "evidence_added", "note_added")
    leaves = c.leaves
    with pytest.raises(ChainError) as exc:
        replay([leaves[0], leaves[1], leaves[3]])  # one event dropped
    assert exc.value.code == "BAD_SEQ" and exc.value.index == 2
    with pytest.raises(ChainError) as exc:
        replay([leaves[0], leaves[2], leaves[1], leaves[3]])
    assert exc.value.code == "BAD_SEQ" and exc.value.index == 1
    with pytest.raises(ChainError) as exc:
        replay([leaves[0], reencode(leaves[1], seq=5)])
    assert exc.value.code == "BAD_SEQ"
    with pytest.raises(ChainError) as exc:
        replay(leaves[1:])
    assert exc.value.code == "CHAIN_START" and exc.value.index == 0
    with pytest.raises(ChainError) as exc:
        replay([])
    assert exc.value.code == "EMPTY_CHAIN"


def test_replay_detects_events_of_another_complaint_or_log():
    a, b = Chain().run("acknowledged"), Chain().run("acknowledged")
    with pytest.raises(ChainError) as exc:
        replay([a.leaves[0], b.leaves[1]])
    assert exc.value.code in {"REFERENCE_MISMATCH", "BROKEN_PREV"}
    other_log = reencode(a.leaves[1], log="other.example/log")
    with pytest.raises(ChainError) as exc:
        replay([a.leaves[0], other_log])
    assert exc.value.code == "LOG_MISMATCH"


def test_time_going_backwards_is_refused_on_write_and_on_replay():
    c = Chain().run("acknowledged")
    with pytest.raises(ChainError) as exc:
        c.add("evidence_added", at=c.clock - timedelta(minutes=1))
    assert exc.value.code == "TIME_WENT_BACKWARDS"
    leaves = c.leaves
    leaves[1] = reencode(leaves[1], at="2026-03-02T09:00:00Z")
    with pytest.raises(ChainError) as exc:
        replay(leaves)
    assert exc.value.code == "TIME_WENT_BACKWARDS" and exc.value.index == 1


def test_replay_refuses_an_invalid_transition_hidden_in_a_valid_chain():
    c = Chain().run("acknowledged")
    # A forged "closed" with correct links but no decision: replay refuses it.
    forged = reencode(
        c.leaves[1],
        seq=2,
        prev=c.built[1].leaf_hash.hex(),
        type="closed",
        public={"state": "closed"},
    )
    with pytest.raises(TransitionError) as exc:
        replay([*c.leaves, forged])
    assert exc.value.code == "INVALID_TRANSITION" and exc.value.index == 2


def test_replay_refuses_officer_key_entries():
    with pytest.raises(ChainError):
        replay([REGISTRATION.leaf])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=14), st.data())
def test_random_walks_replay_and_any_relinking_is_caught(choices, data):
    # every category: the playbook steps, the identity check and the targets differ
    c = Chain(category=data.draw(st.sampled_from(sorted(Category))))
    for pick in choices:
        candidates = [et for et, rule in TRANSITIONS.items() if c.state.status in rule.moves]
        for offset in range(len(candidates)):
            et = candidates[(pick + offset) % len(candidates)]
            try:
                c.add(et)
                break
            except TransitionError:
                continue
    assert replay(c.leaves) == c.state
    if len(c.leaves) < 2:
        return
    i = data.draw(st.integers(1, len(c.leaves) - 1))
    field = data.draw(st.sampled_from(["seq", "prev"]))
    env = c.built[i].envelope
    change = {"seq": env.seq + 1} if field == "seq" else {"prev": "ff" * 32}
    leaves = list(c.leaves)
    leaves[i] = reencode(leaves[i], **change)
    with pytest.raises(ChainError) as exc:
        replay(leaves)
    assert exc.value.index == i
    assert exc.value.code == ("BAD_SEQ" if field == "seq" else "BROKEN_PREV")
