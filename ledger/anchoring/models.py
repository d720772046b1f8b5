"""Persistent record of every anchor transaction the worker signed.

One row per signed transaction. The signed bytes are stored before they are broadcast, so after
a crash or restart the worker re-broadcasts exactly the same transaction (same nonce, same
hash) and never signs a second anchor for the same checkpoint.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base


def log_id_for_origin(origin: str) -> bytes:
    """The on-chain id of a log: SHA-256 of its checkpoint origin line (UTF-8)."""
    return hashlib.sha256(origin.encode("utf-8")).digest()


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AnchorState(enum.StrEnum):
    PENDING = "pending"  # signed and stored; broadcast or about to be; not yet final
    CONFIRMED = "confirmed"  # mined with the required confirmations, canonical block
    DROPPED = "dropped"  # can never be mined: its nonce went to another transaction
    SUPERSEDED = "superseded"  # reverted because the chain already holds this size or more
    REVERTED = "reverted"  # mined but reverted for another reason (see last_error)


class AnchorRecord(Base):
    __tablename__ = "anchor_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    log_origin: Mapped[str] = mapped_column(String(255))
    log_id: Mapped[bytes] = mapped_column(LargeBinary(32))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The size the chain held when the proof was built: the proof goes from here to tree_size.
    from_size: Mapped[int] = mapped_column(BigInteger)
    note_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract_address: Mapped[str] = mapped_column(String(42))
    sender: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    raw_tx: Mapped[bytes] = mapped_column(LargeBinary)
    gas_limit: Mapped[int] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[int] = mapped_column(BigInteger)
    max_priority_fee_per_gas: Mapped[int] = mapped_column(BigInteger)

    state: Mapped[AnchorState] = mapped_column(
        Enum(
            AnchorState,
            native_enum=False,
            length=16,
            values_callable=lambda states: [s.value for s in states],
            validate_strings=True,
        ),
        default=AnchorState.PENDING,
    )
    block_number: Mapped[int | None] = mapped_column(BigInteger, default=None)
    block_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    confirmations: Mapped[int] = mapped_column(Integer, default=0)
    gas_used: Mapped[int | None] = mapped_column(BigInteger, default=None)
    broadcasts: Mapped[int] = mapped_column(Integer, default=0)
    reorgs: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    last_broadcast_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
    mined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    __table_args__ = (
        Index("ix_anchor_records_log", "chain_id", "contract_address", "log_id", "id"),
        # At most one transaction in flight per log and contract: the database itself refuses
        # a second pending anchor, whatever a buggy or duplicated worker tries.
        Index(
            "uq_anchor_records_one_pending",
            "chain_id",
            "contract_address",
            "log_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    def __repr__(self) -> str:
        return (
            f"AnchorRecord(id={self.id}, size={self.tree_size}, state={self.state}, "
            f"nonce={self.nonce}, tx=0x{self.tx_hash.hex()})"
        )
