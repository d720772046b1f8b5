"""The dispatcher against a real SMTP server (aiosmtpd): letters delivered once, recorded
once as message_sent with the SHA-256 of the exact text; retries, dead letters, skips."""

from __future__ import annotations

import hashlib
import json

from aiosmtpd.controller import Controller

from ledger.complaints.events import Actor
from ledger.complaints.vocab import Role
from ledger.messages.mailserver import MailServer
from ledger.messages.smtp import delivered_text
from tests.messages.conftest import (
    AGENT,
    CUSTOMER,
    EMAIL,
    acknowledge,
    events_of,
    file_complaint,
    make_dispatcher,
    outbox,
)

TEXT = "Dear Jane Roe,\n\nWe have your complaint; Ana Agent handles it.\nÜber 投诉 жалоба"


def test_a_letter_is_delivered_and_recorded_once(ledger, mail, dispatcher) -> None:
    ref = file_complaint(ledger)
    ack = acknowledge(ledger, ref, subject="Ваша жалоба", text=TEXT)
    assert dispatcher.step() == 1
    [row] = outbox(ledger)
    assert (row.state, row.attempts, row.recorded_seq, row.last_error) == ("recorded", 1, 2, None)
    [name] = mail.folder.names()
    assert name == row.message_id
    received = mail.folder.read(name)
    assert received["To"] == EMAIL and received["Subject"] == "Ваша жалоба"
    assert received["Message-ID"] == f"<{row.message_id}@ledger.example>"
    assert received["X-Ledger-Reference"] == ref
    text = received.get_content().replace("\r\n", "\n")  # SMTP carries lines as CRLF
    assert text == delivered_text(TEXT)

    [sent] = events_of(ledger, ref, "message_sent")
    assert sent.seq == 2 and sent.envelope.actor.to_json() == {"role": "system", "id": "dispatcher"}
    public = sent.envelope.public
    assert public == {
        "state": "acknowledged",
        "channel": "email",
        "template": "acknowledgement",
        "language": "en",
        "for_seq": ack.envelope.seq,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "outcome": "delivered",
        "message_id": row.message_id,
        "attempts": 1,
    }
    assert json.loads(sent.body_jcs) == {"to": EMAIL, "subject": "Ваша жалоба", "text": text}

    assert dispatcher.step() == 0  # nothing left: no second email, no second record
    assert len(mail.folder.receipts()) == 1
    assert len(events_of(ledger, ref, "message_sent")) == 1


def test_the_smtp_server_down_for_a_while(ledger, tmp_path, mail_port, clock) -> None:
    dispatcher = make_dispatcher(ledger, mail_port, clock, backoff_seconds=10, max_attempts=8)
    refs = [file_complaint(ledger) for _ in range(3)]
    for ref in refs:
        acknowledge(ledger, ref)
    assert dispatcher.step() == 3  # nobody listens
    rows = outbox(ledger)
    assert {(r.state, r.attempts) for r in rows} == {("pending", 1)}
    assert all("unreachable" in r.last_error for r in rows)
    assert dispatcher.step() == 0  # backing off: 5 s (half of 10, rng 0)
    clock.advance(6)
    assert dispatcher.step() == 3  # still down: second attempts
    assert {(r.state, r.attempts) for r in outbox(ledger)} == {("pending", 2)}
    clock.advance(11)  # 10 s after the second failure
    with MailServer(tmp_path / "mail", port=mail_port) as mail:
        assert dispatcher.step() == 3
        assert dispatcher.step() == 0
        assert len(mail.folder.names()) == 3 == len(mail.folder.receipts())  # none twice
    rows = outbox(ledger)
    assert {(r.state, r.attempts, r.last_error) for r in rows} == {("recorded", 3, None)}
    for ref in refs:
        [sent] = events_of(ledger, ref, "message_sent")
        assert sent.envelope.public["attempts"] == 3
        assert sent.envelope.public["outcome"] == "delivered"


