"""A body fetched from /signing-body and signed, then a letter recorded as delivered by the
dispatcher (``message_sent``), then the signed step posted: recorded (201), its context naming
the head before the letter; a note recorded in between still refuses it. The complaint's
proof verifies either way the chain went."""

from __future__ import annotations

import pytest

from ledger.complaints.events import Actor
from ledger.complaints.officers import sign_body
from ledger.complaints.vocab import Role
from ledger.runtime import open_ledger
from ledger.verify.complaint import verify_complaint_proof
from tests.support.complaint_api import Client
from tests.support.letters import record_letter

DECISION = {
    "outcome": "upheld",
    "finding": "The withdrawal was held by our fee estimator.",
    "rules": ["PSD2 Art. 89"],
    "evidence": [],
    "root_cause": "product_defect",
    "remedy": "We refund the network fee.",
}
AGENT = Actor(Role.AGENT, "agent-1")
DECISION_PUBLIC = {k: DECISION[k] for k in ("outcome", "root_cause", "rules", "evidence")}


def _acknowledged(actors) -> tuple[str, str]:
    filed = actors["anon"].post(
        "/v1/complaints",
        {
            "category": "stuck_transaction",
            "channel": "web_form",
            "language": "en",
            "description": "My withdrawal has been pending for 9 hours.",
            "contact": {"name": "Ana Silva", "email": "ana@example.org"},
        },
    )
    ref = filed["reference"]
    actors["agent"].post(f"/v1/complaints/{ref}/events", {"type": "acknowledged"})
    return ref, filed["secret"]


def _signed(actors, ref: str) -> dict:
    """The decision's request, signed on the head the officer sees now."""
    to_sign = actors["officer"].post(
        f"/v1/complaints/{ref}/signing-body",
        {"type": "decision", "content": DECISION},
        expect=200,
    )
    sig = sign_body(actors["officer_key"], to_sign["body_jcs"].encode("utf-8"))
    public = {**DECISION_PUBLIC, "signature": {"key_id": actors["key_id"], "sig": sig.hex()}}
    return {"type": "decision", "public": public, "body": to_sign["body"]}


def test_a_step_signed_before_letters_were_recorded_is_recorded(actors, ledger) -> None:
    ref, secret = _acknowledged(actors)
    request = _signed(actors, ref)
    signed_at = request["body"]["context"]["prev"]
    assert signed_at == ledger.complaints.reads.state(ref).head
    record_letter(ledger, ref)
    record_letter(ledger, ref, for_seq=0)
    letter_head = ledger.complaints.reads.state(ref).head
    assert letter_head != signed_at

    recorded = actors["officer"].post(f"/v1/complaints/{ref}/events", request)
    assert recorded["status"] == "decided"
    decision = ledger.complaints.reads.events(ref)[-1]
    assert decision.envelope.type == "decision" and decision.envelope.prev == letter_head
    # The customer's proof names the older head in the signed body and still verifies.
    vkey = actors["anon"].get("/v1/log/keys")["verifier_key"]
    proof = Client(actors["url"], secret).get(f"/v1/complaints/{ref}/proof")
    assert all("body" in e for e in proof["events"])
    report = verify_complaint_proof(proof, vkey)
    assert report.ok, report.failures
    signatures = [c for c in report.checks if c.category == "signatures"]
    assert [c.detail for c in signatures] == ["1 verified, 0 not disclosed"]


def test_a_note_in_between_still_refuses_the_signed_step(actors, ledger) -> None:
    ref, _ = _acknowledged(actors)
    request = _signed(actors, ref)
    record_letter(ledger, ref)
    actors["agent"].post(
        f"/v1/complaints/{ref}/events", {"type": "note_added", "body": {"text": "Called."}}
    )
    before = len(ledger.complaints.reads.events(ref))
    problem = actors["officer"].post(f"/v1/complaints/{ref}/events", request, expect=422)
    assert problem["code"] == "CONTEXT_MISMATCH"
    assert len(ledger.complaints.reads.events(ref)) == before


@pytest.mark.parametrize("meanwhile", ["letter", "note"])
def test_a_step_racing_another_writer_is_rebuilt_only_after_a_letter(
    actors, ledger, settings, monkeypatch, meanwhile
) -> None:
    """Another process records a step between the signed step's checks and its append (the
    head check in the append transaction fails): after a letter the signed step is rebuilt on
    the new head and recorded; after a note it is a 409 chain-conflict, nothing written."""
    ref, _ = _acknowledged(actors)
    request = _signed(actors, ref)
    writes = ledger.complaints.writes
    append = writes._append_step
    other = open_ledger(settings)  # a second process's ledger on the same database
    try:

        def racing_append(*args, **kwargs):
            monkeypatch.setattr(writes, "_append_step", append)  # once
            if meanwhile == "letter":
                record_letter(other, ref)
            else:
                other.complaints.writes.record(ref, type="note_added", public={},
                                               body={"text": "Called."}, actor=AGENT)  # fmt: skip
            return append(*args, **kwargs)

        monkeypatch.setattr(writes, "_append_step", racing_append)
        if meanwhile == "letter":
            actors["officer"].post(f"/v1/complaints/{ref}/events", request)
            types = [e.envelope.type for e in ledger.complaints.reads.events(ref)]
            assert types[-2:] == ["message_sent", "decision"]
        else:
            problem = actors["officer"].post(f"/v1/complaints/{ref}/events", request, expect=409)
            assert problem["type"].endswith("chain-conflict")
            types = [e.envelope.type for e in ledger.complaints.reads.events(ref)]
            assert types[-1] == "note_added"
    finally:
        other.close()
