"""The ``attachments`` table: which complaint holds which file (by SHA-256), of what type and
size, and whether it was erased. The bytes are in the storage (``ledger.attachments.backends``),
one blob per SHA-256: the same file in two complaints is two rows naming one blob."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime


class Attachment(Base):
    """One file uploaded to one complaint."""

    __tablename__ = "attachments"

    reference: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    # The uploader's file name (personal data: blanked when the file is erased).
    name: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the last body of the complaint listing the file is erased.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set once the blob is gone from storage (or kept on purpose: another complaint's live row
    # names it). Erased and not purged: the deletion is pending (``AttachmentStore.purge``).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_attachments_sha256", "sha256"),
        Index("ix_attachments_erased", "erased_at", "purged_at"),
    )
