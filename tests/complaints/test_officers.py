"""Proof of authority: officer key registry, signatures, and authority at a point in time."""

from __future__ import annotations

import pytest

from ledger.complaints.errors import AuthorityError, EnvelopeError
from ledger.complaints.events import Actor, build_event
from ledger.complaints.officers import (
    OfficerRegistry,
    build_key_registration,
    build_key_revocation,
    check_authority,
    officer_key_id,
    public_key_bytes,
    sign_body,
    signature_field,
    verify_event_signature,
    verify_officer_signature,
)
from ledger.complaints.states import replay
from ledger.complaints.vocab import Role
from ledger.log.canonical import canonical_json
from tests.support.complaint_chain import LOG, OFFICER_KEY, REGISTRATION, Chain, make_key

KEY = make_key("officer-2")
KEY_ID = officer_key_id(KEY)


def register(
    key=KEY,
    *,
    at="2026-01-10T00:00:00Z",
    roles=("officer",),
    valid_from=None,
    valid_until="2026-12-31T00:00:00Z",
):
    return build_key_registration(
        log=LOG,
        at=at,
        admin_id="admin-1",
        public_key=key,
        roles=roles,
        valid_from=valid_from or at,
        valid_until=valid_until,
        name="Joan Officer",
    )


def authority_code(registry, at, role="officer", key_id=KEY_ID) -> str | None:
    try:
        check_authority(registry, key_id, role, at)
    except AuthorityError as exc:
        return exc.code
    return None


def test_registration_entry_keeps_the_name_out_of_the_leaf():
    reg = register()
    assert b"Joan" not in reg.leaf
    assert reg.envelope.public["key_id"] == KEY_ID
    assert reg.envelope.public["public_key"] == public_key_bytes(KEY).hex()
    assert reg.envelope.actor.role == Role.ADMIN and reg.envelope.complaint is None


def test_valid_key():
    registry = OfficerRegistry.fold([register().leaf])
    assert authority_code(registry, "2026-06-01T12:00:00Z") is None
    assert authority_code(registry, "2026-01-10T00:00:00Z") is None  # valid_from inclusive


def test_expired_key():
    registry = OfficerRegistry.fold([register().leaf])
    assert authority_code(registry, "2026-12-31T00:00:00Z") == "KEY_EXPIRED"  # until exclusive
    assert authority_code(registry, "2027-03-01T00:00:00Z") == "KEY_EXPIRED"


def test_not_yet_valid_key():
    registry = OfficerRegistry.fold([register(valid_from="2026-02-01T00:00:00Z").leaf])
    assert authority_code(registry, "2026-01-31T23:59:59Z") == "KEY_NOT_YET_VALID"
    assert authority_code(registry, "2026-02-01T00:00:00Z") is None


def test_registration_cannot_authorise_the_past():
    reg = register(at="2026-03-01T00:00:00Z", valid_from="2026-01-01T00:00:00Z")
    registry = OfficerRegistry.fold([reg.leaf])
    assert authority_code(registry, "2026-02-15T00:00:00Z") == "KEY_NOT_YET_VALID"
    assert authority_code(registry, "2026-03-01T00:00:00Z") is None


def test_revoked_key_from_the_revocation_time():
    reg = register()
    rev = build_key_revocation(
        log=LOG,
        at="2026-05-01T09:00:00Z",
        admin_id="admin-1",
        registration=reg.envelope,
        reason="compromised",
    )
    registry = OfficerRegistry.fold([reg.leaf, rev.leaf])
    assert authority_code(registry, "2026-05-01T08:59:59.999Z") is None  # before: still valid
    assert authority_code(registry, "2026-05-01T09:00:00Z") == "KEY_REVOKED"
    assert authority_code(registry, "2026-09-01T00:00:00Z") == "KEY_REVOKED"
    assert registry[KEY_ID].revocation_reason == "compromised"


def test_wrong_role_and_unknown_key():
    registry = OfficerRegistry.fold([register(roles=("supervisor",)).leaf])
    assert authority_code(registry, "2026-06-01T00:00:00Z", role="officer") == "ROLE_MISSING"
    assert authority_code(registry, "2026-06-01T00:00:00Z", role="supervisor") is None
    assert authority_code(registry, "2026-06-01T00:00:00Z", key_id="00" * 16) == "KEY_UNKNOWN"


def test_fold_skips_other_entries_and_refuses_bad_registry_changes():
    reg = register()
    complaint_leaves = Chain().run("acknowledged").leaves
    registry = OfficerRegistry.fold([*complaint_leaves, reg.leaf, REGISTRATION.leaf])
    assert set(registry) == {KEY_ID, officer_key_id(OFFICER_KEY)}

    with pytest.raises(AuthorityError) as exc:
        OfficerRegistry.fold([reg.leaf, register(at="2026-02-01T00:00:00Z").leaf])
    assert exc.value.code == "KEY_REGISTERED" and exc.value.index == 1

    revoke = dict(log=LOG, admin_id="admin-1", reason="left_role")
    rev = build_key_revocation(at="2026-04-01T00:00:00Z", registration=reg.envelope, **revoke)
    with pytest.raises(AuthorityError) as exc:
        OfficerRegistry.fold([rev.leaf])
    assert exc.value.code == "KEY_UNKNOWN"
    with pytest.raises(AuthorityError) as exc:
        OfficerRegistry.fold([reg.leaf, rev.leaf, rev.leaf])
    assert exc.value.code == "KEY_REVOKED"

    other = register(make_key("officer-3"))
    forged = build_event(
        log=LOG,
        complaint=None,
        seq=1,
        prev=other.leaf_hash,  # chained to another key's registration
        type="officer_key_revoked",
        at="2026-04-01T00:00:00Z",
        actor=Actor(Role.ADMIN, "admin-1"),
        public={"key_id": KEY_ID, "reason": "other"},
        body={},
    )
    with pytest.raises(AuthorityError) as exc:
        OfficerRegistry.fold([reg.leaf, other.leaf, forged.leaf])
    assert exc.value.code == "REVOCATION_PREV"


