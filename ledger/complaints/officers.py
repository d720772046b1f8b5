"""Proof of authority: officer keys as log entries, Ed25519 body signatures, authority checks.

An officer key is registered by an ``officer_key_registered`` entry whose ``public`` holds the
key id, the Ed25519 public key, the roles it may act in and its validity window; the officer's
name is personal data and sits in the (erasable) body. An ``officer_key_revoked`` entry ends
the key from the revocation's own time. Folding these entries in log order gives the registry
that answers "who was allowed to sign what, when" for any past instant.

Key id: the first 16 bytes of SHA-256(raw 32-byte public key), in lower-case hex.
A key's authority starts at the later of ``valid_from`` and the time it was registered, so a
registration cannot authorise signatures made before it was logged.

Limits (``public.limits``, optional): the largest amount per unit the key may offer or pay,
the complaint categories it may act in, and a dual-control threshold per unit above which a
second officer key co-signs the same body (``public.cosignature`` on the step). They are
checked from the leaves alone (``check_signed_step``), so every verifier and the monitor can;
the co-signature's bytes are checked where the body is at hand (``verify_event_signature``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
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
from ledger.complaints.payloads import MONEY_EVENTS, Money
from ledger.complaints.timestamps import as_utc, format_timestamp, parse_timestamp
from ledger.complaints.vocab import SIGNED_EVENTS, Category, EventType, RevocationReason, Role
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
    """The ``public.signature`` object for a signed event: ``{key_id, sig}`` in hex (a second
    officer's ``public.cosignature`` has the same form, over the same body)."""
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
class Limits:
    """What a key may sign beyond its roles (``officer_key_registered.public.limits``).

    Units map to amounts as sorted ``(unit, amount)`` pairs, so a key stays hashable.
    """

    amounts: tuple[tuple[str, Decimal], ...] = ()
    categories: frozenset[Category] | None = None  # None: every category
    dual_control_above: tuple[tuple[str, Decimal], ...] = ()

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Limits:
        """From the leaf's ``limits`` (already validated: payloads.officer_limits)."""
        categories = value.get("categories")
        return cls(
            amounts=_unit_amounts(value["amounts"]),
            categories=None if categories is None else frozenset(map(Category, categories)),
            dual_control_above=_unit_amounts(value.get("dual_control_above", {})),
        )

    def to_json(self) -> dict[str, Any]:
        """The leaf's spelling (amounts as plain decimal strings, categories sorted)."""
        out: dict[str, Any] = {"amounts": {u: _decimal_text(a) for u, a in self.amounts}}
        if self.categories is not None:
            out["categories"] = sorted(str(c) for c in self.categories)
        if self.dual_control_above:
            out["dual_control_above"] = {u: _decimal_text(a) for u, a in self.dual_control_above}
        return out

    def limit(self, unit: str) -> Decimal | None:
        """The largest amount in ``unit``; None: the key may not offer or pay in it."""
        return dict(self.amounts).get(unit)

    def threshold(self, unit: str) -> Decimal | None:
        """Above this amount in ``unit`` a co-signature is required (None: never)."""
        return dict(self.dual_control_above).get(unit)


def _unit_amounts(value: Mapping[str, str]) -> tuple[tuple[str, Decimal], ...]:
    return tuple(sorted((unit, Decimal(amount)) for unit, amount in value.items()))


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


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
    limits: Limits | None = None  # None: registered without limits

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
            limits=None if "limits" not in p else Limits.from_json(p["limits"]),
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


COSIGNATURE_FIELD = "public.cosignature.key_id"
# The role a co-signer's key must hold at the step's time, whoever recorded the step.
COSIGNER_ROLE = Role.OFFICER


def check_step_authority(
    registry: Mapping[str, OfficerKey],
    event_type: EventType | str,
    role: Role | str,
    public: Mapping[str, Any],
    at: datetime | str,
    category: Category | str | None,
) -> None:
    """Proof of authority of a signed step from its leaf alone: the signer's key could act in
    ``role`` at ``at``, and ``check_signed_step`` (limits, dual control, the co-signer).

    ``category`` is the complaint's (from its received event). Raises AuthorityError.
    """
    key_id = public["signature"]["key_id"]
    check_authority(registry, key_id, role, at)
    check_signed_step(registry, registry[key_id], event_type, public, at, category)


def check_signed_step(
    registry: Mapping[str, OfficerKey],
    signer: OfficerKey,
    event_type: EventType | str,
    public: Mapping[str, Any],
    at: datetime | str,
    category: Category | str | None,
) -> None:
    """The limits of a signed step whose signer's authority was checked (``check_authority``):
    the signer's limits; a co-signature when the amount is above its dual-control threshold;
    a co-signer that is another key, authorised as an officer at ``at``, within its own limits.

    Codes: CATEGORY_NOT_ALLOWED, AMOUNT_NOT_PUBLIC, UNIT_NOT_ALLOWED, OVER_LIMIT,
    COSIGNATURE_REQUIRED, COSIGNER_SAME_KEY, and check_authority's for the co-signer (with
    ``field`` public.cosignature.key_id). The co-signature's bytes: verify_event_signature.
    """
    et = EventType(event_type)
    money = Money.from_fields(public) if et in MONEY_EVENTS else None
    _within_limits(signer, et, money, category, "public.signature.key_id")
    cosignature = public.get("cosignature")
    if cosignature is None:
        threshold = None
        if signer.limits is not None and money is not None:
            threshold = signer.limits.threshold(money.unit)
        if threshold is not None and money is not None and money.amount > threshold:
            raise AuthorityError(
                f"{money} is above {threshold} {money.unit}, the amount officer key "
                f"{signer.key_id} may sign alone; a second officer key must co-sign the body "
                "(public.cosignature)",
                "COSIGNATURE_REQUIRED",
                field="public.cosignature",
            )
        return
    cosigner_id = cosignature["key_id"]
    if cosigner_id == signer.key_id:
        raise AuthorityError(
            "the co-signature is by the signing key itself; dual control needs another key",
            "COSIGNER_SAME_KEY",
            field=COSIGNATURE_FIELD,
        )
    _check_cosigner(registry, cosigner_id, at)
    _within_limits(registry[cosigner_id], et, money, category, COSIGNATURE_FIELD)


def _check_cosigner(registry: Mapping[str, OfficerKey], key_id: str, at: datetime | str) -> None:
    """check_authority for a co-signer: an officer key, authorised at ``at``."""
    try:
        check_authority(registry, key_id, COSIGNER_ROLE, at)
    except AuthorityError as exc:
        raise AuthorityError(
            f"as co-signer, {exc.message}", exc.code, field=COSIGNATURE_FIELD
        ) from None


def _within_limits(
    key: OfficerKey,
    et: EventType,
    money: Money | None,
    category: Category | str | None,
    field: str,
) -> None:
    limits = key.limits
    if limits is None:
        return
    if limits.categories is not None and category not in limits.categories:
        allowed = ", ".join(sorted(limits.categories))
        raise AuthorityError(
            f"officer key {key.key_id} may act on {allowed} complaints, not on {category}",
            "CATEGORY_NOT_ALLOWED",
            field=field,
        )
    if et not in MONEY_EVENTS:
        return
    if money is None:
        raise AuthorityError(
            f"officer key {key.key_id} has amount limits, which no verifier could check "
            "unless the step states its amount and unit in public",
            "AMOUNT_NOT_PUBLIC",
            field=field,
        )
    limit = limits.limit(money.unit)
    if limit is None:
        units = ", ".join(u for u, _ in limits.amounts) or "no unit"
        raise AuthorityError(
            f"officer key {key.key_id} may offer or pay in {units}, not in {money.unit}",
            "UNIT_NOT_ALLOWED",
            field=field,
        )
    if money.amount > limit:
        raise AuthorityError(
            f"{money} is over the limit of officer key {key.key_id} "
            f"({_decimal_text(limit)} {money.unit})",
            "OVER_LIMIT",
            field=field,
        )


def verify_event_signature(
    registry: Mapping[str, OfficerKey],
    envelope: Envelope,
    body: Mapping[str, Any],
    heads: Collection[str] | None = None,
) -> None:
    """Full proof of authority for a signed event: context, signature, and key authority.

    Raises AuthorityError (or EnvelopeError for a context mismatch). The caller checks the
    body against the envelope's commitment first (``events.verify_commitment``). ``heads``:
    where the chain is known, the heads its context may name (``events.context_heads``).
    """
    if envelope.type not in SIGNED_EVENTS:
        raise AuthorityError(f"{envelope.type} events are not signed", "NOT_SIGNED")
    check_context(envelope, body, heads)
    sig = envelope.public["signature"]
    check_authority(registry, sig["key_id"], envelope.actor.role, envelope.at)
    key = registry[sig["key_id"]]
    signed = body_bytes(body)
    if not verify_officer_signature(key.public_key, signed, bytes.fromhex(sig["sig"])):
        raise AuthorityError(
            f"the signature on this {envelope.type} does not verify with key {sig['key_id']}",
            "SIGNATURE_INVALID",
        )
    cosignature = envelope.public.get("cosignature")
    if cosignature is None:
        return
    _check_cosigner(registry, cosignature["key_id"], envelope.at)
    cosigner = registry[cosignature["key_id"]]
    if not verify_officer_signature(cosigner.public_key, signed, bytes.fromhex(cosignature["sig"])):
        raise AuthorityError(
            f"the co-signature on this {envelope.type} does not verify with key "
            f"{cosignature['key_id']} over the same body",
            "COSIGNATURE_INVALID",
            field="public.cosignature.sig",
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
    limits: Limits | Mapping[str, Any] | None = None,
    salt: bytes | None = None,
) -> BuiltEvent:
    """The log entry registering an officer key (the name goes in the erasable body).

    ``limits``: a ``Limits`` or the leaf's JSON form (categories are sorted and deduplicated
    here; amounts must already be AMOUNT strings). Refused with PayloadError when invalid.
    """
    raw = public_key_bytes(public_key)
    public: dict[str, Any] = {
        "key_id": officer_key_id(raw),
        "public_key": raw.hex(),
        "roles": sorted({str(Role(r)) for r in roles}),
        "valid_from": _ts(valid_from),
        "valid_until": None if valid_until is None else _ts(valid_until),
    }
    if limits is not None:
        public["limits"] = _limits_json(limits)
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


def _limits_json(limits: Limits | Mapping[str, Any]) -> Any:
    if isinstance(limits, Limits):
        return limits.to_json()
    if not isinstance(limits, Mapping):
        return limits  # refused by the payload check, with its path
    out = dict(limits)
    categories = out.get("categories")
    if isinstance(categories, list | tuple) and all(isinstance(c, str) for c in categories):
        out["categories"] = sorted(set(categories))
    return out


def _ts(value: datetime | str) -> str:
    return format_timestamp(value) if isinstance(value, datetime) else value


def _require_canonical(body_jcs: bytes) -> None:
    try:
        parse_canonical(bytes(body_jcs))
    except CanonicalJSONError as exc:
        raise AuthorityError(
            f"only canonical body bytes are signed: {exc}", "NOT_CANONICAL"
        ) from None
