"""Marshmallow schemas of the complaint API (request validation and OpenAPI documentation).

Field-level rules for event ``public`` and ``body`` objects live in the domain
(``ledger.complaints.payloads``); here only the request's outer shape is checked.
"""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma
from marshmallow import validate

from ledger.casework.reads import IDENTITY_NOT_VERIFIED
from ledger.complaints.payloads import INCIDENT, MAX_DEPTH
from ledger.complaints.vocab import (
    SIGNED_EVENTS,
    Category,
    Channel,
    ContactChannel,
    ErasureBasis,
    EventType,
    Language,
    RevocationReason,
    Status,
)

# Steps recorded through /events; officer keys, erasures and exports have their own endpoints,
# and only the message dispatcher records that a message was sent (ledger.messages).
OWN_ENDPOINT = {
    "erased",
    "bundle_exported",
    "officer_key_registered",
    "officer_key_revoked",
    "message_sent",
}
EVENT_STEPS = [t.value for t in EventType if t.value not in OWN_ENDPOINT]
HEX64 = validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lower-case hex characters")


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
TIME_RANGE = "between 1970-01-01 and 9999-01-01 (UTC)"


def plausible_time(value: datetime) -> None:
    """Years 1970 to 9998: far-off instants overflow when converted to UTC (was a 500)."""
    if not EARLIEST <= value < LATEST:
        raise ma.ValidationError(f"must be {TIME_RANGE}")


def instant(description: str = "", **kwargs) -> ma.fields.AwareDateTime:
    """An RFC 3339 date-time with an offset, within the years every conversion handles."""
    text = f"{description}; {TIME_RANGE}" if description else TIME_RANGE.capitalize()
    return ma.fields.AwareDateTime(
        validate=plausible_time, metadata={"description": text}, **kwargs
    )


def choice(enum) -> validate.OneOf:
    """Validate that a value is one of an enumeration's values."""
    return validate.OneOf([m.value for m in enum])


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class LangQuery(Strict):
    lang = ma.fields.String(metadata={"description": "en, ca, pt, zh, lt or ru"})


class Contact(Strict):
    name = ma.fields.String(validate=validate.Length(max=200))
    email = ma.fields.Email()
    phone = ma.fields.String(validate=validate.Length(max=40))
    # Every new contact states it (payloads.BODY_REQUIRED_WHEN_RECORDING); left out, the
    # customer did not agree to be written to.
    consent = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "the customer agrees to be written to at this address"},
    )
    channel = ma.fields.String(validate=choice(ContactChannel))


class FileComplaint(Strict):
    category = ma.fields.String(required=True, validate=choice(Category))
    channel = ma.fields.String(required=True, validate=choice(Channel))
    description = ma.fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    language = ma.fields.String(validate=choice(Language))
    jurisdiction = ma.fields.String(
        validate=validate.OneOf(["EU-PSD2", "EU-PSD2-LT", "UK-FCA-DISP", "UK-FCA-PSR"])
    )
    contact = ma.fields.Nested(Contact)
    transaction = ma.fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "transaction hash or payment reference the complaint is about"},
    )


class Receipt(ma.Schema):
    log_index = ma.fields.Integer()
    leaf_hash = ma.fields.String(metadata={"description": "hex RFC 6962 leaf hash"})
    checkpoint = ma.fields.String(metadata={"description": "signed checkpoint covering it"})
    inclusion_proof = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "hex hashes, RFC 9162 inclusion proof against checkpoint"},
    )
    integrated_at = ma.fields.String()


class Actor(ma.Schema):
    role = ma.fields.String()
    id = ma.fields.String()


class Event(ma.Schema):
    seq = ma.fields.Integer()
    type = ma.fields.String()
    at = ma.fields.String()
    actor = ma.fields.Nested(Actor)
    public = ma.fields.Dict()
    leaf_hash = ma.fields.String(metadata={"description": "hex leaf hash"})
    log_index = ma.fields.Integer()
    body = ma.fields.Dict(allow_none=True)
    erased = ma.fields.Boolean()
    withheld = ma.fields.String(
        metadata={
            "description": "why ``body`` is null for this reader: ``identity_not_verified`` "
            "(the complaint's category shows staff bodies to its secret only after the "
            "customer's identity was verified; see GET /v1/service-rules)",
            "enum": [IDENTITY_NOT_VERIFIED],
        }
    )


