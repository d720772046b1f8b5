"""Officers who sign in the console: staff accounts with a session, officer keys registered
(with limits) and linked to them, and complaints ready for a decision, on a test ledger."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from ledger.casework.key_holders import link_statement
from ledger.complaints.events import Actor
from ledger.complaints.officers import officer_key_id
from ledger.complaints.vocab import Role
from ledger.runtime import Ledger

PASSWORD = "correct horse battery staple"
SESSION_COOKIE = "console_session"
# A junior officer's limits: EUR 100 alone up to EUR 20, above it with a co-signature.
JUNIOR_LIMITS = {"amounts": {"EUR": "100.00"}, "dual_control_above": {"EUR": "20.00"}}
SENIOR_LIMITS = {"amounts": {"EUR": "1000.00"}}
DECISION = {
    "outcome": "upheld",
    "root_cause": "product_defect",
    "finding": "The withdrawal was delayed by our fee estimator.",
    "rules": ["PSD2 Art. 89"],
    "evidence": [],
    "remedy": "We refund the fee and pay a goodwill amount.",
}
OFFER = {"amount": "50.00", "currency": "EUR", "method": "bank_transfer"}


@dataclass
class Officer:
    """A staff member with a signed-in console session and (maybe) a linked officer key."""

    account_id: str
    pseudonym: str
    session_id: str
    csrf_token: str
    key: Ed25519PrivateKey | None = None

    @property
    def key_id(self) -> str:
        assert self.key is not None
        return officer_key_id(self.key)


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def staff_member(ledger: Ledger, name: str, roles: list[str]) -> Officer:
    """A new staff account with an open console session (as after signing in)."""
    assert ledger.staff is not None and ledger.staff_sessions is not None
    username = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}"
    created = ledger.staff.create(username, name, PASSWORD, roles)
    session_id, live = ledger.staff_sessions.open(created.member.id)
    return Officer(created.member.id, created.member.pseudonym, session_id, live.csrf_token)


def register_key(
    ledger: Ledger, key: Ed25519PrivateKey, name: str, limits: dict | None = None
) -> str:
    """Register ``key`` as an officer key (valid from five minutes ago); its key id."""
    ledger.officer_keys.register(
        admin_id="admin-1",
        public_key=raw_public(key),
        roles=["officer"],
        valid_from=datetime.now(UTC) - timedelta(minutes=5),
        valid_until=None,
        name=name,
        limits=limits,
    )
    return officer_key_id(key)


def officer(
    ledger: Ledger,
    name: str,
    limits: dict | None = None,
    *,
    key: Ed25519PrivateKey | None = None,
    link: bool = True,
) -> Officer:
    """An officer account with a registered key (linked to the account unless ``link``)."""
    member = staff_member(ledger, name, ["officer"])
    member.key = key or Ed25519PrivateKey.generate()
    register_key(ledger, member.key, name, limits)
    if link:
        link_key(ledger, member)
    return member


def link_key(ledger: Ledger, member: Officer) -> None:
    assert ledger.drafts is not None and member.key is not None
    statement = link_statement(member.account_id, member.key_id)
    ledger.drafts.holders.link(member.account_id, member.key_id, member.key.sign(statement))


def decision_ready(ledger: Ledger, category: str = "stuck_transaction") -> str:
    """A filed and acknowledged complaint, with one evidence step; its reference."""
    writes = ledger.complaints.writes
    recorded, _secret = writes.file(
        {"category": category, "channel": "web_form", "language": "en",
         "jurisdiction": "EU-PSD2"},
        {"description": "My withdrawal has been pending for 9 hours.",
         "contact": {"name": "Ana Silva", "email": "ana@example.org", "consent": True}},
        Actor(Role.CUSTOMER, "customer"),
    )  # fmt: skip
    ref = recorded.state.reference
    assert ref is not None
    agent = Actor(Role.AGENT, "agent-1")
    step = ledger.complaints.writes
    body = step.with_letter(ref, "acknowledged", {}, {"responsible": "Rui Costa"}, role="agent")
    step.record(ref, type="acknowledged", public={}, body=body, actor=agent)
    step.record(
        ref,
        type="evidence_added",
        public={"kind": "system_log"},
        body={"description": "Node logs show the transaction stuck in our mempool."},
        actor=agent,
    )
    return ref


def write_key_file(path: Path, key: Ed25519PrivateKey) -> Path:
    """The key file as ``ledger-officer keygen`` writes it (PKCS#8 PEM, mode 0600)."""
    from ledger.cli.officer import write_key

    write_key(path, key)
    return path


def secret_forms(key: Ed25519PrivateKey) -> list[str]:
    """Every spelling of the private key a leak could take."""
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    forms = [
        pem,
        pem.replace("\n", "\r\n"),
        base64.b64encode(der).decode(),
        seed.hex(),
        base64.b64encode(seed).decode(),
        base64.urlsafe_b64encode(seed).decode().rstrip("="),
    ]
    return forms + [quote(f, safe="") for f in forms]
