"""Seed a realistic demo, once: complaints across every category, channel, language and
outcome, handled by demo staff with scoped API keys and a registered officer key: every
category's playbook, every compensation kind, an identity check before a payout, a handler's
target, and a mass incident answered by one holding reply. On the development chain, one more
complaint is compensated by the vault (``seed_vault_demo``): its offer and the customer's
acceptance with their address are seeded, and the payout worker pays it on chain once the
acceptance is anchored and records the payment.

The demo's staff sign in to the console (``DEMO_STAFF``: one account per role, a second
officer for co-signing and a security specialist); the demo officer's signing key is
registered in the first officer's name, and the demo agent's steps carry the handler's
pseudonym.

The demo's secrets (API keys, one customer secret, the officer's private key, the staff
accounts' passwords and TOTP secrets) are written to files in the data folder with mode
0600, never to logs.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from eth_utils import to_checksum_address

from ledger.access.apikeys import create_api_key
from ledger.access.staff import StaffAccounts
from ledger.casework.key_holders import link_statement
from ledger.casework.service import ComplaintService
from ledger.complaints.deadlines import get_jurisdiction, initial_deadlines
from ledger.complaints.events import Actor
from ledger.complaints.officers import officer_key_id, signature_field
from ledger.complaints.playbooks import CONFIRMING_STEPS, IDENTITY_STEP, next_step, states_wait
from ledger.complaints.service_rules import ServiceRules
from ledger.complaints.timestamps import as_utc, format_timestamp
from ledger.complaints.vocab import Category, Channel, Language, PlaybookStep, Role
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
    Category.GENERAL_QUESTION: "Which networks can I use to receive USDC?",
    Category.INTEGRATION_PROBLEM: "The exchange connection stopped importing my trades.",
    Category.BANK_INTEGRATION: "My bank transfer top-up never reached the wallet.",
    Category.SECURITY_QUESTION: "Is it safe to sign this token approval a dApp asks for?",
}
# A mass incident: a node outage that delayed three complaints, answered by one holding reply.
INCIDENT = "INC-2026-0042"
INCIDENT_TITLE = "Node outage delaying transactions and balances"
INCIDENT_REASON = (
    "A node outage is delaying transactions and balances; we are restoring service and will "
    "come back to you once your case is checked."
)


@dataclass(frozen=True)
class Scenario:
    """One demo complaint: its category, its statutory clock and how far it gets (``path``)."""

    category: Category
    jurisdiction: str
    path: str
    # Linked to INCIDENT and given its holding reply, which extends the final-response date:
    # a jurisdiction with an extension (not UK-FCA-DISP).
    incident: bool = False


# Together: every category with its whole playbook (a customer confirmation and a lapsed
# one among them), every compensation kind paid, a payout after an identity check, a
# security question with its handler's target, every outcome, and the incident.
SCENARIOS = (
    Scenario(Category.LOST_RECOVERY_PHRASE, "EU-PSD2", "identity_fee_refund_paid"),
    Scenario(Category.STUCK_TRANSACTION, "UK-FCA-PSR", "confirmed_money_paid", incident=True),
    Scenario(Category.HACKED_ACCOUNT, "UK-FCA-DISP", "large_offer_identity_paid"),
    Scenario(Category.INTERFACE_FAULT, "EU-PSD2-LT", "lapsed_bonus_credit_paid"),
    Scenario(Category.SYNC_FAULT, "EU-PSD2", "confirmed_rejected", incident=True),
    Scenario(Category.REFUND_OR_CLAIM, "UK-FCA-DISP", "discount_paid"),
    Scenario(Category.GENERAL_QUESTION, "EU-PSD2", "answered_investigating"),
    Scenario(Category.INTEGRATION_PROBLEM, "EU-PSD2-LT", "free_service_paid", incident=True),
    Scenario(Category.BANK_INTEGRATION, "UK-FCA-DISP", "declined_referred"),
    Scenario(Category.SECURITY_QUESTION, "UK-FCA-PSR", "handler_target_resolved"),
    Scenario(Category.LOST_RECOVERY_PHRASE, "EU-PSD2", "received"),
    Scenario(Category.STUCK_TRANSACTION, "UK-FCA-DISP", "withdrawn"),
)
# The demo agent who handles the complaints, as their acknowledgements name them.
DEMO_HANDLER = "Marta Soler"


@dataclass(frozen=True)
class DemoStaff:
    """A demo staff account: its password and TOTP secret go to the credentials file."""

    username: str
    name: str
    roles: tuple[str, ...]
    languages: tuple[str, ...] = ("en",)
    specialisms: tuple[str, ...] = ()


# One account per staff role, a second officer (dual control) and a security specialist.
DEMO_STAFF = (
    DemoStaff("rui.costa", "Rui Costa", ("agent",), ("pt", "en")),
    DemoStaff("marta.soler", DEMO_HANDLER, ("agent",), ("ca", "en"), ("security",)),
    DemoStaff("ines.duarte", "Inês Duarte", ("officer",), ("pt", "en")),
    DemoStaff("tomas.jonaitis", "Tomas Jonaitis", ("officer",), ("lt", "en")),
    DemoStaff("li.wei", "Li Wei", ("supervisor",), ("zh", "en")),
    DemoStaff("anna.volkova", "Anna Volkova", ("legal",), ("ru", "en")),
    DemoStaff("jordi.puig", "Jordi Puig", ("admin",), ("ca", "en")),
)
# The officer whose name the demo's registered signing key carries.
DEMO_OFFICER = "ines.duarte"
# The demo customers' address (example.org: reserved, nothing leaves the local mail server).
DEMO_EMAIL = "demo.customer@example.org"
# The complaint whose reference and secret the run command prints.
SHOWN = "discount_paid"


@dataclass(frozen=True)
class DemoInfo:
    created: bool
    credentials_file: Path
    customer_reference: str | None = None
    customer_secret: str | None = None
    # The demo staff's usernames (their passwords and TOTP secrets: the credentials file).
    staff_usernames: tuple[str, ...] = ()


def seed_staff(staff: StaffAccounts) -> list[dict]:
    """The demo staff accounts, each with a random password: their credentials (for the
    0600 file only)."""
    out = []
    for person in DEMO_STAFF:
        password = secrets.token_urlsafe(15)
        new = staff.create(
            person.username,
            person.name,
            password,
            person.roles,
            languages=person.languages,
            specialisms=person.specialisms,
        )
        out.append(
            {
                "username": new.member.username,
                "name": new.member.display_name,
                "roles": list(new.member.roles),
                "pseudonym": new.member.pseudonym,
                "account_id": new.member.id,
                "password": password,
                "totp_secret": new.totp_secret,
                "totp_uri": new.provisioning_uri,
            }
        )
    return out


def _staff_usernames(cred_file: Path) -> tuple[str, ...]:
    """The demo staff's usernames in an existing credentials file (none if unreadable)."""
    try:
        staff = json.loads(cred_file.read_text()).get("staff", [])
        return tuple(str(s["username"]) for s in staff)
    except (OSError, ValueError, TypeError, KeyError):
        return ()


