"""A small, hand-checkable set of complaints written through ComplaintService with a fake
clock, so every timestamp (and so every figure) is known in advance. docs/audit.md and
tests/audit/test_figures.py spell out the expected numbers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.complaints.events import Actor
from ledger.complaints.officers import signature_field
from ledger.complaints.vocab import Role
from ledger.complaints.workflow import signing_body
from ledger.runtime import Ledger

AGENT = Actor(Role.AGENT, "agent-7")
CUSTOMER = Actor(Role.CUSTOMER, "customer")
SUPERVISOR = Actor(Role.SUPERVISOR, "supervisor-2")
DISPATCHER = Actor(Role.SYSTEM, "dispatcher")

MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: at("2026-02-01T00:00:00Z"))

    def __call__(self) -> datetime:
        return self.now


class Writer:
    """Records steps at given instants, signing decisions, offers and payments."""

    def __init__(self, ledger: Ledger, clock: FakeClock) -> None:
        self.service = ledger.complaints
        self.clock = clock
        self.officer = Ed25519PrivateKey.generate()
        clock.now = at("2026-02-01T00:00:00Z")
        env, _ = ledger.officer_keys.register(
            admin_id="admin-1",
            public_key=self.officer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
            roles=["officer"],
            valid_from=clock.now,
            valid_until=None,
            name="Olga Officer",
        )
        self.key_id = env.public["key_id"]

    def file(
        self,
        when: str,
        category: str,
        channel: str,
        language: str,
        jurisdiction: str,
        level: str | None = None,
    ):
        self.clock.now = at(when)
        public = {
            "category": category,
            "channel": channel,
            "language": language,
            "jurisdiction": jurisdiction,
        }
        if level is not None:
            public["level"] = level
        recorded, _ = self.service.writes.file(public, {"description": "test complaint"}, CUSTOMER)
        return recorded.state.reference

    def step(self, ref: str, when: str, type_: str, public=None, body=None, actor=AGENT):
        self.clock.now = at(when)
        self.service.writes.record(
            ref, type=type_, public=public or {}, body=body or {}, actor=actor
        )

    def signed(self, ref: str, when: str, type_: str, content: dict, public: dict) -> None:
        self.clock.now = at(when)
        body = signing_body(self.service.reads.state(ref), type_, content)
        public = {**public, "signature": signature_field(self.officer, body)}
        self.service.writes.record(
            ref, type=type_, public=public, body=body, actor=Actor(Role.OFFICER, self.key_id)
        )

    def decide(self, ref: str, when: str, outcome: str) -> None:
        content = {
            "outcome": outcome,
            "finding": "What we found.",
            "rules": ["PSD2 Art. 101"],
            "evidence": [],
            "root_cause": "product_defect" if outcome != "rejected" else "no_fault_found",
        }
        if outcome != "rejected":
            content["remedy"] = "We pay you back."
        pub = {k: content[k] for k in ("outcome", "root_cause", "rules", "evidence")}
        self.signed(ref, when, "decision", content, pub)

    def rate(self, ref: str, when: str, csat: int, rates: str = "decision") -> None:
        """The customer rates the complaint's last ``rates`` step."""
        state = self.service.reads.state(ref)
        seq = max(i for i, e in enumerate(state.events) if e.type == rates)
        self.step(ref, when, "rated", {"csat": csat, "rates": seq}, actor=CUSTOMER)

    def nps(self, ref: str, when: str, score: int) -> None:
        """The customer's Net Promoter Score (the complaint is closed)."""
        self.step(ref, when, "nps_given", {"nps": score}, actor=CUSTOMER)

    def message(self, ref: str, when: str, for_seq: int, template: str) -> None:
        """The dispatcher's record of the letter of step ``for_seq``, delivered by e-mail."""
        text = f"Dear customer, the {template} letter of step {for_seq} of {ref}."
        public = {
            "channel": "email",
            "template": template,
            "language": "en",
            "for_seq": for_seq,
            "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "outcome": "delivered",
            "message_id": "msg_" + hashlib.sha256(f"{ref}/{for_seq}".encode()).hexdigest()[:32],
            "attempts": 1,
        }
        body = {"to": "customer@example.org", "subject": "Your complaint", "text": text}
        self.step(ref, when, "message_sent", public, body, actor=DISPATCHER)

    def pay(self, ref: str, offered: str, accepted: str, paid: str, money: dict, public=True):
        self.signed(ref, offered, "compensation_offered", money, money if public else
                    {"method": money["method"]})  # fmt: skip
        self.step(ref, accepted, "compensation_accepted", actor=CUSTOMER)
        extra = (
            {"tx_hash": "0x" + "ab" * 32}
            if money["method"] == "on_chain"
            else {"payment_reference": "PAY-1"}
        )
        self.signed(ref, paid, "compensation_paid", {**money, **extra},
                    money if public else {"method": money["method"]})  # fmt: skip