class RecordedEvent(ma.Schema):
    reference = ma.fields.String()
    status = ma.fields.String()
    status_text = ma.fields.String()
    event = ma.fields.Nested(Event)
    receipt = ma.fields.Nested(Receipt)


class FiledComplaint(RecordedEvent):
    secret = ma.fields.String(
        metadata={"description": "capability secret for this complaint, shown once"}
    )


NESTING = f"the whole request nests at most {MAX_DEPTH} JSON levels (else 422 too-deep)"


class EventRequest(Strict):
    type = ma.fields.String(required=True, validate=validate.OneOf(EVENT_STEPS))
    public = ma.fields.Dict(
        load_default=dict,
        metadata={
            "description": f"the step's public fields; {NESTING}. A signed step carries "
            "``signature`` = {key_id, sig} (hex) and, for dual control, ``cosignature`` = "
            "{key_id, sig}: a second officer key's signature over the same signing body, "
            "required above the signer's ``dual_control_above``"
        },
    )
    body = ma.fields.Dict(
        load_default=dict, metadata={"description": f"the step's body; {NESTING}"}
    )


class SigningBodyRequest(Strict):
    type = ma.fields.String(
        required=True,
        validate=validate.OneOf([t.value for t in EventType if t in SIGNED_EVENTS]),
    )
    content = ma.fields.Dict(
        required=True, metadata={"description": f"the body's content fields; {NESTING}"}
    )


class SigningBodyResponse(ma.Schema):
    body = ma.fields.Dict()
    body_jcs = ma.fields.String(
        metadata={"description": "the body's RFC 8785 text; sign its UTF-8 bytes"}
    )
    prev = ma.fields.String()


class ErasureRequest(Strict):
    target = ma.fields.String(required=True, validate=HEX64)
    basis = ma.fields.String(required=True, validate=choice(ErasureBasis))


class Clock(ma.Schema):
    name = ma.fields.String()
    label = ma.fields.String(metadata={"description": "the clock's name, in the language"})
    cycle = ma.fields.Integer()
    basis = ma.fields.String()
    status = ma.fields.String()
    started_at = ma.fields.DateTime()
    due_at = ma.fields.DateTime(allow_none=True)
    completed_at = ma.fields.DateTime(allow_none=True)
    statutory = ma.fields.Boolean()


class PlaybookStepView(ma.Schema):
    step = ma.fields.String()
    name = ma.fields.String()
    note = ma.fields.String()
    done = ma.fields.Boolean()


class PlaybookProgress(ma.Schema):
    number = ma.fields.Integer(metadata={"description": "steps done (0 to total)"})
    total = ma.fields.Integer()
    next = ma.fields.String(allow_none=True, metadata={"description": "the next step's code"})
    text = ma.fields.String(metadata={"description": "e.g. 'Step 2 of 3: …', in the language"})
    steps = ma.fields.List(ma.fields.Nested(PlaybookStepView))


class ComplaintStatus(ma.Schema):
    reference = ma.fields.String()
    status = ma.fields.String()
    status_text = ma.fields.String()
    language = ma.fields.String()
    category = ma.fields.String()
    channel = ma.fields.String()
    jurisdiction = ma.fields.String()
    escalation_level = ma.fields.String()
    outcome = ma.fields.String(allow_none=True)
    events = ma.fields.Integer()
    head = ma.fields.String()
    clocks = ma.fields.List(ma.fields.Nested(Clock))
    overdue = ma.fields.List(ma.fields.String())
    next_steps = ma.fields.List(ma.fields.String())
    playbook = ma.fields.Nested(
        PlaybookProgress, metadata={"description": "the category's playbook in this cycle"}
    )
    identity_verified = ma.fields.Boolean()
    incident = ma.fields.String(
        allow_none=True, metadata={"description": "the mass incident it is linked to"}
    )


