"""The outbox for staff and monitoring: a listing without addresses or texts, and metrics."""

from __future__ import annotations

from datetime import timedelta

from ledger.access.apikeys import create_api_key
from ledger.messages.listing import outbox_summary
from tests.messages.conftest import EMAIL, acknowledge, file_complaint, outbox


def bearer(ledger, role: str) -> dict:
    token, _ = create_api_key(ledger.engine, role, role)
    return {"Authorization": f"Bearer {token}"}


def test_the_outbox_listing(ledger, client) -> None:
    refs = [file_complaint(ledger) for _ in range(3)]
    for ref in refs:
        acknowledge(ledger, ref)
    admin = bearer(ledger, "admin")
    page = client.get("/v1/outbox?state=pending&page_size=2", headers=admin)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert (page.json["total"], page.json["page"], page.json["page_size"]) == (3, 1, 2)
    assert len(page.json["messages"]) == 2
    rest = client.get("/v1/outbox?state=pending&page_size=2&page=2", headers=admin).json
    listed = {m["message_id"] for m in page.json["messages"] + rest["messages"]}
    assert listed == {r.message_id for r in outbox(ledger)}
    first = page.json["messages"][0]
    assert set(first) == {
        "message_id", "reference", "for_seq", "event_type", "template", "receiver", "state",
        "attempts", "last_error", "created_at", "due_at", "next_attempt_at", "sent_at",
        "recorded_seq",
    }  # fmt: skip
    text = page.get_data(as_text=True) + str(rest)
    assert EMAIL not in text and "Dear Jane" not in text
    assert client.get("/v1/outbox?state=dead", headers=admin).json["total"] == 0
    assert client.get("/v1/outbox", headers=bearer(ledger, "supervisor")).json["total"] == 3
    assert client.get("/v1/outbox", headers=bearer(ledger, "agent")).status_code == 403
    bad = client.get("/v1/outbox?state=lost", headers=admin)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def test_the_outbox_summary_and_metrics(ledger, client) -> None:
    ref = file_complaint(ledger)
    acknowledge(ledger, ref)
    [row] = outbox(ledger)
    summary = outbox_summary(ledger.engine, now=row.due_at + timedelta(seconds=90))
    assert summary["messages"]["pending"] == 1 and summary["messages"]["dead"] == 0
    assert summary["oldest_pending_seconds"] == 90
    early = outbox_summary(ledger.engine, now=row.due_at - timedelta(seconds=1))
    assert early["oldest_pending_seconds"] == 0  # not due yet: nobody waits
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'ledger_outbox_messages{state="pending"} 1.0' in metrics
    assert "ledger_outbox_oldest_pending_seconds" in metrics
