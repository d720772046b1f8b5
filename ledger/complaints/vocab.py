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
    # The service playbook (ledger/complaints/playbooks.py).
    IDENTITY_VERIFIED = "identity_verified"  # method + a reference to the check, no documents
    PLAYBOOK_STEP = "playbook_step"  # one step of the category's playbook, in its order
    TARGET_SET = "target_set"  # the handler's resolution target for an untimed category
    INCIDENT_LINKED = "incident_linked"  # the complaint is part of a mass incident
    # Talking to the customer: a message the dispatcher sent (or finally failed to send), and
    # the customer's Net Promoter Score once the complaint is closed.
    MESSAGE_SENT = "message_sent"  # commits to the exact text delivered (public.text_sha256)
    NPS_GIVEN = "nps_given"  # 0-10, once per complaint; CSAT stays ``rated`` (per interaction)
    # Who is responsible for the complaint now: claimed by a handler, assigned or reassigned
    # (the owner's pseudonym on the leaf, their display name in the erasable body).
    ASSIGNED = "assigned"
    # Log entries that are not complaint steps: the officer key registry.
    OFFICER_KEY_REGISTERED = "officer_key_registered"
    OFFICER_KEY_REVOKED = "officer_key_revoked"


OFFICER_KEY_EVENTS = frozenset({EventType.OFFICER_KEY_REGISTERED, EventType.OFFICER_KEY_REVOKED})
COMPLAINT_EVENTS = frozenset(EventType) - OFFICER_KEY_EVENTS
# Events whose body must be signed by an authorised officer (proof of authority).
SIGNED_EVENTS = frozenset(
    {EventType.DECISION, EventType.COMPENSATION_OFFERED, EventType.COMPENSATION_PAID}
)
# Who records (and signs, with their own registered key) each signed event: officers, and
# the payout worker (system) for the compensation vault's payouts.
SIGNER_ROLES: dict[EventType, frozenset[str]] = {
    EventType.DECISION: frozenset({"officer"}),
    EventType.COMPENSATION_OFFERED: frozenset({"officer"}),
    EventType.COMPENSATION_PAID: frozenset({"officer", "system"}),
}
assert set(SIGNER_ROLES) == SIGNED_EVENTS
# The firm's interactions with the customer: the steps a customer may rate (``rated`` names
# one by its seq in ``public.rates``; at most one rating per step). Not ``message_sent``: it
# is the delivery of a step's letter, and the step itself is what is rated; not ``nps_given``
# either: it is the customer's own answer about the whole complaint, not the firm's act.
RATEABLE_EVENTS = frozenset(
    {
        EventType.ACKNOWLEDGED,
        EventType.INFO_REQUESTED,
        EventType.HOLDING_REPLY,
        EventType.DECISION,
        EventType.COMPENSATION_OFFERED,
        EventType.COMPENSATION_PAID,
        EventType.CLOSED,
        EventType.PLAYBOOK_STEP,
    }
)


class AssignmentKind(StrEnum):
    """How a complaint got its owner (``assigned.public.how``)."""

    CLAIM = "claim"  # a handler takes an unowned complaint for themselves
    ASSIGN = "assign"  # a supervisor (or the system) gives an unowned complaint an owner
    REASSIGN = "reassign"  # a supervisor (or the system) moves it to another owner


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


# Who records each kind of assignment (states.check_context): handlers claim for themselves;
# supervisors, and the system's automatic escalation, assign and reassign.
ASSIGNER_ROLES: dict[AssignmentKind, frozenset[Role]] = {
    AssignmentKind.CLAIM: frozenset({Role.AGENT, Role.OFFICER, Role.SUPERVISOR}),
    AssignmentKind.ASSIGN: frozenset({Role.SUPERVISOR, Role.SYSTEM}),
    AssignmentKind.REASSIGN: frozenset({Role.SUPERVISOR, Role.SYSTEM}),
}


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
    GENERAL_QUESTION = "general_question"  # general question / FAQ
    INTEGRATION_PROBLEM = "integration_problem"
    BANK_INTEGRATION = "bank_integration"  # an integration problem with a bank
    SECURITY_QUESTION = "security_question"  # no fixed time: the handler sets one (target_set)


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"
    SOCIAL = "social"
    IN_APP = "in_app"
    WEB_FORM = "web_form"


