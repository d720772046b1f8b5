"""Storage hardening: idempotency records keyed and sealed; REPLACE refused on SQLite.

Revision ID: 0005_storage_hardening
Revises: 0004_audit_facts_cell_indexes
Create Date: 2026-11-24

``idempotency_records`` held the Idempotency-Key in plain text beside an answer sealed with
a key derived from that same row. It now holds a keyed hash and an answer only the retrying
caller and the server secret together open (``ledger.idempotency``). The old rows cannot
be converted (that needs the raw keys and requests) and are only a replay cache: they
are dropped. A retry of a request answered before the upgrade is a new request.

SQLite's ``INSERT OR REPLACE`` deletes a conflicting row without firing DELETE triggers, so
each append-only table gets a BEFORE INSERT trigger refusing a key that is already present
(``ledger.db.sqlite_no_replace_ddl``). PostgreSQL has no REPLACE, and its
``ON CONFLICT DO UPDATE`` fires the existing UPDATE triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.db import sqlite_no_replace_ddl

revision: str = "0005_storage_hardening"
down_revision: str | Sequence[str] | None = "0004_audit_facts_cell_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)  # ledger.db.UTCDateTime stores this
# Append-only tables (0001 and 0003) and their primary and unique keys, as of this revision.
NO_REPLACE = {
    "log_entries": [["log_id", "idx"]],
    "log_tiles": [["log_id", "level", "idx"]],
    "log_checkpoints": [["log_id", "size"]],
    "complaint_events": [["reference", "seq"], ["leaf_hash"]],
    "officer_key_entries": [["key_id", "seq"]],
    "access_records": [["id"]],
    "audit_facts": [["log_index"], ["reference", "seq"]],
}


def upgrade() -> None:
    op.drop_table("idempotency_records")  # plain-text keys: dropped, not converted
    op.create_table(
        "idempotency_records",
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("request_mac", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_idempotency_records_created_at", "idempotency_records", ["created_at"])
    if op.get_bind().dialect.name == "sqlite":
        for table, keys in NO_REPLACE.items():
            for stmt in sqlite_no_replace_ddl(table, keys):
                op.execute(sa.text(stmt))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in NO_REPLACE:
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_replace"))
    op.drop_table("idempotency_records")  # sealed records cannot go back to plain text
    op.create_table(
        "idempotency_records",
        sa.Column("principal", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("principal", "key"),
    )
