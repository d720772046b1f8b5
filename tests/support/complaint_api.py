"""The complaint API over real HTTP, as its callers use it: a small client, the staff of a
ledger (API keys per role, a registered officer key), signed officer steps, and a whole
complaint lifecycle from filing to rating."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.access.apikeys import create_api_key
from ledger.complaints.officers import sign_body

ROLES = ("agent", "officer", "admin", "legal", "regulator")

TX_HASH = "0x" + "ab" * 32


class Client:
    """A caller of the API: JSON in and out, an optional bearer token, and an
    Idempotency-Key on every POST."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: dict, expect: int = 201, key: str | None = None) -> dict:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        r = self.session.post(self.base + path, json=body, headers=headers, timeout=30)
        assert r.status_code == expect, r.text
        return r.json()

    def get(self, path: str, expect: int = 200, **params) -> dict:
        r = self.session.get(self.base + path, params=params, timeout=30)
        assert r.status_code == expect, r.text
        return r.json()


def make_actors(url: str, ledger) -> dict:
    """API keys for every staff role and a registered officer key, on the ledger behind url."""
    tokens = {role: create_api_key(ledger.engine, f"test {role}", role)[0] for role in ROLES}
    officer_key = Ed25519PrivateKey.generate()
    admin = Client(url, tokens["admin"])
    pub = officer_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    registered = admin.post(
        "/v1/officers/keys",
        {
            "public_key": pub,
            "roles": ["officer"],
            "valid_from": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "name": "Olga Officer",
        },
    )
    actors = {role: Client(url, token) for role, token in tokens.items()}
    actors.update(
        anon=Client(url),
        tokens=tokens,
        officer_key=officer_key,
        key_id=registered["key"]["key_id"],
        url=url,
    )
    return actors


def signed_step(actors, ref: str, type_: str, content: dict, public: dict) -> dict:
    """Record a signed officer step: fetch its signing body, sign it with the officer key."""
    officer = actors["officer"]
    to_sign = officer.post(f"/v1/complaints/{ref}/signing-body", {"type": type_,
                           "content": content}, expect=200)  # fmt: skip
    sig = sign_body(actors["officer_key"], to_sign["body_jcs"].encode("utf-8"))
    public = {**public, "signature": {"key_id": actors["key_id"], "sig": sig.hex()}}
    return officer.post(
        f"/v1/complaints/{ref}/events", {"type": type_, "public": public, "body": to_sign["body"]}
    )


def run_lifecycle(actors) -> tuple[str, str]:
    """A stuck-transaction complaint from filing to rating; returns (reference, secret)."""
    anon, agent = actors["anon"], actors["agent"]
    filed = anon.post(
        "/v1/complaints",
        {
            "category": "stuck_transaction",
            "channel": "web_form",
            "language": "en",
            "description": "My withdrawal has been pending for 9 hours.",
            "contact": {"name": "Ana Silva", "email": "ana@example.org"},
            "transaction": TX_HASH,
        },
    )
    ref, secret = filed["reference"], filed["secret"]
    assert filed["status"] == "received" and secret.startswith("cs_")
    customer = Client(actors["url"], secret)

    agent.post(f"/v1/complaints/{ref}/events", {"type": "acknowledged"})
    agent.post(
        f"/v1/complaints/{ref}/events",
        {"type": "info_requested", "body": {"request": "Please send the destination address."}},
    )
    customer.post(
        f"/v1/complaints/{ref}/events",
        {"type": "info_received", "body": {"text": "bc1qexampledestination"}},
    )
    evidence = agent.post(
        f"/v1/complaints/{ref}/events",
        {
            "type": "evidence_added",
            "public": {"kind": "system_log"},
            "body": {"description": "Node logs show the transaction stuck in our mempool."},
        },
    )
    agent.post(
        f"/v1/complaints/{ref}/events",
        {"type": "escalated", "public": {"level": "specialist", "specialism": "technical"}},
    )
    decision = {
        "outcome": "partially_upheld",
        "finding": "The withdrawal was delayed by our fee estimator; the network was not at fault.",
        "rules": ["PSD2 Art. 89", "Withdrawal SLA 4.2"],
        "evidence": [evidence["event"]["leaf_hash"]],
        "root_cause": "product_defect",
        "remedy": "We refund the network fee and pay a goodwill amount.",
    }
    signed_step(actors, ref, "decision", decision, {k: decision[k] for k in
                ("outcome", "root_cause", "rules", "evidence")})  # fmt: skip
    offer = {"amount": "25.00", "asset": "USDC", "method": "on_chain"}
    signed_step(actors, ref, "compensation_offered", offer, offer)
    customer.post(f"/v1/complaints/{ref}/events", {"type": "compensation_accepted"})
    signed_step(actors, ref, "compensation_paid", {**offer, "tx_hash": TX_HASH}, offer)
    agent.post(f"/v1/complaints/{ref}/events", {"type": "closed"})
    rated = customer.post(f"/v1/complaints/{ref}/events", {"type": "rated",
                          "public": {"csat": 4, "rates": 6}})  # fmt: skip  # the decision
    assert rated["status"] == "closed"
    return ref, secret
