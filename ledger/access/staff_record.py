"""The staff access record: one append-only row per sign-in, failure, lockout, sign-out and
account change (``ledger.access.staff`` writes it in the transaction of what it records).

It keeps when, which account and username, the kind and the refusal's reason (on a sign-in
with a passkey, "passkey"), who made a change (an admin's pseudonym, or "system") and the
client's address; never a password, a TOTP code or secret. A sign-in under a username no
account has is kept without that username: what was typed may be a mistyped password, or
someone else's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime
from ledger.logstore.models import install_append_only_triggers

# The access record's kinds of event, and the reasons a sign-in is refused.
EVENT_KINDS = (
    "created",
    "signed_in",
    "sign_in_failed",
    "locked",
    "signed_out",
    "roles_changed",
    "password_changed",
    "totp_reset",
    "disabled",
    "unlocked",
    "passkey_added",
    "passkey_removed",
)
# "passkey" on a refusal: the passkey's answer was not right; on a sign-in: the second factor
# was a passkey, not a TOTP code.
REFUSAL_REASONS = ("unknown", "password", "code", "replayed", "locked", "disabled", "passkey")
SYSTEM = "system"  # ``by`` of changes made by the operator's command line or the demo


class StaffAccessEvent(Base):
    """One entry of the access record (append-only): who, what, when, from where; no secret."""

    __tablename__ = "staff_access_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Null for a username no account has: what was typed is not kept (it may be a mistyped
    # password, or someone else's name).
    account_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("staff_accounts.id"), nullable=True
    )
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(24), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(500), nullable=True)  # short JSON
    by: Mapped[str] = mapped_column(String(64))  # an admin's pseudonym, or "system"
    client: Mapped[str] = mapped_column(String(64))  # the client's address, "" if none

    __table_args__ = (
        Index("ix_staff_access_events_account_id", "account_id", "id"),
        Index("ix_staff_access_events_kind", "kind", "id"),
    )


install_append_only_triggers(StaffAccessEvent.__table__)


@dataclass(frozen=True)
class AccessEvent:
    """One entry of the access record."""

    id: int
    at: datetime
    account_id: str | None
    username: str | None
    kind: str
    reason: str | None
    detail: dict[str, Any] | None
    by: str
    client: str


def record(
    conn: Connection,
    at: datetime,
    account_id: str | None,
    username: str | None,
    kind: str,
    *,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    by: str = SYSTEM,
    client: str = "",
) -> None:
    """Add one event, in the caller's transaction."""
    assert kind in EVENT_KINDS and (reason is None or reason in REFUSAL_REASONS)
    conn.execute(
        insert(StaffAccessEvent).values(
            at=at,
            account_id=account_id,
            username=username,
            kind=kind,
            reason=reason,
            detail=None if detail is None else json.dumps(detail, sort_keys=True),
            by=by[:64],
            client=client[:64],
        )
    )


def access_events(
    engine: Engine,
    *,
    account_id: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[AccessEvent]]:
    """The record, newest first (of one account, of one kind), and how many events in all."""
    e = StaffAccessEvent
    where = []
    if account_id is not None:
        where.append(e.account_id == account_id)
    if kind is not None:
        where.append(e.kind == kind)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(e).where(*where)).scalar_one()
        rows = conn.execute(
            select(e).where(*where).order_by(e.id.desc()).limit(limit).offset(offset)
        )
        return total, [_event(r) for r in rows]


def _event(r: Any) -> AccessEvent:
    detail = None if r.detail is None else json.loads(r.detail)
    return AccessEvent(
        r.id, r.at, r.account_id, r.username, r.kind, r.reason, detail, r.by, r.client
    )
