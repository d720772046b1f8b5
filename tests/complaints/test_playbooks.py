"""The service playbooks (issue #14): each category's steps in order, the identity check and
its payout gate, handler targets, confirmations and their lapse, incidents, compensation kinds,
and the clocks that stop when the solution is carried out — on real chains (real leaves and
signatures), checked again by ``states.replay`` and measured by ``deadlines.due_report``."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from ledger.complaints.deadlines import (
    ClockName,
    ClockStatus,
    DueReport,
    due_report,
    get_jurisdiction,
    initial_deadlines,
)
from ledger.complaints.errors import PayloadError, TransitionError
from ledger.complaints.events import Actor, BuiltEvent, build_event
from ledger.complaints.officers import signature_field
from ledger.complaints.payloads import validate_event
from ledger.complaints.playbooks import (
    AFTER_DECISION_STEPS,
    CONFIRMING_STEPS,
    IDENTITY_FIRST,
    IDENTITY_STEP,
    PLAYBOOKS,
    UNTIMED_CATEGORIES,
    next_step,
    playbook,
    resolves,
    states_wait,
    waits_for_customer,
)
from ledger.complaints.states import allowed_events, check_context, replay, transition_target
from ledger.complaints.timestamps import format_timestamp
from ledger.complaints.vocab import Category, EventType, PlaybookStep, Role
from ledger.complaints.workflow import signing_body
from tests.support.complaint_chain import AGENT, CUSTOMER, LOG, OFFICER, OFFICER_KEY, Chain

E, P = EventType, PlaybookStep
MIN, H = timedelta(minutes=1), timedelta(hours=1)
SYSTEM = Actor(Role.SYSTEM, "intake-bot")

CATEGORIES = sorted(Category)
TIMED = [c for c in CATEGORIES if c not in UNTIMED_CATEGORIES]
# The figures (resolution target, limit), independent of service_rules on purpose.
HOURS = {
    Category.LOST_RECOVERY_PHRASE: (24 * H, 48 * H),
    Category.STUCK_TRANSACTION: (4 * H, 12 * H),
    Category.HACKED_ACCOUNT: (1 * H, 3 * H),
    Category.INTERFACE_FAULT: (2 * H, 6 * H),
    Category.SYNC_FAULT: (1 * H, 4 * H),
    Category.REFUND_OR_CLAIM: (24 * H, 72 * H),
    Category.GENERAL_QUESTION: (15 * MIN, 2 * H),
    Category.INTEGRATION_PROBLEM: (4 * H, 8 * H),
    Category.BANK_INTEGRATION: (24 * H, 24 * H),
}
# What a handler sets for an untimed category in these tests, and the times it gives.
HANDLER_TARGET = {"target_minutes": 120, "limit_minutes": 480}
HOURS_OR_HANDLER = {**HOURS, Category.SECURITY_QUESTION: (2 * H, 8 * H)}
# Categories whose second step waits for the customer's confirmation of the fix.
CONFIRMED = [c for c in CATEGORIES if states_wait(c, playbook(c)[1])]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ts(instant: datetime) -> str:
    return format_timestamp(instant)


def clock(report: DueReport, name: ClockName, cycle: int = 0):
    return next(c for c in report.clocks if c.name == name and c.cycle == cycle)


def names(report: DueReport, cycle: int = 0) -> set[ClockName]:
    return {c.name for c in report.clocks if c.cycle == cycle}


def refused(c: Chain, et: str, **kwargs) -> str:
    """The code a step is refused with; the chain is left as it was."""
    before = len(c.built)
    with pytest.raises(TransitionError) as exc:
        c.add(et, **kwargs)
    assert len(c.built) == before
    return exc.value.code


def record_next(
    c: Chain, *, at: datetime | None = None, confirm_by: datetime | None = None
) -> BuiltEvent:
    """Record the playbook's next step as it is recorded: the identity check as
    identity_verified, a step reporting a decision after one, a confirming step by the customer
    (tests.support.complaint_chain.default_step)."""
    step = next_step(c.state.category, c.state.playbook)
    assert step is not None, "the playbook is done"
    if step == IDENTITY_STEP:
        return c.add("identity_verified", at=at)
    if step in AFTER_DECISION_STEPS and c.state.outcome is None:
        c.add("decision", at=at)
    if confirm_by is not None:
        return c.add(
            "playbook_step", public={"step": str(step), "confirm_by": ts(confirm_by)}, at=at
        )
    return c.add("playbook_step", at=at)


def forge(
    c: Chain, et: str, actor: Actor, public: dict, at: datetime, body: dict | None = None
) -> bytes:
    """A well-formed next leaf of ``c`` built without asking the state machine (what a faulty
    or dishonest writer could append): for replay to judge."""
    state = c.state
    status = transition_target(state, EventType(et), actor.role)
    return build_event(
        log=LOG,
        complaint=state.reference,
        seq=state.next_seq,
        prev=state.head,
        type=et,
        at=at,
        actor=actor,
        public={**public, "state": str(status)},
        body=body or {},
    ).leaf


# --- the playbooks as data -------------------------------------------------------------------


def test_every_category_has_its_three_steps():
    c = Category
    assert dict(PLAYBOOKS) == {
        c.LOST_RECOVERY_PHRASE: (
            P.IDENTITY_VERIFICATION, P.RECOVERY_ALTERNATIVES_PROPOSED, P.SECURE_RESET,
        ),
        c.STUCK_TRANSACTION: (P.CHAIN_ERROR_FOUND, P.CUSTOMER_UPDATED, P.RESOLUTION_CONFIRMED),
        c.HACKED_ACCOUNT: (P.ACCESS_BLOCKED, P.KEYS_CHANGED, P.SECURITY_VALIDATED),
        c.INTERFACE_FAULT: (P.FAULT_REPRODUCED, P.FIX_DEPLOYED, P.FIX_CONFIRMED),
        c.SYNC_FAULT: (P.SYNC_DIAGNOSED, P.RESYNC_PERFORMED, P.BALANCE_CONFIRMED),
        c.REFUND_OR_CLAIM: (P.DETAILED_REVIEW, P.DECISION_COMMUNICATED, P.SOLUTION_CARRIED_OUT),
        c.GENERAL_QUESTION: (P.QUESTION_UNDERSTOOD, P.ANSWER_GIVEN, P.ANSWER_CONFIRMED),
        c.INTEGRATION_PROBLEM: (
            P.INTEGRATION_DIAGNOSED, P.PARTNER_CONTACTED, P.INTEGRATION_RESTORED,
        ),
        c.BANK_INTEGRATION: (
            P.INTEGRATION_DIAGNOSED, P.PARTNER_CONTACTED, P.INTEGRATION_RESTORED,
        ),
        c.SECURITY_QUESTION: (P.RISK_ASSESSED, P.GUIDANCE_GIVEN, P.PROTECTION_CONFIRMED),
    }  # fmt: skip
    assert {Category.LOST_RECOVERY_PHRASE} == IDENTITY_FIRST
    assert {Category.SECURITY_QUESTION} == UNTIMED_CATEGORIES
    # a confirming step is always the last: the customer confirms the fix that was made
    for steps in PLAYBOOKS.values():
        assert all(s not in CONFIRMING_STEPS for s in steps[:-1])
    assert set(CONFIRMED) == {c for c, s in PLAYBOOKS.items() if s[-1] in CONFIRMING_STEPS}


@pytest.mark.parametrize("category", CATEGORIES)
def test_what_resolves_and_what_waits(category):
    steps = playbook(category)
    for step in steps:
        public = {"step": str(step)}
        assert resolves(category, E.PLAYBOOK_STEP, public) == (step == steps[-1])
        assert waits_for_customer(category, E.PLAYBOOK_STEP, public) == (
            category in CONFIRMED and step == steps[1]
        )
    assert resolves(category, E.COMPENSATION_PAID, {})
    assert resolves(category, E.DECISION, {"outcome": "rejected"})
    assert not resolves(category, E.DECISION, {"outcome": "upheld"})
    assert not resolves(category, E.DECISION, {"outcome": "partially_upheld"})
    assert resolves(category, E.CLOSED, {"reason": "resolved"})
    assert not resolves(category, E.CLOSED, {"reason": "no_response"})
    assert not waits_for_customer(category, E.INFO_REQUESTED, {})  # the clocks see to that


# --- playbook order ----------------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
def test_the_three_steps_in_order_pass(category, registry):
    c = Chain(category=category).run("acknowledged")
    for _ in range(3):
        record_next(c)
    assert c.state.playbook == playbook(category)
    assert next_step(category, c.state.playbook) is None
    assert E.PLAYBOOK_STEP not in allowed_events(c.state, Role.AGENT)
    assert replay(c.leaves, registry=registry) == c.state
    # how each step was recorded
    recorded = [e for e in c.envelopes if e.type in (E.PLAYBOOK_STEP, E.IDENTITY_VERIFIED)]
    for envelope, step in zip(recorded, playbook(category), strict=True):
        if step == IDENTITY_STEP:
            assert envelope.type == E.IDENTITY_VERIFIED
        else:
            assert envelope.public["step"] == step
            confirming = step in CONFIRMING_STEPS
            assert (envelope.actor == CUSTOMER) == confirming
            assert ("confirmation" in envelope.public) == confirming


def _orders(category: Category):
    right = playbook(category)
    return [order for order in itertools.permutations(right) if order != right]


@pytest.mark.parametrize(
    ("category", "order"),
    [(c, o) for c in CATEGORIES for o in _orders(c)],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else str(v),
)
def test_any_other_order_is_refused(category, order):
    c = Chain(category=category).run("acknowledged", "decision")  # a decision: order only
    right = playbook(category)
    for i, step in enumerate(order):
        if step == right[i]:
            record_next(c)
            continue
        public = {"step": str(step)}
        actor = AGENT
        if step in CONFIRMING_STEPS:
            public["confirmation"] = "customer"
            actor = CUSTOMER
        if step == IDENTITY_STEP:
            # out of order too, but the step is not a playbook_step at all
            code = refused(c, "playbook_step", actor=actor, public=public)
            assert code == "PLAYBOOK_USE_IDENTITY"
        else:
            assert refused(c, "playbook_step", actor=actor, public=public) == "PLAYBOOK_ORDER"
        break
    else:
        raise AssertionError(f"{order} is the playbook's order")
    assert c.state.playbook == right[:i]


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_repeated_step_is_refused(category):
    c = Chain(category=category).run("acknowledged", "decision")
    steps = playbook(category)
    for done in range(1, 4):
        record_next(c)
        for step in steps[:done]:
            if step == IDENTITY_STEP:
                assert refused(c, "identity_verified") == "IDENTITY_VERIFIED"
                continue
            assert refused(c, "playbook_step", public={"step": str(step)}) == "PLAYBOOK_REPEATED"


@pytest.mark.parametrize("category", CATEGORIES)
def test_the_identity_step_only_via_identity_verified(category):
    c = Chain(category=category).run("acknowledged")
    public = {"step": str(IDENTITY_STEP)}
    expected = "PLAYBOOK_USE_IDENTITY" if category in IDENTITY_FIRST else "PLAYBOOK_STEP_UNKNOWN"
    assert refused(c, "playbook_step", public=public) == expected
    c.add("identity_verified")
    assert c.state.identity_verified
    # it counts as the first step only where the playbook starts with it
    assert c.state.playbook == ((IDENTITY_STEP,) if category in IDENTITY_FIRST else ())
    assert refused(c, "playbook_step", public=public) == expected


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_step_of_another_playbook_is_unknown(category):
    c = Chain(category=category).run("acknowledged")
    foreign = next(s for s in P if s != IDENTITY_STEP and s not in playbook(category))
    assert refused(c, "playbook_step", public={"step": str(foreign)}) == "PLAYBOOK_STEP_UNKNOWN"


def test_no_secure_reset_before_identity_verification():
    c = Chain(category="lost_recovery_phrase").run("acknowledged")
    for step in ("secure_reset", "recovery_alternatives_proposed"):
        assert refused(c, "playbook_step", public={"step": step}) == "PLAYBOOK_ORDER"
    c.add("identity_verified")
    assert refused(c, "playbook_step", public={"step": "secure_reset"}) == "PLAYBOOK_ORDER"
    c.add("playbook_step", public={"step": "recovery_alternatives_proposed"})
    c.add("playbook_step", public={"step": "secure_reset"})
    assert c.state.playbook == playbook("lost_recovery_phrase")


def test_decision_communicated_needs_a_decision():
    c = Chain(category="refund_or_claim").run("acknowledged")
    c.add("playbook_step", public={"step": "detailed_review"})
    step = {"step": "decision_communicated"}
    assert refused(c, "playbook_step", public=step) == "PLAYBOOK_NEEDS_DECISION"
    c.add("decision")
    c.add("playbook_step", public=step)
    c.add("playbook_step", public={"step": "solution_carried_out"})
    assert c.state.playbook == playbook("refund_or_claim")


def test_confirmation_fields_fit_the_step():
    c = Chain(category="stuck_transaction").run("acknowledged")
    with_confirmation = {"step": "chain_error_found", "confirmation": "customer"}
    assert refused(c, "playbook_step", public=with_confirmation) == "PLAYBOOK_CONFIRMATION"
    # only the step before a confirming step states a wait
    waits = {"step": "chain_error_found", "confirm_by": "2026-03-05T10:00:00.000Z"}
    assert refused(c, "playbook_step", public=waits) == "PLAYBOOK_CONFIRMATION"
    c.run("playbook_step", "playbook_step")
    bare = {"step": "resolution_confirmed"}
    assert refused(c, "playbook_step", actor=AGENT, public=bare) == "PLAYBOOK_CONFIRMATION"
    # a confirming step does not state another wait: a payload error, whatever the state
    with pytest.raises(PayloadError):
        c.add(
            "playbook_step",
            public={**bare, "confirmation": "customer", "confirm_by": "2026-03-09T10:00:00.000Z"},
        )


# --- the identity gate ------------------------------------------------------------------------

OFFER = {"amount": "10.00", "currency": "EUR", "method": "account_credit"}


def _accepted(c: Chain, **offer_public) -> Chain:
    c.run("acknowledged", "decision")
    c.add("compensation_offered", public={**OFFER, **offer_public}, body=dict(OFFER))
    c.add("compensation_accepted")
    return c


def test_a_lost_recovery_phrase_payout_needs_the_identity_verified(registry):
    c = _accepted(Chain(category="lost_recovery_phrase"))
    assert refused(c, "compensation_paid") == "IDENTITY_NOT_VERIFIED"
    c.add("identity_verified")  # while the offer is accepted: an open-case record
    c.add("compensation_paid")
    assert c.state.payments and replay(c.leaves, registry=registry) == c.state


def test_an_offer_that_requires_the_identity_is_paid_only_after_it(registry):
    c = _accepted(Chain(category="stuck_transaction"), identity_required=True)
    assert c.state.offer_needs_identity
    assert refused(c, "compensation_paid") == "IDENTITY_NOT_VERIFIED"
    c.add("identity_verified")
    c.add("compensation_paid")
    assert replay(c.leaves, registry=registry) == c.state
    # without the requirement (or with it false) nothing waits for the identity
    for public in ({}, {"identity_required": False}):
        other = _accepted(Chain(category="stuck_transaction"), **public)
        other.add("compensation_paid")
        assert not other.state.identity_verified


def test_a_payout_written_before_the_identity_check_fails_replay(registry):
    c = _accepted(Chain(category="lost_recovery_phrase"))
    body = signing_body(c.state, "compensation_paid", {**OFFER, "payment_reference": "R-1"})
    public = {**OFFER, "signature": signature_field(OFFICER_KEY, body)}
    forged = forge(c, "compensation_paid", OFFICER, public, c.clock + MIN, body)
    with pytest.raises(TransitionError) as exc:
        replay([*c.leaves, forged], registry=registry)
    assert exc.value.code == "IDENTITY_NOT_VERIFIED" and exc.value.index == len(c.leaves)


def test_the_identity_survives_a_reopening():
    c = Chain(category="lost_recovery_phrase").run("acknowledged")
    for _ in range(3):
        record_next(c)
    c.run("decision", "closed", "reopened")
    assert c.state.identity_verified and c.state.reopen_count == 1
    # the new cycle's playbook starts after the identity check, which is not repeated
    assert c.state.playbook == (IDENTITY_STEP,)
    assert refused(c, "identity_verified") == "IDENTITY_VERIFIED"
    assert E.IDENTITY_VERIFIED not in allowed_events(c.state, Role.AGENT)
    c.add("playbook_step", public={"step": "recovery_alternatives_proposed"})
    c.add("playbook_step", public={"step": "secure_reset"})
    # and a payout in the new cycle needs no second check
    c.add("decision")
    c.add("compensation_offered", public=dict(OFFER), body=dict(OFFER))
    c.run("compensation_accepted", "compensation_paid")
    assert len(c.state.payments) == 1


def test_identity_method_is_public_and_the_check_reference_stays_in_the_body():
    c = Chain(category="lost_recovery_phrase").run("acknowledged")
    built = c.add("identity_verified", public={"method": "video_call"})
    assert built.envelope.public == {"state": "acknowledged", "method": "video_call"}
    assert built.body == {"check_reference": "IDV-2026-0001"}
    with pytest.raises(PayloadError):
        validate_event("identity_verified", {"state": "investigating", "method": "selfie"}, {})
    with pytest.raises(PayloadError):  # no reference to the check
        validate_event("identity_verified", {"state": "investigating", "method": "video_call"}, {})


# --- confirmations and their lapse ------------------------------------------------------------

START = utc(2026, 3, 2, 10)
FIX_MADE = START + 3 * MIN  # _waiting: the fix the customer is asked to confirm
CONFIRM_BY = FIX_MADE + 72 * H


def _waiting(category: str = "stuck_transaction") -> Chain:
    """A complaint whose fix, made at FIX_MADE, waits for the customer's confirmation until
    CONFIRM_BY (the playbook's first two steps, in time for every category's target)."""
    c = Chain(category=category, start=START)
    c.add("acknowledged", at=START + MIN)
    if category in UNTIMED_CATEGORIES:
        c.add("target_set", public=dict(HANDLER_TARGET), at=START + MIN)
    record_next(c, at=START + 2 * MIN)
    record_next(c, at=FIX_MADE, confirm_by=CONFIRM_BY)
    assert c.state.confirm_by == ts(CONFIRM_BY)
    return c


def _lapse(c: Chain, at: datetime, actor: Actor = SYSTEM):
    step = str(next_step(c.state.category, c.state.playbook))
    return c.add(
        "playbook_step", actor=actor, public={"step": step, "confirmation": "lapsed"}, at=at
    )


@pytest.mark.parametrize("category", CONFIRMED)
def test_a_confirmation_lapses_only_once_the_stated_wait_has_passed(category, registry):
    c = _waiting(category)
    confirm_by = CONFIRM_BY
    step = str(next_step(category, c.state.playbook))
    lapsed = {"step": step, "confirmation": "lapsed"}
    for at in (START + H, confirm_by - timedelta(milliseconds=1)):
        assert refused(c, "playbook_step", actor=SYSTEM, public=lapsed, at=at) == (
            "CONFIRMATION_NOT_LAPSED"
        )
    # replay refuses the same step written without asking
    forged = forge(c, "playbook_step", SYSTEM, lapsed, confirm_by - MIN)
    with pytest.raises(TransitionError) as exc:
        replay([*c.leaves, forged], registry=registry)
    assert exc.value.code == "CONFIRMATION_NOT_LAPSED" and exc.value.index == len(c.leaves)
    # at the stated instant it has lapsed
    _lapse(c, confirm_by)
    assert c.state.playbook == playbook(category) and c.state.confirm_by is None
    assert replay(c.leaves, registry=registry) == c.state
    # staff may record a lapse too, later
    late = _waiting(category)
    _lapse(late, confirm_by + 5 * H, actor=AGENT)
    assert late.state.playbook == playbook(category)


def test_a_confirmation_without_a_stated_wait_never_lapses():
    c = Chain(category="interface_fault").run("acknowledged", "playbook_step", "playbook_step")
    assert c.state.confirm_by is None
    lapsed = {"step": "fix_confirmed", "confirmation": "lapsed"}
    late = c.clock + 365 * 24 * H
    assert refused(c, "playbook_step", actor=SYSTEM, public=lapsed, at=late) == (
        "CONFIRMATION_NOT_LAPSED"
    )
    c.add("playbook_step")  # the customer's own confirmation
    assert c.state.playbook == playbook("interface_fault")


def test_the_customer_may_only_confirm_and_the_system_may_not_confirm_for_them():
    c = Chain(category="sync_fault").run("acknowledged")
    # a customer records no work step...
    diagnosed = {"step": "sync_diagnosed"}
    assert refused(c, "playbook_step", actor=CUSTOMER, public=diagnosed) == "ROLE_NOT_ALLOWED"
    c.add("playbook_step", public=diagnosed)
    c.add(
        "playbook_step",
        public={"step": "resync_performed", "confirm_by": "2026-03-05T10:00:00.000Z"},
        at=utc(2026, 3, 2, 11),
    )
    confirmed = {"step": "balance_confirmed", "confirmation": "customer"}
    lapsed = {"step": "balance_confirmed", "confirmation": "lapsed"}
    after = utc(2026, 3, 6)
    # ...nor a lapse of their own confirmation
    assert refused(c, "playbook_step", actor=CUSTOMER, public=lapsed, at=after) == (
        "ROLE_NOT_ALLOWED"
    )
    # the system may record the lapse but never the customer's confirmation
    assert refused(c, "playbook_step", actor=SYSTEM, public=confirmed) == "ROLE_NOT_ALLOWED"
    # check_context is the rule, whoever asks (the state machine's step, the monitor)
    with pytest.raises(TransitionError) as exc:
        check_context(c.state, E.PLAYBOOK_STEP, Role.SYSTEM, confirmed, ts(after))
    assert exc.value.code == "ROLE_NOT_ALLOWED"
    c.add("playbook_step", actor=CUSTOMER, public=confirmed)
    assert c.state.playbook == playbook("sync_fault")


def test_staff_may_record_the_confirmation_the_customer_gave_them():
    c = Chain(category="general_question").run("acknowledged", "playbook_step", "playbook_step")
    c.add(
        "playbook_step",
        actor=AGENT,
        public={"step": "answer_confirmed", "confirmation": "customer"},
    )
    assert c.state.playbook == playbook("general_question")


# --- handler targets (untimed categories) -----------------------------------------------------


def test_a_security_question_has_no_resolution_clocks_until_its_target_is_set():
    j = get_jurisdiction("EU-PSD2")
    promised = initial_deadlines(START, "security_question", j)
    assert "target_resolution" not in promised and "resolution_limit" not in promised
    c = Chain(category="security_question", start=START)
    c.add("acknowledged", at=START + 10 * MIN)
    report = due_report(c.envelopes, START + 100 * H)
    assert names(report) == {ClockName.FIRST_RESPONSE, ClockName.FINAL_RESPONSE}
    assert not report.overdue
    c.add("target_set", public={"target_minutes": 90, "limit_minutes": 300}, at=START + 30 * MIN)
    assert c.state.target_set
    report = due_report(c.envelopes, START + 40 * MIN)
    target = clock(report, ClockName.TARGET_RESOLUTION)
    limit = clock(report, ClockName.RESOLUTION_LIMIT)
    # counted from the start of the cycle, like every category's
    assert target.due_at == START + 90 * MIN and limit.due_at == START + 300 * MIN
    assert target.started_at == START and target.status == ClockStatus.RUNNING
    assert target.rule == "handler_target"
    assert dict(target.rule_args) == {"target": "1.5", "limit": "5"}
    # the same clocks run and stop like any category's (the wait for the confirmation from
    # 100 min on cannot help the target, already passed)
    record_next(c, at=START + 95 * MIN)
    record_next(c, at=START + 100 * MIN)
    record_next(c, at=START + 2 * H)
    done = due_report(c.envelopes, START + 10 * H)
    assert clock(done, ClockName.TARGET_RESOLUTION).status == ClockStatus.MISSED
    assert clock(done, ClockName.RESOLUTION_LIMIT).status == ClockStatus.MET


def test_a_target_is_set_once_per_cycle():
    c = Chain(category="security_question", start=START)
    c.add("target_set", public={"target_minutes": 60, "limit_minutes": 120}, at=START + MIN)
    again = {"target_minutes": 30, "limit_minutes": 60}
    assert refused(c, "target_set", public=again) == "TARGET_ALREADY_SET"
    assert E.TARGET_SET not in allowed_events(c.state, Role.AGENT)
    c.run("acknowledged", "decision", "closed")
    reopened = c.add("reopened", at=START + 5 * H).envelope.at_datetime
    assert not c.state.target_set
    # until its handler sets a new one, the new cycle runs on the last target set
    report = due_report(c.envelopes, reopened)
    assert clock(report, ClockName.TARGET_RESOLUTION, 1).due_at == reopened + 60 * MIN
    c.add("target_set", public=again, at=reopened + MIN)
    report = due_report(c.envelopes, reopened + 2 * MIN)
    assert clock(report, ClockName.TARGET_RESOLUTION, 1).due_at == reopened + 30 * MIN
    assert clock(report, ClockName.RESOLUTION_LIMIT, 1).due_at == reopened + 60 * MIN


def test_a_target_is_not_after_its_limit():
    c = Chain(category="security_question")
    with pytest.raises(PayloadError) as exc:
        c.add("target_set", public={"target_minutes": 61, "limit_minutes": 60})
    assert exc.value.code == "TARGET_ABOVE_LIMIT"


@pytest.mark.parametrize("category", TIMED)
def test_a_timed_category_keeps_its_times(category):
    c = Chain(category=category).run("acknowledged")
    assert refused(c, "target_set") == "TARGET_FIXED"
    assert E.TARGET_SET not in allowed_events(c.state, Role.AGENT)


# --- incidents ----------------------------------------------------------------------------------


def test_a_complaint_is_linked_to_one_incident():
    c = Chain(category="bank_integration").run("acknowledged")
    c.add("incident_linked", public={"incident": "INC-2026-0042"})
    assert c.state.incident == "INC-2026-0042"
    for incident in ("INC-2026-0042", "INC-2026-0043"):
        code = refused(c, "incident_linked", public={"incident": incident})
        assert code == "INCIDENT_ALREADY_LINKED"
    assert E.INCIDENT_LINKED not in allowed_events(c.state, Role.AGENT)
    # a reopening is the same complaint, still part of the same incident
    c.run("decision", "closed", "reopened")
    assert c.state.incident == "INC-2026-0042"
    assert refused(c, "incident_linked") == "INCIDENT_ALREADY_LINKED"
    with pytest.raises(PayloadError):
        Chain().add("incident_linked", public={"incident": "outage of 2 March"})


# --- compensation kinds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["money", "fee_refund", "discount", "bonus_credit", "free_service"]
)
@pytest.mark.parametrize("method", ["bank_transfer", "card_refund", "account_credit", "in_kind"])
def test_in_kind_is_for_discounts_and_free_services_only(kind, method):
    money = {"kind": kind, "amount": "10.00", "currency": "EUR", "method": method}
    in_kind = kind in ("discount", "free_service")
    c = Chain().run("acknowledged", "decision")
    if in_kind == (method == "in_kind"):
        c.add("compensation_offered", public=dict(money), body=dict(money))
        assert c.state.offer_kind == kind
        c.add("compensation_accepted")
        c.add("compensation_paid", public=dict(money), body={**money, "payment_reference": "R-1"})
        assert c.state.offer_kind is None and len(c.state.payments) == 1
    else:
        with pytest.raises(PayloadError) as exc:
            c.add("compensation_offered", public=dict(money), body=dict(money))
        assert exc.value.code == "BAD_MONEY"


def test_a_payment_of_another_kind_than_the_offer_is_refused(registry):
    offer = {"kind": "fee_refund", "amount": "4.20", "currency": "EUR", "method": "account_credit"}
    c = Chain().run("acknowledged", "decision")
    c.add("compensation_offered", public=dict(offer), body=dict(offer))
    c.add("compensation_accepted")
    for kind in ("money", "bonus_credit"):
        paid = {**offer, "kind": kind}
        code = refused(
            c, "compensation_paid", public=paid, body={**paid, "payment_reference": "R-1"}
        )
        assert code == "PAYMENT_MISMATCH"
    # no kind named: money, which is not this offer's either
    untyped = {k: v for k, v in offer.items() if k != "kind"}
    code = refused(
        c, "compensation_paid", public=untyped, body={**untyped, "payment_reference": "R-1"}
    )
    assert code == "PAYMENT_MISMATCH"
    c.add("compensation_paid", public=dict(offer), body={**offer, "payment_reference": "R-1"})
    assert replay(c.leaves, registry=registry) == c.state


# --- allowed_events and the step-level rules --------------------------------------------------


def test_the_identity_check_next_is_offered_as_identity_verified_only():
    c = Chain(category="lost_recovery_phrase").run("acknowledged")
    offered = allowed_events(c.state, Role.AGENT)
    assert E.IDENTITY_VERIFIED in offered
    assert E.PLAYBOOK_STEP not in offered


def test_a_customer_is_offered_a_playbook_step_only_to_confirm():
    c = Chain(category="stuck_transaction").run("acknowledged")
    assert E.PLAYBOOK_STEP not in allowed_events(c.state, Role.CUSTOMER)


def test_a_step_reporting_a_decision_is_offered_only_after_one():
    c = Chain(category="refund_or_claim").run("acknowledged", "playbook_step")
    assert E.PLAYBOOK_STEP not in allowed_events(c.state, Role.AGENT)


def test_the_system_is_not_offered_a_confirmation_it_cannot_record():
    c = Chain(category="interface_fault").run("acknowledged", "playbook_step", "playbook_step")
    assert c.state.confirm_by is None
    assert E.PLAYBOOK_STEP not in allowed_events(c.state, Role.SYSTEM)


# --- clocks: every category, both jurisdictions, weekends and holidays ------------------------

# Receipts just before closed days: hour targets run on elapsed time, the statutory final
# response on the jurisdiction's calendar (exclusive end of the local due day, in UTC).
RECEIPTS = {
    # Thursday 24 December 2026, 19:00 CET / 18:00 GMT: 25 Dec, the weekend, 1 Jan closed
    # everywhere; Monday 28 December (Boxing Day's substitute) in England and Wales only.
    "christmas_eve": utc(2026, 12, 24, 18),
    # Good Friday 3 April 2026, 11:00 CEST / 10:00 BST; Easter Monday closed too.
    "good_friday": utc(2026, 4, 3, 9),
    # Friday 28 August 2026, 23:00 CEST / 22:00 BST; Monday 31 August a bank holiday in
    # England and Wales, a TARGET2 business day.
    "uk_bank_holiday": utc(2026, 8, 28, 21),
}
FINAL_RESPONSE_DUE = {
    ("christmas_eve", "EU-PSD2"): utc(2027, 1, 18, 23),  # 15 TARGET2 days: Mon 18 Jan
    ("christmas_eve", "UK-FCA-PSR"): utc(2027, 1, 20, 0),  # 15 E&W days: Tue 19 Jan
    ("christmas_eve", "UK-FCA-DISP"): utc(2027, 2, 19, 0),  # 8 weeks: Thu 18 Feb
    ("good_friday", "EU-PSD2"): utc(2026, 4, 27, 22),  # Mon 27 Apr, CEST
    ("good_friday", "UK-FCA-PSR"): utc(2026, 4, 27, 23),  # Mon 27 Apr, BST
    ("good_friday", "UK-FCA-DISP"): utc(2026, 5, 29, 23),  # Fri 29 May
    ("uk_bank_holiday", "EU-PSD2"): utc(2026, 9, 18, 22),  # Fri 18 Sep (31 Aug counts)
    ("uk_bank_holiday", "UK-FCA-PSR"): utc(2026, 9, 21, 23),  # Mon 21 Sep (31 Aug does not)
    ("uk_bank_holiday", "UK-FCA-DISP"): utc(2026, 10, 23, 23),  # Fri 23 Oct
}
JURISDICTION_CODES = ["EU-PSD2", "UK-FCA-DISP", "UK-FCA-PSR"]


@pytest.mark.parametrize("jurisdiction", JURISDICTION_CODES)
@pytest.mark.parametrize("receipt", sorted(RECEIPTS))
@pytest.mark.parametrize("category", CATEGORIES)
def test_every_clock_at_intake(category, receipt, jurisdiction):
    start = RECEIPTS[receipt]
    c = Chain(category=category, jurisdiction=jurisdiction, start=start)
    report = due_report(c.envelopes, start)
    expected = {
        ClockName.FIRST_RESPONSE: start + 2 * H,
        ClockName.FINAL_RESPONSE: FINAL_RESPONSE_DUE[receipt, jurisdiction],
    }
    if category == Category.HACKED_ACCOUNT:
        expected[ClockName.ACCESS_BLOCK] = start + 15 * MIN
    if category in HOURS:
        target, limit = HOURS[category]
        expected[ClockName.TARGET_RESOLUTION] = start + target
        expected[ClockName.RESOLUTION_LIMIT] = start + limit
    assert {k.name: k.due_at for k in report.clocks} == expected
    assert all(k.status == ClockStatus.RUNNING and k.cycle == 0 for k in report.clocks)
    # the promise written on the received event is the same
    promised = initial_deadlines(start, category, get_jurisdiction(jurisdiction))
    assert promised == {
        **{str(name): ts(due) for name, due in expected.items()},
        "first_response_goal": ts(start + H),
    }


def test_hour_targets_over_good_friday_are_elapsed_time():
    start = RECEIPTS["good_friday"]
    expected = {
        "lost_recovery_phrase": (utc(2026, 4, 4, 9), utc(2026, 4, 5, 9)),
        "refund_or_claim": (utc(2026, 4, 4, 9), utc(2026, 4, 6, 9)),  # Easter Monday
        "bank_integration": (utc(2026, 4, 4, 9), utc(2026, 4, 4, 9)),
        "general_question": (utc(2026, 4, 3, 9, 15), utc(2026, 4, 3, 11)),
    }
    for category, (target, limit) in expected.items():
        report = due_report(Chain(category=category, start=start).envelopes, start)
        assert clock(report, ClockName.TARGET_RESOLUTION).due_at == target
        assert clock(report, ClockName.RESOLUTION_LIMIT).due_at == limit


def _run_playbook(c: Chain, times: list[datetime]) -> None:
    for at in times:
        record_next(c, at=at)


@pytest.mark.parametrize("when", ["in_time", "after_target", "after_limit"])
@pytest.mark.parametrize("category", TIMED)
def test_resolution_clocks_stop_when_the_solution_is_carried_out(category, when):
    start = RECEIPTS["good_friday"]
    target, limit = HOURS[category]
    begin = {"in_time": MIN, "after_target": target, "after_limit": limit}[when]
    c = Chain(category=category, start=start, jurisdiction="UK-FCA-PSR")
    c.add("acknowledged", at=start + MIN)
    times = [start + begin + i * MIN for i in (1, 2, 3)]
    _run_playbook(c, times)
    report = due_report(c.envelopes, start + 10 * 24 * H)
    done = times[-1]
    for name, span in ((ClockName.TARGET_RESOLUTION, target), (ClockName.RESOLUTION_LIMIT, limit)):
        found = clock(report, name)
        due = start + span
        # waiting for the confirmation (step 2 to step 3) does not count, when it began in time
        if category in CONFIRMED and times[1] < due:
            due += times[2] - times[1]
        assert found.due_at == due, name
        assert found.completed_at == done
        assert found.status == (ClockStatus.MET if done < due else ClockStatus.MISSED), name
        assert found.rule == "service_target"
    expected = {
        "in_time": (ClockStatus.MET, ClockStatus.MET),
        "after_target": (
            ClockStatus.MISSED,
            ClockStatus.MET if limit > target else ClockStatus.MISSED,
        ),
        "after_limit": (ClockStatus.MISSED, ClockStatus.MISSED),
    }[when]
    got = (
        clock(report, ClockName.TARGET_RESOLUTION).status,
        clock(report, ClockName.RESOLUTION_LIMIT).status,
    )
    assert got == expected


@pytest.mark.parametrize("category", TIMED)
def test_resolution_clocks_run_overdue_without_the_solution(category):
    start = RECEIPTS["christmas_eve"]
    target, limit = HOURS[category]
    c = Chain(category=category, start=start, jurisdiction="EU-PSD2")
    c.add("acknowledged", at=start + MIN)
    c.add("decision", at=start + 2 * MIN)  # an upheld decision carries nothing out
    report = due_report(c.envelopes, start + target)
    assert clock(report, ClockName.TARGET_RESOLUTION).status == ClockStatus.OVERDUE
    assert clock(report, ClockName.RESOLUTION_LIMIT).status == (
        ClockStatus.OVERDUE if limit == target else ClockStatus.RUNNING
    )
    assert clock(report, ClockName.TARGET_RESOLUTION) in report.overdue
    assert clock(report, ClockName.FINAL_RESPONSE).status == ClockStatus.MET
    late = due_report(c.envelopes, start + limit)
    assert clock(late, ClockName.RESOLUTION_LIMIT).status == ClockStatus.OVERDUE


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        (("decision",), ClockStatus.RUNNING),
        (("decision", "playbook_step"), ClockStatus.RUNNING),
        (("rejected",), ClockStatus.MET),
        (("decision", "compensation_offered", "compensation_accepted", "compensation_paid"),
         ClockStatus.MET),
        (("decision", "closed"), ClockStatus.MET),  # closed as resolved
        (("decision", "no_response"), ClockStatus.STOPPED),
        (("withdrawn",), ClockStatus.STOPPED),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else str(v),
)  # fmt: skip
def test_what_stops_the_resolution_clocks(ending, status):
    start = RECEIPTS["uk_bank_holiday"]
    c = Chain(category="stuck_transaction", start=start, jurisdiction="UK-FCA-DISP")
    c.add("acknowledged", at=start + MIN)
    for et in ending:
        if et == "rejected":
            public, body = _rejected()
            c.add("decision", public=public, body=body)
        elif et == "no_response":
            c.add("closed", public={"reason": "no_response"})
        else:
            c.add(et)
    last = c.built[-1].envelope.at_datetime
    report = due_report(c.envelopes, start + H)
    for name in (ClockName.TARGET_RESOLUTION, ClockName.RESOLUTION_LIMIT):
        found = clock(report, name)
        assert found.status == status, name
        assert found.completed_at == (last if status == ClockStatus.MET else None)


def _rejected() -> tuple[dict, dict]:
    body = {
        "outcome": "rejected",
        "finding": "The transaction was confirmed on chain.",
        "rules": ["T&C 7.2"],
        "evidence": [],
        "root_cause": "no_fault_found",
    }
    public = {k: body[k] for k in ("outcome", "root_cause", "rules", "evidence")}
    return public, body


@pytest.mark.parametrize("jurisdiction", JURISDICTION_CODES)
@pytest.mark.parametrize("category", TIMED)
def test_waiting_for_information_pauses_the_hour_clocks_not_the_statutory_one(
    category, jurisdiction
):
    start = RECEIPTS["good_friday"]
    target, limit = HOURS[category]
    c = Chain(category=category, start=start, jurisdiction=jurisdiction)
    c.add("acknowledged", at=start + MIN)
    c.add("info_requested", at=start + 10 * MIN)
    waiting = due_report(c.envelopes, start + limit + 24 * H)
    for name in (ClockName.TARGET_RESOLUTION, ClockName.RESOLUTION_LIMIT):
        paused = clock(waiting, name)
        assert paused.status == ClockStatus.PAUSED and paused.due_at is None
        assert paused not in waiting.overdue and not paused.breached
    # answered on Tuesday after Easter, 9:00 UTC: the clocks resume for what was left
    answered = utc(2026, 4, 7, 9)
    pause = answered - (start + 10 * MIN)
    c.add("info_received", at=answered)
    report = due_report(c.envelopes, answered)
    assert clock(report, ClockName.TARGET_RESOLUTION).due_at == start + target + pause
    assert clock(report, ClockName.RESOLUTION_LIMIT).due_at == start + limit + pause
    final = clock(report, ClockName.FINAL_RESPONSE)
    assert final.due_at == FINAL_RESPONSE_DUE["good_friday", jurisdiction]


@pytest.mark.parametrize("category", CONFIRMED)
def test_waiting_for_a_confirmation_pauses_the_hour_clocks(category):
    start = RECEIPTS["christmas_eve"]
    target, limit = HOURS_OR_HANDLER[category]
    c = Chain(category=category, start=start, jurisdiction="UK-FCA-PSR")
    c.add("acknowledged", at=start + MIN)
    if category in UNTIMED_CATEGORIES:
        c.add("target_set", public=dict(HANDLER_TARGET), at=start + MIN)
    record_next(c, at=start + 2 * MIN)
    record_next(c, at=start + 3 * MIN, confirm_by=start + 3 * MIN + 72 * H)
    waiting = due_report(c.envelopes, start + 48 * H)
    for name in (ClockName.TARGET_RESOLUTION, ClockName.RESOLUTION_LIMIT):
        assert clock(waiting, name).status == ClockStatus.PAUSED
    # confirmed on 28 December: the days of waiting do not count
    confirmed = utc(2026, 12, 28, 12)
    record_next(c, at=confirmed)
    report = due_report(c.envelopes, confirmed + H)
    pause = confirmed - (start + 3 * MIN)
    for name, span in ((ClockName.TARGET_RESOLUTION, target), (ClockName.RESOLUTION_LIMIT, limit)):
        found = clock(report, name)
        assert found.due_at == start + span + pause
        assert found.status == ClockStatus.MET and found.completed_at == confirmed


@pytest.mark.parametrize("category", CONFIRMED)
def test_a_lapsed_confirmation_carries_out_the_solution(category):
    c = _waiting(category)
    _lapse(c, CONFIRM_BY)
    report = due_report(c.envelopes, CONFIRM_BY + H)
    for name, span in zip((ClockName.TARGET_RESOLUTION, ClockName.RESOLUTION_LIMIT),
                          HOURS_OR_HANDLER[category], strict=True):  # fmt: skip
        found = clock(report, name)
        assert found.completed_at == CONFIRM_BY
        assert found.due_at == START + span + 72 * H  # the wait stated did not count
        assert found.status == ClockStatus.MET


def test_overlapping_waits_pause_until_both_end():
    c = _waiting("stuck_transaction")  # waiting for the confirmation since FIX_MADE
    c.add("info_requested", at=START + 40 * MIN)
    c.add("info_received", at=START + 60 * MIN)
    report = due_report(c.envelopes, START + 24 * H)
    assert clock(report, ClockName.TARGET_RESOLUTION).status == ClockStatus.PAUSED


def test_a_decision_ends_the_wait_for_information():
    c = Chain(category="stuck_transaction", start=START)  # target 4 h, limit 12 h
    c.add("acknowledged", at=START + MIN)
    c.add("info_requested", at=START + 10 * MIN)
    c.add("decision", at=START + 20 * MIN)  # decided without the information
    assert not c.state.info_pending
    report = due_report(c.envelopes, START + 5 * H)
    target = clock(report, ClockName.TARGET_RESOLUTION)
    assert target.due_at == START + 4 * H + 10 * MIN
    assert target.status == ClockStatus.OVERDUE


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_reopening_starts_new_clocks_and_a_new_playbook(category, registry):
    start = RECEIPTS["good_friday"]
    c = Chain(category=category, start=start, jurisdiction="EU-PSD2")
    c.add("acknowledged", at=start + MIN)
    if category in UNTIMED_CATEGORIES:
        c.add("target_set", public=dict(HANDLER_TARGET), at=start + MIN)
    _run_playbook(c, [start + i * MIN for i in (2, 3, 4)])
    if c.state.outcome is None:
        c.add("decision", at=start + 5 * MIN)
    c.add("closed", at=start + 6 * MIN)
    reopened = utc(2026, 4, 6, 9)  # Easter Monday
    c.add("reopened", at=reopened)
    restarted = (IDENTITY_STEP,) if category in IDENTITY_FIRST else ()
    assert c.state.playbook == restarted and c.state.outcome is None
    report = due_report(c.envelopes, reopened + MIN)
    target, limit = HOURS_OR_HANDLER[category]
    assert clock(report, ClockName.TARGET_RESOLUTION, 0).status == ClockStatus.MET
    new_target = clock(report, ClockName.TARGET_RESOLUTION, 1)
    new_limit = clock(report, ClockName.RESOLUTION_LIMIT, 1)
    assert new_target.started_at == reopened and new_target.status == ClockStatus.RUNNING
    assert new_target.due_at == reopened + target and new_limit.due_at == reopened + limit
    # the first response and a step's own target are the first cycle's only
    assert names(report, 1) == {
        ClockName.TARGET_RESOLUTION,
        ClockName.RESOLUTION_LIMIT,
        ClockName.FINAL_RESPONSE,
    }
    # 15 TARGET2 business days after Easter Monday: Monday 27 April
    assert clock(report, ClockName.FINAL_RESPONSE, 1).due_at == utc(2026, 4, 27, 22)
    # the playbook runs again, in order, and carries out the solution anew
    steps_left = len(playbook(category)) - len(restarted)
    times = [reopened + i * MIN for i in range(1, steps_left + 1)]
    _run_playbook(c, times)
    assert c.state.playbook == playbook(category)
    done = due_report(c.envelopes, reopened + H)
    for name in (ClockName.TARGET_RESOLUTION, ClockName.RESOLUTION_LIMIT):
        assert clock(done, name, 1).status == ClockStatus.MET
        assert clock(done, name, 1).completed_at == times[-1]
    assert replay(c.leaves, registry=registry) == c.state


# --- the access-block clock of a hacked account ------------------------------------------------


@pytest.mark.parametrize(
    ("blocked_after", "now_after", "status"),
    [
        (None, 10 * MIN, ClockStatus.RUNNING),
        (None, 15 * MIN, ClockStatus.OVERDUE),
        (14 * MIN, 20 * MIN, ClockStatus.MET),
        (15 * MIN, 20 * MIN, ClockStatus.MISSED),  # the due instant is exclusive
        (40 * MIN, 50 * MIN, ClockStatus.MISSED),
    ],
)
@pytest.mark.parametrize("jurisdiction", JURISDICTION_CODES)
def test_access_blocked_within_15_minutes(jurisdiction, blocked_after, now_after, status):
    start = RECEIPTS["christmas_eve"]
    c = Chain(category="hacked_account", start=start, jurisdiction=jurisdiction)
    c.add("acknowledged", at=start + MIN)
    if blocked_after is not None:
        c.add("playbook_step", public={"step": "access_blocked"}, at=start + blocked_after)
    report = due_report(c.envelopes, start + now_after)
    block = clock(report, ClockName.ACCESS_BLOCK)
    assert block.due_at == start + 15 * MIN and block.started_at == start
    assert block.status == status
    assert block.rule == "step_target"
    assert dict(block.rule_args) == {"step": "access_blocked", "minutes": "15"}
    assert (block in report.overdue) == (status == ClockStatus.OVERDUE)
    assert block.breached == (status in (ClockStatus.OVERDUE, ClockStatus.MISSED))
    if status == ClockStatus.RUNNING:
        assert report.next_due == block  # the most urgent clock of all
    if blocked_after is not None:
        assert block.completed_at == start + blocked_after


def test_only_a_hacked_account_has_an_access_block_clock():
    for category in CATEGORIES:
        report = due_report(Chain(category=category, start=START).envelopes, START)
        assert (ClockName.ACCESS_BLOCK in names(report)) == (category == Category.HACKED_ACCOUNT)


def test_a_withdrawal_stops_the_access_block_clock():
    c = Chain(category="hacked_account", start=START)
    c.add("withdrawn", at=START + 5 * MIN)
    block = clock(due_report(c.envelopes, START + H), ClockName.ACCESS_BLOCK)
    assert block.status == ClockStatus.STOPPED and not block.breached