class DeliveryChannel(StrEnum):
    """How a message reached (or failed to reach) its receiver (``message_sent.public.channel``)."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryOutcome(StrEnum):
    """How a message's delivery ended: delivered, or failed for good after its attempts."""

    DELIVERED = "delivered"
    FAILED = "failed"


class ContactChannel(StrEnum):
    """How the customer agreed to be written to (``received`` body ``contact.channel``)."""

    EMAIL = "email"


class Language(StrEnum):
    EN = "en"
    CA = "ca"
    PT = "pt"
    ZH = "zh"
    LT = "lt"
    RU = "ru"


# Each language named in its own words, as a language menu offers them.
ENDONYMS: dict[Language, str] = {
    Language.EN: "English",
    Language.CA: "Català",
    Language.PT: "Português",
    Language.ZH: "中文",
    Language.LT: "Lietuvių",
    Language.RU: "Русский",
}
assert set(ENDONYMS) == set(Language)


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
    IN_KIND = "in_kind"  # a discount or a free service: given, not paid


class CompensationKind(StrEnum):
    """What redress consists of; every kind carries its value (amount) for the figures."""

    MONEY = "money"
    FEE_REFUND = "fee_refund"
    DISCOUNT = "discount"
    BONUS_CREDIT = "bonus_credit"
    FREE_SERVICE = "free_service"


class PlaybookStep(StrEnum):
    """Steps of the service playbooks, three per category (playbooks.PLAYBOOKS orders them)."""

    IDENTITY_VERIFICATION = "identity_verification"  # recorded as identity_verified
    RECOVERY_ALTERNATIVES_PROPOSED = "recovery_alternatives_proposed"
    SECURE_RESET = "secure_reset"
    CHAIN_ERROR_FOUND = "chain_error_found"
    CUSTOMER_UPDATED = "customer_updated"
    RESOLUTION_CONFIRMED = "resolution_confirmed"
    ACCESS_BLOCKED = "access_blocked"
    KEYS_CHANGED = "keys_changed"
    SECURITY_VALIDATED = "security_validated"
    FAULT_REPRODUCED = "fault_reproduced"
    FIX_DEPLOYED = "fix_deployed"
    FIX_CONFIRMED = "fix_confirmed"
    SYNC_DIAGNOSED = "sync_diagnosed"
    RESYNC_PERFORMED = "resync_performed"
    BALANCE_CONFIRMED = "balance_confirmed"
    DETAILED_REVIEW = "detailed_review"
    DECISION_COMMUNICATED = "decision_communicated"
    SOLUTION_CARRIED_OUT = "solution_carried_out"
    QUESTION_UNDERSTOOD = "question_understood"
    ANSWER_GIVEN = "answer_given"
    ANSWER_CONFIRMED = "answer_confirmed"
    INTEGRATION_DIAGNOSED = "integration_diagnosed"
    PARTNER_CONTACTED = "partner_contacted"
    INTEGRATION_RESTORED = "integration_restored"
    RISK_ASSESSED = "risk_assessed"
    GUIDANCE_GIVEN = "guidance_given"
    PROTECTION_CONFIRMED = "protection_confirmed"


class Confirmation(StrEnum):
    """How a confirming playbook step (the customer confirms the fix) was reached."""

    CUSTOMER = "customer"  # the customer confirmed
    LAPSED = "lapsed"  # the stated wait for the customer's confirmation passed


class IdentityMethod(StrEnum):
    """How the customer's identity was checked (the documents themselves never reach the log)."""

    DOCUMENT_CHECK = "document_check"
    VIDEO_CALL = "video_call"
    KNOWLEDGE_CHECK = "knowledge_check"
    DEVICE_BINDING = "device_binding"
    BANK_VERIFICATION = "bank_verification"


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
