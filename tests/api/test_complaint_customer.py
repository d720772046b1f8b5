"""Customer side: status texts in six languages, escalation, withdrawal, erasure, audit of reads."""

from __future__ import annotations

import pytest

from ledger.access.apikeys import create_api_key
from ledger.verify.complaint import verify_complaint_proof

FILE = {"category": "sync_fault", "channel": "in_app", "description": "Balance shows 0."}


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def filed(client):
    return client.post("/v1/complaints", json=FILE).json


@pytest.mark.parametrize(
    ("how", "lang"),
    [({"lang": "ca"}, "ca"), ({"lang": "pt"}, "pt"), ({"lang": "zh"}, "zh"),
     ({"lang": "lt"}, "lt"), ({"lang": "ru"}, "ru"), ({}, "en")],
)  # fmt: skip
def test_status_text_in_each_language(client, filed, how, lang) -> None:
    ref, secret = filed["reference"], filed["secret"]
    r = client.get(f"/v1/complaints/{ref}", query_string=how, headers=auth(secret))
    assert r.status_code == 200 and r.json["language"] == lang
    texts = {r.json["status_text"]}
    r2 = client.get(
        f"/v1/complaints/{ref}",
        headers={**auth(secret), "Accept-Language": f"{lang};q=1, en;q=0.1"},
    )
    assert r2.json["language"] == lang
    texts.add(r2.json["status_text"])
    assert len(texts) == 1 and texts.pop()


def test_status_texts_differ_across_languages(client, filed) -> None:
    ref, secret = filed["reference"], filed["secret"]
    seen = {
        client.get(f"/v1/complaints/{ref}?lang={lang}", headers=auth(secret)).json["status_text"]
        for lang in ("en", "ca", "pt", "zh", "lt", "ru")
    }
    assert len(seen) == 6


def test_customer_escalates_rates_and_withdraws(client, ledger, filed) -> None:
    ref, secret = filed["reference"], filed["secret"]
    url = f"/v1/complaints/{ref}/events"
    r = client.post(url, json={"type": "escalated", "public": {"level": "specialist",
                    "specialism": "technical"}}, headers=auth(secret))  # fmt: skip
    assert r.status_code == 201, r.json
    agent = create_api_key(ledger.engine, "agent", "agent")[0]
    r = client.post(url, json={"type": "acknowledged"}, headers=auth(agent))
    assert r.status_code == 201, r.json
    rating = {"csat": 2, "rates": r.json["event"]["seq"]}  # the acknowledgement
    r = client.post(url, json={"type": "rated", "public": rating}, headers=auth(secret))
    assert r.status_code == 201
    r = client.post(url, json={"type": "withdrawn"}, headers=auth(secret))
    assert r.status_code == 201 and r.json["status"] == "withdrawn"
    status = client.get(f"/v1/complaints/{ref}", headers=auth(secret)).json
    assert status["status"] == "withdrawn" and status["escalation_level"] == "specialist"


def test_erasure_keeps_the_log_verifiable(client, ledger, filed) -> None:
    ref, secret = filed["reference"], filed["secret"]
    admin = create_api_key(ledger.engine, "admin", "admin")[0]
    received = filed["event"]["leaf_hash"]
    r = client.post(f"/v1/complaints/{ref}/erasures", json={"target": received,
                    "basis": "gdpr_art17"}, headers=auth(admin))  # fmt: skip
    assert r.status_code == 201, r.json
    assert r.json["event"]["type"] == "erased"
    timeline = client.get(f"/v1/complaints/{ref}/timeline", headers=auth(secret)).json
    first = timeline["events"][0]
    assert first["erased"] is True and first["body"] is None
    proof = client.get(f"/v1/complaints/{ref}/proof", headers=auth(secret)).json
    assert proof["events"][0]["erased"] and "body" not in proof["events"][0]
    vkey = client.get("/v1/log/keys").json["verifier_key"]
    report = verify_complaint_proof(proof, vkey)
    assert report.ok, report.failures
    again = client.post(f"/v1/complaints/{ref}/erasures", json={"target": received,
                        "basis": "gdpr_art17"}, headers=auth(admin))  # fmt: skip
    assert again.status_code == 409 and again.json["code"] == "ALREADY_ERASED"


def test_staff_reads_of_personal_data_are_recorded(client, ledger, filed) -> None:
    ref = filed["reference"]
    agent = create_api_key(ledger.engine, "agent", "agent")[0]
    regulator = create_api_key(ledger.engine, "regulator", "regulator")[0]
    assert client.get(f"/v1/complaints/{ref}/timeline", headers=auth(agent)).status_code == 200
    assert client.get(f"/v1/complaints/{ref}/proof", headers=auth(agent)).status_code == 200
    # The customer's own reads are not staff reads.
    client.get(f"/v1/complaints/{ref}/timeline", headers=auth(filed["secret"]))
    log = client.get(f"/v1/complaints/{ref}/access-log", headers=auth(regulator)).json
    assert [(x["role"], x["action"]) for x in log["reads"]] == [
        ("agent", "timeline"),
        ("agent", "proof"),
    ]
    assert all(x["principal"] and x["at"] for x in log["reads"])


def test_staff_list_with_pagination(client, ledger, filed) -> None:
    for _ in range(4):
        client.post("/v1/complaints", json=FILE)
    agent = create_api_key(ledger.engine, "agent", "agent")[0]
    page = client.get("/v1/complaints?page_size=2&page=2", headers=auth(agent)).json
    assert page["total"] == 5 and len(page["items"]) == 2 and page["page"] == 2
    only = client.get("/v1/complaints?status=received&category=sync_fault", headers=auth(agent))
    assert only.json["total"] == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [("root", "00" * 32), ("size", 1_000_000), ("size", "1")],
)
def test_proof_fields_beside_the_note_must_match_it(client, filed, field, value) -> None:
    """The unsigned size and root shown beside the checkpoint note are checked against it."""
    ref, secret = filed["reference"], filed["secret"]
    proof = client.get(f"/v1/complaints/{ref}/proof", headers=auth(secret)).json
    vkey = client.get("/v1/log/keys").json["verifier_key"]
    assert verify_complaint_proof(proof, vkey).ok
    proof["checkpoint"][field] = value
    report = verify_complaint_proof(proof, vkey)
    assert not report.ok
    assert [c.name for c in report.failures] == ["checkpoint fields match the signed note"]
