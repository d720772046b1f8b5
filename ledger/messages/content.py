"""What a queued message says, read from the log's side tables when it is sent.

The outbox keeps neither address nor text: an email's address is the complaint's contact (its
received body), its text the letter in the step's body (or, for a reminder, rendered then);
a webhook's payload is built from the step's leaf and body. Erased bodies stop both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from ledger.casework.letters import LetterSettings, render_reminder
from ledger.casework.reads import ComplaintReads
from ledger.casework.records import ComplaintEvent
from ledger.complaints.errors import TemplateError
from ledger.complaints.events import parse_envelope
from ledger.complaints.vocab import EventType
from ledger.logstore.store import LogStore
from ledger.messages.contacts import body_of, email_of, received_contact
from ledger.messages.ids import EMAIL_REMINDER
from ledger.messages.smtp import delivered_text
from ledger.messages.webhooks import event_payload


@dataclass(frozen=True)
class Letter:
    """An email as delivered: to whom, its subject and its exact text."""

    to: str
    subject: str
    text: str
    language: str


@dataclass(frozen=True)
class Skip:
    """Nothing to send, and why (safe to store: no address, no text)."""

    reason: str


@dataclass(frozen=True)
class Queued:
    """The outbox row a dispatcher claimed."""

    message_id: str
    reference: str
    for_seq: int
    leaf_hash: str
    event_type: str
    receiver: str
    channel: str
    template: str
    language: str | None
    attempts: int


def letter_for(
    conn: Connection, row: Queued, reads: ComplaintReads, settings: LetterSettings
) -> Letter | Skip:
    """The email ``row`` stands for, or why there is none (any more)."""
    contact = received_contact(conn, row.reference)
    to = email_of(contact)
    if to is None:
        return Skip("no contact with an email address and consent (erased?)")
    if row.receiver == EMAIL_REMINDER:
        return _reminder(row, reads, to, contact, settings)
    body = body_of(conn, row.leaf_hash)
    message = body.get("message") if body is not None else None
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return Skip("the step's letter was erased")
    return Letter(
        to,
        str(message.get("subject", "")),
        delivered_text(message["text"]),
        str(message.get("language") or row.language or ""),
    )


def _reminder(
    row: Queued,
    reads: ComplaintReads,
    to: str,
    contact: Mapping[str, Any] | None,
    settings: LetterSettings,
) -> Letter | Skip:
    """The reminder of an information request still unanswered (else a Skip)."""
    state = reads.state(row.reference)
    asked = [i for i, e in enumerate(state.events) if e.type == EventType.INFO_REQUESTED]
    if not state.info_pending or not asked or asked[-1] != row.for_seq:
        return Skip("the information request was answered or closed before the reminder")
    request = reads.events(row.reference)[row.for_seq]
    body = json.loads(request.body_jcs) if request.body_jcs is not None else {}
    respond_by = request.envelope.public.get("respond_by") or body.get("respond_by")
    try:
        letter = render_reminder(
            row.reference,
            state,
            reads.complaint(row.reference).received_at,
            body.get("request") or "",
            respond_by or "",
            contact,
            settings=settings,
        )
    except TemplateError as exc:  # the request's body was erased, say
        return Skip(f"no reminder: {exc.code}")
    return Letter(to, letter["subject"], delivered_text(letter["text"]), letter["language"])


def webhook_payload(conn: Connection, row: Queued, store: LogStore) -> bytes:
    """The Standard Webhooks payload of the step ``row`` stands for (same bytes each time)."""
    log_index = conn.execute(
        select(ComplaintEvent.log_index).where(ComplaintEvent.leaf_hash == row.leaf_hash)
    ).scalar_one()
    envelope = parse_envelope(store.entry(log_index))
    body = body_of(conn, row.leaf_hash)
    message = body.get("message") if body is not None else None
    return event_payload(
        event_type=str(envelope.type),
        at=envelope.at,
        reference=row.reference,
        seq=envelope.seq,
        state=envelope.public.get("state"),
        leaf_hash=row.leaf_hash,
        log_index=log_index,
        message=message if isinstance(message, dict) else None,
    )