def build_march(ledger: Ledger, clock: FakeClock) -> dict[str, str]:
    """Seven complaints A-G around March 2026 (see the expected figures in the tests), written
    while ``clock`` is the ledger's clock."""
    w = Writer(ledger, clock)
    refs = {}
    # G: Lithuania, received in February, decided late (breach), paid, reopened, decided again.
    g = refs["G"] = w.file("2026-02-20T09:00:00Z", "stuck_transaction", "email", "ru", "EU-PSD2-LT")
    w.step(g, "2026-02-20T10:00:00Z", "acknowledged")
    # A: decided the next day, paid 50.00 EUR, rated 5.
    a = refs["A"] = w.file("2026-03-02T09:00:00Z", "stuck_transaction", "email", "en", "EU-PSD2")
    w.step(a, "2026-03-02T09:30:00Z", "acknowledged")
    # B: UK, information requested, rejected, closed, rated 2, then referred to the ombudsman.
    b = refs["B"] = w.file("2026-03-02T10:00:00Z", "hacked_account", "chat", "ca", "UK-FCA-DISP")
    w.step(b, "2026-03-02T11:00:00Z", "acknowledged")
    w.step(b, "2026-03-02T11:30:00Z", "info_requested", body={"request": "Screenshots?"})
    # D: acknowledged, never decided: its PSD2 deadline (23 March) passes. A letter about its
    # receipt left at 12:05 (message_sent): not a response, the acknowledgement at 12:10 is.
    # The customer rates the acknowledgement 1.
    d = refs["D"] = w.file("2026-03-02T12:00:00Z", "sync_fault", "in_app", "en", "EU-PSD2")
    w.message(d, "2026-03-02T12:05:00Z", 0, "acknowledgement")
    w.step(d, "2026-03-02T12:10:00Z", "acknowledged")
    w.rate(d, "2026-03-02T13:00:00Z", 1, rates="acknowledged")
    # E: holding reply before the deadline (extended to 22 April), decided, paid (undisclosed).
    e = refs["E"] = w.file("2026-03-02T13:00:00Z", "interface_fault", "phone", "zh", "EU-PSD2")
    w.step(e, "2026-03-02T14:00:00Z", "acknowledged")
    w.step(b, "2026-03-02T15:00:00Z", "info_received", body={"text": "Attached."},
           actor=CUSTOMER)  # fmt: skip
    w.decide(a, "2026-03-03T09:00:00Z", "upheld")
    # C: partially upheld after 72 h, paid 25.50 USDC on chain, rated 4.
    c = refs["C"] = w.file("2026-03-03T08:00:00Z", "refund_or_claim", "web_form", "pt", "EU-PSD2")
    w.step(c, "2026-03-03T12:00:00Z", "acknowledged")
    w.pay(a, "2026-03-03T10:00:00Z", "2026-03-03T11:00:00Z", "2026-03-03T12:30:00Z",
          {"amount": "50.00", "currency": "EUR", "method": "bank_transfer"})  # fmt: skip
    w.step(a, "2026-03-03T13:00:00Z", "closed")
    w.message(a, "2026-03-03T13:01:00Z", 6, "closure")  # seq 6: the closure, its letter
    w.nps(a, "2026-03-03T13:30:00Z", 10)  # a promoter
    w.rate(a, "2026-03-03T14:00:00Z", 5)
    w.decide(b, "2026-03-04T10:00:00Z", "rejected")
    w.step(b, "2026-03-04T11:00:00Z", "closed")
    w.rate(b, "2026-03-04T12:00:00Z", 2)
    w.nps(b, "2026-03-04T12:30:00Z", 3)  # a detractor
    # F: withdrawn an hour after filing, no response.
    f = refs["F"] = w.file("2026-03-05T09:00:00Z", "lost_recovery_phrase", "social", "lt",
                           "UK-FCA-DISP")  # fmt: skip
    w.step(f, "2026-03-05T10:00:00Z", "withdrawn", actor=CUSTOMER)
    w.decide(c, "2026-03-06T08:00:00Z", "partially_upheld")
    w.pay(c, "2026-03-06T09:00:00Z", "2026-03-06T10:00:00Z", "2026-03-06T11:00:00Z",
          {"amount": "25.50", "asset": "USDC", "method": "on_chain"})  # fmt: skip
    w.step(c, "2026-03-06T12:00:00Z", "closed")
    w.rate(c, "2026-03-06T13:00:00Z", 4)
    w.nps(c, "2026-03-06T14:00:00Z", 8)  # a passive
    w.step(b, "2026-03-10T09:00:00Z", "referred", {"to": "ombudsman"}, actor=CUSTOMER)
    w.decide(g, "2026-03-17T09:00:00Z", "upheld")
    w.pay(g, "2026-03-17T10:00:00Z", "2026-03-17T11:00:00Z", "2026-03-17T12:00:00Z",
          {"amount": "10.00", "currency": "EUR", "method": "bank_transfer"})  # fmt: skip
    w.step(g, "2026-03-18T09:00:00Z", "closed")
    w.rate(g, "2026-03-18T10:00:00Z", 3)
    w.nps(g, "2026-03-18T11:00:00Z", 9)  # a promoter; once per complaint, reopened or not
    w.step(g, "2026-03-19T09:00:00Z", "reopened", {"reason": "quality_review"}, actor=SUPERVISOR)
    w.step(e, "2026-03-20T10:00:00Z", "holding_reply", body={"reason": "We need the vendor."})
    w.decide(g, "2026-03-20T09:00:00Z", "rejected")
    w.step(g, "2026-03-21T09:00:00Z", "closed")
    w.decide(e, "2026-03-25T13:00:00Z", "upheld")
    w.pay(e, "2026-03-25T14:00:00Z", "2026-03-25T15:00:00Z", "2026-03-25T16:00:00Z",
          {"amount": "15.00", "currency": "EUR", "method": "account_credit"},
          public=False)  # fmt: skip
    w.step(e, "2026-03-26T09:00:00Z", "closed")
    w.nps(e, "2026-04-02T09:00:00Z", 0)  # given in April: not in March's figures
    # After the period: D is finally answered in April (a late answer: still one breach).
    return refs


