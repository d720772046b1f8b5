"""The transactional outbox: a step's messages are queued in the step's own transaction.

``Outbox.enqueue`` is a step listener of ``ComplaintWrites`` (the runtime passes it in): it
runs inside the transaction that appends the step, so a step and its messages commit
together or not at all. It queues

* an email to the customer when the step's body carries a letter (``message``) and the
  complaint's contact has an address and the customer's consent;
* for an info request with ``respond_by``, a reminder email due ``LEDGER_REMINDER_BEFORE``
  ahead (at most half the time the customer was given), skipped at its time if the request
  was answered meanwhile (``ledger.messages.dispatcher``);
* a webhook delivery per active endpoint subscribed to the step's type.

A step without a letter costs no query unless a webhook endpoint is active (the endpoints
are cached); a letter step reads the contact from the received body, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ledger.casework.letters import LETTERS
from ledger.complaints.events import Envelope
from ledger.complaints.texts import MessageKind
from ledger.complaints.timestamps import parse_timestamp
from ledger.complaints.vocab import EventType
from ledger.logstore.store import defer_insert
from ledger.messages.contacts import email_of, received_contact
from ledger.messages.endpoints import WebhookEndpoints
from ledger.messages.ids import EMAIL, EMAIL_REMINDER, message_id, webhook_receiver
from ledger.messages.models import Channel, OutboxMessage, OutboxState

INFO_REMINDER = "info_reminder"  # texts.MessageKind.INFO_REMINDER (helper C's letters)


def letter_kind(event_type: str, body: Mapping[str, Any]) -> str:
    """The template of a step's letter (an incident's holding reply has its own)."""
    if event_type == EventType.HOLDING_REPLY and body.get("incident"):
        return str(MessageKind.INCIDENT_HOLDING_REPLY)
    return LETTERS.get(event_type, event_type)


def reminder_time(requested_at: datetime, respond_by: datetime, before: timedelta) -> datetime:
    """When to remind: ``before`` ahead of the reply-by time, or half-way when the customer
    was given less than twice that."""
    lead = min(before, (respond_by - requested_at) / 2)
    return respond_by - lead


class Outbox:
    def __init__(self, endpoints: WebhookEndpoints, reminder_before: timedelta) -> None:
        self.endpoints = endpoints
        self.reminder_before = reminder_before

    def enqueue(
        self,
        conn: Connection,
        reference: str,
        envelope: Envelope,
        body: Mapping[str, Any],
        log_index: int,
    ) -> None:
        """Queue the step's messages (a ``ComplaintWrites`` listener; same transaction)."""
        at = envelope.at_datetime
        event_type = str(envelope.type)
        leaf = envelope.leaf_hash_hex

        def queue(receiver: str, channel: Channel, template: str, language: str | None,
                  due: datetime) -> None:  # fmt: skip
            defer_insert(
                conn,
                OutboxMessage,
                {
                    "message_id": message_id(leaf, receiver),
                    "reference": reference,
                    "for_seq": envelope.seq,
                    "leaf_hash": leaf,
                    "event_type": event_type,
                    "receiver": receiver,
                    "channel": channel,
                    "template": template,
                    "language": language,
                    "state": OutboxState.PENDING,
                    "attempts": 0,
                    "due_at": due,
                    "next_attempt_at": due,
                    "last_error": None,
                    "created_at": at,
                    "sent_at": None,
                    "recorded_seq": None,
                },
            )

        letter = body.get("message")
        respond_by = envelope.public.get("respond_by")
        reminder = event_type == EventType.INFO_REQUESTED and isinstance(respond_by, str)
        if isinstance(letter, Mapping) or reminder:
            # The received step carries its own contact; later steps read it (one query).
            contact = (
                body.get("contact") if envelope.seq == 0 else received_contact(conn, reference)
            )
            if email_of(contact) is not None:
                language = letter.get("language") if isinstance(letter, Mapping) else None
                if isinstance(letter, Mapping):
                    queue(EMAIL, Channel.EMAIL, letter_kind(event_type, body), language, at)
                if reminder:
                    due = reminder_time(at, parse_timestamp(respond_by), self.reminder_before)
                    if due > at:
                        queue(EMAIL_REMINDER, Channel.EMAIL, INFO_REMINDER, language, due)
        for endpoint in self.endpoints.active(conn):
            if endpoint.receives(event_type):
                queue(webhook_receiver(endpoint.id), Channel.WEBHOOK, event_type, None, at)
