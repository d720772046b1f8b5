"""Real complaint chains built step by step (real leaves, real signatures), with a
deterministic officer key registered in a registry: for the pure domain tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.complaints import playbooks
from ledger.complaints.events import Actor, BuiltEvent, Envelope
from ledger.complaints.officers import (
    OfficerRegistry,
    build_key_registration,
    officer_key_id,
    signature_field,
)
from ledger.complaints.states import ComplaintState, rateable_steps
from ledger.complaints.vocab import SIGNED_EVENTS, EscalationLevel, EventType, Role, Status
from ledger.complaints.workflow import append_event, signing_body, start_complaint
from ledger.log.note import Signer

LOG = "complaints.example.com/2026"
E = EventType


def make_key(seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())


def log_signer() -> Signer:
    """The log's signer, from a fixed seed: the same key in every process."""
    return Signer(LOG, make_key("log"))


OFFICER_KEY = make_key("officer-1")
OFFICER_ID = officer_key_id(OFFICER_KEY)
REGISTRATION = build_key_registration(
    log=LOG,
    at="2025-01-01T00:00:00Z",
    admin_id="admin-1",
    public_key=OFFICER_KEY,
    roles=[Role.OFFICER],
    valid_from="2025-01-01T00:00:00Z",
    valid_until="2029-01-01T00:00:00Z",
    name="Jane Officer",
    salt=bytes(32),
)
REGISTRY = OfficerRegistry.fold([REGISTRATION.leaf])
# A second officer, for dual control (co-signatures) and keys with limits.
SECOND_OFFICER_KEY = make_key("officer-2")
SECOND_OFFICER_ID = officer_key_id(SECOND_OFFICER_KEY)


def register_officer(
    key: Ed25519PrivateKey,
    *,
    roles: tuple[str, ...] = (Role.OFFICER,),
    limits: dict[str, Any] | None = None,
    at: str = "2025-01-01T00:00:00Z",
) -> BuiltEvent:
    """An officer key's registration (valid 2025 to 2029), with ``limits`` when given."""
    return build_key_registration(
        log=LOG,
        at=at,
        admin_id="admin-1",
        public_key=key,
        roles=roles,
        valid_from=at,
        valid_until="2029-01-01T00:00:00Z",
        name="Omar Officer",
        limits=limits,
        salt=bytes(32),
    )


CUSTOMER = Actor(Role.CUSTOMER, "customer")
AGENT = Actor(Role.AGENT, "agent-7")
SUPERVISOR = Actor(Role.SUPERVISOR, "sup-2")
ADMIN = Actor(Role.ADMIN, "admin-1")
LEGAL = Actor(Role.LEGAL, "legal-3")
OFFICER = Actor(Role.OFFICER, OFFICER_ID)
DISPATCHER = Actor(Role.SYSTEM, "dispatcher")


