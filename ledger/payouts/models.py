"""The payout worker's record of each vault payout it attempts: one row per accepted offer.

The signed transaction is stored before it is broadcast, so a restart sends the very same
bytes (same nonce, same hash) rather than a second payout; the row also says when a payout
was final and when it was recorded on the log, and why the last attempt failed. The API's
metrics read it (``payout_summary``); nothing here imports a chain library.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Enum,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class PayoutState(enum.StrEnum):
    SENT = "sent"  # signed and stored, broadcast or about to be; not final yet
    CONFIRMED = "confirmed"  # the vault's Paid event is final; not yet on the log
    RECORDED = "recorded"  # compensation_paid is on the log
    FAILED = "failed"  # the last attempt failed (last_error); retried at next_attempt_at


class PayoutRecord(Base):
    __tablename__ = "payout_records"

    # The offer's RFC 6962 leaf hash (hex): the vault pays each offer at most once.
    offer_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    accept_hash: Mapped[str] = mapped_column(String(64))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    vault: Mapped[str] = mapped_column(String(42))
    token: Mapped[str] = mapped_column(String(42))  # the zero address: the native coin
    recipient: Mapped[str] = mapped_column(String(42))
    amount: Mapped[str] = mapped_column(String(78))  # base units, decimal

    state: Mapped[PayoutState] = mapped_column(
        Enum(
            PayoutState,
            native_enum=False,
            length=16,
            values_callable=lambda states: [s.value for s in states],
            validate_strings=True,
        ),
        default=PayoutState.FAILED,
    )
    # The claim's tree size (what LogAnchor held when it was built) and its transaction.
    tree_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    sender: Mapped[str | None] = mapped_column(String(42), default=None)
    nonce: Mapped[int | None] = mapped_column(BigInteger, default=None)
    tx_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # Attempts: each signed transaction, and each attempt refused before signing.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    broadcasts: Mapped[int] = mapped_column(Integer, default=0)
    error_name: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    block_number: Mapped[int | None] = mapped_column(BigInteger, default=None)
    block_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    confirmations: Mapped[int] = mapped_column(Integer, default=0)
    paid_log_index: Mapped[int | None] = mapped_column(Integer, default=None)  # in the receipt
    recorded_index: Mapped[int | None] = mapped_column(BigInteger, default=None)  # on the log

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    __table_args__ = (Index("ix_payout_records_state", "state", "next_attempt_at"),)

    def __repr__(self) -> str:
        tx = f"0x{self.tx_hash.hex()}" if self.tx_hash else None
        return (
            f"PayoutRecord({self.reference}, offer={self.offer_hash[:12]}…, "
            f"state={self.state}, attempts={self.attempts}, tx={tx})"
        )


def payout_summary(engine: Engine) -> dict[str, object]:
    """For monitoring: records per state, and the age in seconds of the oldest payout not yet
    on the log (sent, confirmed or failed; 0 when none)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(PayoutRecord.state, func.count(), func.min(PayoutRecord.created_at)).group_by(
                PayoutRecord.state
            )
        ).all()
    counts = {str(state): 0 for state in PayoutState}
    oldest: datetime | None = None
    for state, count, created in rows:
        counts[str(state)] = int(count)
        if state != PayoutState.RECORDED and created is not None:
            created = as_utc(created)
            oldest = created if oldest is None else min(oldest, created)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return {"records": counts, "oldest_unrecorded_seconds": max(0.0, age)}
