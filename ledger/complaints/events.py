"""Event envelopes: the exact bytes a complaint step contributes to the transparency log.

A leaf is the RFC 8785 (JCS) encoding of::

    {"v": 1, "log": <origin>, "complaint": <reference or null>, "seq": <int>,
     "prev": <hex leaf hash or null>, "type": <event type>, "at": <RFC 3339 UTC>,
     "actor": {"role": <role>, "id": <non-personal id>},
     "commitment": <hex SHA-256(salt || JCS(body))>, "public": {...}}

Binary values (``prev``, ``commitment``, hashes inside ``public``) are lower-case hex: one
spelling per value, so a leaf has exactly one valid encoding. The ``body`` (personal data and
free text) and its 32-byte ``salt`` live beside the log; deleting both (erasure) leaves every
leaf, hash and proof intact, and the salt stops anyone confirming a guessed body.

Chains: complaint events form a per-complaint hash chain (``seq`` from 0, ``prev`` = leaf hash
of the previous event). ``received`` is seq 0 with ``complaint`` and ``prev`` null; the
reference is derived from its leaf hash. Officer-key entries have ``complaint`` null and chain
per key: ``officer_key_registered`` is seq 0, ``officer_key_revoked`` is seq 1 with ``prev`` the
registration's leaf hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.complaints import payloads
from ledger.complaints.errors import EnvelopeError, PayloadError
from ledger.complaints.reference import is_canonical_reference
from ledger.complaints.timestamps import format_timestamp, parse_timestamp
from ledger.complaints.vocab import (
    OFFICER_KEY_EVENTS,
    SIGNED_EVENTS,
    SIGNER_ROLES,
    EventType,
    Role,
)
from ledger.log.canonical import CanonicalJSONError, canonical_json, parse_canonical
from ledger.log.merkle import leaf_hash as rfc6962_leaf_hash

ENVELOPE_VERSION = 1
ENVELOPE_FIELDS = frozenset(
    {"v", "log", "complaint", "seq", "prev", "type", "at", "actor", "commitment", "public"}
)
SALT_SIZE = 32
MAX_SEQ = 2**53 - 1  # JCS integers are exact only up to 2**53
ACTOR_ID = payloads.ACTOR_ID  # no '@' or spaces: no e-mails/names
CUSTOMER_ID = "customer"
_LOG_ORIGIN = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")  # a C2SP checkpoint origin line
# Steps that may be recorded between an officer signing a body and its step being appended
# without invalidating the signature: the delivery record of an earlier step's letter moves
# the chain head but no status or clock, so it changes nothing the officer decided on.
CONTEXT_SKIPPABLE = frozenset({EventType.MESSAGE_SENT})


@dataclass(frozen=True)
class Actor:
    """Who recorded an event: a role and a non-personal id (key id, pseudonym, 'customer')."""

    role: Role
    id: str

    def to_json(self) -> dict[str, str]:
        return {"role": str(self.role), "id": self.id}


@dataclass(frozen=True)
class Envelope:
    """A parsed, validated leaf. ``public`` must be treated as read-only."""

    v: int
    log: str
    complaint: str | None
    seq: int
    prev: str | None
    type: EventType
    at: str
    actor: Actor
    commitment: str
    public: dict[str, Any]
    leaf: bytes
    leaf_hash: bytes

    @property
    def leaf_hash_hex(self) -> str:
        return self.leaf_hash.hex()

    @property
    def at_datetime(self) -> datetime:
        return parse_timestamp(self.at)

    def to_json(self) -> dict[str, Any]:
        """A fresh JSON-ready copy of the envelope (what the leaf encodes)."""
        envelope: dict[str, Any] = parse_canonical(self.leaf)  # an object: checked when parsed
        return envelope


@dataclass(frozen=True)
class BuiltEvent:
    """A new event: the leaf to append, plus the body and salt to store beside the log."""

    envelope: Envelope
    salt: bytes
    body: dict[str, Any]
    body_jcs: bytes

    @property
    def leaf(self) -> bytes:
        return self.envelope.leaf

    @property
    def leaf_hash(self) -> bytes:
        return self.envelope.leaf_hash


def commitment_of(salt: bytes, body_jcs: bytes) -> bytes:
    """SHA-256(salt || JCS(body)): binds the leaf to a body without revealing it."""
    return hashlib.sha256(salt + body_jcs).digest()


def body_bytes(body: Mapping[str, Any]) -> bytes:
    """The JCS bytes of an event body (what is committed to and what officers sign)."""
    if not isinstance(body, Mapping):
        raise PayloadError("body: must be a JSON object", "NOT_AN_OBJECT")
    try:
        return canonical_json(dict(body))
    except CanonicalJSONError as exc:
        raise PayloadError(f"body: cannot be canonicalised: {exc}", "NOT_CANONICALISABLE") from None


def bind_body(
    content: Mapping[str, Any],
    *,
    log: str,
    complaint: str,
    prev: bytes | str,
    event_type: EventType | str,
    nonce: bytes | None = None,
) -> dict[str, Any]:
    """Add the signing ``context`` a signed body (decision, offer, payment) must carry.

    The context ties an officer's signature to one log, complaint, chain position and event
    type, so it cannot be replayed elsewhere; its random nonce stops anyone confirming a
    guessed body against the public signature.
    """
    if nonce is None:
        nonce = secrets.token_bytes(32)
    if len(nonce) != 32:
        raise PayloadError("context nonce must be 32 bytes", "BAD_NONCE")
    context = {
        "log": log,
        "complaint": complaint,
        "prev": _hex_hash(prev, "prev"),
        "type": str(EventType(event_type)),
        "nonce": nonce.hex(),
    }
    return {**content, "context": context}


def context_heads(chain: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The heads a signed body's ``context.prev`` may name for the step after ``chain``.

    ``chain`` is the complaint's steps so far as (hex leaf hash, event type), in order. The
    answer is the chain's head, and the head before each step of the unbroken run of
    ``CONTEXT_SKIPPABLE`` steps (letters delivered) that ends at it: an officer who signed at
    one of those heads saw everything but letters being recorded.
    """
    if not chain:
        return ()
    heads = [chain[-1][0]]
    i = len(chain) - 1
    while i > 0 and chain[i][1] in CONTEXT_SKIPPABLE:
        heads.append(chain[i - 1][0])
        i -= 1
    return tuple(heads)


