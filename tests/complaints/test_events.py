"""Event envelopes: exact shape, canonical parsing, commitments."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.complaints.errors import EnvelopeError, PayloadError
from ledger.complaints.events import (
    ENVELOPE_FIELDS,
    Actor,
    bind_body,
    build_event,
    commitment_of,
    parse_envelope,
    verify_commitment,
)
from ledger.complaints.reference import format_reference
from ledger.complaints.vocab import Role
from ledger.log.canonical import canonical_json
from ledger.log.merkle import leaf_hash
from tests.support.complaint_chain import LOG

SALT = bytes(range(32))
RECEIVED_PUBLIC = {
    "state": "received",
    "category": "hacked_account",
    "channel": "email",
    "language": "lt",
    "jurisdiction": "EU-PSD2",
}
BODY = {"description": "Someone drained my wallet", "customer": {"name": "Ona", "email": "o@x.lt"}}


def received(**overrides):
    args = {
        "log": LOG,
        "complaint": None,
        "seq": 0,
        "prev": None,
        "type": "received",
        "at": "2026-03-02T10:00:00Z",
        "actor": Actor(Role.CUSTOMER, "customer"),
        "public": RECEIVED_PUBLIC,
        "body": BODY,
        "salt": SALT,
    }
    return build_event(**{**args, **overrides})


def leaf_with(**changes) -> bytes:
    data = json.loads(received().leaf)
    data.update(changes)
    return canonical_json(data)


def test_leaf_is_exactly_the_envelope_in_jcs():
    b = received()
    data = json.loads(b.leaf)
    assert set(data) == ENVELOPE_FIELDS
    assert b.leaf == canonical_json(data)
    assert data["v"] == 1 and data["seq"] == 0 and data["prev"] is None
    assert data["complaint"] is None  # the reference is derived from this leaf's hash
    assert data["commitment"] == commitment_of(SALT, canonical_json(BODY)).hex()
    assert b.leaf_hash == leaf_hash(b.leaf)
    assert b.body_jcs == canonical_json(BODY)
    # personal data never reaches the leaf
    assert b"Ona" not in b.leaf and b"o@x.lt" not in b.leaf and b"drained" not in b.leaf


def test_fresh_salt_per_event():
    a = build_event(**{**_received_args(), "salt": None})
    b = build_event(**{**_received_args(), "salt": None})
    assert len(a.salt) == 32 and a.salt != b.salt
    assert a.envelope.commitment != b.envelope.commitment


def _received_args():
    return {
        "log": LOG,
        "complaint": None,
        "seq": 0,
        "prev": None,
        "type": "received",
        "at": "2026-03-02T10:00:00Z",
        "actor": {"role": "customer", "id": "customer"},
        "public": RECEIVED_PUBLIC,
        "body": BODY,
    }


def test_parse_round_trip():
    b = received()
    env = parse_envelope(b.leaf)
    assert env == b.envelope
    assert env.to_json() == json.loads(b.leaf)
    assert env.leaf_hash_hex == leaf_hash(b.leaf).hex()


def test_commitment_verifies_with_dict_or_bytes():
    b = received()
    assert verify_commitment(b.envelope, b.salt, BODY)
    assert verify_commitment(b.envelope, b.salt, b.body_jcs)


@settings(max_examples=60)
@given(st.data())
def test_commitment_fails_on_any_changed_byte(data):
    b = received()
    which = data.draw(st.sampled_from(["salt", "body"]))
    blob = bytearray(b.salt if which == "salt" else b.body_jcs)
    i = data.draw(st.integers(0, len(blob) - 1))
    blob[i] ^= data.draw(st.integers(1, 255))
    if which == "salt":
        assert not verify_commitment(b.envelope, bytes(blob), b.body_jcs)
    else:
        assert not verify_commitment(b.envelope, b.salt, bytes(blob))


def test_commitment_rejects_wrong_salt_size_and_reencoded_body():
    b = received()
    assert not verify_commitment(b.envelope, b.salt[:31], BODY)
    assert not verify_commitment(b.envelope, b.salt, json.dumps(BODY).encode())  # not JCS


@settings(max_examples=60)
@given(st.data())
def test_any_changed_leaf_byte_is_rejected_or_changes_the_hash(data):
    b = received()
    blob = bytearray(b.leaf)
    i = data.draw(st.integers(0, len(blob) - 1))
    blob[i] ^= data.draw(st.integers(1, 127))
    try:
        env = parse_envelope(bytes(blob))
    except (EnvelopeError, PayloadError):
        return
    assert env.leaf_hash != b.leaf_hash


@pytest.mark.parametrize(
    ("leaf", "code"),
    [
        (lambda: received().leaf.replace(b'"v":1', b'"v": 1'), "NOT_CANONICAL"),
        (lambda: b"[]", "NOT_AN_OBJECT"),
        (lambda: leaf_with(extra=1), "FIELDS"),
        (lambda: leaf_with(v=2), "VERSION"),
        (lambda: leaf_with(v=True), "VERSION"),
        (lambda: leaf_with(log=""), "LOG"),
        (lambda: leaf_with(log="a\nb"), "LOG"),
        (lambda: leaf_with(seq=-1), "SEQ"),
        (lambda: leaf_with(seq=1), "POSITION"),
        (lambda: leaf_with(prev="AB" * 32), "PREV"),
        (lambda: leaf_with(prev="ab" * 32), "POSITION"),
        # A trailing newline is not part of any value (Python's `$` would allow one; the
        # browser's RegExp does not: both verifiers must give the same verdict).
        (lambda: leaf_with(at="2026-03-02T10:00:00Z\n"), "TIMESTAMP"),
        (lambda: leaf_with(commitment="ab" * 32 + "\n"), "COMMITMENT"),
        (lambda: leaf_with(actor={"role": "customer", "id": "customer\n"}), "ACTOR"),
        (lambda: leaf_with(log=LOG + "\n"), "LOG"),
        (lambda: leaf_with(at="2026-03-02T10:00:00+00:00"), "TIMESTAMP"),
        (lambda: leaf_with(at="2026-03-02T10:00:00.1Z"), "TIMESTAMP"),
        (lambda: leaf_with(at="2026-02-30T10:00:00Z"), "TIMESTAMP"),
        (lambda: leaf_with(type="bought_lunch"), "UNKNOWN_EVENT_TYPE"),
        (lambda: leaf_with(commitment="00"), "COMMITMENT"),
        (lambda: leaf_with(actor={"role": "customer", "id": "ona@x.lt"}), "ACTOR"),
        (lambda: leaf_with(actor={"role": "customer", "id": "ona"}), "ACTOR"),
        (lambda: leaf_with(actor={"role": "king", "id": "x"}), "ACTOR"),
        (lambda: leaf_with(actor={"role": "agent", "id": "a", "name": "Bob"}), "ACTOR"),
        (lambda: leaf_with(public={**RECEIVED_PUBLIC, "email": "o@x.lt"}), "UNKNOWN_FIELD"),
        (lambda: leaf_with(public={**RECEIVED_PUBLIC, "category": "other"}), "INVALID_FIELD"),
    ],
)
def test_parse_refuses_malformed_leaves(leaf, code):
    with pytest.raises((EnvelopeError, PayloadError)) as exc:
        parse_envelope(leaf())
    assert exc.value.code == code


def test_continuing_events_need_a_canonical_reference():
    first = received()
    ref = format_reference(first.leaf_hash)
    ok = build_event(
        log=LOG,
        complaint=ref,
        seq=1,
        prev=first.leaf_hash,
        type="acknowledged",
        at="2026-03-02T10:01:00Z",
        actor=Actor(Role.AGENT, "agent-7"),
        public={"state": "acknowledged"},
        body={},
    )
    assert ok.envelope.prev == first.leaf_hash.hex()
    with pytest.raises(EnvelopeError) as exc:
        build_event(
            log=LOG,
            complaint=ref.lower(),
            seq=1,
            prev=first.leaf_hash,
            type="acknowledged",
            at="2026-03-02T10:01:00Z",
            actor=Actor(Role.AGENT, "agent-7"),
            public={"state": "acknowledged"},
            body={},
        )
    assert exc.value.code == "COMPLAINT"


def test_body_must_be_a_json_object_and_salt_32_bytes():
    with pytest.raises(PayloadError):
        received(body=["not", "an", "object"])
    with pytest.raises(EnvelopeError) as exc:
        received(salt=b"short")
    assert exc.value.code == "BAD_SALT"


def test_bind_body_adds_context_with_random_nonce():
    a = bind_body({"x": 1}, log=LOG, complaint="C", prev=bytes(32), event_type="decision")
    b = bind_body({"x": 1}, log=LOG, complaint="C", prev=bytes(32), event_type="decision")
    assert a["context"]["prev"] == "00" * 32 and a["context"]["type"] == "decision"
    assert a["context"]["nonce"] != b["context"]["nonce"]
    assert a["x"] == 1