def seed_demo(ledger: Ledger, data_dir: Path) -> DemoInfo:
    """Create the demo once; later calls only say where its credentials are."""
    cred_file = data_dir / CREDENTIALS
    total, _ = ledger.complaints.reads.list(limit=1)
    if cred_file.exists() or total > 0:
        return DemoInfo(False, cred_file, staff_usernames=_staff_usernames(cred_file))
    engine = ledger.engine
    assert ledger.staff is not None
    staff = seed_staff(ledger.staff)
    by_username = {s["username"]: s for s in staff}
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
        name=by_username[DEMO_OFFICER]["name"],
    )
    # The first officer signs in the console with this key file: it is linked to her account.
    key_id, holder = env.public["key_id"], by_username[DEMO_OFFICER]["account_id"]
    assert ledger.drafts is not None
    ledger.drafts.holders.link(holder, key_id, officer.sign(link_statement(holder, key_id)))
    handler = next(s for s in staff if s["name"] == DEMO_HANDLER)["pseudonym"]
    seeder = _Seeder(ledger.complaints, officer, key_id, handler)
    channels, languages = list(Channel), list(Language)
    filed = [
        seeder.file(
            scenario.category,
            channels[i % len(channels)],
            languages[i % len(languages)],
            scenario.jurisdiction,
            ledger.service_rules,
        )
        for i, scenario in enumerate(SCENARIOS)
    ]
    for scenario, (ref, _) in zip(SCENARIOS, filed, strict=True):
        if scenario.path != "received":
            seeder.step(ref, "acknowledged")
        if scenario.incident:
            seeder.step(ref, "incident_linked", {"incident": INCIDENT}, {"title": INCIDENT_TITLE})
    ledger.complaints.writes.incident_holding_reply(INCIDENT, INCIDENT_REASON, seeder.agent)
    customers = []
    for scenario, (ref, secret) in zip(SCENARIOS, filed, strict=True):
        seeder.handle(ref, scenario)
        customers.append({"reference": ref, "secret": secret, "path": scenario.path})
    credentials = {"api_keys": tokens, "customers": customers, "staff": staff}
    write_secret_file(cred_file, json.dumps(credentials, indent=2))
    shown = next(c for c in customers if c["path"] == SHOWN)
    usernames = tuple(s["username"] for s in staff)
    return DemoInfo(True, cred_file, shown["reference"], shown["secret"], usernames)


