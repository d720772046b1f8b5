"""Owners on the log: claim, assign and reassign as ``assigned`` steps (pseudonym on the leaf,
display name in the body), the rules of who and when, and the owner in the replayed state."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.complaints.errors import PayloadError, TransitionError
from ledger.complaints.events import Actor
from ledger.complaints.payloads import validate_body, validate_event, validate_public
from ledger.complaints.states import (
    CONTEXT_EVENTS,
    TRANSITIONS,
    allowed_events,
    check_context,
    replay,
)
from ledger.complaints.vocab import (
    ASSIGNER_ROLES,
    RATEABLE_EVENTS,
    AssignmentKind,
    EventType,
    Role,
    Status,
)
from ledger.verify.complaint import verify_complaint_proof
from tests.support.complaint_chain import AGENT, SUPERVISOR, Chain
from tests.support.proof_scenarios import ASSIGNMENT_BREAKS, SCENARIOS

E = EventType
NAME = {"owner_name": "Ana Silva"}


def claim(owner: str = AGENT.id) -> dict:
    return {"owner": owner, "how": "claim"}


# --- the payload ------------------------------------------------------------------------------


def test_the_leaf_names_a_pseudonym_and_how_the_body_the_name() -> None:
    validate_event(E.ASSIGNED, {"state": "received", **claim("staff-3f9a2b1c")}, NAME)
    for how in AssignmentKind:
        validate_public(E.ASSIGNED, {"state": "investigating", "owner": "a", "how": str(how)})


@pytest.mark.parametrize(
    ("public", "code"),
    [
        ({"owner": "ana@example.org", "how": "claim"}, "INVALID_FIELD"),  # no e-mail addresses
        ({"owner": "Ana Silva", "how": "claim"}, "INVALID_FIELD"),  # no names
        ({"owner": "", "how": "claim"}, "INVALID_FIELD"),
        ({"owner": "x" * 65, "how": "claim"}, "INVALID_FIELD"),
        ({"owner": "agent-7", "how": "take"}, "INVALID_FIELD"),
        ({"owner": "agent-7"}, "MISSING_FIELD"),
        ({"how": "claim"}, "MISSING_FIELD"),
        ({"owner": "agent-7", "how": "claim", "owner_name": "Ana"}, "UNKNOWN_FIELD"),
    ],
)
def test_a_bad_leaf_is_refused(public, code) -> None:
    with pytest.raises(PayloadError) as exc:
        validate_public(E.ASSIGNED, {"state": "received", **public})
    assert exc.value.code == code


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "MISSING_FIELD"), ({"owner_name": " "}, "INVALID_FIELD"),
     ({"owner_name": "A" * 201}, "INVALID_FIELD"), ({"owner_name": 7}, "INVALID_FIELD")],
)  # fmt: skip
def test_the_body_carries_the_display_name(body, code) -> None:
    with pytest.raises(PayloadError) as exc:
        validate_body(E.ASSIGNED, body)
    assert exc.value.code == code


def test_the_acknowledgement_may_carry_a_personal_paragraph() -> None:
    validate_body(E.ACKNOWLEDGED, {"responsible": "Ana Silva", "paragraph": "I will call you."})
    validate_body(E.ACKNOWLEDGED, {"paragraph": "x" * 2000})
    for bad in ("", "x" * 2001, ["I will call you."]):
        with pytest.raises(PayloadError):
            validate_body(E.ACKNOWLEDGED, {"paragraph": bad})


# --- when, who, and the owner rules ----------------------------------------------------------


def test_an_assignment_moves_nothing_and_is_not_rated() -> None:
    rule = TRANSITIONS[E.ASSIGNED]
    assert rule.moves == {s: s for s in Status if s not in (Status.CLOSED, Status.WITHDRAWN)}
    assert rule.roles == {Role.AGENT, Role.OFFICER, Role.SUPERVISOR, Role.SYSTEM}
    assert E.ASSIGNED not in RATEABLE_EVENTS
    assert E.ASSIGNED in CONTEXT_EVENTS  # who may record which kind needs the actor
    assert ASSIGNER_ROLES[AssignmentKind.CLAIM] == {Role.AGENT, Role.OFFICER, Role.SUPERVISOR}
    assert ASSIGNER_ROLES[AssignmentKind.ASSIGN] == {Role.SUPERVISOR, Role.SYSTEM}
    assert ASSIGNER_ROLES[AssignmentKind.REASSIGN] == {Role.SUPERVISOR, Role.SYSTEM}


def test_claim_reassign_escalate_and_assign_again() -> None:
    c = Chain(category="hacked_account").run("acknowledged")
    assert c.state.owner is None
    c.add(E.ASSIGNED, public=claim(), body=NAME)
    assert c.state.owner == AGENT.id and c.state.status == Status.ACKNOWLEDGED
    c.add(
        E.ASSIGNED,
        actor=SUPERVISOR,
        public={"owner": "staff-3f9a2b1c", "how": "reassign"},
        body={"owner_name": "Rui Costa"},
    )
    assert c.state.owner == "staff-3f9a2b1c"
    c.run("escalated")  # bot -> agent: another queue, waiting to be claimed
    assert c.state.owner is None
    c.add(
        E.ASSIGNED,
        actor=Actor(Role.SYSTEM, "auto-escalation"),
        public={"owner": "staff-5e0d", "how": "assign"},
        body={"owner_name": "Sara Lima"},
    )
    assert c.state.owner == "staff-5e0d"
    assert replay(c.leaves) == c.state
    # Once closed or withdrawn, nobody takes it on.
    assert E.ASSIGNED not in allowed_events(dataclasses.replace(c.state, status=Status.CLOSED),
                                            Role.SUPERVISOR)  # fmt: skip


@pytest.mark.parametrize("status", [Status.CLOSED, Status.WITHDRAWN])
def test_not_after_the_end(status) -> None:
    c = Chain().run("acknowledged")
    closed = dataclasses.replace(c.state, status=status)
    with pytest.raises(TransitionError) as exc:
        c.state = closed
        c.add(E.ASSIGNED, public=claim(), body=NAME)
    assert exc.value.code == "INVALID_TRANSITION"


def _refused(c: Chain, actor: Actor, public: dict) -> str:
    with pytest.raises(TransitionError) as exc:
        c.add(E.ASSIGNED, actor=actor, public=public, body=NAME)
    return exc.value.code


def test_owner_rules() -> None:
    c = Chain().run("acknowledged")
    other = Actor(Role.AGENT, "agent-8")
    assert _refused(c, SUPERVISOR, {"owner": "agent-8", "how": "reassign"}) == "NOT_OWNED"
    assert _refused(c, AGENT, claim("agent-8")) == "CLAIM_FOR_ANOTHER"
    c.add(E.ASSIGNED, public=claim(), body=NAME)
    assert _refused(c, other, claim("agent-8")) == "ALREADY_OWNED"
    assert _refused(c, SUPERVISOR, {"owner": "agent-8", "how": "assign"}) == "ALREADY_OWNED"
    assert _refused(c, SUPERVISOR, {"owner": AGENT.id, "how": "reassign"}) == "SAME_OWNER"


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("how", list(AssignmentKind))
def test_who_records_which_kind(role, how) -> None:
    c = Chain().run("acknowledged")
    if how == AssignmentKind.REASSIGN:
        c.add(E.ASSIGNED, public=claim(), body=NAME)
    actor_id = "customer" if role == Role.CUSTOMER else "staff-1"
    public = {"owner": "staff-1", "how": str(how)}
    if role in ASSIGNER_ROLES[how]:
        c.add(E.ASSIGNED, actor=Actor(role, actor_id), public=public, body=NAME)
        assert c.state.owner == "staff-1"
    else:
        assert _refused(c, Actor(role, actor_id), public) == "ROLE_NOT_ALLOWED"


def test_check_context_without_an_actor_id_leaves_the_claim_unchecked() -> None:
    state = Chain().run("acknowledged").state
    check_context(state, E.ASSIGNED, Role.AGENT, claim("anyone"), "2030-01-01T00:00:00Z")
    with pytest.raises(TransitionError) as exc:
        check_context(state, E.ASSIGNED, Role.AGENT, claim("x"), "2030-01-01T00:00:00Z", "y")
    assert exc.value.code == "CLAIM_FOR_ANOTHER"


def test_offered_to_the_roles_that_can_record_one() -> None:
    c = Chain().run("acknowledged")
    for role in (Role.AGENT, Role.OFFICER, Role.SUPERVISOR, Role.SYSTEM):
        assert E.ASSIGNED in allowed_events(c.state, role), role
    for role in (Role.CUSTOMER, Role.LEGAL, Role.ADMIN, Role.REGULATOR):
        assert E.ASSIGNED not in allowed_events(c.state, role), role
    c.add(E.ASSIGNED, public=claim(), body=NAME)
    # Owned: only a reassignment is left, by a supervisor or the system.
    offered = {r for r in Role if E.ASSIGNED in allowed_events(c.state, r)}
    assert offered == {Role.SUPERVISOR, Role.SYSTEM}


# --- the Python verifiers --------------------------------------------------------------------


@pytest.fixture
def signer():
    from ledger.log.note import Signer

    return Signer.generate("scenarios.ledger.example/log")


def test_the_proof_verifier_accepts_owners_and_says_who(signer) -> None:
    vkey = str(signer.verifier())
    report = verify_complaint_proof(SCENARIOS["owners_claimed_reassigned_escalated"](signer), vkey)
    assert report.ok, report.lines()
    [owners] = [c for c in report.checks if c.name == "who was responsible, step by step"]
    assert owners.detail == (
        "step 2: Claimed by Ana Silva (agent-7); step 3: Reassigned to Rui Costa "
        "(staff-3f9a2b1c); step 4: escalated, no owner; step 5: Assigned to Sara Lima (staff-5e0d)"
    )
    hidden = verify_complaint_proof(SCENARIOS["owners_without_bodies"](signer), vkey)
    assert hidden.ok
    [owners] = [c for c in hidden.checks if c.name == "who was responsible, step by step"]
    assert "Claimed by agent-7" in owners.detail and "Ana Silva" not in owners.detail


@pytest.mark.parametrize("name", sorted(ASSIGNMENT_BREAKS))
def test_the_proof_verifier_breaks_where_the_rules_do(signer, name) -> None:
    seq, code, _ = ASSIGNMENT_BREAKS[name]
    report = verify_complaint_proof(SCENARIOS[name](signer), str(signer.verifier()))
    failed = [(c.category, c.detail) for c in report.checks if c.status == "fail"]
    [(category, detail)] = failed
    assert category == "rules" and detail.startswith(f"{code} at event {seq}:"), detail


def test_the_evidence_report_says_who_was_responsible(signer) -> None:
    from ledger.evidence.report import LABELS, report_sections

    def text(proof) -> str:
        return "\n".join(repr(b) for s in report_sections(proof) for b in s.blocks)

    shown = text(SCENARIOS["owners_claimed_reassigned_escalated"](signer))
    assert LABELS["assigned"] in shown
    assert "Claimed by Ana Silva (agent-7)" in shown
    assert "Reassigned to Rui Costa (staff-3f9a2b1c)" in shown
    assert "Assigned to Sara Lima (staff-5e0d)" in shown
    hidden = text(SCENARIOS["owners_without_bodies"](signer))
    assert "Claimed by agent-7" in hidden and "Ana Silva" not in hidden
