"""The transactional outbox: a step's messages are queued in the step's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from ledger.casework.appends import Hooks
from ledger.complaints.errors import ComplaintError
from ledger.complaints.timestamps import format_timestamp
from ledger.logstore.models import LogEntry
from ledger.messages.ids import message_id, webhook_receiver
from ledger.messages.outbox import reminder_time
from tests.messages.conftest import AGENT, acknowledge, file_complaint, letter, outbox


class Boom(Exception):
    pass


def test_a_letter_to_a_consenting_customer_queues_one_email(ledger) -> None:
    ref = file_complaint(ledger)
    assert outbox(ledger) == []  # the received step has no letter
    step = acknowledge(ledger, ref)
    [row] = outbox(ledger)
    assert row.message_id == message_id(step.envelope.leaf_hash_hex, "email")
    assert (row.reference, row.for_seq, row.leaf_hash) == (ref, 1, step.envelope.leaf_hash_hex)
    assert (row.receiver, row.channel, row.template, row.language) == (
        "email", "email", "acknowledgement", "en",
    )  # fmt: skip
    assert (row.state, row.attempts, row.recorded_seq, row.last_error) == ("pending", 0, None, None)
    assert row.due_at == row.next_attempt_at == row.created_at == step.envelope.at_datetime


@pytest.mark.parametrize(("email", "consent"), [(None, True), ("jane.roe@example.org", False)])
def test_no_email_without_an_address_and_consent(ledger, email, consent) -> None:
    ref = file_complaint(ledger, email=email, consent=consent)
    acknowledge(ledger, ref)
    assert outbox(ledger) == []


def test_a_step_that_fails_queues_nothing(ledger) -> None:
    ref = file_complaint(ledger)
    size = ledger.store.size()

    def boom(conn, index, leaf):  # fails in the write transaction, after the listener ran
        raise Boom

    with pytest.raises(Boom):
        ledger.complaints.writes.record(
            ref, type="acknowledged", public={}, body={"responsible": "A", "message": letter()},
            actor=AGENT, hooks=Hooks(write=boom),
        )  # fmt: skip
    assert outbox(ledger) == []
    assert ledger.store.size() == size
    # A step the domain refuses never reaches the transaction either.
    with pytest.raises(ComplaintError):
        ledger.complaints.writes.record(
            ref, type="decision", public={}, body={"message": letter()}, actor=AGENT
        )
    assert outbox(ledger) == []
    acknowledge(ledger, ref)  # the same step, now allowed to commit: it and its email
    assert len(outbox(ledger)) == 1
    with ledger.engine.connect() as conn:
        assert conn.execute(select(LogEntry.idx).order_by(LogEntry.idx.desc())).first()[0] == size


def test_a_step_without_a_letter_costs_no_query_without_webhook_endpoints(ledger) -> None:
    ref = file_complaint(ledger)  # warms the endpoint cache
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    event.listen(ledger.engine, "before_cursor_execute", record)
    try:
        ledger.complaints.writes.record(
            ref, type="note_added", public={}, body={"text": "Called the customer."}, actor=AGENT
        )
    finally:
        event.remove(ledger.engine, "before_cursor_execute", record)
    assert seen, "the step was written"
    assert not [s for s in seen if "webhook_endpoints" in s or "outbox_messages" in s]
    assert not [s for s in seen if s.lstrip().upper().startswith("SELECT") and "event_bodies" in s]


def test_webhook_rows_per_active_subscribed_endpoint(ledger) -> None:
    endpoints = ledger.messages.endpoints
    every, _ = endpoints.create("https://a.example/hook", None, "admin1")
    acks, _ = endpoints.create("https://b.example/hook", ["acknowledged"], "admin1")
    gone, _ = endpoints.create("https://c.example/hook", ["*"], "admin1")
    endpoints.disable(gone.id)
    ref = file_complaint(ledger, email=None)
    step = acknowledge(ledger, ref)
    rows = outbox(ledger)
    by_receiver = {(r.receiver, r.for_seq) for r in rows}
    assert by_receiver == {
        (webhook_receiver(every.id), 0),
        (webhook_receiver(every.id), 1),
        (webhook_receiver(acks.id), 1),
    }
    for row in rows:
        assert row.channel == "webhook" and row.template == row.event_type and row.language is None
    ack = next(r for r in rows if r.receiver == webhook_receiver(acks.id))
    assert ack.message_id == message_id(step.envelope.leaf_hash_hex, webhook_receiver(acks.id))


def test_reminder_time() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    two_days = timedelta(days=2)
    assert reminder_time(at, at + timedelta(days=14), two_days) == at + timedelta(days=12)
    # Less than twice the lead: half-way.
    assert reminder_time(at, at + timedelta(days=3), two_days) == at + timedelta(hours=36)
    assert reminder_time(at, at + timedelta(hours=10), two_days) == at + timedelta(hours=5)


def test_an_info_request_with_a_reply_by_time_queues_its_reminder(ledger) -> None:
    ref = file_complaint(ledger)
    acknowledge(ledger, ref)
    respond_by = datetime.now(UTC) + timedelta(days=10)
    step = ledger.complaints.writes.record(
        ref,
        type="info_requested",
        public={"respond_by": format_timestamp(respond_by)},
        body={"request": "Your wallet address, please.", "message": letter()},
        actor=AGENT,
    )
    rows = {r.receiver: r for r in outbox(ledger) if r.for_seq == step.envelope.seq}
    assert set(rows) == {"email", "email:info_reminder"}
    reminder = rows["email:info_reminder"]
    assert reminder.template == "info_reminder" and reminder.state == "pending"
    expected = respond_by.replace(microsecond=respond_by.microsecond // 1000 * 1000)
    assert reminder.due_at == expected - timedelta(days=2) == reminder.next_attempt_at
    assert reminder.message_id == message_id(step.envelope.leaf_hash_hex, "email:info_reminder")
