"""The letters the write path puts in a step's body: the customer's name from the received
step (gone once erased), the time frame from the service rules or the handler, the block
explorer and the portal from the deployment's settings, and the API key's name as the person
responsible when an acknowledgement names none."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.access.apikeys import create_api_key
from ledger.casework.letters import LetterSettings
from ledger.complaints.errors import TemplateError
from ledger.complaints.events import Actor
from ledger.complaints.texts import locale
from ledger.complaints.vocab import Role
from ledger.config import Settings
from ledger.runtime import letter_settings

CUSTOMER = Actor(Role.CUSTOMER, "customer")
AGENT = Actor(Role.AGENT, "agent-1")
ADMIN = Actor(Role.ADMIN, "admin-1")
CONTACT = {"name": "Ana Silva", "email": "ana@example.org", "consent": True}
TX = "0x" + "ab" * 32


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def file(ledger, category: str = "stuck_transaction", language: str = "pt", contact=CONTACT):
    public = {"category": category, "channel": "web_form", "language": language,
              "jurisdiction": "EU-PSD2"}  # fmt: skip
    body = {"description": "A minha transferência está pendente."}
    if contact is not None:
        body["contact"] = contact
    recorded, _ = ledger.complaints.writes.file(public, body, CUSTOMER)
    return recorded


def step(ledger, ref: str, type_: str, public=None, body=None, actor=AGENT):
    public, body = public or {}, body or {}
    body = ledger.complaints.writes.with_letter(ref, type_, public, body, role=actor.role)
    ledger.complaints.writes.record(ref, type=type_, public=public, body=body, actor=actor)
    return body


def test_the_letters_quote_the_name_until_it_is_erased(ledger) -> None:
    filed = file(ledger)
    ref = filed.state.reference
    ack = step(ledger, ref, "acknowledged", body={"responsible": "Marta Soler"})["message"]
    assert ack["language"] == "pt" and ref in ack["subject"]
    text = ack["text"]
    assert text.startswith("Caro(a) Ana Silva,\n\n")
    assert "Responsável pelo seu caso: Marta Soler" in text
    assert "Prazo previsto para a resolução: de 4 a 12 horas" in text
    request = {"request": "O hash da transação."}
    asked = step(ledger, ref, "info_requested", body=request)["message"]["text"]
    assert "Ana Silva" in asked and "/portal" in asked
    erasure = {"erases": filed.envelope.leaf_hash_hex, "basis": "gdpr_art17"}
    ledger.complaints.writes.record(ref, type="erased", public=erasure, body={}, actor=ADMIN)
    later = step(ledger, ref, "holding_reply", body={"reason": "Aguardamos a rede."})
    assert later["message"]["text"].startswith(locale("pt")["salutation"]["generic"])
    assert "Ana Silva" not in later["message"]["text"]


def test_no_contact_means_the_generic_salutation(ledger) -> None:
    ref = file(ledger, language="en", contact=None).state.reference
    ack = step(ledger, ref, "acknowledged", body={"responsible": "Marta Soler"})
    assert ack["message"]["text"].startswith("Dear Sir or Madam,\n\n")


def test_an_acknowledgement_without_its_responsible_person_is_refused(ledger) -> None:
    ref = file(ledger).state.reference
    with pytest.raises(TemplateError) as exc:
        ledger.complaints.writes.with_letter(ref, "acknowledged", {}, {})
    assert exc.value.code == "MISSING_FACT" and "responsible" in exc.value.message


def test_an_untimed_category_quotes_the_handlers_target_once_set(ledger) -> None:
    ref = file(ledger, category="security_question", language="en").state.reference
    writes = ledger.complaints.writes
    before = writes.with_letter(ref, "acknowledged", {}, {"responsible": "Marta Soler"})
    assert locale("en")["time_frame"]["to_be_set"] in before["message"]["text"]
    target = {"target_minutes": 120, "limit_minutes": 480}
    writes.record(ref, type="target_set", public=target, body={}, actor=AGENT)
    after = writes.with_letter(ref, "acknowledged", {}, {"responsible": "Marta Soler"})
    assert "Our time frame for resolving it: 2 to 8 hours" in after["message"]["text"]


def test_payment_and_closure_letters_use_the_deployments_settings(ledger, monkeypatch) -> None:
    ref = file(ledger, language="en").state.reference
    writes = ledger.complaints.writes
    settings = LetterSettings(
        portal_url="https://complaints.example/portal",
        explorer_tx_urls={1: "https://etherscan.io/tx/{tx}"},
    )
    monkeypatch.setattr(writes, "letters", settings)
    paid = {"amount": "20.00", "asset": "USDC", "method": "on_chain", "tx_hash": TX, "chain_id": 1}
    text = writes.with_letter(ref, "compensation_paid", paid, paid)["message"]["text"]
    assert f"Transaction: {TX}\nView it on the block explorer: https://etherscan.io/tx/{TX}" in text
    other_chain = {**paid, "chain_id": 10}
    text = writes.with_letter(ref, "compensation_paid", paid, other_chain)["message"]["text"]
    assert f"Transaction: {TX}\n" in text and "etherscan" not in text
    closed = writes.with_letter(ref, "closed", {"reason": "resolved"}, {})["message"]["text"]
    assert "in the customer portal: https://complaints.example/portal" in closed


def test_letter_settings_from_the_deployment(settings: Settings, monkeypatch) -> None:
    assert letter_settings(settings).portal_url == "/portal"
    public = dataclasses.replace(settings, public_url="https://complaints.example/app")
    assert letter_settings(public).portal_url == "https://complaints.example/app/portal"
    monkeypatch.setenv("LEDGER_PUBLIC_URL", "https://complaints.example/")
    monkeypatch.setenv("LEDGER_EXPLORER_TX_URLS", '{"8453": "https://basescan.org/tx/{tx}"}')
    configured = letter_settings(Settings())
    assert configured.portal_url == "https://complaints.example/portal"
    assert configured.explorer_url(8453, TX) == f"https://basescan.org/tx/{TX}"
    assert configured.explorer_url(1, TX) is None and configured.explorer_url(True, TX) is None
    monkeypatch.setenv("LEDGER_PUBLIC_URL", "complaints.example")
    with pytest.raises(ValueError, match="LEDGER_PUBLIC_URL"):
        Settings()


def test_the_api_names_the_acknowledging_key_as_responsible(ledger, client) -> None:
    token = create_api_key(ledger.engine, "Joana Costa", "agent")[0]
    ref = file(ledger, language="en").state.reference
    url = f"/v1/complaints/{ref}/events"
    r = client.post(url, json={"type": "acknowledged"}, headers=auth(token))
    assert r.status_code == 201, r.json
    event = r.json["event"]
    assert "Joana Costa" not in str(event["public"]) + str(event["actor"])  # not in the leaf
    timeline = client.get(f"/v1/complaints/{ref}/timeline", headers=auth(token)).json
    body = timeline["events"][event["seq"]]["body"]
    assert body["responsible"] == "Joana Costa"
    assert "The person responsible for your complaint: Joana Costa" in body["message"]["text"]
    other = file(ledger, language="en").state.reference
    named = {"type": "acknowledged", "body": {"responsible": "Marta Soler"}}
    r = client.post(f"/v1/complaints/{other}/events", json=named, headers=auth(token))
    assert r.status_code == 201, r.json
    timeline = client.get(f"/v1/complaints/{other}/timeline", headers=auth(token)).json
    body = timeline["events"][r.json["event"]["seq"]]["body"]
    assert body["responsible"] == "Marta Soler" and "Joana Costa" not in body["message"]["text"]


def test_a_malformed_letter_fact_is_a_422_naming_it(ledger, client) -> None:
    token = create_api_key(ledger.engine, "Joana Costa", "agent")[0]
    ref = file(ledger, language="en").state.reference
    bad = {"type": "acknowledged", "body": {"responsible": {"name": "x"}}}
    r = client.post(f"/v1/complaints/{ref}/events", json=bad, headers=auth(token))
    assert r.status_code == 422 and "body.responsible" in r.json["errors"]["json"]
    assert ledger.complaints.reads.state(ref).seq == 0