class Timeline(ma.Schema):
    reference = ma.fields.String()
    events = ma.fields.List(ma.fields.Nested(Event))


class ComplaintListQuery(Strict):
    status = ma.fields.String(validate=choice(Status))
    category = ma.fields.String(validate=choice(Category))
    received_from = instant("received at or after")
    received_to = instant("received before")
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class ComplaintSummary(ma.Schema):
    reference = ma.fields.String()
    status = ma.fields.String()
    category = ma.fields.String()
    channel = ma.fields.String()
    language = ma.fields.String()
    jurisdiction = ma.fields.String()
    received_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    events = ma.fields.Integer()


class ComplaintList(ma.Schema):
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(ComplaintSummary))


class ProofLeaf(ma.Schema):
    index = ma.fields.Integer()
    leaf = ma.fields.String(metadata={"description": "the leaf: RFC 8785 JSON text"})
    inclusion_proof = ma.fields.List(
        ma.fields.String(), metadata={"description": "hex hashes, RFC 9162 inclusion proof"}
    )


class ProofEvent(ProofLeaf):
    seq = ma.fields.Integer()
    type = ma.fields.String()
    erased = ma.fields.Boolean()
    salt = ma.fields.String(metadata={"description": "hex salt (with the secret)"})
    body = ma.fields.String(metadata={"description": "RFC 8785 body text (with the secret)"})
    withheld = ma.fields.String(
        metadata={
            "description": "why the secret gets no body and salt for this event yet "
            "(``identity_not_verified``, as in the timeline)",
            "enum": [IDENTITY_NOT_VERIFIED],
        }
    )


class ProofOfficerKey(ma.Schema):
    key_id = ma.fields.String()
    entries = ma.fields.List(ma.fields.Nested(ProofLeaf))


class ProofCheckpoint(ma.Schema):
    size = ma.fields.Integer()
    root = ma.fields.String(metadata={"description": "hex root hash (as in the note)"})
    note = ma.fields.String()


class ProofResponse(ma.Schema):
    reference = ma.fields.String()
    log = ma.fields.String()
    verifier_key = ma.fields.String(
        metadata={"description": "for convenience; verify against a key obtained out of band"}
    )
    checkpoint = ma.fields.Nested(ProofCheckpoint)
    events = ma.fields.List(ma.fields.Nested(ProofEvent))
    officer_keys = ma.fields.List(ma.fields.Nested(ProofOfficerKey))
    anchor = ma.fields.Dict(allow_none=True)


class OfficerLimits(Strict):
    """An officer key's limits; the domain checks each value (payloads.officer_limits)."""

    amounts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={
            "description": "the largest amount it may offer or pay per ISO 4217 currency or "
            'crypto asset, as decimal strings ({"EUR": "500.00"}); any other unit: none',
            "example": {"EUR": "500.00", "USDC": "1000"},
        },
    )
    categories = ma.fields.List(
        ma.fields.String(validate=choice(Category)),
        validate=validate.Length(min=1),
        metadata={"description": "the complaint categories it may decide, offer and pay in "
                  "(absent: all); recorded sorted"},
    )  # fmt: skip
    dual_control_above = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={
            "description": "above this amount in a unit, a second officer key co-signs the "
            "step (public.cosignature); units must be in amounts",
            "example": {"EUR": "200.00"},
        },
    )


class OfficerKeyRequest(Strict):
    public_key = ma.fields.String(
        required=True, validate=HEX64, metadata={"description": "Ed25519 public key, hex"}
    )
    roles = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(["officer", "supervisor"])),
        required=True,
        validate=validate.Length(min=1),
    )
    valid_from = instant(required=True)
    valid_until = instant(allow_none=True, load_default=None)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    limits = ma.fields.Nested(
        OfficerLimits,
        load_default=None,
        metadata={"description": "public limits on what the key may sign (absent: none)"},
    )


