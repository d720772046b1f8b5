"""Controlled vocabularies of the complaint domain (every value here may appear in a log leaf)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INFO_REQUESTED = "info_requested"
    INFO_RECEIVED = "info_received"
    EVIDENCE_ADDED = "evidence_added"
    NOTE_ADDED = "note_added"  # investigation note, staff only
    ESCALATED = "escalated"
    HOLDING_REPLY = "holding_reply"
    DECISION = "decision"
    COMPENSATION_OFFERED = "compensation_offered"
    COMPENSATION_ACCEPTED = "compensation_accepted"
    COMPENSATION_DECLINED = "compensation_declined"
    COMPENSATION_PAID = "compensation_paid"
    CLOSED = "closed"
    REOPENED = "reopened"
    WITHDRAWN = "withdrawn"
    REFERRED = "referred"
    RATED = "rated"
    ERASED = "erased"
    BUNDLE_EXPORTED = "bundle_exported"  # an evidence bundle was exported (ledger/evidence)
    # Log entries that are not complaint steps: the officer key registry.
    OFFICER_KEY_REGISTERED = "officer_key_registered"
    OFFICER_KEY_REVOKED = "officer_key_revoked"


OFFICER_KEY_EVENTS = frozenset({EventType.OFFICER_KEY_REGISTERED, EventType.OFFICER_KEY_REVOKED})
COMPLAINT_EVENTS = frozenset(EventType) - OFFICER_KEY_EVENTS
# Events whose body must be signed by an authorised officer (proof of authority).
SIGNED_EVENTS = frozenset(
    {EventType.DECISION, EventType.COMPENSATION_OFFERED, EventType.COMPENSATION_PAID}
)
# The firm's interactions with the customer: the steps a customer may rate (``rated`` names
# one by its seq in ``public.rates``; at most one rating per step).
RATEABLE_EVENTS = frozenset(
    {
        EventType.ACKNOWLEDGED,
        EventType.INFO_REQUESTED,
        EventType.HOLDING_REPLY,
        EventType.DECISION,
        EventType.COMPENSATION_OFFERED,
        EventType.COMPENSATION_PAID,
        EventType.CLOSED,
    }
)


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    LEGAL = "legal"
    REGULATOR = "regulator"
    ADMIN = "admin"
    SYSTEM = "system"  # automated steps: intake bot, auto-acknowledgement


STAFF_ROLES = frozenset({Role.AGENT, Role.OFFICER, Role.SUPERVISOR, Role.LEGAL, Role.ADMIN})


class Status(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    REOPENED = "reopened"
    DECIDED = "decided"
    COMPENSATION_OFFERED = "compensation_offered"
    COMPENSATION_ACCEPTED = "compensation_accepted"
    COMPENSATION_DECLINED = "compensation_declined"
    COMPENSATION_PAID = "compensation_paid"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    REFERRED = "referred"


class Category(StrEnum):
    LOST_RECOVERY_PHRASE = "lost_recovery_phrase"
    STUCK_TRANSACTION = "stuck_transaction"
    HACKED_ACCOUNT = "hacked_account"
    INTERFACE_FAULT = "interface_fault"
    SYNC_FAULT = "sync_fault"
    REFUND_OR_CLAIM = "refund_or_claim"


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"
    SOCIAL = "social"
    IN_APP = "in_app"
    WEB_FORM = "web_form"


class Language(StrEnum):
    EN = "en"
    CA = "ca"
    PT = "pt"
    ZH = "zh"
    LT = "lt"
    RU = "ru"


class Outcome(StrEnum):
    UPHELD = "upheld"
    PARTIALLY_UPHELD = "partially_upheld"
    REJECTED = "rejected"


class RootCause(StrEnum):
    """Root-cause codes, coarse on purpose so regulators can aggregate them."""

    PRODUCT_DEFECT = "product_defect"
    PROCESS_FAILURE = "process_failure"
    HUMAN_ERROR = "human_error"
    THIRD_PARTY = "third_party"
    NETWORK_CONDITIONS = "network_conditions"
    FRAUD = "fraud"
    CUSTOMER_ACTION = "customer_action"
    COMMUNICATION = "communication"
    POLICY = "policy"
    NO_FAULT_FOUND = "no_fault_found"


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CARD_REFUND = "card_refund"
    ON_CHAIN = "on_chain"
    ACCOUNT_CREDIT = "account_credit"


class EscalationLevel(StrEnum):
    BOT = "bot"
    AGENT = "agent"
    SPECIALIST = "specialist"


ESCALATION_RANK = {EscalationLevel.BOT: 0, EscalationLevel.AGENT: 1, EscalationLevel.SPECIALIST: 2}


class Specialism(StrEnum):
    SECURITY = "security"
    TECHNICAL = "technical"
    LEGAL = "legal"


class ReferralTarget(StrEnum):
    OMBUDSMAN = "ombudsman"
    REGULATOR = "regulator"


class CloseReason(StrEnum):
    RESOLVED = "resolved"
    OFFER_DECLINED = "offer_declined"
    OFFER_LAPSED = "offer_lapsed"
    REFERRAL_CONCLUDED = "referral_concluded"
    NO_RESPONSE = "no_response"


class ReopenReason(StrEnum):
    NEW_INFORMATION = "new_information"
    CUSTOMER_REQUEST = "customer_request"
    OMBUDSMAN_DIRECTION = "ombudsman_direction"
    QUALITY_REVIEW = "quality_review"


class EscalationReason(StrEnum):
    CUSTOMER_REQUEST = "customer_request"
    COMPLEXITY = "complexity"
    SECURITY_RISK = "security_risk"
    DEADLINE_RISK = "deadline_risk"


class EvidenceKind(StrEnum):
    DOCUMENT = "document"
    SCREENSHOT = "screenshot"
    TRANSACTION = "transaction"
    SYSTEM_LOG = "system_log"
    STATEMENT = "statement"
    OTHER = "other"


class DeclineReason(StrEnum):
    AMOUNT_TOO_LOW = "amount_too_low"
    WRONG_METHOD = "wrong_method"
    DISAGREES_WITH_DECISION = "disagrees_with_decision"
    OTHER = "other"


class ErasureBasis(StrEnum):
    GDPR_ART17 = "gdpr_art17"  # right to erasure
    RETENTION_EXPIRED = "retention_expired"


class RevocationReason(StrEnum):
    COMPROMISED = "compromised"
    LEFT_ROLE = "left_role"
    SUPERSEDED = "superseded"
    OTHER = "other"
