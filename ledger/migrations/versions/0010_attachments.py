"""Attachments: the files uploaded to complaints (docs/attachments.md).

Revision ID: 0010_attachments
Revises: 0009_message_outbox
Create Date: 2026-12-07

One row per complaint and file SHA-256 (``ledger.attachments.models``): the type and size the
upload checked, the uploader's file name, when it was uploaded, erased (the last body listing
it was erased) and purged (its blob deleted from storage). The bytes are in the attachment
storage, not in the database. A new table: nothing to convert.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_attachments"
down_revision: str | Sequence[str] | None = "0009_message_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("reference", "sha256"),
    )
    op.create_index("ix_attachments_sha256", "attachments", ["sha256"])
    op.create_index("ix_attachments_erased", "attachments", ["erased_at", "purged_at"])


def downgrade() -> None:
    op.drop_index("ix_attachments_erased", table_name="attachments")
    op.drop_index("ix_attachments_sha256", table_name="attachments")
    op.drop_table("attachments")
