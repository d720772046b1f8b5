"""The service playbooks: each category's three steps, in the order the state machine enforces.

These are rules of the record, checked from the log alone by every verifier (the Python
state machine, the browser verifier's generated rulebook, the monitor): which steps belong to
a category, which must come first, which are confirmed by the customer, and which step means
the solution was carried out. The times that go with them (targets, limits, the access-block
target) are a deployment's configuration: ``ledger.complaints.service_rules``.

* A playbook step is recorded as a ``playbook_step`` event naming the step, except the
  identity check, which is its own event (``identity_verified``: method and a reference to the
  check); it counts as the first step of the playbooks that start with it.
* Steps are done in order, each once per cycle (a reopening starts the playbook again; a
  verified identity stays verified).
* A *confirming* step (the customer confirms the fix) is recorded with ``confirmation``:
  ``customer`` when the customer confirmed, or ``lapsed`` when the wait the previous step
  stated (``confirm_by``) has passed without an answer.
* The resolution (the end of the resolution clocks and of "time to resolution" in the figures)
  is the solution carried out: the playbook's last step, a compensation payment, a closure
  for reason ``resolved``, or a rejected decision (nothing to carry out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ledger.complaints.vocab import (
    Category,
    CloseReason,
    EventType,
    Outcome,
    PlaybookStep,
)

C = Category
P = PlaybookStep

PLAYBOOKS: Mapping[Category, tuple[PlaybookStep, ...]] = MappingProxyType(
    {
        C.LOST_RECOVERY_PHRASE: (
            P.IDENTITY_VERIFICATION,
            P.RECOVERY_ALTERNATIVES_PROPOSED,
            P.SECURE_RESET,
        ),
        C.STUCK_TRANSACTION: (P.CHAIN_ERROR_FOUND, P.CUSTOMER_UPDATED, P.RESOLUTION_CONFIRMED),
        C.HACKED_ACCOUNT: (P.ACCESS_BLOCKED, P.KEYS_CHANGED, P.SECURITY_VALIDATED),
        C.INTERFACE_FAULT: (P.FAULT_REPRODUCED, P.FIX_DEPLOYED, P.FIX_CONFIRMED),
        C.SYNC_FAULT: (P.SYNC_DIAGNOSED, P.RESYNC_PERFORMED, P.BALANCE_CONFIRMED),
        C.REFUND_OR_CLAIM: (P.DETAILED_REVIEW, P.DECISION_COMMUNICATED, P.SOLUTION_CARRIED_OUT),
        C.GENERAL_QUESTION: (P.QUESTION_UNDERSTOOD, P.ANSWER_GIVEN, P.ANSWER_CONFIRMED),
        C.INTEGRATION_PROBLEM: (
            P.INTEGRATION_DIAGNOSED,
            P.PARTNER_CONTACTED,
            P.INTEGRATION_RESTORED,
        ),
        C.BANK_INTEGRATION: (
            P.INTEGRATION_DIAGNOSED,
            P.PARTNER_CONTACTED,
            P.INTEGRATION_RESTORED,
        ),
        C.SECURITY_QUESTION: (P.RISK_ASSESSED, P.GUIDANCE_GIVEN, P.PROTECTION_CONFIRMED),
    }
)
# Recorded by its own event (identity_verified), never as a playbook_step.
IDENTITY_STEP = P.IDENTITY_VERIFICATION
# Categories whose playbook starts with the identity check: a payout needs it first, and the
# complaint's personal bodies may be withheld from its secret until then (service_rules).
IDENTITY_FIRST = frozenset(c for c, steps in PLAYBOOKS.items() if steps[0] == IDENTITY_STEP)
# Steps the customer confirms (or that lapse after the wait the previous step stated).
CONFIRMING_STEPS = frozenset(
    {P.RESOLUTION_CONFIRMED, P.FIX_CONFIRMED, P.BALANCE_CONFIRMED, P.ANSWER_CONFIRMED,
     P.PROTECTION_CONFIRMED}
)  # fmt: skip
# Steps that report a decision to the customer: a decision must have been made in the cycle.
AFTER_DECISION_STEPS = frozenset({P.DECISION_COMMUNICATED})
# Steps that may have their own target (service_rules step_targets; deadlines gives each a
# clock): access blocked, "at once" for a hacked account.
TIMED_STEPS = frozenset({P.ACCESS_BLOCKED})
# Categories without a fixed resolution time: the handler sets one (target_set).
UNTIMED_CATEGORIES = frozenset({C.SECURITY_QUESTION})

assert all(len(steps) == 3 for steps in PLAYBOOKS.values())
assert set(PLAYBOOKS) == set(Category), "every category has a playbook"
assert all(IDENTITY_STEP not in steps[1:] for steps in PLAYBOOKS.values())


def playbook(category: Category | str) -> tuple[PlaybookStep, ...]:
    return PLAYBOOKS[Category(category)]


def final_step(category: Category | str) -> PlaybookStep:
    """The step that carries out the solution."""
    return playbook(category)[-1]


def next_step(category: Category | str, done: Sequence[str]) -> PlaybookStep | None:
    """The step the playbook expects next after ``done`` (None when it is complete)."""
    steps = playbook(category)
    return steps[len(done)] if len(done) < len(steps) else None


def states_wait(category: Category | str, step: str) -> bool:
    """Whether ``step`` is followed by a confirming step (it may state ``confirm_by``)."""
    steps = playbook(category)
    i = steps.index(PlaybookStep(step)) if step in steps else -1
    return 0 <= i < len(steps) - 1 and steps[i + 1] in CONFIRMING_STEPS


def resolves(category: Category | str, event_type: str, public: Mapping[str, Any]) -> bool:
    """Whether this event carries out the complaint's solution (ends the resolution clocks)."""
    if event_type == EventType.PLAYBOOK_STEP:
        return public.get("step") == final_step(category)
    if event_type == EventType.COMPENSATION_PAID:
        return True
    if event_type == EventType.DECISION:
        return public.get("outcome") == Outcome.REJECTED
    if event_type == EventType.CLOSED:
        return public.get("reason") == CloseReason.RESOLVED
    return False


def waits_for_customer(
    category: Category | str, event_type: str, public: Mapping[str, Any]
) -> bool:
    """Whether this event starts a wait for the customer's confirmation (a clock pause)."""
    return event_type == EventType.PLAYBOOK_STEP and states_wait(category, public.get("step", ""))