def check_context(
    envelope: Envelope, body: Mapping[str, Any], heads: Collection[str] | None = None
) -> None:
    """Raise EnvelopeError unless a signed body's context matches the envelope it belongs to.

    Without ``heads`` the context's ``prev`` must be the envelope's (strict: the chain is not
    known). With the chain known, ``heads`` are the ones ``context_heads`` allows for this
    step: the envelope's ``prev``, or a head only letters were recorded after.
    """
    context = body.get("context")
    if not isinstance(context, Mapping):
        raise EnvelopeError("a signed body needs a 'context' object", "CONTEXT_MISSING")
    expected = {
        "log": envelope.log,
        "complaint": envelope.complaint,
        "prev": envelope.prev,
        "type": str(envelope.type),
    }
    for name, value in expected.items():
        found = context.get(name)
        if found == value or (
            name == "prev" and heads is not None and isinstance(found, str) and found in heads
        ):
            continue
        also = " (or a head only letters were recorded after)" if name == "prev" and heads else ""
        raise EnvelopeError(
            f"body context {name!r} is {found!r}, the envelope says {value!r}{also}",
            "CONTEXT_MISMATCH",
        )


def build_event(
    *,
    log: str,
    complaint: str | None,
    seq: int,
    prev: bytes | str | None,
    type: EventType | str,
    at: datetime | str,
    actor: Actor | Mapping[str, str],
    public: Mapping[str, Any],
    body: Mapping[str, Any],
    salt: bytes | None = None,
    heads: Collection[str] | None = None,
) -> BuiltEvent:
    """Validate and encode one event; nothing is stored. ``salt`` defaults to 32 fresh bytes.

    Checks payloads and envelope structure only; whether the event is allowed in the
    complaint's state is for ``states.apply`` (or use ``workflow.append_event`` for both).
    ``heads``: the heads a signed body's context may name (``check_context``), when the
    chain is known; without them the context must name the envelope's ``prev``.
    """
    if salt is None:
        salt = secrets.token_bytes(SALT_SIZE)
    if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
        raise EnvelopeError(f"salt must be {SALT_SIZE} bytes", "BAD_SALT")
    event_type = _event_type(type)
    body_jcs = body_bytes(body)
    body = dict(body)
    payloads.validate_event(event_type, public, body)
    actor_json: Mapping[str, str | None]
    if isinstance(actor, Mapping):
        actor_json = {"role": actor.get("role"), "id": actor.get("id")}
    else:
        actor_json = actor.to_json()
    envelope = {
        "v": ENVELOPE_VERSION,
        "log": log,
        "complaint": complaint,
        "seq": seq,
        "prev": None if prev is None else _hex_hash(prev, "prev"),
        "type": str(event_type),
        "at": format_timestamp(at) if isinstance(at, datetime) else at,
        "actor": actor_json,
        "commitment": commitment_of(salt, body_jcs).hex(),
        "public": dict(public),
    }
    try:
        leaf = canonical_json(envelope)
    except CanonicalJSONError as exc:
        raise EnvelopeError(f"envelope cannot be canonicalised: {exc}", "NOT_CANONICAL") from None
    parsed = parse_envelope(leaf)  # one validator for what we write and what we read
    if event_type in SIGNED_EVENTS:
        check_context(parsed, body, heads)
    return BuiltEvent(envelope=parsed, salt=salt, body=body, body_jcs=body_jcs)


