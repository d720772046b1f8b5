"""A signature survives letters being recorded: a signed body's context may name the head
before an unbroken run of ``message_sent`` steps that ends just before its step
(``events.context_heads``), on the write path (``workflow.append_event``) and in the verifier
(``verify.trail``); any other step in between is a CONTEXT_MISMATCH, as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger.complaints.errors import EnvelopeError
from ledger.complaints.events import build_event, check_context, context_heads
from ledger.complaints.officers import signature_field
from ledger.complaints.states import ComplaintState
from ledger.complaints.vocab import EventType
from ledger.complaints.workflow import append_event, signing_body
from ledger.verify.trail import Disclosure, verify_complaint
from tests.support.complaint_chain import OFFICER, OFFICER_KEY, REGISTRY, Chain, default_step

E = EventType


def _signed_at(state: ComplaintState) -> tuple[dict[str, Any], dict[str, Any]]:
    """A decision's public fields and body, signed by the officer at ``state``'s head."""
    _, public, content = default_step(state, E.DECISION)
    body = signing_body(state, E.DECISION, content)
    return {**public, "signature": signature_field(OFFICER_KEY, body)}, body


def _append(c: Chain, public: dict[str, Any], body: dict[str, Any]) -> None:
    c.clock += timedelta(minutes=5)
    built, c.state = append_event(
        c.state,
        type=E.DECISION,
        at=c.clock,
        actor=OFFICER,
        public=public,
        body=body,
        registry=REGISTRY,
    )
    c.built.append(built)


def _verify(c: Chain) -> None:
    """The Python verifier over the whole chain, every body disclosed."""
    disclosures = {b.envelope.leaf_hash_hex: Disclosure(b.salt, b.body_jcs) for b in c.built}
    report = verify_complaint(c.leaves, disclosures=disclosures, registry=REGISTRY)
    signed = {b.envelope.leaf_hash_hex for b in c.built if b.envelope.type == E.DECISION}
    assert signed and signed <= report.signatures_verified


@pytest.mark.parametrize("letters", [1, 2])
def test_a_decision_signed_before_letters_were_recorded_is_valid(letters: int) -> None:
    c = Chain().run("acknowledged", "evidence_added")
    signed_head = c.state.head
    public, body = _signed_at(c.state)
    for _ in range(letters):
        c.add("message_sent")
    assert c.state.head != signed_head
    assert c.state.context_heads[-1] == signed_head
    _append(c, public, body)
    assert c.built[-1].envelope.prev != body["context"]["prev"] == signed_head
    _verify(c)


def test_signed_between_two_letters_is_valid() -> None:
    c = Chain().run("acknowledged", "message_sent")
    public, body = _signed_at(c.state)
    c.add("message_sent")
    _append(c, public, body)
    _verify(c)


def test_strict_check_without_the_chain_still_wants_the_envelopes_prev() -> None:
    c = Chain().run("acknowledged")
    public, body = _signed_at(c.state)
    c.add("message_sent")
    heads = c.state.context_heads
    _append(c, public, body)
    decision = c.built[-1]
    with pytest.raises(EnvelopeError) as exc:
        check_context(decision.envelope, decision.body)
    assert exc.value.code == "CONTEXT_MISMATCH"
    check_context(decision.envelope, decision.body, heads)


@pytest.mark.parametrize(
    "between",
    [
        ("note_added",),
        ("message_sent", "note_added"),
        ("note_added", "message_sent"),
        ("message_sent", "evidence_added", "message_sent"),
    ],
)
def test_any_other_step_in_between_is_a_context_mismatch(between: tuple[str, ...]) -> None:
    c = Chain().run("acknowledged")
    public, body = _signed_at(c.state)
    c.run(*between)
    with pytest.raises(EnvelopeError) as exc:
        _append(c, public, body)
    assert exc.value.code == "CONTEXT_MISMATCH"


def test_a_head_that_is_not_on_the_chain_is_refused() -> None:
    c = Chain().run("acknowledged", "message_sent")
    public, body = _signed_at(c.state)
    body = {**body, "context": {**body["context"], "prev": "ab" * 32}}
    public = {**public, "signature": signature_field(OFFICER_KEY, body)}
    with pytest.raises(EnvelopeError) as exc:
        _append(c, public, body)
    assert exc.value.code == "CONTEXT_MISMATCH"


def _forged(c: Chain, public: dict[str, Any], body: dict[str, Any]) -> None:
    """The decision's leaf built past the write path's check (a log that broke the rule)."""
    c.clock += timedelta(minutes=5)
    built = build_event(
        log=c.state.log,
        complaint=c.state.reference,
        seq=c.state.next_seq,
        prev=c.state.head,
        type=E.DECISION,
        at=c.clock,
        actor=OFFICER,
        public={**public, "state": "decided"},
        body=body,
        heads={body["context"]["prev"]},
    )
    c.built.append(built)


@pytest.mark.parametrize("before_note", [True, False])
def test_the_verifier_refuses_a_context_from_before_another_step(before_note: bool) -> None:
    c = Chain().run("acknowledged")
    public, body = _signed_at(c.state)
    if not before_note:  # a head from no chain at all
        body = {**body, "context": {**body["context"], "prev": "cd" * 32}}
        public = {**public, "signature": signature_field(OFFICER_KEY, body)}
    c.run("note_added", "message_sent")
    _forged(c, public, body)
    with pytest.raises(EnvelopeError) as exc:
        _verify(c)
    assert exc.value.code == "CONTEXT_MISMATCH"
    assert exc.value.index == len(c.built) - 1


def test_context_heads_walks_back_over_letters_only() -> None:
    assert context_heads([]) == ()
    chain = [("h0", "received"), ("h1", "acknowledged")]
    assert context_heads(chain) == ("h1",)
    chain += [("h2", "message_sent"), ("h3", "message_sent")]
    assert context_heads(chain) == ("h3", "h2", "h1")
    assert context_heads([*chain, ("h4", "note_added")]) == ("h4",)
    assert context_heads([*chain, ("h4", "note_added"), ("h5", "message_sent")]) == ("h5", "h4")


def test_the_proof_verifier_agrees_on_the_scenarios() -> None:
    from ledger.log.note import Signer
    from ledger.verify.complaint import verify_complaint_proof
    from tests.support.proof_scenarios import CONTEXT_BREAKS, ORIGIN, SCENARIOS

    signer = Signer.generate(ORIGIN)
    vkey = str(signer.verifier())
    assert verify_complaint_proof(SCENARIOS["signed_before_letters"](signer), vkey).ok
    for name, (seq, code) in CONTEXT_BREAKS.items():
        report = verify_complaint_proof(SCENARIOS[name](signer), vkey)
        failed = [c for c in report.to_json()["checks"] if c["status"] == "fail"]
        assert [c["category"] for c in failed] == ["signatures"], failed
        assert failed[0]["detail"].startswith(f"{code} at event {seq}:"), failed
