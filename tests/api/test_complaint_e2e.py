"""A stuck-transaction complaint from filing to rating, over real HTTP, then verified by the
customer with only public endpoints and the secret; any changed byte breaks verification."""

from __future__ import annotations

import copy
import json

from ledger.verify.complaint import verify_complaint_proof
from tests.support.complaint_api import Client, run_lifecycle


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
