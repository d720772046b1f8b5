"""The demo seed covers every category, channel, language and outcome, and verifies."""

from __future__ import annotations

import json

from api import create_app
from ledger.demo import seed_demo
from ledger.verify.complaint import verify_complaint_proof


def test_demo_seed_is_complete_verifiable_and_once(ledger, tmp_path) -> None:
    info = seed_demo(ledger, tmp_path)
    assert info.created and info.customer_secret
    assert (info.credentials_file.stat().st_mode & 0o777) == 0o600
    assert not seed_demo(ledger, tmp_path).created
    total, rows = ledger.complaints.reads.list(limit=100)
    assert total == 12
    assert {r.category for r in rows} >= {"lost_recovery_phrase", "stuck_transaction",
            "hacked_account", "interface_fault", "sync_fault", "refund_or_claim"}  # fmt: skip
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
