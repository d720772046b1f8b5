"""The complaint page: the status, clocks, letters and messages as the read services give
them, and the customer's steps the domain allows, recorded as the API would record them."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from api import create_app
from ledger.complaints.events import Actor
from ledger.complaints.payloads import message_text_sha256
from ledger.complaints.vocab import Role
from ledger.runtime import open_ledger
from tests.portal.helpers import Staff, act, complaint_page, file_complaint, html

TX = "0x" + "ab" * 32


def _types(staff, reference) -> list[str]:
    return [e["type"] for e in staff.events(reference)]


def test_status_clocks_and_the_acknowledgement_letter(browser_client, filed, staff) -> None:
    staff.acknowledge(filed.reference)
    page = complaint_page(browser_client, filed.reference)
    assert 'data-status="acknowledged"' in page
    assert 'data-clock="first_response" data-status="met"' in page
    assert 'data-testid="letter-1"' in page and "Rui Costa" in page  # the named handler
    assert 'data-testid="rate-form-1"' in page  # the acknowledgement may be rated
    href = re.search(r'href="([^"]+)" id="verify-link"', page).group(1)
    path, _, query = href.partition("?")
    assert path == "/verify" and parse_qs(query) == {"reference": [filed.reference]}


def test_rating_a_step(browser_client, filed, staff) -> None:
    staff.acknowledge(filed.reference)
    resp = act(browser_client, filed.reference, "rate", {"rates": "1", "csat": "4"})
    assert resp.status_code == 303
    last = staff.events(filed.reference)[-1]
    assert last["type"] == "rated" and last["public"]["csat"] == 4 and last["public"]["rates"] == 1
    page = complaint_page(browser_client, filed.reference)
    assert 'data-testid="rate-form-1"' not in page  # once per step
    # A rating without a choice: refused, next to the scale.
    staff.request_info(filed.reference)
    resp = act(browser_client, filed.reference, "rate", {"rates": "3"})
    assert resp.status_code == 400 and 'id="csat-3-1-error"' in html(resp)


def test_accepting_an_offer_then_the_payment_and_nps(settings) -> None:
    explorer = {1: "https://explorer.example/tx/{tx}"}
    led = open_ledger(dataclasses.replace(settings, explorer_tx_urls=explorer))
    try:
        app = create_app(led.settings, led)
        client, staff = app.test_client(), Staff(app.test_client(), led)
        filed = file_complaint(client)
        staff.acknowledge(filed.reference)
        staff.decide(filed.reference)
        staff.offer(filed.reference)
        page = complaint_page(client, filed.reference)
        assert 'data-testid="offer-amount"' in page and "25.00" in page
        assert act(client, filed.reference, "accept").status_code == 303
        assert _types(staff, filed.reference)[-1] == "compensation_accepted"
        staff.pay(filed.reference, TX, chain_id=1)
        page = complaint_page(client, filed.reference)
        assert f'href="https://explorer.example/tx/{TX}"' in page
        staff.close(filed.reference)
        page = complaint_page(client, filed.reference)
        assert 'data-testid="nps-form"' in page
        assert act(client, filed.reference, "nps", {"nps": "9"}).status_code == 303
        last = staff.events(filed.reference)[-1]
        assert last["type"] == "nps_given" and last["public"]["nps"] == 9
        assert 'data-testid="nps-form"' not in complaint_page(client, filed.reference)
    finally:
        led.close()


def test_a_vault_offer_asks_for_the_address_twice(browser_client, filed, staff) -> None:
    staff.acknowledge(filed.reference)
    staff.decide(filed.reference)
    staff.offer(filed.reference, vault=True)
    address = "0x" + "Cd" * 20
    before = staff.events(filed.reference)
    resp = act(browser_client, filed.reference, "accept", {"vault": "1", "recipient": "0x123",
               "recipient_confirm": "0x123"})  # fmt: skip
    assert resp.status_code == 400 and 'id="recipient-error"' in html(resp)
    resp = act(browser_client, filed.reference, "accept", {"vault": "1", "recipient": address,
               "recipient_confirm": "0x" + "cd" * 19 + "ce"})  # fmt: skip
    assert resp.status_code == 400 and 'id="recipient-confirm-error"' in html(resp)
    # Without the address at all (a form that lost it): the domain refuses, in its words.
    resp = act(browser_client, filed.reference, "accept", {})
    assert resp.status_code == 409 and "receiving address" in html(resp)
    assert staff.events(filed.reference) == before
    resp = act(browser_client, filed.reference, "accept", {"vault": "1", "recipient": address,
               "recipient_confirm": address.lower().replace("0x", "0x")})  # fmt: skip
    assert resp.status_code == 303
    last = staff.events(filed.reference)[-1]
    assert last["type"] == "compensation_accepted"
    assert last["body"]["recipient"] == address and "payout" in last["public"]


def test_declining_an_offer_with_a_reason(browser_client, filed, staff) -> None:
    staff.acknowledge(filed.reference)
    staff.decide(filed.reference)
    staff.offer(filed.reference)
    assert act(browser_client, filed.reference, "decline",
               {"reason": "amount_too_low"}).status_code == 303  # fmt: skip
    last = staff.events(filed.reference)[-1]
    assert last["type"] == "compensation_declined"
    assert last["public"]["reason"] == "amount_too_low"


def test_confirming_the_fix(browser_client, filed, staff) -> None:
    staff.acknowledge(filed.reference)
    staff.step(filed.reference, "playbook_step", {"step": "chain_error_found"})
    by = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    staff.step(filed.reference, "playbook_step", {"step": "customer_updated", "confirm_by": by})
    page = complaint_page(browser_client, filed.reference)
    assert 'data-testid="confirm-form"' in page
    assert act(browser_client, filed.reference, "confirm",
               {"step": "resolution_confirmed"}).status_code == 303  # fmt: skip
    last = staff.events(filed.reference)[-1]
    assert last["public"]["step"] == "resolution_confirmed"
    assert last["public"]["confirmation"] == "customer" and last["actor"]["role"] == "customer"


@pytest.mark.parametrize("action", ["withdraw", "refer"])
def test_withdrawing_and_referring_need_a_confirmation(browser_client, filed, staff, action):
    before = staff.events(filed.reference)
    resp = act(browser_client, filed.reference, action, {"to": "ombudsman"})
    assert resp.status_code == 400 and f'id="{action}-confirm-error"' in html(resp)
    assert staff.events(filed.reference) == before
    resp = act(browser_client, filed.reference, action, {"to": "ombudsman", "confirm": "yes"})
    assert resp.status_code == 303
    expected = {"withdraw": "withdrawn", "refer": "referred"}[action]
    assert _types(staff, filed.reference)[-1] == expected


def test_adding_evidence(browser_client, filed, staff) -> None:
    resp = act(browser_client, filed.reference, "evidence",
               {"description": "The app showed error 502."},
               content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 303
    last = staff.events(filed.reference)[-1]
    assert last["type"] == "evidence_added"
    assert last["body"]["description"] == "The app showed error 502."


def test_messages_sent_show_on_the_letter_they_delivered(browser_client, filed, staff, ledger):
    staff.acknowledge(filed.reference)
    letter = staff.events(filed.reference)[1]["body"]["message"]
    ledger.complaints.writes.record(
        filed.reference,
        type="message_sent",
        public={"channel": "email", "template": "acknowledgement", "language": "en",
                "for_seq": 1, "text_sha256": message_text_sha256(letter["text"]),
                "outcome": "delivered", "message_id": "msg_" + "0" * 32, "attempts": 1},
        body={"to": "ana@example.org", "subject": letter["subject"], "text": letter["text"]},
        actor=Actor(Role.SYSTEM, "dispatcher"),
    )  # fmt: skip
    page = complaint_page(browser_client, filed.reference)
    assert 'data-testid="sent-1"' in page and "Sent to you by email on" in page
    assert 'data-type="message_sent"' in page


def test_the_evidence_bundle_downloads(browser_client, filed, staff) -> None:
    path = f"/portal/complaints/{filed.reference}/bundle"
    page = complaint_page(browser_client, filed.reference)
    from tests.portal.helpers import form_of

    resp = browser_client.post(path, data=form_of(page, path))
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.data[:2] == b"PK"
    assert _types(staff, filed.reference)[-1] == "bundle_exported"


def test_the_person_responsible_is_the_owner_while_there_is_one(browser_client, filed, staff):
    """The acknowledgement names Rui Costa; an agent claims the complaint as Ana Silva (her
    pseudonym on the log, her name in the body); an escalation clears the owner again."""
    staff.acknowledge(filed.reference)
    responsible = 'data-testid="complaint-responsible">{}<'
    assert responsible.format("Rui Costa") in complaint_page(browser_client, filed.reference)
    agent = staff.events(filed.reference)[-1]["actor"]["id"]  # the agent's API key id
    staff.step(filed.reference, "assigned", {"owner": agent, "how": "claim"},
               {"owner_name": "Ana Silva"})  # fmt: skip
    page = complaint_page(browser_client, filed.reference)
    assert responsible.format("Ana Silva") in page
    assert agent not in page  # the pseudonym stays on the log
    staff.step(filed.reference, "escalated", {"level": "specialist", "specialism": "security"})
    assert responsible.format("Rui Costa") in complaint_page(browser_client, filed.reference)
