"""Audit facts for the Net Promoter Score and CSAT per interaction type.

Revision ID: 0012_nps_facts
Revises: 0011_portal_sessions
Create Date: 2026-12-07

The figures now count the customer's Net Promoter Score (``nps_given`` steps) and break CSAT
down by the type of the step each rating rates (``ledger.complaints.figures``): two columns,
``nps`` and ``rated_type``, both in the covering index of the counting query. Facts are derived
from the log's leaves and the table is append-only, so, as in revision 0007, it is rebuilt:
dropped, created in its new form and filled again from the log
(``ledger.casework.facts.backfill``). A downgrade drops the two columns and puts the counting
index back as it was; the remaining columns mean what they meant before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.db import sqlite_no_replace_ddl
from ledger.logstore.models import append_only_ddl

revision: str = "0012_nps_facts"
down_revision: str | Sequence[str] | None = "0011_portal_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELL = ["category", "channel", "language", "jurisdiction"]
BOOLEAN_PREDICATES = ("ends_cycle", "first_response", "resolution")

NEW_COLUMNS = (
    sa.Column("nps", sa.SmallInteger(), nullable=True),
    sa.Column("rated_type", sa.String(length=32), nullable=True),
)
# The table as revision 0007 made it (these columns first, in this order).
COLUMNS = (
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

# The counting query's covering index before and after this revision.
COUNTS_BEFORE = ["type", *CELL, "outcome", "root_cause", "csat", "at_ms", "log_index"]
COUNTS_AFTER = [
    "type", *CELL, "outcome", "root_cause", "csat", "rated_type", "nps", "at_ms", "log_index",
]  # fmt: skip
# (name, partial-index predicate or None, columns): every index of the rebuilt table.
INDEXES = (
    ("ix_audit_facts_counts", None, COUNTS_AFTER),
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
        *(c._copy() for c in COLUMNS),
        *(c._copy() for c in NEW_COLUMNS),
        sa.PrimaryKeyConstraint("log_index"),
    )
    op.create_index(
        "ux_audit_facts_reference_seq", "audit_facts", ["reference", "seq"], unique=True
    )
    _create_indexes(INDEXES)
    _protect(op.get_bind().dialect.name)

    from ledger.casework.facts import backfill

    backfill(op.get_bind())
    op.execute(sa.text("ANALYZE audit_facts"))


def downgrade() -> None:
    for name, _, _ in INDEXES:  # partial indexes are made again, not copied by the batch
        op.drop_index(name, table_name="audit_facts")
    with op.batch_alter_table("audit_facts") as batch:
        for column in NEW_COLUMNS:
            batch.drop_column(column.name)
    _create_indexes(
        (name, where, COUNTS_BEFORE if name == "ix_audit_facts_counts" else columns)
        for name, where, columns in INDEXES
    )
    if op.get_bind().dialect.name == "sqlite":
        _protect("sqlite")  # a batch operation on SQLite copies the table, without triggers
