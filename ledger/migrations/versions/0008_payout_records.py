"""Payout records: the payout worker's row per vault payout it attempts.

Revision ID: 0008_payout_records
Revises: 0007_service_playbook_facts
Create Date: 2026-12-20

One row per accepted vault offer (its leaf hash is the key): the signed transaction, stored
before it is broadcast so a restart resends the same bytes and never a second payout; its
state (sent, confirmed, recorded on the log, failed) and why the last attempt failed
(``ledger.payouts.models``). A new table: nothing to convert.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_payout_records"
down_revision: str | Sequence[str] | None = "0007_service_playbook_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payout_records",
        sa.Column("offer_hash", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("accept_hash", sa.String(length=64), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("vault", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.String(length=78), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "sent",
                "confirmed",
                "recorded",
                "failed",
                name="payoutstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("tree_size", sa.BigInteger(), nullable=True),
        sa.Column("sender", sa.String(length=42), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("broadcasts", sa.Integer(), nullable=False),
        sa.Column("error_name", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("paid_log_index", sa.Integer(), nullable=True),
        sa.Column("recorded_index", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("offer_hash"),
    )
    op.create_index("ix_payout_records_state", "payout_records", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_payout_records_state", table_name="payout_records")
    op.drop_table("payout_records")
