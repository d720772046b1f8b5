"""The transactional outbox (one row per message and receiver) and the webhook endpoints.

Outbox rows are written in the transaction of the step that causes them
(``ledger.messages.outbox``) and worked off by the dispatcher (``ledger.messages.dispatcher``).
They hold no address and no text: the dispatcher reads both from the step's body when it
sends, so erasing a body also stops its message. ``last_error`` names what failed, never an
address or a secret.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime


class OutboxState(enum.StrEnum):
    PENDING = "pending"  # waiting for its time (a first try, a retry or a reminder)
    SENDING = "sending"  # claimed by a dispatcher until next_attempt_at (its lease)
    DELIVERED = "delivered"  # accepted by the receiver; an email's message_sent is next
    RECORDED = "recorded"  # an email delivered and its message_sent on the log
    DEAD = "dead"  # refused for good or out of attempts (an email's failure is recorded too)
    SKIPPED = "skipped"  # not sent: nothing left to say (answered, erased, endpoint removed)


class Channel(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


# States in which a row still waits for the dispatcher to send it.
WAITING = (OutboxState.PENDING, OutboxState.SENDING)


def _enum(cls: type[enum.StrEnum], length: int) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    # "msg_" + the first 32 hex of SHA-256(leaf hash hex + "/" + receiver): the same id on
    # every retry and restart, so receivers can keep each message once.
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    for_seq: Mapped[int] = mapped_column(Integer)  # the step whose letter or event this is
    leaf_hash: Mapped[str] = mapped_column(String(64))  # that step's leaf hash (hex)
    event_type: Mapped[str] = mapped_column(String(32))  # that step's type
    receiver: Mapped[str] = mapped_column(String(64))  # "email" or "webhook:<endpoint id>"
    channel: Mapped[Channel] = mapped_column(_enum(Channel, 16))
    template: Mapped[str] = mapped_column(String(64))  # a MessageKind, or the event type
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState, 16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when it was first due
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The seq of the message_sent step recording it (emails, delivered or dead).
    recorded_seq: Mapped[int | None] = mapped_column(Integer, default=None)

    __table_args__ = (
        Index("ix_outbox_messages_state", "state", "next_attempt_at"),
        Index("ix_outbox_messages_reference", "reference"),
    )


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # "ep_" + 24 hex
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSON)  # the step types it receives
    # The Standard Webhooks signing secret, AES-GCM encrypted under the webhook key file
    # (nonce || ciphertext): the HMAC needs the secret itself, so it cannot be hashed.
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(80))  # the admin's API key id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
