"""Decision drafts awaiting officers' browser signatures (``ledger.casework.drafts``), and which
staff account holds which officer key (``ledger.casework.key_holders``).

Revision ID: 0015_signing_drafts
Revises: 0014_worklist
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_signing_drafts"
down_revision: str | Sequence[str] | None = "0014_worklist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("content_json", sa.Text(), nullable=False),
        sa.Column("offer_json", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body_jcs", sa.Text(), nullable=True),
        sa.Column("prev", sa.String(length=64), nullable=True),
        sa.Column("signature_json", sa.Text(), nullable=True),
        sa.Column("signed_by", sa.String(length=64), nullable=True),
        sa.Column("cosignature_json", sa.Text(), nullable=True),
        sa.Column("cosigned_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_leaf_hash", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_decision_drafts_reference", "decision_drafts", ["reference"])
    op.create_table(
        "officer_key_holders",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_index("ix_officer_key_holders_account_id", "officer_key_holders", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_officer_key_holders_account_id", table_name="officer_key_holders")
    op.drop_table("officer_key_holders")
    op.drop_index("ix_decision_drafts_reference", table_name="decision_drafts")
    op.drop_table("decision_drafts")