# The complaint the vault pays on chain (seed_vault_demo): its path in the credentials file.
VAULT_PATH = "vault_paid_on_chain"
VAULT_AMOUNT = "20.00"


@dataclass(frozen=True)
class VaultTerms:
    """Where the demo's vault offer is paid: the development chain's vault and its token."""

    chain_id: int
    vault: str
    token: str
    symbol: str
    decimals: int


def seed_vault_demo(ledger: Ledger, data_dir: Path, terms: VaultTerms) -> str | None:
    """Once, after ``seed_demo``: a complaint compensated by the vault, up to the customer's
    acceptance with their receiving address (a fresh address, in the credentials file). The
    payout worker pays it once the acceptance is anchored. Returns its reference, or None when
    there is no demo or it was seeded before."""
    cred_file = data_dir / CREDENTIALS
    key_file = data_dir / OFFICER_KEY
    if not cred_file.exists() or not key_file.exists():
        return None
    credentials = json.loads(cred_file.read_text())
    if any(c.get("path") == VAULT_PATH for c in credentials.get("customers", [])):
        return None
    officer = load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(officer, Ed25519PrivateKey)
    handler = next((s["pseudonym"] for s in credentials.get("staff", [])
                    if s.get("name") == DEMO_HANDLER), "demo-agent")  # fmt: skip
    seeder = _Seeder(ledger.complaints, officer, officer_key_id(officer), handler)
    category = Category.STUCK_TRANSACTION
    ref, secret = seeder.file(category, Channel.IN_APP, Language.EN, "EU-PSD2",
                              ledger.service_rules)  # fmt: skip
    seeder.step(ref, "acknowledged")
    seeder.decide(ref, "EU-PSD2")
    money = {"kind": "money", "amount": VAULT_AMOUNT, "asset": terms.symbol, "method": "on_chain"}
    units = int(Decimal(VAULT_AMOUNT).scaleb(terms.decimals))
    offer = {**money, "chain_id": terms.chain_id, "vault": terms.vault, "token": terms.token,
             "amount_base_units": str(units), "decimals": terms.decimals}  # fmt: skip
    seeder.signed(ref, "compensation_offered", offer, money)
    recipient = to_checksum_address("0x" + os.urandom(20).hex())
    seeder.step(ref, "compensation_accepted", body={"recipient": recipient})
    credentials.setdefault("customers", []).append(
        {"reference": ref, "secret": secret, "path": VAULT_PATH, "recipient": recipient}
    )
    write_secret_file(cred_file, json.dumps(credentials, indent=2), replace=True)
    return ref


# How far the wait for a customer's confirmation runs in the demo before it lapses: short,
# so the demo can record the lapse without a long pause.
LAPSE_WAIT = timedelta(milliseconds=30)