def test_key_id_must_derive_from_public_key():
    public = dict(register().envelope.public, key_id="00" * 16)
    forged = build_event(
        log=LOG,
        complaint=None,
        seq=0,
        prev=None,
        type="officer_key_registered",
        at="2026-01-10T00:00:00Z",
        actor=Actor(Role.ADMIN, "admin-1"),
        public=public,
        body={"name": "X"},
    )
    with pytest.raises(AuthorityError) as exc:
        OfficerRegistry.fold([forged.leaf])
    assert exc.value.code == "KEY_ID_MISMATCH"


def test_only_admins_register_keys():
    with pytest.raises(EnvelopeError):
        build_event(
            log=LOG,
            complaint=None,
            seq=0,
            prev=None,
            type="officer_key_registered",
            at="2026-01-10T00:00:00Z",
            actor=Actor(Role.OFFICER, KEY_ID),
            public=register().envelope.public,
            body={"name": "X"},
        )


def test_sign_and_verify_body():
    body = canonical_json({"finding": "ok", "context": {"nonce": "00"}})
    sig = sign_body(KEY, body)
    assert verify_officer_signature(public_key_bytes(KEY), body, sig)
    assert verify_officer_signature(KEY.public_key(), body, sig)
    assert not verify_officer_signature(public_key_bytes(OFFICER_KEY), body, sig)
    for i in range(len(body)):
        tampered = bytearray(body)
        tampered[i] ^= 1
        assert not verify_officer_signature(public_key_bytes(KEY), bytes(tampered), sig)
    assert not verify_officer_signature(public_key_bytes(KEY), body, sig[:-1])
    with pytest.raises(AuthorityError) as exc:
        sign_body(KEY, b'{"b":1, "a":2}')
    assert exc.value.code == "NOT_CANONICAL"


def test_event_signature_full_check(registry):
    c = Chain().run("acknowledged", "evidence_added", "decision")
    decision = c.built[-1]
    verify_event_signature(registry, decision.envelope, decision.body)
    # the body signed for this complaint does not verify under another envelope
    other = Chain().run("acknowledged")
    moved = {**decision.body["context"], "complaint": other.state.reference}
    with pytest.raises(EnvelopeError) as exc:
        verify_event_signature(registry, decision.envelope, {**decision.body, "context": moved})
    assert exc.value.code == "CONTEXT_MISMATCH"
    with pytest.raises(AuthorityError) as exc:
        verify_event_signature(registry, decision.envelope, {**decision.body, "finding": "edited"})
    assert exc.value.code == "SIGNATURE_INVALID"
    with pytest.raises(AuthorityError) as exc:
        verify_event_signature(OfficerRegistry(), decision.envelope, decision.body)
    assert exc.value.code == "KEY_UNKNOWN"


def test_write_path_refuses_unauthorised_signers():
    rogue = make_key("rogue")
    c = Chain(key=rogue).run("acknowledged")
    with pytest.raises(EnvelopeError) as exc:  # actor id is not the signing key's id
        c.add("decision")
    assert exc.value.code == "SIGNER_MISMATCH"
    with pytest.raises(AuthorityError) as exc:
        c.add("decision", actor=Actor(Role.OFFICER, officer_key_id(rogue)))
    assert exc.value.code == "KEY_UNKNOWN"


def test_write_path_needs_registry_for_signed_events():
    c = Chain(registry=None).run("acknowledged")
    with pytest.raises(AuthorityError) as exc:
        c.add("decision")
    assert exc.value.code == "REGISTRY_REQUIRED"


def test_replay_with_registry_checks_authority_at_event_time(registry):
    c = Chain().run("acknowledged", "decision")  # March 2026, key valid all 2026
    replay(c.leaves, registry=registry)
    rev = build_key_revocation(
        log=LOG,
        at="2026-03-02T10:07:00Z",  # between acknowledgement (10:05) and decision (10:10)
        admin_id="admin-1",
        registration=REGISTRATION.envelope,
        reason="compromised",
    )
    revoked = OfficerRegistry.fold([REGISTRATION.leaf, rev.leaf])
    with pytest.raises(AuthorityError) as exc:
        replay(c.leaves, registry=revoked)
    assert exc.value.code == "KEY_REVOKED" and exc.value.index == 2


def test_signature_field_shape():
    field = signature_field(KEY, {"a": 1})
    assert field["key_id"] == KEY_ID and len(field["sig"]) == 128
