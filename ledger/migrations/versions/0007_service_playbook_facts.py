"""Audit facts for the service playbook: incidents, resolution times, first-contact figures.

Revision ID: 0007_service_playbook_facts
Revises: 0006_evidence_exports
Create Date: 2026-12-06

The figures now count resolutions (the solution carried out), first responses against the
goal and limit promised at intake, root causes, redress by kind and incidents
(``ledger.complaints.figures``). Facts are derived from the log's leaves and the table is
append-only, so it is rebuilt: dropped, created in its new form and filled again from the
log (``ledger.casework.facts.backfill``). A downgrade drops the new columns and indexes; the
remaining columns mean what they meant before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.db import sqlite_no_replace_ddl
from ledger.logstore.models import append_only_ddl

revision: str = "0007_service_playbook_facts"
down_revision: str | Sequence[str] | None = "0006_evidence_exports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CELL = ["category", "channel", "language", "jurisdiction"]
CELL = OLD_CELL
BOOLEAN_PREDICATES = ("ends_cycle", "first_response", "resolution")

NEW_COLUMNS = (
    sa.Column("incident", sa.String(length=24), nullable=False),
    sa.Column("level", sa.String(length=16), nullable=False),
    sa.Column("contacted", sa.Boolean(), nullable=False),
    sa.Column("root_cause", sa.String(length=32), nullable=True),
    sa.Column("kind", sa.String(length=16), nullable=True),
    sa.Column("fr_goal_ms", sa.BigInteger(), nullable=True),
    sa.Column("fr_limit_ms", sa.BigInteger(), nullable=True),
    sa.Column("target_ms", sa.BigInteger(), nullable=True),
    sa.Column("limit_ms", sa.BigInteger(), nullable=True),
    sa.Column("wait_since_ms", sa.BigInteger(), nullable=True),
    sa.Column("waiting", sa.SmallInteger(), nullable=False),
    sa.Column("paused_ms", sa.BigInteger(), nullable=False),
    sa.Column("resolved", sa.Boolean(), nullable=False),
    sa.Column("resolution", sa.Boolean(), nullable=False),
    sa.Column("resolution_ms", sa.BigInteger(), nullable=True),
)

# (name, partial-index predicate or None, columns) before and after this revision.
BEFORE = (
    ("ix_audit_facts_counts", None,
     ["type", *OLD_CELL, "outcome", "csat", "at_ms", "log_index"]),
    ("ix_audit_facts_open", "open_delta <> 0", [*OLD_CELL, "at_ms", "open_delta", "log_index"]),
    ("ix_audit_facts_due_add", "due_add_ms IS NOT NULL",
     [*OLD_CELL, "due_add_ms", "at_ms", "log_index"]),
    ("ix_audit_facts_due_sub", "due_sub_ms IS NOT NULL",
     [*OLD_CELL, "due_sub_ms", "at_ms", "log_index"]),
    ("ix_audit_facts_met", "ends_cycle",
     [*OLD_CELL, "ended_due_ms", "at_ms", "log_index", "ends_cycle"]),
    ("ix_audit_facts_first", "first_response",
     [*OLD_CELL, "at_ms", "received_ms", "log_index", "first_response"]),
    ("ix_audit_facts_decision", "type = 'decision'",
     [*OLD_CELL, "at_ms", "cycle_start_ms", "log_index", "type"]),
    ("ix_audit_facts_paid", "type = 'compensation_paid'",
     [*OLD_CELL, "unit_kind", "unit", "amount", "at_ms", "log_index", "type"]),
)  # fmt: skip
AFTER = (
    ("ix_audit_facts_counts", None,
     ["type", *CELL, "outcome", "root_cause", "csat", "at_ms", "log_index"]),
    ("ix_audit_facts_open", "open_delta <> 0", [*CELL, "at_ms", "open_delta", "log_index"]),
    ("ix_audit_facts_due_add", "due_add_ms IS NOT NULL",
     [*CELL, "due_add_ms", "at_ms", "log_index"]),
    ("ix_audit_facts_due_sub", "due_sub_ms IS NOT NULL",
     [*CELL, "due_sub_ms", "at_ms", "log_index"]),
    ("ix_audit_facts_met", "ends_cycle",
     [*CELL, "ended_due_ms", "at_ms", "log_index", "ends_cycle"]),
    ("ix_audit_facts_first", "first_response",
     [*CELL, "at_ms", "received_ms", "fr_goal_ms", "fr_limit_ms", "log_index",
      "first_response"]),
    ("ix_audit_facts_resolution", "resolution",
     [*CELL, "at_ms", "resolution_ms", "target_ms", "limit_ms", "cycle", "contacted", "level",
      "log_index", "resolution"]),
    ("ix_audit_facts_decision", "type = 'decision'",
     [*CELL, "at_ms", "cycle_start_ms", "log_index", "type"]),
    ("ix_audit_facts_paid", "type = 'compensation_paid'",
     [*CELL, "kind", "unit_kind", "unit", "amount", "at_ms", "log_index", "type"]),
    ("ix_audit_facts_incident", "incident <> ''", ["incident", "log_index"]),
)  # fmt: skip


def _create_indexes(indexes) -> None:
    for name, where, columns in indexes:
        if where is None:
            op.create_index(name, "audit_facts", columns)
            continue
        sqlite_where = f"{where} = 1" if where in BOOLEAN_PREDICATES else where
        op.create_index(
            name,
            "audit_facts",
            columns,
            sqlite_where=sa.text(sqlite_where),
            postgresql_where=sa.text(where),
        )


def _protect(dialect: str) -> None:
    """The table's append-only triggers (and, on SQLite, the one refusing REPLACE; 0005)."""
    for stmt in append_only_ddl(dialect, "audit_facts"):
        op.execute(sa.text(stmt))
    if dialect == "sqlite":
        for stmt in sqlite_no_replace_ddl("audit_facts", [["log_index"], ["reference", "seq"]]):
            op.execute(sa.text(stmt))


def upgrade() -> None:
    op.drop_table("audit_facts")  # its triggers go with it
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
        *(c._copy() for c in NEW_COLUMNS),
        sa.PrimaryKeyConstraint("log_index"),
    )
    op.create_index(
        "ux_audit_facts_reference_seq", "audit_facts", ["reference", "seq"], unique=True
    )
    _create_indexes(AFTER)
    _protect(op.get_bind().dialect.name)

    from ledger.casework.facts import backfill

    backfill(op.get_bind())
    op.execute(sa.text("ANALYZE audit_facts"))


def downgrade() -> None:
    for name, _, _ in AFTER:
        op.drop_index(name, table_name="audit_facts")
    with op.batch_alter_table("audit_facts") as batch:
        for column in NEW_COLUMNS:
            batch.drop_column(column.name)
    _create_indexes(BEFORE)
    if op.get_bind().dialect.name == "sqlite":
        _protect("sqlite")  # a batch operation on SQLite copies the table, without triggers
