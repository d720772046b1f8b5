"""The demo seed covers every category, channel, language and outcome, every playbook,
compensation kind and the service's own rules (identity, handler target, an incident), and
verifies."""

from __future__ import annotations

import json

from api import create_app
from ledger.complaints.playbooks import CONFIRMING_STEPS, playbook
from ledger.complaints.vocab import Category, CompensationKind
from ledger.demo import INCIDENT, seed_demo
from ledger.verify.complaint import verify_complaint_proof


def test_demo_seed_is_complete_verifiable_and_once(ledger, tmp_path) -> None:
    info = seed_demo(ledger, tmp_path)
    assert info.created and info.customer_secret
    assert (info.credentials_file.stat().st_mode & 0o777) == 0o600
    assert not seed_demo(ledger, tmp_path).created
    total, rows = ledger.complaints.reads.list(limit=100)
    assert total == 12
    assert {r.category for r in rows} == set(Category)
    assert {r.channel for r in rows} == {"email", "chat", "phone", "social", "in_app", "web_form"}
    assert {r.language for r in rows} == {"en", "ca", "pt", "zh", "lt", "ru"}
    assert {r.status for r in rows} >= {"received", "investigating", "closed", "referred",
                                       "withdrawn"}  # fmt: skip
    outcomes = {ledger.complaints.reads.state(r.reference).outcome for r in rows}
    assert {"upheld", "rejected"} <= {str(o) for o in outcomes if o}

    client = create_app(ledger.settings, ledger).test_client()
    creds = json.loads(info.credentials_file.read_text())
    vkey = client.get("/v1/log/keys").json["verifier_key"]
    for customer in creds["customers"]:
        headers = {"Authorization": f"Bearer {customer['secret']}"}
        proof = client.get(f"/v1/complaints/{customer['reference']}/proof", headers=headers).json
        report = verify_complaint_proof(proof, vkey)
        assert report.ok, (customer["path"], report.failures)


def _chains(ledger, rows) -> dict[str, list]:
    return {r.reference: [e.envelope for e in ledger.complaints.reads.events(r.reference)]
            for r in rows}  # fmt: skip


def test_demo_covers_the_playbooks_kinds_identity_targets_and_an_incident(ledger, tmp_path):
    seed_demo(ledger, tmp_path)
    _, rows = ledger.complaints.reads.list(limit=100)
    chains = _chains(ledger, rows)
    states = {ref: ledger.complaints.reads.state(ref) for ref in chains}

    # Every category has a complaint that went through its whole playbook.
    done = {s.category for s in states.values() if s.playbook == playbook(s.category)}
    assert done == set(Category)
    confirmations = {
        e.public["confirmation"]
        for chain in chains.values()
        for e in chain
        if e.type == "playbook_step" and e.public["step"] in CONFIRMING_STEPS
    }
    assert confirmations == {"customer", "lapsed"}

    # Every compensation kind was offered and paid.
    paid = [e for chain in chains.values() for e in chain if e.type == "compensation_paid"]
    assert {e.public.get("kind", "money") for e in paid} == set(CompensationKind)
    assert {e.public["method"] for e in paid} >= {"in_kind", "bank_transfer", "on_chain"}

    # A payout above the threshold: the offer needs the identity, verified before payment.
    large = [
        chain
        for chain in chains.values()
        if any(e.public.get("identity_required") for e in chain if e.type == "compensation_offered")
    ]
    assert large
    types = [e.type for e in large[0]]
    assert types.index("identity_verified") < types.index("compensation_paid")

    # The security question got its handler's target, and clocks from it.
    security = next(r.reference for r in rows if r.category == "security_question")
    assert "target_set" in [e.type for e in chains[security]]

    # The incident: three linked complaints, one holding reply each, naming the incident.
    links = ledger.complaints.reads.incident_links(INCIDENT)
    assert len(links) == 3
    for link in links:
        events = ledger.complaints.reads.events(link.reference)
        replies = [e for e in events if e.envelope.type == "holding_reply"]
        assert len(replies) == 1
        body = json.loads(replies[0].body_jcs)
        assert body["incident"] == INCIDENT and INCIDENT in body["message"]["text"]

    app = create_app(ledger.settings, ledger)
    regulator = json.loads((tmp_path / "demo-credentials.json").read_text())["api_keys"]
    r = app.test_client().get(
        f"/v1/incidents/{INCIDENT}",
        headers={"Authorization": f"Bearer {regulator['regulator']}"},
    )
    assert r.status_code == 200 and len(r.json["complaints"]) == 3
