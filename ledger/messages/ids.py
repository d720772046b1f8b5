"""Stable message ids: the same message gets the same id on every retry and restart."""

from __future__ import annotations

import hashlib
import re

MESSAGE_ID = re.compile(r"^msg_[0-9a-f]{32}$")
# Receivers of a step's messages: the customer's email (its letter, or the reminder of an
# info request), and each webhook endpoint.
EMAIL = "email"
EMAIL_REMINDER = "email:info_reminder"
WEBHOOK_PREFIX = "webhook:"
# Staff SLA alerts (ledger.messages.alerts): the outbox rows' event type, and what a webhook
# endpoint subscribes to for them.
SLA_ALERT = "sla_alert"


def message_id(leaf_hash_hex: str, receiver: str) -> str:
    """``msg_`` + the first 32 hex of SHA-256(leaf hash hex + "/" + receiver)."""
    digest = hashlib.sha256(f"{leaf_hash_hex}/{receiver}".encode()).hexdigest()
    return "msg_" + digest[:32]


def webhook_receiver(endpoint_id: str) -> str:
    return WEBHOOK_PREFIX + endpoint_id


def receiver_kind(receiver: str) -> str:
    """``email`` or ``webhook``: what a listing may show of a receiver."""
    return receiver.partition(":")[0]
