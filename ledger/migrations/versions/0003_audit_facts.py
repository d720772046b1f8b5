"""Audit facts: one row per complaint event for the regulator's figures (append-only).

Revision ID: 0003_audit_facts
Revises: 0002_restore_marks
Create Date: 2026-11-23

Existing complaint events get their rows from revision 0007, which rebuilds the table in
its current form from the log's leaves (``ledger.casework.facts.backfill``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.logstore.models import append_only_ddl

revision: str = "0003_audit_facts"
down_revision: str | Sequence[str] | None = "0002_restore_marks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_facts",
        sa.Column("log_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("cycle_start_ms", sa.BigInteger(), nullable=False),
        sa.Column("open_delta", sa.SmallInteger(), nullable=False),
        sa.Column("first_response", sa.Boolean(), nullable=False),
        sa.Column("responded", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("unit_kind", sa.String(length=8), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.Column("amount", sa.String(length=64), nullable=True),
        sa.Column("csat", sa.SmallInteger(), nullable=True),
        sa.Column("base_due_ms", sa.BigInteger(), nullable=True),
        sa.Column("due_ms", sa.BigInteger(), nullable=True),
        sa.Column("due_add_ms", sa.BigInteger(), nullable=True),
        sa.Column("due_sub_ms", sa.BigInteger(), nullable=True),
        sa.Column("cycle_ended", sa.Boolean(), nullable=False),
        sa.Column("ends_cycle", sa.Boolean(), nullable=False),
        sa.Column("ended_due_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("log_index"),
    )
    op.create_index(
        "ux_audit_facts_reference_seq", "audit_facts", ["reference", "seq"], unique=True
    )
    # Covering indexes of the figure queries (ledger/casework/facts.py, sql_cells).
    cell = ["category", "channel", "language", "jurisdiction"]
    op.create_index(
        "ix_audit_facts_period",
        "audit_facts",
        ["type", "at_ms", *cell, "outcome", "csat", "log_index", "amount"],
    )
    for name, where, columns in (
        ("ix_audit_facts_open", "open_delta <> 0", ["at_ms", *cell, "open_delta", "log_index"]),
        ("ix_audit_facts_due_add", "due_add_ms IS NOT NULL",
         ["due_add_ms", "at_ms", *cell, "log_index"]),
        ("ix_audit_facts_due_sub", "due_sub_ms IS NOT NULL",
         ["due_sub_ms", "at_ms", *cell, "log_index"]),
        ("ix_audit_facts_met", "ends_cycle", ["ended_due_ms", "at_ms", *cell, "log_index"]),
        ("ix_audit_facts_first", "first_response",
         ["at_ms", *cell, "received_ms", "log_index"]),
        ("ix_audit_facts_decision", "type = 'decision'",
         ["at_ms", *cell, "cycle_start_ms", "log_index"]),
        ("ix_audit_facts_paid", "type = 'compensation_paid'",
         ["at_ms", *cell, "unit_kind", "unit", "amount", "log_index"]),
    ):  # fmt: skip
        sqlite_where = f"{where} = 1" if where in ("ends_cycle", "first_response") else where
        op.create_index(
            name,
            "audit_facts",
            columns,
            sqlite_where=sa.text(sqlite_where),
            postgresql_where=sa.text(where),
        )
    for stmt in append_only_ddl(op.get_bind().dialect.name, "audit_facts"):
        op.execute(sa.text(stmt))


def downgrade() -> None:
    op.drop_table("audit_facts")  # its triggers go with it
