"""Validation of event ``public`` fields and ``body`` payloads.

``public`` is written into the log leaf forever, so it is closed: only the fields listed here
are accepted, all non-personal (codes, enums, hashes, amounts). ``body`` is stored beside the
log and may be erased; its required fields are checked, extra fields are allowed.

Validators never normalise: a leaf is hashed as written, so values must already be canonical.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ledger.complaints.errors import PayloadError
from ledger.complaints.payouts import EVM_ADDRESS, terms_commitment
from ledger.complaints.timestamps import parse_timestamp
from ledger.complaints.vocab import (
    COMPLAINT_EVENTS,
    AssignmentKind,
    Category,
    Channel,
    CloseReason,
    CompensationKind,
    Confirmation,
    ContactChannel,
    DeclineReason,
    DeliveryChannel,
    DeliveryOutcome,
    ErasureBasis,
    EscalationLevel,
    EscalationReason,
    EventType,
    EvidenceKind,
    IdentityMethod,
    Language,
    Outcome,
    PaymentMethod,
    PlaybookStep,
    ReferralTarget,
    ReopenReason,
    RevocationReason,
    Role,
    RootCause,
    Specialism,
    Status,
)
from ledger.jsondepth import value_depth

Validator = Callable[[Any, str], None]

HEX32 = re.compile(r"^[0-9a-f]{64}$")  # SHA-256 hashes: lower-case hex, one spelling only
KEY_ID = re.compile(r"^[0-9a-f]{32}$")
PUBLIC_KEY = re.compile(r"^[0-9a-f]{64}$")
SIGNATURE = re.compile(r"^[0-9a-f]{128}$")
TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
BASE_UNITS = re.compile(r"^(0|[1-9][0-9]{0,77})$")  # a uint256 in decimal, one spelling
AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,29})(\.[0-9]{1,18})?$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
ASSET = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{1,19}$")
JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]+){1,3}$")
RULE_REF = re.compile(r"^[A-Za-z0-9§][A-Za-z0-9 ._:/()&§#-]{0,79}$")
SCHEME = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
PAYMENT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:/#-]{0,63}$")
# An actor's id on the log (events.parse_actor), and an owner's pseudonym (assigned.public.owner):
# no '@' or spaces, so no e-mail addresses or names.
ACTOR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
INCIDENT = re.compile(r"^INC-[0-9]{4}-[0-9]{4,6}$")  # a mass incident, e.g. INC-2026-0042
# An e-mail address: the WHATWG HTML "valid e-mail address" (what a browser's type=email
# accepts), at most 320 characters (RFC 3696 erratum 1690). Written so that Python's fullmatch
# and the browser's RegExp read it alike (rules.json).
EMAIL = re.compile(
    r"^(?=.{3,320}$)[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
MESSAGE_ID = re.compile(r"^msg_[0-9a-f]{32}$")  # "msg_" + 32 lower hex (ledger/messages)
TEMPLATE = re.compile(r"^[a-z_]{1,64}$")  # a texts.MessageKind value; new kinds stay valid
MAX_MESSAGE_TEXT = 200_000  # a letter quotes free text (a finding of up to MAX_TEXT) and more
MAX_TARGET_MINUTES = 525_600  # a year
# ISO 4217 minor units where they differ from 2; fiat amounts may not be more precise.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3}
DEFAULT_MINOR_UNITS = 2
MAX_TEXT = 20_000
MAX_PARAGRAPH = 2_000  # the handler's personal paragraph in the acknowledgement letter
# Request bodies and event bodies nest at most this many JSON levels (docs/complaints.md):
# every parser and verifier recurses per level, so deeper input is refused up front.
MAX_DEPTH = 32
# Events that carry an amount (public optionally, body always): checked by _check_money.
MONEY_EVENTS = frozenset({EventType.COMPENSATION_OFFERED, EventType.COMPENSATION_PAID})
# Compensation given in kind (method in_kind); its amount is the value, for the figures.
IN_KIND = frozenset({CompensationKind.DISCOUNT, CompensationKind.FREE_SERVICE})
DEFAULT_KIND = CompensationKind.MONEY  # the kind of an offer or payment that names none


def _fail(path: str, message: str, code: str = "INVALID_FIELD", field: str | None = None) -> None:
    raise PayloadError(f"{path}: {message}", code, field=field or path)


def describe(**spec: Any) -> Callable[[Validator], Validator]:
    """Attach what a validator accepts, as data, for the browser verifier's generated rules
    (scripts/build_verify_rules.py); nested validators and Fields are described there."""

    def attach(check: Validator) -> Validator:
        check.spec = spec  # type: ignore[attr-defined]
        return check

    return attach


# --- primitive validators -----------------------------------------------------------------


def enum_of(kind: type[StrEnum]) -> Validator:
    values = sorted(m.value for m in kind)
    allowed = frozenset(values)

    @describe(kind="enum", enum=kind.__name__)
    def check(value: Any, path: str) -> None:
        if not isinstance(value, str) or value not in allowed:
            _fail(path, f"must be one of {', '.join(values)}; got {value!r}")

    return check


def pattern(regex: re.Pattern[str], what: str) -> Validator:
    @describe(kind="pattern", pattern=regex.pattern)
    def check(value: Any, path: str) -> None:
        if not isinstance(value, str) or not regex.fullmatch(value):
            _fail(path, f"must be {what}; got {value!r}")

    return check


def text(max_len: int = MAX_TEXT) -> Validator:
    @describe(kind="text", max_length=max_len)
    def check(value: Any, path: str) -> None:
        if not isinstance(value, str) or not value.strip():
            _fail(path, "must be a non-empty string")
        if len(value) > max_len:
            _fail(path, f"is longer than {max_len} characters")

    return check


@describe(kind="timestamp")
def timestamp(value: Any, path: str) -> None:
    try:
        parse_timestamp(value)
    except ValueError as exc:
        _fail(path, str(exc))


@describe(kind="amount", pattern=AMOUNT.pattern)
def amount(value: Any, path: str) -> None:
    if not isinstance(value, str) or not AMOUNT.fullmatch(value):
        _fail(path, f"must be a positive decimal string such as '12.50'; got {value!r}")
    if Decimal(value) <= 0:
        _fail(path, "must be greater than zero")


@describe(kind="int", min=1, max=5)
def csat(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        _fail(path, f"must be an integer from 1 to 5; got {value!r}")


@describe(kind="int", min=0, max=2**53 - 1)
def byte_size(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        _fail(path, f"must be a non-negative integer; got {value!r}")


@describe(kind="bool")
def boolean(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        _fail(path, f"must be true or false; got {value!r}")


def int_range(low: int, high: int) -> Validator:
    @describe(kind="int", min=low, max=high)
    def check(value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            _fail(path, f"must be an integer from {low} to {high}; got {value!r}")

    return check


def list_of(
    item: Validator, *, min_len: int = 0, max_len: int = 100, unique: bool = True
) -> Validator:
    @describe(kind="list", items=item, min_length=min_len, max_length=max_len, unique=unique)
    def check(value: Any, path: str) -> None:
        if not isinstance(value, list):
            _fail(path, "must be a list")
        if not min_len <= len(value) <= max_len:
            _fail(path, f"must have {min_len} to {max_len} items")
        for i, v in enumerate(value):
            item(v, f"{path}[{i}]")
        if unique and len(_distinct(value)) != len(value):
            _fail(path, "must not contain duplicates")

    return check


def _distinct(values: list[Any]) -> set[str]:
    """The distinct values of a JSON list (1, 1.0 and True apart; objects by content)."""
    if all(type(v) is str for v in values):
        return set(values)
    return {repr(v) for v in values}


@describe(
    kind="list", items=enum_of(Role), min_length=1, max_length=len(Role), unique=True, sorted=True
)
def sorted_roles(value: Any, path: str) -> None:
    list_of(enum_of(Role), min_len=1, max_len=len(Role))(value, path)
    if value != sorted(value):
        _fail(path, "must be sorted (one canonical spelling per role set)")


def nullable(inner: Validator) -> Validator:
    @describe(kind="nullable", inner=inner)
    def check(value: Any, path: str) -> None:
        if value is not None:
            inner(value, path)

    return check


@dataclass(frozen=True)
class Field:
    check: Validator
    required: bool = True


def obj(spec: Mapping[str, Field], *, closed: bool = True) -> Validator:
    @describe(kind="object", fields=spec, closed=closed)
    def check(value: Any, path: str) -> None:
        validate_object(value, spec, path, closed=closed)

    return check


def validate_object(
    value: Any, spec: Mapping[str, Field], path: str, *, closed: bool, hint: str = ""
) -> None:
    """Check a JSON object against ``spec``; ``closed`` refuses fields the spec does not name."""
    if not isinstance(value, dict):
        _fail(path, "must be a JSON object", "NOT_AN_OBJECT")
    for name, field in spec.items():
        if name in value:
            field.check(value[name], f"{path}.{name}")
        elif field.required:
            _fail(path, f"missing required field {name!r}", "MISSING_FIELD", f"{path}.{name}")
    if closed and not value.keys() <= spec.keys():
        extra = sorted(value.keys() - spec.keys())
        _fail(
            path, f"field {extra[0]!r} is not allowed here{hint}", "UNKNOWN_FIELD",
            f"{path}.{extra[0]}",
        )  # fmt: skip


# --- shared field groups ------------------------------------------------------------------

_hash = pattern(HEX32, "a SHA-256 hash in lower-case hex (64 characters)")
_signature = obj(
    {
        "key_id": Field(pattern(KEY_ID, "an officer key id (32 lower-case hex characters)")),
        "sig": Field(pattern(SIGNATURE, "an Ed25519 signature (128 lower-case hex characters)")),
    }
)
# ``cosignature`` on a signed step: a second officer key's signature over the same body bytes
# (dual control, officers.check_signed_step), required above the signer's dual_control_above.
_deadlines = obj(
    {
        name: Field(timestamp, required=False)
        for name in (
            "first_response",
            "first_response_goal",
            "target_resolution",
            "resolution_limit",
            "final_response",
            "access_block",
        )
    }
)
_money_public = {
    "kind": Field(enum_of(CompensationKind), required=False),
    "amount": Field(amount, required=False),
    "currency": Field(pattern(CURRENCY, "an ISO 4217 code such as 'EUR'"), required=False),
    "asset": Field(pattern(ASSET, "an asset symbol such as 'BTC' or 'USDC'"), required=False),
    "method": Field(enum_of(PaymentMethod)),
}
_rules = list_of(pattern(RULE_REF, "a rule or policy reference such as 'PSD2 Art. 73'"), min_len=1)
_evidence = list_of(_hash, max_len=200)

# --- an officer key's authority limits (officer_key_registered.public.limits) --------------
# Every verifier reads them from the registration leaf, so they are public, non-personal and
# have one spelling: units as in money fields, amounts as AMOUNT strings, categories sorted.
MAX_LIMIT_UNITS = 50
# A currency code (CURRENCY) is also an asset symbol (ASSET): one pattern names either unit.
_unit = pattern(ASSET, "an ISO 4217 currency or an asset symbol such as 'EUR' or 'USDC'")


@describe(
    kind="object", fields={}, closed=False, keys=_unit, values=amount, max_size=MAX_LIMIT_UNITS
)
def unit_amounts(value: Any, path: str) -> None:
    """Unit -> positive amount. Described as an object with its ``keys`` and ``values``: the
    browser verifier checks each member in its own code, as the rulebook has no map kind."""
    if not isinstance(value, dict):
        _fail(path, "must be a JSON object", "NOT_AN_OBJECT")
    if len(value) > MAX_LIMIT_UNITS:
        _fail(path, f"must name at most {MAX_LIMIT_UNITS} units")
    for unit, limit in value.items():
        _unit(unit, f"{path}.{unit}")
        amount(limit, f"{path}.{unit}")


@describe(
    kind="list",
    items=enum_of(Category),
    min_length=1,
    max_length=len(Category),
    unique=True,
    sorted=True,
)
def sorted_categories(value: Any, path: str) -> None:
    list_of(enum_of(Category), min_len=1, max_len=len(Category))(value, path)
    if value != sorted(value):
        _fail(path, "must be sorted (one canonical spelling per category set)")


LIMITS_SPEC = {
    # The largest amount per unit the key may offer or pay; a unit not named: none at all.
    "amounts": Field(unit_amounts),
    # The categories it may decide, offer and pay in (absent: every category).
    "categories": Field(sorted_categories, required=False),
    # Above this amount in a unit, a second officer key co-signs the same body.
    "dual_control_above": Field(unit_amounts, required=False),
}


@describe(kind="object", fields=LIMITS_SPEC, closed=True)
def officer_limits(value: Any, path: str) -> None:
    validate_object(value, LIMITS_SPEC, path, closed=True)
    if value.get("dual_control_above") == {}:  # one spelling of "no threshold": absent
        _fail(f"{path}.dual_control_above", "names no unit: leave it out", "BAD_LIMITS")
    unlisted = sorted(set(value.get("dual_control_above", {})) - set(value["amounts"]))
    if unlisted:
        _fail(
            f"{path}.dual_control_above.{unlisted[0]}",
            "is a unit the key may not offer or pay at all (not in amounts)",
            "BAD_LIMITS",
        )


PUBLIC_SPECS: dict[EventType, dict[str, Field]] = {
    EventType.RECEIVED: {
        "category": Field(enum_of(Category)),
        "channel": Field(enum_of(Channel)),
        "language": Field(enum_of(Language)),
        "jurisdiction": Field(pattern(JURISDICTION, "a jurisdiction code such as 'EU-PSD2'")),
        "level": Field(enum_of(EscalationLevel), required=False),
        "deadlines": Field(_deadlines, required=False),
    },
    EventType.ACKNOWLEDGED: {"deadlines": Field(_deadlines, required=False)},
    EventType.INFO_REQUESTED: {"respond_by": Field(timestamp, required=False)},
    EventType.INFO_RECEIVED: {},
    EventType.EVIDENCE_ADDED: {"kind": Field(enum_of(EvidenceKind), required=False)},
    EventType.NOTE_ADDED: {},
    EventType.ESCALATED: {
        "level": Field(enum_of(EscalationLevel)),
        "specialism": Field(enum_of(Specialism), required=False),
        "reason": Field(enum_of(EscalationReason), required=False),
    },
    EventType.HOLDING_REPLY: {"deadlines": Field(_deadlines, required=False)},
    EventType.DECISION: {
        "outcome": Field(enum_of(Outcome)),
        "root_cause": Field(enum_of(RootCause)),
        "rules": Field(_rules),
        "evidence": Field(_evidence),
        "signature": Field(_signature),
        "cosignature": Field(_signature, required=False),
    },
    EventType.COMPENSATION_OFFERED: {
        **_money_public,
        # Set by the service when its rules need the customer's identity verified before
        # this offer may be paid (service_rules.payout_identity_threshold); the state machine
        # then refuses the payment until identity_verified.
        "identity_required": Field(boolean, required=False),
        # An offer the compensation vault pays (payouts.terms_commitment of the body's
        # chain_id, vault, token and amount_base_units): the contract checks it in the leaf.
        "payout_terms": Field(_hash, required=False),
        "signature": Field(_signature),
        "cosignature": Field(_signature, required=False),
    },
    # Accepting a vault offer: the customer's address bound to that offer
    # (payouts.payout_commitment); the address itself is in the body.
    EventType.COMPENSATION_ACCEPTED: {"payout": Field(_hash, required=False)},
    EventType.COMPENSATION_DECLINED: {"reason": Field(enum_of(DeclineReason), required=False)},
    # A vault payout names the acceptance's payout commitment it carried out.
    EventType.COMPENSATION_PAID: {
        **_money_public,
        "payout": Field(_hash, required=False),
        "signature": Field(_signature),
        "cosignature": Field(_signature, required=False),
    },
    EventType.CLOSED: {"reason": Field(enum_of(CloseReason), required=False)},
    EventType.REOPENED: {
        "reason": Field(enum_of(ReopenReason), required=False),
        "deadlines": Field(_deadlines, required=False),
    },
    EventType.WITHDRAWN: {},
    EventType.REFERRED: {
        "to": Field(enum_of(ReferralTarget)),
        "scheme": Field(pattern(SCHEME, "a scheme code such as 'UK-FOS'"), required=False),
    },
    # ``rates``: the seq of the earlier step rated (states: a RATEABLE_EVENTS step, once).
    # Optional on the log (ratings recorded before the rule do not name one and must keep
    # verifying); required of every new rating (REQUIRED_WHEN_RECORDING).
    EventType.RATED: {
        "csat": Field(csat),
        "rates": Field(int_range(0, 2**53 - 1), required=False),
    },
    EventType.ERASED: {"erases": Field(_hash), "basis": Field(enum_of(ErasureBasis))},
    # The service playbook (playbooks.py): the identity check (method only; the reference to
    # the check is in the body), one playbook step, an untimed category's target, an incident.
    EventType.IDENTITY_VERIFIED: {"method": Field(enum_of(IdentityMethod))},
    EventType.PLAYBOOK_STEP: {
        "step": Field(enum_of(PlaybookStep)),
        "confirmation": Field(enum_of(Confirmation), required=False),
        "confirm_by": Field(timestamp, required=False),
    },
    EventType.TARGET_SET: {
        "target_minutes": Field(int_range(1, MAX_TARGET_MINUTES)),
        "limit_minutes": Field(int_range(1, MAX_TARGET_MINUTES)),
    },
    EventType.INCIDENT_LINKED: {
        "incident": Field(pattern(INCIDENT, "an incident id such as 'INC-2026-0042'"))
    },
    # A customer message the dispatcher delivered (or gave up on): how, which template in which
    # language, the step whose letter it is (``for_seq``, an earlier seq of this complaint; for
    # a reminder the information request's), the SHA-256 of the exact UTF-8 text delivered
    # (the body holds the text: check_consistency), the outcome, the message id (stable across
    # retries) and how many attempts it took.
    EventType.MESSAGE_SENT: {
        "channel": Field(enum_of(DeliveryChannel)),
        "template": Field(pattern(TEMPLATE, "a message template name such as 'decision'")),
        "language": Field(enum_of(Language)),
        "for_seq": Field(int_range(0, 2**53 - 1)),
        "text_sha256": Field(_hash),
        "outcome": Field(enum_of(DeliveryOutcome)),
        "message_id": Field(pattern(MESSAGE_ID, "a message id ('msg_' + 32 lower-case hex)")),
        "attempts": Field(int_range(1, 2**53 - 1)),
    },
    # The customer's Net Promoter Score for the whole complaint, once, after its closure.
    EventType.NPS_GIVEN: {"nps": Field(int_range(0, 10))},
    # The complaint's owner from now on: their pseudonym (an actor id, never a name) and how
    # they got it (states: a claim is the actor's own, reassigning needs an owner to replace).
    EventType.ASSIGNED: {
        "owner": Field(pattern(ACTOR_ID, "a pseudonym such as 'staff-3f9a2b1c'")),
        "how": Field(enum_of(AssignmentKind)),
    },
    # An evidence bundle (ledger/evidence) was exported: its SHA-256, its format version and
    # the tree size of the checkpoint it was built on. Recorded after the bundle was built.
    EventType.BUNDLE_EXPORTED: {
        "bundle_sha256": Field(_hash),
        "format_version": Field(int_range(1, 1000)),
        "tree_size": Field(int_range(1, 2**53 - 1)),
    },
    EventType.OFFICER_KEY_REGISTERED: {
        "key_id": Field(pattern(KEY_ID, "32 lower-case hex characters")),
        "public_key": Field(pattern(PUBLIC_KEY, "an Ed25519 public key in lower-case hex")),
        "roles": Field(sorted_roles),
        "valid_from": Field(timestamp),
        "valid_until": Field(nullable(timestamp)),
        # Absent: no limits (as for every key registered before limits existed).
        "limits": Field(officer_limits, required=False),
    },
    EventType.OFFICER_KEY_REVOKED: {
        "key_id": Field(pattern(KEY_ID, "32 lower-case hex characters")),
        "reason": Field(enum_of(RevocationReason)),
    },
}
for _t in COMPLAINT_EVENTS:  # every complaint event records the state it leads to
    PUBLIC_SPECS[_t] = {"state": Field(enum_of(Status)), **PUBLIC_SPECS[_t]}

_context = obj(
    {
        "log": Field(text(255)),
        "complaint": Field(text(64)),
        "prev": Field(_hash),
        "type": Field(enum_of(EventType)),
        "nonce": Field(_hash),
    }
)
_attachment = obj(
    {
        "name": Field(text(255)),
        "sha256": Field(_hash),
        "media_type": Field(text(255), required=False),
        "size": Field(byte_size, required=False),
    },
    closed=False,
)
_money_body = {
    "kind": Field(enum_of(CompensationKind), required=False),
    "amount": Field(amount),
    "currency": Field(pattern(CURRENCY, "an ISO 4217 code such as 'EUR'"), required=False),
    "asset": Field(pattern(ASSET, "an asset symbol such as 'BTC'"), required=False),
    "method": Field(enum_of(PaymentMethod)),
}

_address = pattern(EVM_ADDRESS, "an EVM address (0x + 40 hex)")
ON_CHAIN_BODY: dict[str, Validator] = {
    "recipient": _address,
    "chain_id": int_range(1, 2**53 - 1),
    "token": _address,
    "amount_base_units": pattern(BASE_UNITS, "a whole number of base units, in decimal"),
    "decimals": int_range(0, 36),
    "vault": _address,  # paid by the compensation vault contract (payouts.py)
}
# What a vault offer's body states (the recipient comes with the customer's acceptance).
VAULT_TERMS = ("chain_id", "vault", "amount_base_units", "decimals")

# How to write to the customer (erasable personal data in the received body). ``consent``: the
# customer agreed to be written to (no contact, or no consent: no message is sent); the log
# accepts contacts recorded before it existed, every new one states it (validate_new_step).
# Open, as bodies are: contacts filed before this rule may carry a phone number.
CONTACT_SPEC = {
    "name": Field(text(200), required=False),
    "email": Field(pattern(EMAIL, "an e-mail address of at most 320 characters"), required=False),
    "consent": Field(boolean, required=False),
    "channel": Field(enum_of(ContactChannel), required=False),
}
_contact = obj(CONTACT_SPEC, closed=False)

BODY_SPECS: dict[EventType, dict[str, Field]] = {
    EventType.RECEIVED: {
        "description": Field(text()),
        "contact": Field(_contact, required=False),
    },
    # The named person who handles the complaint (the acknowledgement letter names them), and
    # their own words to the customer, printed in the letter as given (never translated).
    EventType.ACKNOWLEDGED: {
        "responsible": Field(text(200), required=False),
        "paragraph": Field(text(MAX_PARAGRAPH), required=False),
    },
    EventType.INFO_REQUESTED: {"request": Field(text())},
    EventType.INFO_RECEIVED: {
        "text": Field(text(), required=False),
        "attachments": Field(list_of(_attachment, min_len=1), required=False),
    },
    EventType.EVIDENCE_ADDED: {
        "description": Field(text()),
        "attachments": Field(list_of(_attachment, min_len=1), required=False),
    },
    EventType.NOTE_ADDED: {"text": Field(text())},
    EventType.HOLDING_REPLY: {"reason": Field(text())},
    EventType.DECISION: {
        "context": Field(_context),
        "outcome": Field(enum_of(Outcome)),
        "finding": Field(text()),
        "rules": Field(_rules),
        "evidence": Field(_evidence),
        "root_cause": Field(enum_of(RootCause)),
        "remedy": Field(text(), required=False),
    },
    EventType.COMPENSATION_OFFERED: {
        "context": Field(_context),
        **_money_body,
        "respond_by": Field(timestamp, required=False),
        # A vault offer: where and in what it is paid (the token absent: the native coin).
        **{
            name: Field(ON_CHAIN_BODY[name], required=False)
            for name in ("chain_id", "vault", "token", "amount_base_units", "decimals")
        },
    },
    # Accepting a vault offer: the address the customer gives and confirms for the payout.
    EventType.COMPENSATION_ACCEPTED: {"recipient": Field(_address, required=False)},
    EventType.COMPENSATION_PAID: {
        "context": Field(_context),
        **_money_body,
        "payment_reference": Field(pattern(PAYMENT_REF, "a payment reference"), required=False),
        "tx_hash": Field(
            pattern(TX_HASH, "an on-chain transaction hash (0x + 64 hex)"), required=False
        ),
        # On-chain payments, so anyone can match the transaction (docs/evidence.md): the
        # recipient, the chain, the token contract (absent: the chain's native coin, paid by a
        # plain value transfer) and the amount in the asset's base units with its decimals.
        **{name: Field(check, required=False) for name, check in ON_CHAIN_BODY.items()},
    },
    EventType.OFFICER_KEY_REGISTERED: {"name": Field(text(200))},
    # Where the check can be found (a case id at the verification provider), never documents.
    EventType.IDENTITY_VERIFIED: {"check_reference": Field(text(200))},
    EventType.INCIDENT_LINKED: {"title": Field(text(200), required=False)},
    # The owner's display name, as the customer sees it (personal data: erasable).
    EventType.ASSIGNED: {"owner_name": Field(text(200))},
    # The message as delivered: to whom (an e-mail address or a webhook URL), its subject and
    # its exact text (public.text_sha256 is the SHA-256 of its UTF-8 bytes).
    EventType.MESSAGE_SENT: {
        "to": Field(text(2048)),
        "subject": Field(text(998)),
        "text": Field(text(MAX_MESSAGE_TEXT)),
    },
}
for _t in EventType:
    BODY_SPECS.setdefault(_t, {})


# --- event-level checks -------------------------------------------------------------------


def _check_money(obj_: Mapping[str, Any], path: str, *, amount_required: bool) -> None:
    kind = obj_.get("kind", DEFAULT_KIND)
    if (obj_.get("method") == PaymentMethod.IN_KIND) != (kind in IN_KIND):
        _fail(
            path,
            "discounts and free services are given in kind (method in_kind), and only they are",
            "BAD_MONEY",
        )
    has_unit = [k for k in ("currency", "asset") if k in obj_]
    if "amount" not in obj_:
        if amount_required or has_unit:
            _fail(path, "an amount needs 'amount' and one of 'currency' or 'asset'", "BAD_MONEY")
        return
    if len(has_unit) != 1:
        _fail(path, "give exactly one of 'currency' (fiat) or 'asset' (crypto)", "BAD_MONEY")
    method = obj_.get("method")
    if method == PaymentMethod.ON_CHAIN and "asset" not in obj_:
        _fail(path, "on-chain payments are made in a crypto asset, not a currency", "BAD_MONEY")
    if method in (PaymentMethod.BANK_TRANSFER, PaymentMethod.CARD_REFUND) and "asset" in obj_:
        _fail(path, f"{method} payments are made in a fiat currency", "BAD_MONEY")

    if "currency" in obj_:
        decimals = len(obj_["amount"].partition(".")[2])
        allowed = MINOR_UNITS.get(obj_["currency"], DEFAULT_MINOR_UNITS)
        if decimals > allowed:
            _fail(path, f"{obj_['currency']} amounts have at most {allowed} decimals", "BAD_MONEY")


# Fields every NEW step of a type must carry although the log's rules accept leaves without
# them: a rule added later binds what is recorded from then on, while records made before it
# keep verifying (ratings name the step they rate; older ratings name none).
REQUIRED_WHEN_RECORDING: Mapping[EventType, tuple[str, ...]] = MappingProxyType(
    {EventType.RATED: ("rates",)}
)


# The same for body objects: (event type, body field) -> the fields a new one must carry.
BODY_REQUIRED_WHEN_RECORDING: Mapping[tuple[EventType, str], tuple[str, ...]] = MappingProxyType(
    {(EventType.RECEIVED, "contact"): ("consent",)}
)


def validate_new_step(
    event_type: EventType | str, public: Mapping[str, Any], body: Any = None
) -> None:
    """Raise PayloadError when a step about to be recorded lacks a field new steps need
    (in ``public``; in ``body`` when it is given: a new contact states the customer's consent)."""
    et = _event_type(event_type)
    for name in REQUIRED_WHEN_RECORDING.get(et, ()):
        if name not in public:
            _fail(f"public.{name}", f"is required in a new {et} step", "MISSING_FIELD")
    if not isinstance(body, Mapping):
        return
    for (owner, field_name), names in BODY_REQUIRED_WHEN_RECORDING.items():
        value = body.get(field_name)
        if owner != et or not isinstance(value, Mapping):
            continue  # absent, or not an object: validate_body says what is wrong with it
        for name in names:
            if name not in value:
                path = f"body.{field_name}.{name}"
                _fail(path, f"is required in a new {et} step", "MISSING_FIELD")


def validate_public(
    event_type: EventType | str, public: Any, *, state_optional: bool = False
) -> None:
    """Raise PayloadError unless ``public`` is valid (and only non-personal) for the event type.

    ``state_optional``: ``public`` as a client sends it, before the server fills in ``state``.
    """
    et = _event_type(event_type)
    spec = PUBLIC_SPECS[et]
    if state_optional and "state" in spec:
        spec = {**spec, "state": Field(spec["state"].check, required=False)}
    validate_object(
        public,
        spec,
        "public",
        closed=True,
        hint=f" in a {et} event (personal data and free text belong in the body)",
    )
    if et == EventType.ESCALATED:
        is_specialist = public["level"] == EscalationLevel.SPECIALIST
        if is_specialist != ("specialism" in public):
            _fail("public.specialism", "is required for, and only for, the specialist level")
        if public["level"] == EscalationLevel.BOT:
            _fail("public.level", "a complaint cannot be escalated down to the bot")
    if et in MONEY_EVENTS:
        _check_money(public, "public", amount_required=False)
    if et == EventType.TARGET_SET and public["target_minutes"] > public["limit_minutes"]:
        _fail("public.target_minutes", "must not be after the limit", "TARGET_ABOVE_LIMIT")
    if et == EventType.PLAYBOOK_STEP and "confirmation" in public and "confirm_by" in public:
        _fail("public.confirm_by", "a confirming step does not state another wait")


def validate_body(event_type: EventType | str, body: Any) -> None:
    """Raise PayloadError unless ``body`` has the fields the event type needs."""
    et = _event_type(event_type)
    check_depth(body, "body")
    validate_object(body, BODY_SPECS[et], "body", closed=False)
    if et == EventType.INFO_RECEIVED and not ({"text", "attachments"} & set(body)):
        _fail("body", "information received needs 'text' or 'attachments'", "MISSING_FIELD")
    if et == EventType.DECISION and body["outcome"] != Outcome.REJECTED and "remedy" not in body:
        _fail("body", "an upheld decision must state the remedy", "MISSING_FIELD")
    if et in MONEY_EVENTS:
        _check_money(body, "body", amount_required=True)
    if et == EventType.COMPENSATION_PAID:
        if body["method"] == PaymentMethod.ON_CHAIN and "tx_hash" not in body:
            _fail("body", "an on-chain payment needs its 'tx_hash'", "MISSING_FIELD")
        if body["method"] != PaymentMethod.ON_CHAIN and "payment_reference" not in body:
            _fail("body", "a payment needs its 'payment_reference'", "MISSING_FIELD")
        _check_on_chain(body)
    if et == EventType.COMPENSATION_OFFERED:
        _check_on_chain(body)
        given = [name for name in VAULT_TERMS if name in body]
        if given and len(given) != len(VAULT_TERMS):
            missing = sorted(set(VAULT_TERMS) - set(given))
            _fail("body", f"a vault offer also needs {', '.join(missing)}", "MISSING_FIELD")


def _check_on_chain(body: Mapping[str, Any]) -> None:
    """On-chain payment details: only for on-chain payments, and the base units must be
    exactly the signed decimal amount scaled by the asset's decimals."""
    given = sorted(set(ON_CHAIN_BODY) & set(body))
    if not given:
        return
    if body["method"] != PaymentMethod.ON_CHAIN:
        _fail(f"body.{given[0]}", "is only for on-chain payments", "BAD_MONEY")
    if ("amount_base_units" in body) != ("decimals" in body):
        _fail("body", "'amount_base_units' and 'decimals' go together", "MISSING_FIELD")
    if "amount_base_units" in body:
        scaled = Decimal(body["amount"]).scaleb(body["decimals"])
        if scaled != int(body["amount_base_units"]):
            _fail(
                "body.amount_base_units",
                f"is not {body['amount']} {body.get('asset')} at {body['decimals']} decimals",
                "PAYMENT_UNITS_MISMATCH",
            )


def check_depth(value: Any, path: str) -> None:
    """Refuse a JSON value nested deeper than MAX_DEPTH (bodies are open: extra fields)."""
    if value_depth(value, stop_above=MAX_DEPTH) > MAX_DEPTH:
        _fail(path, f"is nested deeper than {MAX_DEPTH} levels", "TOO_DEEP")


# The fields a customer letter is rendered from (``ComplaintWrites.with_letter``), in the
# body or the public fields, whatever the step: each must be well-formed before a letter is.
LETTER_FACTS: dict[str, Validator] = {
    "request": text(),
    "reason": text(),
    "finding": text(),
    "remedy": text(),
    "outcome": enum_of(Outcome),
    "rules": _rules,
    "amount": amount,
    "currency": pattern(CURRENCY, "an ISO 4217 code such as 'EUR'"),
    "asset": pattern(ASSET, "an asset symbol such as 'BTC'"),
    "method": enum_of(PaymentMethod),
    "respond_by": timestamp,
    # The acknowledgement's handler, their personal paragraph, and a payment's trace
    # (casework/letters.py).
    "responsible": text(200),
    "paragraph": text(MAX_PARAGRAPH),
    "payment_reference": pattern(PAYMENT_REF, "a payment reference"),
    "tx_hash": pattern(TX_HASH, "an on-chain transaction hash (0x + 64 hex)"),
    "chain_id": int_range(1, 2**53 - 1),
}
# Public ``reason`` fields are codes (close, decline, escalation reasons), not letter text.
_PUBLIC_LETTER_FACTS = ("outcome", "respond_by")


def validate_letter_facts(public: Any, body: Any, body_path: str = "body") -> None:
    """Raise PayloadError unless every field a letter reads from ``public``/``body`` is valid."""
    validate_object(public, {}, "public", closed=False)
    check_depth(body, body_path)
    validate_object(body, {}, body_path, closed=False)
    for name, check in LETTER_FACTS.items():
        if name in body:
            check(body[name], f"{body_path}.{name}")
        if name in _PUBLIC_LETTER_FACTS and name in public:
            check(public[name], f"public.{name}")


# Public fields that repeat body fields: the officer's signature covers the body, so each
# mirrored public value must equal the signed one or the leaf would misstate what was signed.
MIRRORED = {
    EventType.DECISION: ("outcome", "root_cause", "rules", "evidence"),
    EventType.COMPENSATION_OFFERED: ("kind", "amount", "currency", "asset", "method"),
    EventType.COMPENSATION_PAID: ("kind", "amount", "currency", "asset", "method"),
}


def check_consistency(
    event_type: EventType | str, public: Mapping[str, Any], body: Mapping[str, Any]
) -> None:
    """Raise PayloadError when a public field contradicts the body it summarises."""
    et = _event_type(event_type)
    for name in MIRRORED.get(et, ()):
        if name in public and public.get(name) != body.get(name):
            _fail(
                f"public.{name}", "differs from the same field in the body", "PUBLIC_BODY_MISMATCH"
            )
    if et == EventType.COMPENSATION_OFFERED and ("payout_terms" in public) != ("vault" in body):
        _fail("public.payout_terms", "states a vault offer, and only a vault offer has it",
              "PUBLIC_BODY_MISMATCH")  # fmt: skip
    if et == EventType.COMPENSATION_OFFERED and "payout_terms" in public:
        expected = terms_commitment(
            body["chain_id"], body["vault"], body.get("token"), int(body["amount_base_units"])
        )
        if public["payout_terms"] != expected:
            _fail("public.payout_terms", "is not the body's terms", "PUBLIC_BODY_MISMATCH")
    if et == EventType.COMPENSATION_ACCEPTED and ("payout" in public) != ("recipient" in body):
        _fail("public.payout", "goes with the customer's 'recipient' address",
              "PUBLIC_BODY_MISMATCH")  # fmt: skip
    if et == EventType.MESSAGE_SENT:
        check_message_text(public, body)
    if et in MONEY_EVENTS:
        # The leaf must say what kind of redress it is whenever it is not money: the state
        # machine (and every verifier) reads the kind from the public fields alone.
        if public.get("kind", DEFAULT_KIND) != body.get("kind", DEFAULT_KIND):
            _fail("public.kind", "must state the body's kind of redress", "PUBLIC_BODY_MISMATCH")
        unit_public = {k for k in ("currency", "asset") if k in public}
        if (
            unit_public
            and "amount" in public
            and unit_public != {k for k in ("currency", "asset") if k in body}
        ):
            _fail("public", "names a different unit than the body", "PUBLIC_BODY_MISMATCH")


def message_text_sha256(text_: str) -> str:
    """The lower-hex SHA-256 of a message's text, as delivered (its UTF-8 bytes)."""
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def check_message_text(public: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    """Raise PayloadError (MESSAGE_TEXT_MISMATCH) unless the body's text is the one whose
    SHA-256 the leaf states: the log proves what the customer was told, word for word."""
    text_ = body.get("text")
    try:
        digest = message_text_sha256(text_) if isinstance(text_, str) else None
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 bytes were ever delivered
        digest = None
    if digest is None or digest != public.get("text_sha256"):
        _fail(
            "public.text_sha256",
            "is not the SHA-256 of the message text in the body",
            "MESSAGE_TEXT_MISMATCH",
        )


def validate_event(event_type: EventType | str, public: Any, body: Any) -> None:
    """All payload checks for one event: public, body, and their consistency."""
    validate_public(event_type, public)
    validate_body(event_type, body)
    check_consistency(event_type, public, body)


@dataclass(frozen=True)
class Money:
    """An amount in one fiat currency or crypto asset, compared by value not spelling."""

    amount: Decimal
    unit: str
    is_asset: bool

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Money | None:
        """Money from a public or body dict, or None when the amount is not disclosed."""
        if "amount" not in fields:
            return None
        if "asset" in fields:
            return cls(Decimal(fields["amount"]), fields["asset"], True)
        return cls(Decimal(fields["amount"]), fields["currency"], False)

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


def _event_type(value: EventType | str) -> EventType:
    try:
        return EventType(value)
    except ValueError:
        raise PayloadError(f"unknown event type {value!r}", "UNKNOWN_EVENT_TYPE") from None