class _Seeder:
    def __init__(
        self, service: ComplaintService, officer: Ed25519PrivateKey, key_id: str, agent: str
    ):
        self.service = service
        self.officer = officer
        self.key_id = key_id
        self.agent = Actor(Role.AGENT, agent)  # the handler's pseudonym
        self.customer = Actor(Role.CUSTOMER, "customer")
        self.system = Actor(Role.SYSTEM, "demo-scheduler")
        self.received: dict[str, str] = {}  # reference -> the received event's leaf hash

    def step(
        self,
        ref: str,
        type_: str,
        public: dict | None = None,
        body: dict | None = None,
        actor: Actor | None = None,
    ) -> None:
        public, body = public or {}, body or {}
        if actor is None:
            customer_steps = ("info_received", "compensation_accepted", "compensation_declined",
                              "rated", "referred")  # fmt: skip
            actor = self.customer if type_ in customer_steps else self.agent
        if type_ == "acknowledged":
            body = {"responsible": DEMO_HANDLER, **body}  # the acknowledgement names them
        body = self.service.writes.with_letter(ref, type_, public, body, role=actor.role)
        self.service.writes.record(ref, type=type_, public=public, body=body, actor=actor)

    def signed(self, ref: str, type_: str, content: dict, public: dict) -> None:
        content = self.service.writes.with_letter(ref, type_, public, content)
        body = signing_body(self.service.reads.state(ref), type_, content)
        public = {**public, "signature": signature_field(self.officer, body)}
        self.service.writes.record(
            ref, type=type_, public=public, body=body, actor=Actor(Role.OFFICER, self.key_id)
        )

    def file(
        self,
        category: Category,
        channel: Channel,
        language: Language,
        jurisdiction: str,
        rules: ServiceRules,
    ) -> tuple[str, str]:
        now = datetime.now(UTC)
        deadlines = initial_deadlines(now, category, get_jurisdiction(jurisdiction), rules=rules)
        public = {
            "category": str(category),
            "channel": str(channel),
            "language": str(language),
            "jurisdiction": jurisdiction,
            "deadlines": deadlines,
        }
        # An address the customer agreed to be written to: the run command's local mail
        # server keeps the letters (docs/messages.md).
        contact = {"name": "Demo Customer", "email": DEMO_EMAIL, "consent": True}
        body = {"description": DESCRIPTIONS[category], "contact": contact}
        recorded, secret = self.service.writes.file(public, body, self.customer)
        ref = recorded.state.reference
        assert ref is not None
        self.received[ref] = recorded.envelope.leaf_hash_hex
        return ref, secret

    # --- the playbook ------------------------------------------------------------------

    def playbook(
        self,
        ref: str,
        category: Category,
        *,
        lapse: bool = False,
        until: PlaybookStep | None = None,
    ) -> None:
        """The category's playbook from where it stands to its end (or to ``until``). A
        confirming step is the customer's confirmation, or (``lapse``) recorded as lapsed
        once the stated wait has passed."""
        while (step := next_step(category, self.service.reads.state(ref).playbook)) is not None:
            if step == IDENTITY_STEP:
                self.step(ref, "identity_verified", {"method": "video_call"},
                          {"check_reference": "IDV-DEMO-0001"})  # fmt: skip
            elif step in CONFIRMING_STEPS:
                state = self.service.reads.state(ref)
                if lapse and state.confirm_by is not None:
                    wait = (as_utc(state.confirm_by) - datetime.now(UTC)).total_seconds()
                    time.sleep(max(0.0, wait) + 0.005)
                    self.step(ref, "playbook_step", {"step": str(step), "confirmation": "lapsed"},
                              actor=self.system)  # fmt: skip
                else:
                    self.step(ref, "playbook_step", {"step": str(step),
                              "confirmation": "customer"}, actor=self.customer)  # fmt: skip
            else:
                public: dict = {"step": str(step)}
                if states_wait(category, step):
                    wait = LAPSE_WAIT if lapse else timedelta(days=3)
                    public["confirm_by"] = format_timestamp(datetime.now(UTC) + wait)
                self.step(ref, "playbook_step", public)
            if step == until:
                return

    def decide(self, ref: str, jurisdiction: str, outcome: str = "upheld") -> None:
        decision = {
            "outcome": outcome,
            "finding": "The wallet's data confirms the customer's account of events."
            if outcome != "rejected"
            else "The delay was caused by the public network, not by the wallet.",
            "rules": ["PSD2 Art. 73"] if jurisdiction.startswith("EU") else ["DISP 1.6"],
            "evidence": [self.received[ref]],
            "root_cause": "product_defect" if outcome != "rejected" else "network_conditions",
            "remedy": "We put it right and compensate you." if outcome != "rejected" else "None.",
        }
        pub = {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")}
        self.signed(ref, "decision", decision, pub)

    def compensate(self, ref: str, offer: dict, *, accept: bool = True, **paid: str) -> None:
        """Offer ``offer`` and, when accepted, pay it (``paid``: the payment's own fields)."""
        self.signed(ref, "compensation_offered", offer, offer)
        if not accept:
            self.step(ref, "compensation_declined", {"reason": "amount_too_low"})
            return
        self.step(ref, "compensation_accepted")
        if self.service.reads.state(ref).offer_needs_identity:
            self.step(ref, "identity_verified", {"method": "document_check"},
                      {"check_reference": "IDV-DEMO-0002"})  # fmt: skip
        self.signed(ref, "compensation_paid", {**offer, **paid}, offer)

    def close_and_rate(self, ref: str, csat: int) -> None:
        self.step(ref, "closed", {"reason": "resolved"})
        self.step(ref, "rated", {"csat": csat, "rates": self.service.reads.state(ref).seq})

    # --- the scenarios -------------------------------------------------------------------

    def handle(self, ref: str, scenario: Scenario) -> None:
        category, path = scenario.category, scenario.path
        jurisdiction = self.service.reads.state(ref).jurisdiction
        gbp = jurisdiction.startswith("UK")
        unit = {"currency": "GBP"} if gbp else {"currency": "EUR"}
        if path == "received":
            return
        if path == "withdrawn":
            self.step(ref, "withdrawn")
            return
        if path == "identity_fee_refund_paid":
            self.step(ref, "info_requested", body={"request": "Please send the wallet address."})
            self.step(ref, "info_received", body={"text": "0x5d1f... is my address."})
            self.playbook(ref, category)
            self.decide(ref, jurisdiction)
            offer = {"kind": "fee_refund", "amount": "25.00", **unit, "method": "bank_transfer"}
            self.compensate(ref, offer, payment_reference="SEPA-DEMO-0001")
            self.close_and_rate(ref, 5)
        elif path == "confirmed_money_paid":
            self.playbook(ref, category)
            self.decide(ref, jurisdiction)
            offer = {"kind": "money", "amount": "20", "asset": "USDC", "method": "on_chain"}
            self.compensate(ref, offer, tx_hash="0x" + "5d" * 32)
            self.close_and_rate(ref, 4)
        elif path == "large_offer_identity_paid":
            self.step(ref, "escalated", {"level": "specialist", "specialism": "security"})
            self.playbook(ref, category)
            self.decide(ref, jurisdiction)
            # Above the payout threshold: the service marks the offer as needing the
            # customer's identity, which is verified before the payment.
            offer = {"kind": "money", "amount": "1500.00", **unit, "method": "bank_transfer"}
            self.compensate(ref, offer, payment_reference="SEPA-DEMO-0002")
            self.close_and_rate(ref, 5)
        elif path == "lapsed_bonus_credit_paid":
            self.playbook(ref, category, lapse=True)
            self.decide(ref, jurisdiction)
            offer = {"kind": "bonus_credit", "amount": "10.00", **unit, "method": "account_credit"}
            self.compensate(ref, offer, payment_reference="CREDIT-DEMO-0003")
            self.close_and_rate(ref, 3)
        elif path == "confirmed_rejected":
            self.playbook(ref, category)
            self.decide(ref, jurisdiction, "rejected")
            self.step(ref, "closed")
            self.step(ref, "rated", {"csat": 2, "rates": self.service.reads.state(ref).seq})
        elif path == "discount_paid":
            self.playbook(ref, category, until=PlaybookStep.DETAILED_REVIEW)
            self.decide(ref, jurisdiction)
            self.playbook(ref, category, until=PlaybookStep.DECISION_COMMUNICATED)
            offer = {"kind": "discount", "amount": "15.00", **unit, "method": "in_kind"}
            self.compensate(ref, offer, payment_reference="VOUCHER-DEMO-0004")
            self.playbook(ref, category)
            self.close_and_rate(ref, 4)
        elif path == "answered_investigating":
            self.playbook(ref, category)
        elif path == "free_service_paid":
            self.playbook(ref, category)
            self.decide(ref, jurisdiction)
            offer = {"kind": "free_service", "amount": "5.00", **unit, "method": "in_kind"}
            self.compensate(ref, offer, payment_reference="SERVICE-DEMO-0005")
            self.close_and_rate(ref, 5)
        elif path == "declined_referred":
            self.playbook(ref, category)
            self.decide(ref, jurisdiction, "partially_upheld")
            offer = {"amount": "30.00", **unit, "method": "bank_transfer"}
            self.compensate(ref, offer, accept=False)
            self.step(ref, "referred", {"to": "ombudsman"})
        elif path == "handler_target_resolved":
            self.step(ref, "target_set", {"target_minutes": 120, "limit_minutes": 240})
            self.playbook(ref, category)
            self.decide(ref, jurisdiction)
            self.close_and_rate(ref, 5)
        else:
            raise ValueError(f"unknown demo path {path!r}")
