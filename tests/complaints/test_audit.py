"""End to end: write path, erasure, and third-party verification of a complaint."""

from __future__ import annotations

import pytest

from ledger.complaints.errors import AuthorityError, EnvelopeError, TransitionError
from ledger.complaints.events import Actor
from ledger.complaints.officers import OfficerRegistry, build_key_revocation
from ledger.complaints.reference import reference_matches
from ledger.complaints.states import replay
from ledger.complaints.vocab import Role, Status
from ledger.complaints.workflow import append_event
from ledger.verify.trail import Disclosure, verify_complaint
from tests.support.complaint_chain import LOG, REGISTRATION, Chain

PATH = ("acknowledged", "evidence_added", "decision", "compensation_offered")
PATH += ("compensation_accepted", "compensation_paid", "closed", "rated")


def disclose(chain, skip=()):
    return {
        b.leaf_hash.hex(): Disclosure(b.salt, b.body)
        for i, b in enumerate(chain.built)
        if i not in skip
    }


def test_full_verification(registry):
    c = Chain().run(*PATH)
    report = verify_complaint(c.leaves, disclosures=disclose(c), registry=registry)
    assert report.state.status == Status.CLOSED
    assert len(report.opened) == len(c.leaves)
    signed = {c.built[i].leaf_hash.hex() for i in (3, 4, 6)}
    assert report.signatures_verified == signed and not report.signatures_unchecked
    assert reference_matches(report.state.reference, c.built[0].leaf_hash)


def test_verification_with_bodies_as_jcs_bytes(registry):
    c = Chain().run(*PATH)
    disclosures = {b.leaf_hash.hex(): Disclosure(b.salt, b.body_jcs) for b in c.built}
    assert verify_complaint(c.leaves, disclosures=disclosures, registry=registry).opened


def test_tampered_body_is_caught(registry):
    c = Chain().run(*PATH)
    d = disclose(c)
    decision = c.built[3]
    d[decision.leaf_hash.hex()] = Disclosure(decision.salt, {**decision.body, "finding": "No."})
    with pytest.raises(EnvelopeError) as exc:
        verify_complaint(c.leaves, disclosures=d, registry=registry)
    assert exc.value.code == "COMMITMENT_MISMATCH" and exc.value.index == 3


def test_disclosure_for_a_foreign_leaf(registry):
    c, other = Chain().run("acknowledged"), Chain()
    d = {other.built[0].leaf_hash.hex(): Disclosure(other.built[0].salt, other.built[0].body)}
    with pytest.raises(EnvelopeError) as exc:
        verify_complaint(c.leaves, disclosures=d)
    assert exc.value.code == "DISCLOSURE_UNKNOWN"


def test_without_registry_signatures_are_reported_unchecked():
    c = Chain().run(*PATH)
    report = verify_complaint(c.leaves, disclosures=disclose(c))
    assert not report.signatures_verified and len(report.signatures_unchecked) == 3


def test_erasure_keeps_the_chain_verifiable(registry):
    c = Chain().run("acknowledged", "evidence_added")
    received = c.built[0]
    c.add(
        "erased",
        actor=Actor(Role.LEGAL, "legal-1"),
        public={"erases": received.leaf_hash.hex(), "basis": "gdpr_art17"},
    )
    c.run("decision", "closed")
    # the operator deletes body and salt of the received event: everything else verifies
    report = verify_complaint(c.leaves, disclosures=disclose(c, skip={0}), registry=registry)
    assert report.state.erased == {received.leaf_hash.hex()}
    assert received.leaf_hash.hex() not in report.opened
    assert not report.erased_but_disclosed
    # and an operator that claims erasure but still holds the body is caught out
    leaky = verify_complaint(c.leaves, disclosures=disclose(c), registry=registry)
    assert leaky.erased_but_disclosed == {received.leaf_hash.hex()}


def test_signature_by_a_revoked_key_fails_verification():
    c = Chain().run("acknowledged", "decision")
    revocation = build_key_revocation(
        log=LOG,
        at="2026-03-02T10:00:00Z",
        admin_id="admin-1",
        registration=REGISTRATION.envelope,
        reason="compromised",
    )
    revoked = OfficerRegistry.fold([REGISTRATION.leaf, revocation.leaf])
    with pytest.raises(AuthorityError) as exc:
        verify_complaint(c.leaves, disclosures=disclose(c), registry=revoked)
    assert exc.value.code == "KEY_REVOKED"


def test_append_refuses_invalid_steps_without_building_anything():
    c = Chain()
    with pytest.raises(TransitionError) as exc:
        append_event(
            c.state,
            type="compensation_accepted",
            at="2026-03-02T11:00:00Z",
            actor=Actor(Role.CUSTOMER, "customer"),
            public={},
            body={},
        )
    assert exc.value.code == "INVALID_TRANSITION"
    assert len(c.built) == 1 and replay(c.leaves) == c.state


def test_public_state_is_filled_in_by_the_write_path():
    c = Chain().run("acknowledged", "info_requested")
    assert [b.envelope.public["state"] for b in c.built] == [
        "received",
        "acknowledged",
        "investigating",
    ]