MAY = (datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
SYSTEM = Actor(Role.SYSTEM, "intake-bot")


def _compensate(w: Writer, ref: str, times: tuple[str, str, str], money: dict, paid: dict) -> None:
    """Offer ``money``, accepted by the customer, paid with the ``paid`` details."""
    offered, accepted, paid_at = times
    w.signed(ref, offered, "compensation_offered", money, money)
    w.step(ref, accepted, "compensation_accepted", actor=CUSTOMER)
    w.signed(ref, paid_at, "compensation_paid", {**money, **paid}, money)


def build_may(ledger: Ledger, clock: FakeClock) -> dict[str, str]:
    """Eight complaints H-P in May 2026 that follow the service playbooks (docs/audit.md and
    tests/audit/test_playbook_figures.py spell out the expected figures)."""
    w = Writer(ledger, clock)
    refs: dict[str, str] = {}
    pb = "playbook_step"

    def step(ref, when, name, actor=AGENT, **extra):
        w.step(ref, when, pb, {"step": name, **extra}, actor=actor)

    # H: lost recovery phrase; identity checked, secure reset after 23 h; fee refund paid.
    h = refs["H"] = w.file("2026-05-04T09:00:00Z", "lost_recovery_phrase", "web_form", "en",
                           "EU-PSD2")  # fmt: skip
    w.step(h, "2026-05-04T09:20:00Z", "acknowledged")
    w.step(h, "2026-05-04T10:00:00Z", "identity_verified", {"method": "video_call"},
           {"check_reference": "IDV-7781"})  # fmt: skip
    step(h, "2026-05-04T12:00:00Z", "recovery_alternatives_proposed")
    step(h, "2026-05-05T08:00:00Z", "secure_reset")
    w.rate(h, "2026-05-05T08:30:00Z", 5, rates=pb)
    w.decide(h, "2026-05-05T09:00:00Z", "upheld")
    _compensate(w, h, ("2026-05-05T09:10:00Z", "2026-05-05T09:20:00Z", "2026-05-05T10:00:00Z"),
                {"kind": "fee_refund", "amount": "5.00", "currency": "EUR",
                 "method": "account_credit"}, {"payment_reference": "CR-H"})  # fmt: skip
    # I: pending transaction at the bot level, part of incident INC-2026-0001; the customer
    # was told on the 4th and had until the 7th to confirm; it lapsed: 1 h of handling.
    i = refs["I"] = w.file("2026-05-04T10:00:00Z", "stuck_transaction", "chat", "en", "EU-PSD2",
                           level="bot")  # fmt: skip
    w.step(i, "2026-05-04T10:01:00Z", "acknowledged", actor=SYSTEM)
    w.step(i, "2026-05-04T10:05:00Z", "incident_linked", {"incident": "INC-2026-0001"})
    step(i, "2026-05-04T10:30:00Z", "chain_error_found", actor=SYSTEM)
    step(i, "2026-05-04T11:00:00Z", "customer_updated", actor=SYSTEM,
         confirm_by="2026-05-07T11:00:00Z")  # fmt: skip
    # J: pending transaction, same incident; a holding reply, 24 h waiting for information,
    # 2 h waiting for the customer's confirmation: 3 h of handling.
    j = refs["J"] = w.file("2026-05-04T11:00:00Z", "stuck_transaction", "email", "pt",
                           "UK-FCA-DISP")  # fmt: skip
    w.step(j, "2026-05-04T11:30:00Z", "acknowledged")
    w.step(j, "2026-05-04T11:40:00Z", "incident_linked", {"incident": "INC-2026-0001"})
    w.step(j, "2026-05-04T12:00:00Z", "holding_reply", body={"reason": "Network congestion."})
    w.step(j, "2026-05-04T12:30:00Z", "info_requested", body={"request": "Your tx hash?"})
    w.step(j, "2026-05-05T12:30:00Z", "info_received", body={"text": "0xabc"}, actor=CUSTOMER)
    step(j, "2026-05-05T13:00:00Z", "chain_error_found")
    step(j, "2026-05-05T14:00:00Z", "customer_updated")
    step(j, "2026-05-05T16:00:00Z", "resolution_confirmed", actor=CUSTOMER,
         confirmation="customer")  # fmt: skip
    # K: hacked account; access blocked in 10 min, escalated, secured after 3.5 h (target and
    # limit missed); a discount given in kind.
    k = refs["K"] = w.file("2026-05-06T09:00:00Z", "hacked_account", "in_app", "zh", "EU-PSD2")
    step(k, "2026-05-06T09:10:00Z", "access_blocked")
    w.step(k, "2026-05-06T09:15:00Z", "acknowledged")
    w.step(k, "2026-05-06T09:20:00Z", "escalated", {"level": "specialist",
                                                    "specialism": "security"})  # fmt: skip
    step(k, "2026-05-06T10:00:00Z", "keys_changed")
    step(k, "2026-05-06T12:30:00Z", "security_validated")
    w.decide(k, "2026-05-06T13:00:00Z", "upheld")
    _compensate(w, k, ("2026-05-06T13:10:00Z", "2026-05-06T13:20:00Z", "2026-05-06T14:00:00Z"),
                {"kind": "discount", "amount": "20.00", "currency": "EUR",
                 "method": "in_kind"}, {"payment_reference": "VOUCHER-K"})  # fmt: skip
    # L: security question; the handler set 1-4 h; guidance confirmed after 30 min: 1.5 h.
    m_ = refs["L"] = w.file("2026-05-06T10:00:00Z", "security_question", "phone", "ru",
                            "EU-PSD2-LT")  # fmt: skip
    w.step(m_, "2026-05-06T10:30:00Z", "acknowledged")
    w.step(m_, "2026-05-06T10:40:00Z", "target_set", {"target_minutes": 60, "limit_minutes": 240})
    step(m_, "2026-05-06T11:00:00Z", "risk_assessed")
    step(m_, "2026-05-06T11:30:00Z", "guidance_given", confirm_by="2026-05-09T11:30:00Z")
    step(m_, "2026-05-06T12:00:00Z", "protection_confirmed", actor=CUSTOMER,
         confirmation="customer")  # fmt: skip
    # M: general question answered by the bot in 2 minutes (8 minutes waiting for the customer).
    m = refs["M"] = w.file("2026-05-07T09:00:00Z", "general_question", "social", "ca", "EU-PSD2",
                           level="bot")  # fmt: skip
    w.step(m, "2026-05-07T09:00:30Z", "acknowledged", actor=SYSTEM)
    step(m, "2026-05-07T09:01:00Z", "question_understood", actor=SYSTEM)
    step(m, "2026-05-07T09:02:00Z", "answer_given", actor=SYSTEM,
         confirm_by="2026-05-08T09:02:00Z")  # fmt: skip
    step(m, "2026-05-07T09:10:00Z", "answer_confirmed", actor=CUSTOMER, confirmation="customer")
    # N: bank integration, incident INC-2026-0002, restored after 23 h; a bonus credit.
    n = refs["N"] = w.file("2026-05-07T10:00:00Z", "bank_integration", "web_form", "lt",
                           "EU-PSD2")  # fmt: skip
    w.step(n, "2026-05-07T11:00:00Z", "acknowledged")
    w.step(n, "2026-05-07T11:05:00Z", "incident_linked", {"incident": "INC-2026-0002"})
    step(n, "2026-05-07T12:00:00Z", "integration_diagnosed")
    step(n, "2026-05-07T15:00:00Z", "partner_contacted")
    step(n, "2026-05-08T09:00:00Z", "integration_restored")
    w.decide(n, "2026-05-08T10:00:00Z", "upheld")
    _compensate(w, n, ("2026-05-08T10:10:00Z", "2026-05-08T10:20:00Z", "2026-05-08T11:00:00Z"),
                {"kind": "bonus_credit", "amount": "3.00", "currency": "EUR",
                 "method": "account_credit"}, {"payment_reference": "CR-N"})  # fmt: skip
    # O: refund claim in the UK; a free service paid after 27 h is the resolution (the later
    # playbook step does not resolve it again).
    o = refs["O"] = w.file("2026-05-08T09:00:00Z", "refund_or_claim", "email", "en",
                           "UK-FCA-PSR")  # fmt: skip
    w.step(o, "2026-05-08T10:00:00Z", "acknowledged")
    step(o, "2026-05-08T11:00:00Z", "detailed_review")
    w.decide(o, "2026-05-09T09:00:00Z", "upheld")
    step(o, "2026-05-09T09:30:00Z", "decision_communicated")
    _compensate(w, o, ("2026-05-09T10:00:00Z", "2026-05-09T11:00:00Z", "2026-05-09T12:00:00Z"),
                {"kind": "free_service", "amount": "12.00", "currency": "GBP",
                 "method": "in_kind"}, {"payment_reference": "FREE-O"})  # fmt: skip
    step(o, "2026-05-10T09:00:00Z", "solution_carried_out")
    # P: interface fault paid after exactly 2 h: the target is missed (a due instant is
    # exclusive), the limit met.
    p = refs["P"] = w.file("2026-05-08T10:00:00Z", "interface_fault", "chat", "en", "EU-PSD2")
    w.step(p, "2026-05-08T10:30:00Z", "acknowledged")
    w.decide(p, "2026-05-08T11:00:00Z", "upheld")
    _compensate(w, p, ("2026-05-08T11:10:00Z", "2026-05-08T11:20:00Z", "2026-05-08T12:00:00Z"),
                {"amount": "30.00", "currency": "EUR", "method": "bank_transfer"},
                {"payment_reference": "PAY-P"})  # fmt: skip
    # I's wait lapses on the 7th: the system records it an hour later.
    step(i, "2026-05-07T12:00:00Z", "resolution_confirmed", actor=SYSTEM, confirmation="lapsed")
    return refs
