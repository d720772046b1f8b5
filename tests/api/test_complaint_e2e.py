"""A stuck-transaction complaint from filing to rating, over real HTTP, then verified by the
customer with only public endpoints and the secret; any changed byte breaks verification."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.access.apikeys import create_api_key
from ledger.complaints.officers import sign_body
from ledger.verify.complaint import verify_complaint_proof

TX_HASH = "0x" + "ab" * 32


class Client:
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


@pytest.fixture
def actors(live_server, ledger):
    engine = ledger.engine
    tokens = {role: create_api_key(engine, f"test {role}", role)[0] for role in
              ("agent", "officer", "admin", "legal", "regulator")}  # fmt: skip
    officer_key = Ed25519PrivateKey.generate()
    admin = Client(live_server.url, tokens["admin"])
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
    return {
        "anon": Client(live_server.url),
        "agent": Client(live_server.url, tokens["agent"]),
        "officer": Client(live_server.url, tokens["officer"]),
        "admin": admin,
        "tokens": tokens,
        "officer_key": officer_key,
        "key_id": registered["key"]["key_id"],
        "url": live_server.url,
    }


def signed_step(actors, ref: str, type_: str, content: dict, public: dict) -> dict:
    officer = actors["officer"]
    to_sign = officer.post(f"/v1/complaints/{ref}/signing-body", {"type": type_,
                           "content": content}, expect=200)  # fmt: skip
    sig = sign_body(actors["officer_key"], to_sign["body_jcs"].encode("utf-8"))
    public = {**public, "signature": {"key_id": actors["key_id"], "sig": sig.hex()}}
    return officer.post(
        f"/v1/complaints/{ref}/events", {"type": type_, "public": public, "body": to_sign["body"]}
    )


def run_lifecycle(actors) -> tuple[str, str]:
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


def test_lifecycle_and_customer_verification(actors) -> None:
    ref, secret = run_lifecycle(actors)
    customer = Client(actors["url"], secret)
    status = customer.get(f"/v1/complaints/{ref}")
    assert status["status"] == "closed" and status["outcome"] == "partially_upheld"
    timeline = customer.get(f"/v1/complaints/{ref}/timeline")
    types = [e["type"] for e in timeline["events"]]
    assert types == [
        "received", "acknowledged", "info_requested", "info_received", "evidence_added",
        "escalated", "decision", "compensation_offered", "compensation_accepted",
        "compensation_paid", "closed", "rated",
    ]  # fmt: skip
    decision_body = timeline["events"][6]["body"]
    assert "final response" in decision_body["message"]["subject"]

    # The customer obtains the log key (out of band in practice) and the proof.
    vkey = Client(actors["url"]).get("/v1/log/keys")["verifier_key"]
    proof = customer.get(f"/v1/complaints/{ref}/proof")
    assert all("body" in e for e in proof["events"])
    report = verify_complaint_proof(proof, vkey)
    assert report.ok, report.failures
    names = {c.name for c in report.checks}
    assert "officer signatures verify, by keys authorised at the time" in names
    assert any("3 verified" in c.detail for c in report.checks)

    # Without the secret: the same proof, no bodies, still verifies.
    public_proof = Client(actors["url"]).get(f"/v1/complaints/{ref}/proof")
    assert not any("body" in e for e in public_proof["events"])
    assert verify_complaint_proof(public_proof, vkey).ok


def _flip(text: str, pos: int) -> str:
    c = text[pos]
    return text[:pos] + ("0" if c != "0" else "1") + text[pos + 1 :]


def _mutations(proof: dict):
    """Yield (description, mutated proof) for changes to events, proofs, salts, signatures."""
    for i, event in enumerate(proof["events"]):
        for pos in (0, len(event["leaf"]) // 2, len(event["leaf"]) - 2):
            p = copy.deepcopy(proof)
            p["events"][i]["leaf"] = _flip(event["leaf"], pos)
            yield f"event {i} leaf byte {pos}", p
        if event["inclusion_proof"]:
            p = copy.deepcopy(proof)
            node = bytes.fromhex(event["inclusion_proof"][0])
            p["events"][i]["inclusion_proof"][0] = (bytes([node[0] ^ 1]) + node[1:]).hex()
            yield f"event {i} proof node", p
        if "salt" in event:
            p = copy.deepcopy(proof)
            p["events"][i]["salt"] = _flip(event["salt"], 5)
            yield f"event {i} salt", p
            p = copy.deepcopy(proof)
            p["events"][i]["body"] = event["body"].replace("}", " }", 1)
            yield f"event {i} body", p
        leaf = json.loads(event["leaf"])
        if "signature" in leaf["public"]:
            sig = leaf["public"]["signature"]["sig"]
            p = copy.deepcopy(proof)
            p["events"][i]["leaf"] = event["leaf"].replace(sig, _flip(sig, 10))
            yield f"event {i} signature", p
    for k, key in enumerate(proof["officer_keys"]):
        p = copy.deepcopy(proof)
        p["officer_keys"][k]["entries"][0]["leaf"] = _flip(key["entries"][0]["leaf"], 30)
        yield f"officer key {k}", p
    p = copy.deepcopy(proof)
    p["checkpoint"]["note"] = _flip(proof["checkpoint"]["note"], 40)
    yield "checkpoint note", p


def test_any_changed_byte_fails_verification(actors) -> None:
    ref, secret = run_lifecycle(actors)
    vkey = Client(actors["url"]).get("/v1/log/keys")["verifier_key"]
    proof = Client(actors["url"], secret).get(f"/v1/complaints/{ref}/proof")
    assert verify_complaint_proof(proof, vkey).ok
    count = 0
    for what, mutated in _mutations(proof):
        report = verify_complaint_proof(mutated, vkey)
        assert not report.ok, f"tampering with {what} was not detected"
        count += 1
    assert count > 50