def parse_envelope(leaf: bytes) -> Envelope:
    """Parse and fully validate a leaf; raises EnvelopeError (or PayloadError for ``public``)."""
    try:
        data = parse_canonical(bytes(leaf))
    except CanonicalJSONError as exc:
        raise EnvelopeError(f"leaf is not canonical JSON: {exc}", "NOT_CANONICAL") from None
    if not isinstance(data, dict):
        raise EnvelopeError("leaf is not a JSON object", "NOT_AN_OBJECT")
    if set(data) != ENVELOPE_FIELDS:
        missing = sorted(ENVELOPE_FIELDS - set(data))
        extra = sorted(set(data) - ENVELOPE_FIELDS)
        raise EnvelopeError(f"envelope fields: missing {missing}, unexpected {extra}", "FIELDS")
    if type(data["v"]) is not int or data["v"] != ENVELOPE_VERSION:
        raise EnvelopeError(f"unsupported envelope version {data['v']!r}", "VERSION")
    log = data["log"]
    if not isinstance(log, str) or not _LOG_ORIGIN.fullmatch(log):
        raise EnvelopeError("log must be a printable one-line origin string", "LOG")
    event_type = _event_type(data["type"])
    seq = data["seq"]
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise EnvelopeError(f"seq must be a non-negative integer, got {seq!r}", "SEQ")
    prev = data["prev"]
    if prev is not None and not (isinstance(prev, str) and payloads.HEX32.fullmatch(prev)):
        raise EnvelopeError("prev must be null or a lower-case hex SHA-256 hash", "PREV")
    complaint = data["complaint"]
    if complaint is not None and not is_canonical_reference(complaint):
        raise EnvelopeError(
            f"complaint must be null or a canonical reference, got {complaint!r}", "COMPLAINT"
        )
    _check_position(event_type, complaint, seq, prev)
    try:
        parse_timestamp(data["at"])
    except ValueError as exc:
        raise EnvelopeError(str(exc), "TIMESTAMP") from None
    commitment = data["commitment"]
    if not isinstance(commitment, str) or not payloads.HEX32.fullmatch(commitment):
        raise EnvelopeError("commitment must be a lower-case hex SHA-256 hash", "COMMITMENT")
    public = data["public"]
    payloads.validate_public(event_type, public)
    actor = parse_actor(data["actor"], event_type, public)
    return Envelope(
        v=ENVELOPE_VERSION,
        log=log,
        complaint=complaint,
        seq=seq,
        prev=prev,
        type=event_type,
        at=data["at"],
        actor=actor,
        commitment=commitment,
        public=public,
        leaf=bytes(leaf),
        leaf_hash=rfc6962_leaf_hash(bytes(leaf)),
    )