def default_step(
    state: ComplaintState, et: EventType
) -> tuple[Actor, dict[str, Any], dict[str, Any]]:
    """A valid (actor, public, body) for event ``et`` on ``state`` (unsigned content)."""
    evidence = [e.leaf_hash for e in state.events if e.type == E.EVIDENCE_ADDED][:1]
    match et:
        case E.ACKNOWLEDGED:
            return AGENT, {}, {}
        case E.INFO_REQUESTED:
            return AGENT, {}, {"request": "Please send the transaction hash."}
        case E.INFO_RECEIVED:
            return CUSTOMER, {}, {"text": "It is 0xabc..."}
        case E.EVIDENCE_ADDED:
            return CUSTOMER, {"kind": "screenshot"}, {"description": "Screenshot of the app"}
        case E.NOTE_ADDED:
            return AGENT, {}, {"text": "Checked the node logs."}
        case E.ESCALATED:
            if state.level == EscalationLevel.BOT:
                return AGENT, {"level": "agent"}, {}
            if state.level == EscalationLevel.AGENT:
                return AGENT, {"level": "specialist", "specialism": "technical"}, {}
            other = "security" if state.specialism != "security" else "legal"
            return SUPERVISOR, {"level": "specialist", "specialism": other}, {}
        case E.HOLDING_REPLY:
            return AGENT, {}, {"reason": "We are waiting for the exchange's records."}
        case E.DECISION:
            content = {
                "outcome": "upheld",
                "finding": "The fee estimate shown was wrong.",
                "rules": ["T&C 7.2"],
                "evidence": evidence,
                "root_cause": "product_defect",
                "remedy": "We refund the fee.",
            }
            public = {k: content[k] for k in ("outcome", "root_cause", "rules", "evidence")}
            return OFFICER, public, content
        case E.COMPENSATION_OFFERED:
            money = {"amount": "10.00", "currency": "EUR", "method": "account_credit"}
            return OFFICER, dict(money), dict(money)
        case E.COMPENSATION_ACCEPTED | E.COMPENSATION_DECLINED | E.WITHDRAWN:
            return CUSTOMER, {}, {}
        case E.COMPENSATION_PAID:
            money = {"amount": "10.00", "currency": "EUR", "method": "account_credit"}
            return OFFICER, dict(money), {**money, "payment_reference": "CR-2026-001"}
        case E.CLOSED:
            reason = "offer_lapsed" if state.status == Status.COMPENSATION_OFFERED else "resolved"
            return AGENT, {"reason": reason}, {}
        case E.REOPENED:
            return SUPERVISOR, {"reason": "new_information"}, {}
        case E.REFERRED:
            return CUSTOMER, {"to": "ombudsman", "scheme": "UK-FOS"}, {}
        case E.RATED:
            # The first step left to rate; with none left, step 0, which apply() refuses.
            targets = rateable_steps(state)
            return CUSTOMER, {"csat": 4, "rates": targets[0] if targets else 0}, {}
        case E.ERASED:
            erasable = [
                e.leaf_hash
                for e in state.events
                if e.type != E.ERASED and e.leaf_hash not in state.erased
            ]
            # With nothing left to erase, return a target apply() refuses (ALREADY_ERASED).
            target = erasable[0] if erasable else state.events[0].leaf_hash
            return ADMIN, {"erases": target, "basis": "gdpr_art17"}, {}
        case E.BUNDLE_EXPORTED:
            public = {"bundle_sha256": "5e" * 32, "format_version": 1, "tree_size": 1 + state.seq}
            return LEGAL, public, {}
        case E.IDENTITY_VERIFIED:
            return AGENT, {"method": "document_check"}, {"check_reference": "IDV-2026-0001"}
        case E.PLAYBOOK_STEP:
            # The playbook's next step; a confirming step is the customer's own confirmation.
            # With the playbook done, its last step again, which apply() refuses (repeated);
            # with the identity check next, that step, which apply() refuses too (it is
            # recorded as identity_verified).
            step = playbooks.next_step(state.category, state.playbook)
            if step is None:
                step = playbooks.final_step(state.category)
            if step in playbooks.CONFIRMING_STEPS:
                return CUSTOMER, {"step": str(step), "confirmation": "customer"}, {}
            return AGENT, {"step": str(step)}, {}
        case E.TARGET_SET:
            # Valid for an untimed category only; apply() refuses it on the others.
            return AGENT, {"target_minutes": 120, "limit_minutes": 480}, {}
        case E.INCIDENT_LINKED:
            return AGENT, {"incident": "INC-2026-0001"}, {"title": "Node provider outage"}
        case E.MESSAGE_SENT:
            # The letter of the last step, delivered by e-mail at the first attempt.
            text = f"Dear customer, about step {state.seq} of {state.reference}."
            public = {
                "channel": "email",
                "template": "acknowledgement",
                "language": "en",
                "for_seq": state.seq,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "outcome": "delivered",
                "message_id": "msg_" + hashlib.sha256(f"{state.seq}".encode()).hexdigest()[:32],
                "attempts": 1,
            }
            body = {"to": "ana@example.org", "subject": "Your complaint", "text": text}
            return DISPATCHER, public, body
        case E.NPS_GIVEN:
            return CUSTOMER, {"nps": 9}, {}
        case E.ASSIGNED:
            # The agent claims an unowned complaint; a supervisor reassigns an owned one.
            if state.owner is None:
                return AGENT, {"owner": AGENT.id, "how": "claim"}, {"owner_name": "Ana Agent"}
            other = "agent-8" if state.owner != "agent-8" else AGENT.id
            return SUPERVISOR, {"owner": other, "how": "reassign"}, {"owner_name": "Rui Reis"}
    raise AssertionError(et)


class Chain:
    """Builds a real complaint chain (real leaves, real signatures) step by step."""

    def __init__(
        self,
        *,
        category: str = "stuck_transaction",
        jurisdiction: str = "EU-PSD2",
        language: str = "en",
        start: datetime = datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        key: Ed25519PrivateKey = OFFICER_KEY,
        registry: OfficerRegistry = REGISTRY,
    ):
        self.clock = start
        self.key = key
        self.registry = registry
        self.built: list[BuiltEvent] = []
        built, self.state = start_complaint(
            log=LOG,
            at=start,
            actor=CUSTOMER,
            public={
                "category": category,
                "channel": "chat",
                "language": language,
                "jurisdiction": jurisdiction,
                "level": "bot",
            },
            body={"description": "My withdrawal has been pending for hours.", "email": "a@b.c"},
        )
        self.built.append(built)

    def add(
        self,
        et: EventType | str,
        *,
        actor: Actor | None = None,
        public: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        at: datetime | None = None,
        after: timedelta = timedelta(minutes=5),
        cosign: Ed25519PrivateKey | None = None,
    ) -> BuiltEvent:
        et = EventType(et)
        d_actor, d_public, d_body = default_step(self.state, et)
        actor = actor or d_actor
        public = d_public if public is None else public
        body = d_body if body is None else body
        self.clock = at or self.clock + after
        if et in SIGNED_EVENTS:
            body = signing_body(self.state, et, body)
            public = {**public, "signature": signature_field(self.key, body)}
            if cosign is not None:  # a second officer's signature over the same body
                public["cosignature"] = signature_field(cosign, body)
        built, self.state = append_event(
            self.state,
            type=et,
            at=self.clock,
            actor=actor,
            public=public,
            body=body,
            registry=self.registry,
        )
        self.built.append(built)
        return built

    def run(self, *types: EventType | str) -> Chain:
        for et in types:
            self.add(et)
        return self

    @property
    def leaves(self) -> list[bytes]:
        return [b.leaf for b in self.built]

    @property
    def envelopes(self) -> list[Envelope]:
        return [b.envelope for b in self.built]
