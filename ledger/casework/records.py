"""Storage beside the log: complaint index, event bodies and salts, officer-key entries,
idempotency records and the record of personal-data reads.

The log holds the leaves; these tables only index them (which log entry is which
complaint's n-th event) and keep what must stay erasable (bodies and salts).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime
from ledger.logstore.models import install_append_only_triggers


class ComplaintRecord(Base):
    """One complaint: its chain head (for serialising appends) and filterable facts."""

    __tablename__ = "complaints"

    reference: Mapped[str] = mapped_column(String(40), primary_key=True)
    log_origin: Mapped[str] = mapped_column(String(255))
    capability_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    seq: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    jurisdiction: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_complaints_status", "status"),
        Index("ix_complaints_received_at", "received_at"),
    )


class ComplaintEvent(Base):
    """Where each event of a complaint sits in the log."""

    __tablename__ = "complaint_events"

    reference: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(BigInteger)
    leaf_hash: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[str] = mapped_column(String(32))


class EventBody(Base):
    """The private body and salt of an event; both are deleted on erasure."""

    __tablename__ = "event_bodies"

    leaf_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    salt: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    body_jcs: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    erased_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class OfficerKeyEntry(Base):
    """Log positions of officer-key registrations (seq 0) and revocations (seq 1)."""

    __tablename__ = "officer_key_entries"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(BigInteger)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class IdempotencyRecord(Base):
    """The first response to a POST with an Idempotency-Key, sealed, replayed on retries
    until it expires. Holds no key and no readable answer (see ``ledger.idempotency``)."""

    __tablename__ = "idempotency_records"

    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    request_mac: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_idempotency_records_created_at", "created_at"),)


class AccessRecord(Base):
    """Who read which complaint's personal data, when, and through what."""

    __tablename__ = "access_records"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    role: Mapped[str] = mapped_column(String(32))
    principal: Mapped[str] = mapped_column(String(80))
    reference: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_access_records_reference", "reference"),)


for _model in (ComplaintEvent, OfficerKeyEntry, AccessRecord):
    install_append_only_triggers(_model.__table__)