def verify_commitment(envelope: Envelope, salt: bytes, body: Mapping[str, Any] | bytes) -> bool:
    """True when ``salt`` and ``body`` open the commitment (JCS bytes are hashed as given)."""
    if not isinstance(salt, bytes | bytearray) or len(salt) != SALT_SIZE:
        return False
    if isinstance(body, bytes | bytearray):
        data = bytes(body)
    else:
        try:
            data = body_bytes(body)
        except PayloadError:
            return False
    expected = bytes.fromhex(envelope.commitment)
    return hmac.compare_digest(commitment_of(bytes(salt), data), expected)


def _check_position(
    event_type: EventType, complaint: str | None, seq: int, prev: str | None
) -> None:
    """Where an event type may sit in its chain (first, second, later)."""
    if event_type in (EventType.RECEIVED, EventType.OFFICER_KEY_REGISTERED):
        if complaint is not None or seq != 0 or prev is not None:
            raise EnvelopeError(
                f"a {event_type} event starts a chain: complaint and prev null, seq 0", "POSITION"
            )
    elif event_type == EventType.OFFICER_KEY_REVOKED:
        if complaint is not None or seq != 1 or prev is None:
            raise EnvelopeError(
                "a revocation follows its key's registration: complaint null, seq 1, "
                "prev = registration leaf hash",
                "POSITION",
            )
    elif complaint is None or seq < 1 or prev is None:
        raise EnvelopeError(
            f"a {event_type} event continues a complaint: reference, seq >= 1 and prev needed",
            "POSITION",
        )


def parse_actor(value: Any, event_type: EventType, public: Mapping[str, Any]) -> Actor:
    """An envelope's ``actor`` checked for its event (signer, customer id, admin-only keys)."""
    if not isinstance(value, dict) or set(value) != {"role", "id"}:
        raise EnvelopeError("actor must be exactly {role, id}", "ACTOR")
    try:
        role = Role(value["role"])
    except ValueError:
        raise EnvelopeError(f"unknown actor role {value['role']!r}", "ACTOR") from None
    actor_id = value["id"]
    if not isinstance(actor_id, str) or not ACTOR_ID.fullmatch(actor_id):
        raise EnvelopeError(
            "actor id must be a non-personal identifier (letters, digits, . _ : -; "
            "no e-mail addresses or names)",
            "ACTOR",
        )
    if role == Role.CUSTOMER and actor_id != CUSTOMER_ID:
        raise EnvelopeError(f"a customer actor's id is always {CUSTOMER_ID!r}", "ACTOR")
    if event_type in SIGNED_EVENTS and (
        role not in SIGNER_ROLES[event_type] or actor_id != public["signature"]["key_id"]
    ):
        raise EnvelopeError(
            f"a {event_type} is recorded by the holder of the key that signed it (actor role "
            f"{' or '.join(sorted(SIGNER_ROLES[event_type]))}, actor id = signature key_id)",
            "SIGNER_MISMATCH",
        )
    if event_type in OFFICER_KEY_EVENTS and role != Role.ADMIN:
        raise EnvelopeError("officer keys are registered and revoked by an admin", "ACTOR")
    return Actor(role=role, id=actor_id)


def _event_type(value: Any) -> EventType:
    try:
        return EventType(value)
    except ValueError:
        raise EnvelopeError(f"unknown event type {value!r}", "UNKNOWN_EVENT_TYPE") from None


def _hex_hash(value: bytes | str, name: str) -> str:
    if isinstance(value, bytes | bytearray) and len(value) == 32:
        return bytes(value).hex()
    if isinstance(value, str) and payloads.HEX32.fullmatch(value):
        return value
    raise EnvelopeError(f"{name} must be a 32-byte hash (bytes or lower-case hex)", "HASH")
