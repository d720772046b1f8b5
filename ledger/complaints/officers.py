"""Proof of authority: officer keys as log entries, Ed25519 body signatures, authority checks.

An officer key is registered by an ``officer_key_registered`` entry whose ``public`` holds the
key id, the Ed25519 public key, the roles it may act in and its validity window; the officer's
name is personal data and sits in the (erasable) body. An ``officer_key_revoked`` entry ends
the key from the revocation's own time. Folding these entries in log order gives the registry
that answers "who was allowed to sign what, when" for any past instant.

Key id: the first 16 bytes of SHA-256(raw 32-byte public key), in lower-case hex.
A key's authority starts at the later of ``valid_from`` and the time it was registered, so a
registration cannot authorise signatures made before it was logged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.complaints.errors import AuthorityError, ComplaintError
from ledger.complaints.events import (
    Actor,
    BuiltEvent,
    Envelope,
    body_bytes,
    build_event,
    check_context,
    parse_envelope,
)
from ledger.complaints.timestamps import as_utc, format_timestamp, parse_timestamp
from ledger.complaints.vocab import SIGNED_EVENTS, EventType, RevocationReason, Role
from ledger.log.canonical import CanonicalJSONError, parse_canonical

SIGNATURE_SIZE = 64


def public_key_bytes(key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> bytes:
    """The raw 32-byte Ed25519 public key."""
    if isinstance(key, bytes | bytearray):
        if len(key) != 32:
            raise AuthorityError("an Ed25519 public key is 32 bytes", "BAD_PUBLIC_KEY")
        return bytes(key)
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def officer_key_id(public_key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> str:
    """Key id: hex of the first 16 bytes of SHA-256(raw public key)."""
    return hashlib.sha256(public_key_bytes(public_key)).digest()[:16].hex()


def sign_body(private_key: Ed25519PrivateKey, body_jcs: bytes) -> bytes:
    """Ed25519 signature over the JCS bytes of an event body (refuses non-canonical bytes)."""
    _require_canonical(body_jcs)
    return private_key.sign(bytes(body_jcs))


def signature_field(private_key: Ed25519PrivateKey, body: Mapping[str, Any]) -> dict[str, str]:
    """The ``public.signature`` object for a signed event: ``{key_id, sig}`` in hex."""
    return {
        "key_id": officer_key_id(private_key),
        "sig": sign_body(private_key, body_bytes(body)).hex(),
    }


def verify_officer_signature(
    public_key: Ed25519PublicKey | bytes, body_jcs: bytes, signature: bytes
) -> bool:
    """True when ``signature`` is a valid Ed25519 signature by ``public_key`` over ``body_jcs``."""
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        key = (
            Ed25519PublicKey.from_public_bytes(bytes(public_key))
            if isinstance(public_key, bytes | bytearray)
            else public_key
        )
        key.verify(bytes(signature), bytes(body_jcs))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class OfficerKey:
    """One registered officer key as of some point in the log."""

    key_id: str
    public_key: bytes
    roles: frozenset[Role]
    valid_from: datetime
    valid_until: datetime | None
    registered_at: datetime
    registration: bytes  # leaf hash of the registration entry
    revoked_at: datetime | None = None
    revocation_reason: RevocationReason | None = None

    @property
    def effective_from(self) -> datetime:
        return max(self.valid_from, self.registered_at)


class OfficerRegistry(Mapping[str, OfficerKey]):
    """Officer keys by key id, built by folding officer-key log entries in log order."""

    def __init__(self, keys: Mapping[str, OfficerKey] | None = None):
        self._keys: dict[str, OfficerKey] = dict(keys or {})

    def __getitem__(self, key_id: str) -> OfficerKey:
        return self._keys[key_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    @classmethod
    def fold(cls, entries: Iterable[Envelope | bytes]) -> OfficerRegistry:
        """Fold log entries (leaf bytes or envelopes) in log order; other entries are skipped."""
        registry = cls()
        for i, entry in enumerate(entries):
            try:
                registry = registry.add(entry)
            except ComplaintError as exc:
                raise exc.at_index(i) from None
        return registry

    def add(self, entry: Envelope | bytes) -> OfficerRegistry:
        """A new registry with one more log entry applied (unchanged for non-officer entries)."""
        env = entry if isinstance(entry, Envelope) else parse_envelope(entry)
        if env.type == EventType.OFFICER_KEY_REGISTERED:
            return self._register(env)
        if env.type == EventType.OFFICER_KEY_REVOKED:
            return self._revoke(env)
        return self

    def _register(self, env: Envelope) -> OfficerRegistry:
        p = env.public
        key_id = p["key_id"]
        if key_id in self._keys:
            raise AuthorityError(f"officer key {key_id} is already registered", "KEY_REGISTERED")
        public_key = bytes.fromhex(p["public_key"])
        if officer_key_id(public_key) != key_id:
            raise AuthorityError(
                f"key id {key_id} is not derived from the registered public key", "KEY_ID_MISMATCH"
            )
        try:
            Ed25519PublicKey.from_public_bytes(public_key)
        except ValueError:
            raise AuthorityError("not an Ed25519 public key", "BAD_PUBLIC_KEY") from None
        valid_from = parse_timestamp(p["valid_from"])
        valid_until = None if p["valid_until"] is None else parse_timestamp(p["valid_until"])
        if valid_until is not None and valid_until <= valid_from:
            raise AuthorityError("valid_until must be after valid_from", "BAD_VALIDITY")
        key = OfficerKey(
            key_id=key_id,
            public_key=public_key,
            roles=frozenset(Role(r) for r in p["roles"]),
            valid_from=valid_from,
            valid_until=valid_until,
            registered_at=env.at_datetime,
            registration=env.leaf_hash,
        )
        return OfficerRegistry({**self._keys, key_id: key})

    def _revoke(self, env: Envelope) -> OfficerRegistry:
        key_id = env.public["key_id"]
        key = self._keys.get(key_id)
        if key is None:
            raise AuthorityError(f"cannot revoke unknown officer key {key_id}", "KEY_UNKNOWN")
        if env.prev != key.registration.hex():
            raise AuthorityError(
                "a revocation's prev must be the leaf hash of the key's registration",
                "REVOCATION_PREV",
            )
        if key.revoked_at is not None:
            raise AuthorityError(f"officer key {key_id} is already revoked", "KEY_REVOKED")
        revoked = replace(
            key,
            revoked_at=env.at_datetime,
            revocation_reason=RevocationReason(env.public["reason"]),
        )
        return OfficerRegistry({**self._keys, key_id: revoked})


def check_authority(
    registry: Mapping[str, OfficerKey], key_id: str, role_required: Role | str, at: datetime | str
) -> None:
    """Raise AuthorityError unless ``key_id`` could act as ``role_required`` at instant ``at``."""
    when = as_utc(at)
    key = registry.get(key_id)
    if key is None:
        raise AuthorityError(f"officer key {key_id} is not registered", "KEY_UNKNOWN")
    if key.revoked_at is not None and when >= key.revoked_at:
        raise AuthorityError(
            f"officer key {key_id} was revoked at {format_timestamp(key.revoked_at)} "
            f"({key.revocation_reason})",
            "KEY_REVOKED",
        )
    if when < key.effective_from:
        raise AuthorityError(
            f"officer key {key_id} is valid only from {format_timestamp(key.effective_from)}",
            "KEY_NOT_YET_VALID",
        )
    if key.valid_until is not None and when >= key.valid_until:
        raise AuthorityError(
            f"officer key {key_id} expired at {format_timestamp(key.valid_until)}", "KEY_EXPIRED"
        )
    if Role(role_required) not in key.roles:
        roles = ", ".join(sorted(key.roles))
        raise AuthorityError(
            f"officer key {key_id} may act as {roles}, not as {role_required}", "ROLE_MISSING"
        )


def verify_event_signature(
    registry: Mapping[str, OfficerKey], envelope: Envelope, body: Mapping[str, Any]
) -> None:
    """Full proof of authority for a signed event: context, signature, and key authority.

    Raises AuthorityError (or EnvelopeError for a context mismatch). The caller checks the
    body against the envelope's commitment first (``events.verify_commitment``).
    """
    if envelope.type not in SIGNED_EVENTS:
        raise AuthorityError(f"{envelope.type} events are not signed", "NOT_SIGNED")
    check_context(envelope, body)
    sig = envelope.public["signature"]
    check_authority(registry, sig["key_id"], envelope.actor.role, envelope.at)
    key = registry[sig["key_id"]]
    if not verify_officer_signature(key.public_key, body_bytes(body), bytes.fromhex(sig["sig"])):
        raise AuthorityError(
            f"the signature on this {envelope.type} does not verify with key {sig['key_id']}",
            "SIGNATURE_INVALID",
        )


def build_key_registration(
    *,
    log: str,
    at: datetime | str,
    admin_id: str,
    public_key: Ed25519PublicKey | Ed25519PrivateKey | bytes,
    roles: Iterable[Role | str],
    valid_from: datetime | str,
    valid_until: datetime | str | None,
    name: str,
    salt: bytes | None = None,
) -> BuiltEvent:
    """The log entry registering an officer key (the name goes in the erasable body)."""
    raw = public_key_bytes(public_key)
    public = {
        "key_id": officer_key_id(raw),
        "public_key": raw.hex(),
        "roles": sorted({str(Role(r)) for r in roles}),
        "valid_from": _ts(valid_from),
        "valid_until": None if valid_until is None else _ts(valid_until),
    }
    return build_event(
        log=log,
        complaint=None,
        seq=0,
        prev=None,
        type=EventType.OFFICER_KEY_REGISTERED,
        at=at,
        actor=Actor(Role.ADMIN, admin_id),
        public=public,
        body={"name": name},
        salt=salt,
    )


def build_key_revocation(
    *,
    log: str,
    at: datetime | str,
    admin_id: str,
    registration: Envelope,
    reason: RevocationReason | str,
    body: Mapping[str, Any] | None = None,
    salt: bytes | None = None,
) -> BuiltEvent:
    """The log entry revoking the key registered by ``registration`` (effective at ``at``)."""
    return build_event(
        log=log,
        complaint=None,
        seq=1,
        prev=registration.leaf_hash,
        type=EventType.OFFICER_KEY_REVOKED,
        at=at,
        actor=Actor(Role.ADMIN, admin_id),
        public={"key_id": registration.public["key_id"], "reason": str(RevocationReason(reason))},
        body=dict(body or {}),
        salt=salt,
    )


def _ts(value: datetime | str) -> str:
    return format_timestamp(value) if isinstance(value, datetime) else value


def _require_canonical(body_jcs: bytes) -> None:
    try:
        parse_canonical(bytes(body_jcs))
    except CanonicalJSONError as exc:
        raise AuthorityError(
            f"only canonical body bytes are signed: {exc}", "NOT_CANONICAL"
        ) from None