class Refusing:
    """An SMTP server that refuses every recipient for good (550)."""

    async def handle_RCPT(self, server, session, envelope, address, options):
        return "550 5.1.1 <jane.roe@example.org>: mailbox unavailable"


def test_a_permanent_refusal_is_a_dead_letter_recorded_as_failed(
    ledger, mail_port, dispatcher, client
) -> None:
    from ledger.access.apikeys import create_api_key

    ref = file_complaint(ledger)
    acknowledge(ledger, ref, text=TEXT)
    controller = Controller(Refusing(), hostname="127.0.0.1", port=mail_port)
    controller.start()
    try:
        assert dispatcher.step() == 2  # sent (refused), then recorded as failed
    finally:
        controller.stop()
    [row] = outbox(ledger)
    assert (row.state, row.attempts, row.recorded_seq) == ("dead", 1, 2)
    assert row.last_error.startswith("SMTP recipient refused (550)")
    [sent] = events_of(ledger, ref, "message_sent")
    assert sent.envelope.public["outcome"] == "failed"
    assert (
        sent.envelope.public["text_sha256"]
        == hashlib.sha256(delivered_text(TEXT).encode()).hexdigest()
    )
    assert dispatcher.step() == 0

    token, _ = create_api_key(ledger.engine, "supervisor", "supervisor")
    listing = client.get("/v1/outbox?state=dead", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    [dead] = listing.json["messages"]
    assert listing.json["total"] == 1
    assert dead["message_id"] == row.message_id and dead["reference"] == ref
    assert (dead["receiver"], dead["template"], dead["recorded_seq"]) == (
        "email", "acknowledgement", 2,
    )  # fmt: skip
    assert EMAIL not in listing.get_data(as_text=True)
    assert "Dear Jane" not in listing.get_data(as_text=True)


def test_out_of_attempts_is_dead_and_recorded_as_failed(ledger, mail_port, clock) -> None:
    dispatcher = make_dispatcher(ledger, mail_port, clock, backoff_seconds=1, max_attempts=3)
    ref = file_complaint(ledger)
    acknowledge(ledger, ref)
    for _ in range(3):
        assert dispatcher.step() >= 1
        clock.advance(5)
    [row] = outbox(ledger)
    assert (row.state, row.attempts, row.recorded_seq) == ("dead", 3, 2)
    assert "gave up after 3" in row.last_error
    [sent] = events_of(ledger, ref, "message_sent")
    assert (sent.envelope.public["outcome"], sent.envelope.public["attempts"]) == ("failed", 3)
    assert dispatcher.step() == 0


def test_an_erased_contact_stops_the_message(ledger, mail, dispatcher) -> None:
    ref = file_complaint(ledger)
    acknowledge(ledger, ref)
    received = ledger.complaints.reads.events(ref)[0]
    ledger.complaints.writes.record(
        ref,
        type="erased",
        public={"erases": received.envelope.leaf_hash_hex, "basis": "gdpr_art17"},
        body={},
        actor=Actor(Role.LEGAL, "legal-1"),
    )
    dispatcher.step()
    [row] = [r for r in outbox(ledger) if r.channel == "email"]
    assert row.state == "skipped" and "erased" in row.last_error
    assert mail.folder.names() == []
    assert events_of(ledger, ref, "message_sent") == []


def test_a_delivery_recorded_by_another_dispatcher_is_not_recorded_again(
    ledger, mail, dispatcher
) -> None:
    ref = file_complaint(ledger)
    acknowledge(ledger, ref)
    [queued] = dispatcher.claim()
    dispatcher._send_email(queued, dispatcher._letter(queued))
    dispatcher._finish(queued, "delivered", None)
    letter = dispatcher._letter(queued)
    assert dispatcher.record(queued, letter, "delivered") == 2
    assert dispatcher.record(queued, letter, "delivered") is None  # refused in its transaction
    assert dispatcher.record_pending() == 0
    assert len(events_of(ledger, ref, "message_sent")) == 1


def _request_info(ledger, ref: str, days: float = 10):
    from datetime import UTC, datetime, timedelta

    from ledger.complaints.timestamps import format_timestamp

    respond_by = datetime.now(UTC) + timedelta(days=days)
    return ledger.complaints.writes.record(
        ref,
        type="info_requested",
        public={"respond_by": format_timestamp(respond_by)},
        body={"request": "The address you sent the USDC to.", "message": letter_body()},
        actor=AGENT,
    )


def letter_body() -> dict:
    return {"language": "en", "subject": "We need information", "text": "Please send it."}


def test_an_unanswered_request_gets_its_reminder(ledger, mail, dispatcher, clock) -> None:
    ref = file_complaint(ledger)
    acknowledge(ledger, ref)
    request = _request_info(ledger, ref, days=10)
    dispatcher.step()
    assert len(mail.folder.names()) == 2  # acknowledgement and request; not the reminder yet
    clock.advance(8 * 86400 + 60)  # two days before the reply-by date
    assert dispatcher.step() == 1
    [reminder] = [r for r in outbox(ledger) if r.receiver == "email:info_reminder"]
    assert reminder.state == "recorded"
    received = mail.folder.read(reminder.message_id)
    text = received.get_content().replace("\r\n", "\n")
    assert "The address you sent the USDC to." in text and "Jane Roe" in text
    sent = events_of(ledger, ref, "message_sent")
    assert [e.envelope.public["template"] for e in sent] == [
        "acknowledgement", "info_request", "info_reminder",
    ]  # fmt: skip
    public = sent[-1].envelope.public
    assert public["for_seq"] == request.envelope.seq
    assert public["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()


def test_a_request_answered_in_time_gets_no_reminder(ledger, mail, dispatcher, clock) -> None:
    ref = file_complaint(ledger)
    acknowledge(ledger, ref)
    _request_info(ledger, ref, days=1)  # reminder half-way: 12 hours later
    ledger.complaints.writes.record(
        ref, type="info_received", public={}, body={"text": "0x5d1f..."}, actor=CUSTOMER
    )
    clock.advance(13 * 3600)
    dispatcher.step()
    dispatcher.step()
    [reminder] = [r for r in outbox(ledger) if r.receiver == "email:info_reminder"]
    assert reminder.state == "skipped" and "answered" in reminder.last_error
    assert len(mail.folder.names()) == 2
    assert len(events_of(ledger, ref, "message_sent")) == 2


def test_a_real_letter_is_delivered_recorded_and_verifies(ledger, mail, dispatcher, client):
    from ledger.verify.complaint import verify_complaint_proof

    public = {"category": "sync_fault", "channel": "email", "language": "pt",
              "jurisdiction": "EU-PSD2"}  # fmt: skip
    contact = {"name": "Joana Silva", "email": "joana@example.org", "consent": True}
    filed, secret = ledger.complaints.writes.file(
        public, {"description": "Saldo a zero.", "contact": contact}, CUSTOMER
    )
    ref = filed.state.reference
    writes = ledger.complaints.writes
    body = writes.with_letter(ref, "acknowledged", {}, {"responsible": "Ana Agente"})
    writes.record(ref, type="acknowledged", public={}, body=body, actor=AGENT)
    dispatcher.step()
    [name] = mail.folder.names()
    text = mail.folder.read(name).get_content().replace("\r\n", "\n")
    assert "Joana Silva" in text and "Ana Agente" in text and ref in text
    assert text == delivered_text(body["message"]["text"])
    [sent] = events_of(ledger, ref, "message_sent")
    assert sent.envelope.public["language"] == "pt"

    headers = {"Authorization": f"Bearer {secret}"}
    proof = client.get(f"/v1/complaints/{ref}/proof", headers=headers).json
    vkey = client.get("/v1/log/keys").json["verifier_key"]
    report = verify_complaint_proof(proof, vkey)
    assert report.ok, report.failures