class RevocationRequest(Strict):
    reason = ma.fields.String(required=True, validate=choice(RevocationReason))


class OfficerKeyView(ma.Schema):
    key_id = ma.fields.String()
    public_key = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    valid_from = ma.fields.String()
    valid_until = ma.fields.String(allow_none=True)
    revoked_at = ma.fields.String(allow_none=True)
    limits = ma.fields.Dict(
        allow_none=True,
        metadata={"description": "amounts, categories and dual_control_above, as registered"},
    )
    log_indexes = ma.fields.List(ma.fields.Integer())


class OfficerKeyList(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(OfficerKeyView))


class OfficerKeyRecorded(ma.Schema):
    key = ma.fields.Nested(OfficerKeyView)
    receipt = ma.fields.Nested(Receipt)


class AccessRead(ma.Schema):
    at = ma.fields.String()
    role = ma.fields.String()
    principal = ma.fields.String()
    action = ma.fields.String()
    request_id = ma.fields.String()


class AccessLog(ma.Schema):
    reference = ma.fields.String()
    reads = ma.fields.List(ma.fields.Nested(AccessRead))


# --- service rules and mass incidents --------------------------------------------------------


class FirstResponseTimes(ma.Schema):
    limit_minutes = ma.fields.Integer()
    goal_minutes = ma.fields.Integer()


class CategoryTimes(ma.Schema):
    target_minutes = ma.fields.Integer(
        allow_none=True, metadata={"description": "null: set by the handler (target_set)"}
    )
    limit_minutes = ma.fields.Integer(allow_none=True)
    published_average_minutes = ma.fields.Integer(allow_none=True)
    step_targets_minutes = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "playbook steps with their own target from the cycle's start"},
    )
    escalate_on_breach = ma.fields.String(
        allow_none=True,
        metadata={"description": "specialism the SLA monitor escalates to (null: none)"},
    )
    playbook = ma.fields.List(
        ma.fields.String(), metadata={"description": "the category's three steps, in order"}
    )


class ServiceRulesDocument(ma.Schema):
    """The service rules in force (``ledger.complaints.service_rules.rules_to_json``)."""

    format = ma.fields.String(metadata={"description": "service-rules/1"})
    name = ma.fields.String()
    first_response = ma.fields.Nested(FirstResponseTimes)
    confirmation_wait_minutes = ma.fields.Integer()
    payout_identity_threshold = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={
            "description": "per currency or asset: payouts above this amount need the "
            "customer's identity verified first"
        },
    )
    disclose_after_identity = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "categories whose staff bodies the secret reads only after "
                  "the customer's identity was verified"},
    )  # fmt: skip
    categories = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CategoryTimes))


INCIDENT_ID = validate.Regexp(INCIDENT, error="must be an incident id such as 'INC-2026-0042'")


class IncidentComplaint(ma.Schema):
    reference = ma.fields.String()
    status = ma.fields.String()
    category = ma.fields.String()
    linked_at = ma.fields.String()


class IncidentView(ma.Schema):
    incident = ma.fields.String()
    complaints = ma.fields.List(ma.fields.Nested(IncidentComplaint))


class IncidentHoldingReplyRequest(Strict):
    reason = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=20_000),
        metadata={"description": "why the answer is delayed; quoted in every letter"},
    )


class IncidentReplyResult(ma.Schema):
    reference = ma.fields.String()
    outcome = ma.fields.String(metadata={"enum": ["recorded", "skipped"]})
    status = ma.fields.String(metadata={"description": "the complaint's status now"})
    code = ma.fields.String(
        metadata={"description": "skipped: the domain's refusal code, nothing was written"}
    )
    detail = ma.fields.String()
    log_index = ma.fields.Integer(metadata={"description": "recorded: the holding reply's"})
    leaf_hash = ma.fields.String()


class IncidentHoldingReplyResult(ma.Schema):
    incident = ma.fields.String()
    recorded = ma.fields.Integer()
    skipped = ma.fields.Integer()
    complaints = ma.fields.List(ma.fields.Nested(IncidentReplyResult))
