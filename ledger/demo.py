"""Seed a realistic demo, once: complaints across every category, channel, language and
outcome, handled by demo staff with scoped API keys and a registered officer key.

The demo's secrets (API keys, one customer secret, the officer's private key) are written
to files in the data folder with mode 0600, never to logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from ledger.access.apikeys import create_api_key
from ledger.casework.service import ComplaintService
from ledger.complaints.deadlines import get_jurisdiction, initial_deadlines
from ledger.complaints.events import Actor
from ledger.complaints.officers import signature_field
from ledger.complaints.vocab import Category, Channel, Language, Role
from ledger.complaints.workflow import signing_body
from ledger.runtime import Ledger
from ledger.secretfiles import write_secret_file

CREDENTIALS = "demo-credentials.json"
OFFICER_KEY = "demo-officer.pem"

DESCRIPTIONS = {
    Category.LOST_RECOVERY_PHRASE: "I lost the paper with my recovery phrase after moving house.",
    Category.STUCK_TRANSACTION: "My withdrawal of 0.25 ETH has been pending for 9 hours.",
    Category.HACKED_ACCOUNT: "Someone logged in from another country and moved my USDC.",
    Category.INTERFACE_FAULT: "The send button does nothing on Android 14.",
    Category.SYNC_FAULT: "My balance shows zero although the explorer shows 120 USDC.",
    Category.REFUND_OR_CLAIM: "I was charged twice for the card top-up of 50 EUR.",
}
# How far each demo complaint gets; together they cover every outcome.
PATHS = ["received", "info", "rejected", "paid", "declined_referred", "withdrawn"]


@dataclass(frozen=True)
class DemoInfo:
    created: bool
    credentials_file: Path
    customer_reference: str | None = None
    customer_secret: str | None = None


def seed_demo(ledger: Ledger, data_dir: Path) -> DemoInfo:
    """Create the demo once; later calls only say where its credentials are."""
    cred_file = data_dir / CREDENTIALS
    total, _ = ledger.complaints.reads.list(limit=1)
    if cred_file.exists() or total > 0:
        return DemoInfo(False, cred_file)
    engine = ledger.engine
    tokens = {
        role: create_api_key(engine, f"demo {role}", role)[0]
        for role in ("agent", "officer", "supervisor", "legal", "regulator", "admin")
    }
    officer = Ed25519PrivateKey.generate()
    pem = officer.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_secret_file(data_dir / OFFICER_KEY, pem, replace=True)
    admin_id = tokens["admin"].split("_")[1]
    env, _ = ledger.officer_keys.register(
        admin_id=admin_id,
        public_key=officer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        roles=["officer"],
        valid_from=datetime.now(UTC) - timedelta(minutes=1),
        valid_until=None,
        name="Demo Officer",
    )
    seeder = _Seeder(ledger.complaints, officer, env.public["key_id"])
    customers = []
    categories, channels, languages = list(Category), list(Channel), list(Language)
    for i in range(12):
        category = categories[i % len(categories)]
        ref, secret = seeder.complaint(
            category,
            channels[i % len(channels)],
            languages[i % len(languages)],
            "UK-FCA-DISP" if i % 2 else "EU-PSD2",
            PATHS[i % len(PATHS)],
        )
        customers.append({"reference": ref, "secret": secret, "path": PATHS[i % len(PATHS)]})
    credentials = {"api_keys": tokens, "customers": customers}
    write_secret_file(cred_file, json.dumps(credentials, indent=2))
    paid = next(c for c in customers if c["path"] == "paid")
    return DemoInfo(True, cred_file, paid["reference"], paid["secret"])


class _Seeder:
    def __init__(self, service: ComplaintService, officer: Ed25519PrivateKey, key_id: str):
        self.service = service
        self.officer = officer
        self.key_id = key_id
        self.agent = Actor(Role.AGENT, "demo-agent")
        self.customer = Actor(Role.CUSTOMER, "customer")

    def step(self, ref: str, type_: str, public: dict | None = None, body: dict | None = None):
        public, body = public or {}, body or {}
        body = self.service.writes.with_letter(ref, type_, public, body)
        actor = (
            self.customer
            if type_ in ("info_received", "compensation_accepted", "compensation_declined", "rated")
            else self.agent
        )
        self.service.writes.record(ref, type=type_, public=public, body=body, actor=actor)

    def signed(self, ref: str, type_: str, content: dict, public: dict) -> None:
        content = self.service.writes.with_letter(ref, type_, public, content)
        body = signing_body(self.service.reads.state(ref), type_, content)
        public = {**public, "signature": signature_field(self.officer, body)}
        self.service.writes.record(
            ref, type=type_, public=public, body=body, actor=Actor(Role.OFFICER, self.key_id)
        )

    def complaint(self, category, channel, language, jurisdiction, path) -> tuple[str, str]:
        now = datetime.now(UTC)
        public = {
            "category": str(category),
            "channel": str(channel),
            "language": str(language),
            "jurisdiction": jurisdiction,
            "deadlines": initial_deadlines(now, category, get_jurisdiction(jurisdiction)),
        }
        body = {"description": DESCRIPTIONS[category], "contact": {"name": "Demo Customer"}}
        recorded, secret = self.service.writes.file(public, body, self.customer)
        ref = recorded.state.reference
        if path == "received":
            return ref, secret
        self.step(ref, "acknowledged")
        if path == "withdrawn":
            self.step(ref, "withdrawn")
            return ref, secret
        self.step(ref, "info_requested", body={"request": "Please send a screenshot."})
        if path == "info":
            return ref, secret
        self.step(ref, "info_received", body={"text": "Screenshot attached."})
        evidence = self.service.reads.state(ref).head
        self.step(ref, "escalated", {"level": "specialist", "specialism": "technical"})
        outcome = "rejected" if path == "rejected" else "upheld"
        decision = {
            "outcome": outcome,
            "finding": "Our logs confirm the customer's account of events."
            if outcome == "upheld"
            else "The transaction was delayed by the public network, not by us.",
            "rules": ["PSD2 Art. 73"] if jurisdiction == "EU-PSD2" else ["DISP 1.6"],
            "evidence": [evidence],
            "root_cause": "product_defect" if outcome == "upheld" else "network_conditions",
            "remedy": "We will refund the amount in full." if outcome == "upheld" else "None.",
        }
        pub = {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")}
        self.signed(ref, "decision", decision, pub)
        if path == "rejected":
            self.step(ref, "closed")
            self.step(ref, "rated", {"csat": 2, "rates": self.service.reads.state(ref).seq})
            return ref, secret
        offer = {"amount": "50.00", "currency": "EUR", "method": "bank_transfer"}
        self.signed(ref, "compensation_offered", offer, offer)
        if path == "declined_referred":
            self.step(ref, "compensation_declined")
            self.service.writes.record(
                ref, type="referred", public={"to": "ombudsman"}, body={}, actor=self.customer
            )
            return ref, secret
        self.step(ref, "compensation_accepted")
        paid = {**offer, "payment_reference": "SEPA-DEMO-0001"}
        self.signed(ref, "compensation_paid", paid, offer)
        self.step(ref, "closed")
        self.step(ref, "rated", {"csat": 5, "rates": self.service.reads.state(ref).seq})
        return ref, secret
