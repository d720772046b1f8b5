"""Stored evidence exports: one row per distinct bundle given out, with its bytes for a while.

A bundle's export is recorded on the log once (``bundle_exported``), in the same transaction
as its row here (the row's primary key, complaint and bundle SHA-256, refuses a twin), so
exporting the same bundle again writes nothing to the log. The bytes are kept for
``LEDGER_EXPORT_RETENTION_HOURS`` so that fetching the export again is a read, not a rebuild;
then only the row (the memory that this bundle was exported) stays. A row also records the
SHA-256 of the proof the bundle was built from: the bundle is a pure function of it, so a
repeated export finds its bundle without rendering the PDF again.

Bundles hold personal data (bodies): when a body of the complaint is erased, the stored bytes
of its earlier exports are deleted in the same transaction (a trigger, see migration 0006),
and ``forget_erased`` checks again before any stored export is served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    String,
    and_,
    case,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.casework.records import AccessRecord, ComplaintEvent
from ledger.complaints.vocab import EventType
from ledger.db import Base, UTCDateTime
from ledger.logstore.store import Rejected


class EvidenceExport(Base):
    """A bundle given out (its ``bundle_exported`` record), and its bytes while retained."""

    __tablename__ = "evidence_exports"

    reference: Mapped[str] = mapped_column(String(40), primary_key=True)
    bundle_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    proof_sha256: Mapped[str] = mapped_column(String(64))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(BigInteger)  # of the bundle_exported record
    # True when the bundle discloses nothing the complaint's customer may not see (no
    # internal note bodies): only such exports are served to the customer's secret.
    customer_safe: Mapped[bool] = mapped_column(Boolean)
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    stored_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_evidence_exports_proof", "reference", "proof_sha256"),
        Index("ix_evidence_exports_stored_until", "stored_until"),
    )


class AlreadyExported(Rejected):
    """This bundle's export is already on the log: no second ``bundle_exported`` record."""


@dataclass(frozen=True)
class StoredExport:
    reference: str
    bundle_sha256: str
    proof_sha256: str
    tree_size: int
    log_index: int
    customer_safe: bool
    exported_at: datetime
    data: bytes | None  # None once the retention period is over (or after an erasure)


_T = EvidenceExport.__table__
_COLUMNS = (
    _T.c.reference,
    _T.c.bundle_sha256,
    _T.c.proof_sha256,
    _T.c.tree_size,
    _T.c.log_index,
    _T.c.customer_safe,
    _T.c.exported_at,
)


def _live_data(now: datetime):
    """The bytes while retained, else NULL (expired rows read as purged before any purge)."""
    return case((_T.c.stored_until > now, _T.c.data), else_=None)


def _row(row) -> StoredExport:
    return StoredExport(*row)


def find(engine: Engine, reference: str, bundle_sha256: str, now: datetime) -> StoredExport | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(*_COLUMNS, _live_data(now)).where(
                _T.c.reference == reference, _T.c.bundle_sha256 == bundle_sha256
            )
        ).first()
    return None if row is None else _row(row)


def find_by_proof(
    engine: Engine, reference: str, proof_sha256: str, now: datetime
) -> StoredExport | None:
    """The latest export of this proof (the same proof gives the same bundle)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(*_COLUMNS, _live_data(now))
            .where(_T.c.reference == reference, _T.c.proof_sha256 == proof_sha256)
            .order_by(_T.c.log_index.desc())
            .limit(1)
        ).first()
    return None if row is None else _row(row)


@dataclass(frozen=True)
class NewExport:
    """What the export hooks store, in the transaction of the ``bundle_exported`` record."""

    reference: str
    bundle_sha256: str
    proof_sha256: str
    tree_size: int
    customer_safe: bool
    size: int
    exported_at: datetime
    # A read of personal data to record in the access log with the export (same transaction):
    # {role, principal, action, request_id}.
    access: Mapping[str, str] | None = None

    def check(self, conn: Connection) -> None:
        """Inside the append transaction: refuse a second record of the same bundle."""
        row = conn.execute(
            select(_T.c.log_index).where(
                _T.c.reference == self.reference, _T.c.bundle_sha256 == self.bundle_sha256
            )
        ).first()
        if row is not None:
            raise AlreadyExported(f"bundle {self.bundle_sha256} is already recorded")

    def write(self, conn: Connection, index: int, _leaf_hash: bytes) -> None:
        # A plain insert (not deferred): a twin later in the same batch must see it.
        conn.execute(
            insert(_T).values(
                reference=self.reference,
                bundle_sha256=self.bundle_sha256,
                proof_sha256=self.proof_sha256,
                tree_size=self.tree_size,
                log_index=index,
                customer_safe=self.customer_safe,
                exported_at=self.exported_at,
                size=self.size,
                data=None,
                stored_until=None,
            )
        )
        if self.access is not None:
            conn.execute(
                insert(AccessRecord).values(
                    at=self.exported_at, reference=self.reference, **self.access
                )
            )


def keep_bytes(
    engine: Engine, reference: str, bundle_sha256: str, data: bytes, until: datetime
) -> None:
    """Store (or store again) an export's bytes until ``until``."""
    with engine.begin() as conn:
        conn.execute(
            update(_T)
            .where(_T.c.reference == reference, _T.c.bundle_sha256 == bundle_sha256)
            .values(data=data, stored_until=until)
        )


def forget_erased(engine: Engine, reference: str | None = None) -> int:
    """Delete the stored bytes of exports built on a tree without a later erasure of their
    complaint (of ``reference``, or of every complaint); returns how many were deleted.

    The migration's trigger does this when a body is erased; this also catches a bundle
    built before an erasure and stored after it."""
    erased_since = exists().where(
        and_(
            ComplaintEvent.reference == _T.c.reference,
            ComplaintEvent.type == EventType.ERASED.value,
            ComplaintEvent.log_index >= _T.c.tree_size,
        )
    )
    where = [_T.c.data.is_not(None), erased_since]
    if reference is not None:
        where.append(_T.c.reference == reference)
    with engine.begin() as conn:
        return conn.execute(update(_T).where(*where).values(data=None, stored_until=None)).rowcount


def forget_expired(engine: Engine, now: datetime) -> int:
    """Delete the bytes of exports past their retention (the rows stay)."""
    with engine.begin() as conn:
        return conn.execute(
            update(_T)
            .where(_T.c.data.is_not(None), _T.c.stored_until <= now)
            .values(data=None, stored_until=None)
        ).rowcount


def retention_end(now: datetime, hours: float) -> datetime:
    return now + timedelta(hours=hours)
