"""A customer letter recorded as delivered, as the dispatcher does (``message_sent`` by the
system actor ``dispatcher``), without a mail server: for tests of what happens around it."""

from __future__ import annotations

import hashlib

from ledger.casework.writes import Recorded
from ledger.complaints.events import Actor
from ledger.complaints.vocab import EventType, Role

DISPATCHER = Actor(Role.SYSTEM, "dispatcher")


def record_letter(ledger, reference: str, for_seq: int | None = None) -> Recorded:
    """Record the delivery of the letter of step ``for_seq`` (default: the latest step)."""
    state = ledger.complaints.reads.state(reference)
    seq = state.seq if for_seq is None else for_seq
    text = f"Dear customer,\n\nabout step {seq} of {reference}."
    public = {
        "channel": "email",
        "template": "acknowledgement",
        "language": "en",
        "for_seq": seq,
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "outcome": "delivered",
        "message_id": "msg_" + hashlib.sha256(f"{reference}:{state.seq}".encode()).hexdigest()[:32],
        "attempts": 1,
    }
    body = {"to": "ana@example.org", "subject": "Your complaint", "text": text}
    return ledger.complaints.writes.record(
        reference, type=EventType.MESSAGE_SENT, public=public, body=body, actor=DISPATCHER
    )
