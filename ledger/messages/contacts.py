"""The customer's contact: the ``contact`` of the complaint's received body (contract 3).

Only a contact with an email address and ``consent: true`` is written to. It is read from
the body each time it is needed, so an erased received body (or one without consent) stops
every message not yet sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from ledger.casework.records import ComplaintEvent, EventBody


def email_of(contact: Any) -> str | None:
    """The address to write to: only with the customer's consent."""
    if not isinstance(contact, Mapping) or contact.get("consent") is not True:
        return None
    email = contact.get("email")
    return email if isinstance(email, str) and email else None


def body_of(conn: Connection, leaf_hash: str) -> dict[str, Any] | None:
    """A step's body by its leaf hash; None when erased (or unknown)."""
    row = conn.execute(select(EventBody.body_jcs).where(EventBody.leaf_hash == leaf_hash)).first()
    if row is None or row[0] is None:
        return None
    body = json.loads(row[0])
    return body if isinstance(body, dict) else None


def received_contact(conn: Connection, reference: str) -> Mapping[str, Any] | None:
    """The contact in the complaint's received body; None when absent or erased."""
    row = conn.execute(
        select(EventBody.body_jcs)
        .join(ComplaintEvent, ComplaintEvent.leaf_hash == EventBody.leaf_hash)
        .where(ComplaintEvent.reference == reference, ComplaintEvent.seq == 0)
    ).first()
    if row is None or row[0] is None:
        return None
    contact = json.loads(row[0]).get("contact")
    return contact if isinstance(contact, Mapping) else None
