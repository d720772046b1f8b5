"""Audit facts: figure indexes led by the cell columns, so groups stream out of the index.

Revision ID: 0004_audit_facts_cell_indexes
Revises: 0003_audit_facts
Create Date: 2026-11-23

The figure queries group by (category, channel, language, jurisdiction); with those columns
first in each covering index the database reads the groups in order instead of sorting up to
a million rows (see ``ledger.casework.facts.sql_cells``). A partial index also holds the
column its predicate tests: SQLite only answers from an index alone (covering) when
every column the query names is in it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_audit_facts_cell_indexes"
down_revision: str | Sequence[str] | None = "0003_audit_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELL = ["category", "channel", "language", "jurisdiction"]
BOOLEAN_PREDICATES = ("ends_cycle", "first_response")

# (name, partial-index predicate or None, columns) before and after this revision.
BEFORE = (
    ("ix_audit_facts_period", None,
     ["type", "at_ms", *CELL, "outcome", "csat", "log_index", "amount"]),
    ("ix_audit_facts_open", "open_delta <> 0", ["at_ms", *CELL, "open_delta", "log_index"]),
    ("ix_audit_facts_due_add", "due_add_ms IS NOT NULL",
     ["due_add_ms", "at_ms", *CELL, "log_index"]),
    ("ix_audit_facts_due_sub", "due_sub_ms IS NOT NULL",
     ["due_sub_ms", "at_ms", *CELL, "log_index"]),
    ("ix_audit_facts_met", "ends_cycle", ["ended_due_ms", "at_ms", *CELL, "log_index"]),
    ("ix_audit_facts_first", "first_response", ["at_ms", *CELL, "received_ms", "log_index"]),
    ("ix_audit_facts_decision", "type = 'decision'",
     ["at_ms", *CELL, "cycle_start_ms", "log_index"]),
    ("ix_audit_facts_paid", "type = 'compensation_paid'",
     ["at_ms", *CELL, "unit_kind", "unit", "amount", "log_index"]),
)  # fmt: skip
AFTER = (
    ("ix_audit_facts_counts", None,
     ["type", *CELL, "outcome", "csat", "at_ms", "log_index"]),
    ("ix_audit_facts_open", "open_delta <> 0", [*CELL, "at_ms", "open_delta", "log_index"]),
    ("ix_audit_facts_due_add", "due_add_ms IS NOT NULL",
     [*CELL, "due_add_ms", "at_ms", "log_index"]),
    ("ix_audit_facts_due_sub", "due_sub_ms IS NOT NULL",
     [*CELL, "due_sub_ms", "at_ms", "log_index"]),
    ("ix_audit_facts_met", "ends_cycle",
     [*CELL, "ended_due_ms", "at_ms", "log_index", "ends_cycle"]),
    ("ix_audit_facts_first", "first_response",
     [*CELL, "at_ms", "received_ms", "log_index", "first_response"]),
    ("ix_audit_facts_decision", "type = 'decision'",
     [*CELL, "at_ms", "cycle_start_ms", "log_index", "type"]),
    ("ix_audit_facts_paid", "type = 'compensation_paid'",
     [*CELL, "unit_kind", "unit", "amount", "at_ms", "log_index", "type"]),
)  # fmt: skip


def _replace(old, new) -> None:
    for name, _, _ in old:
        op.drop_index(name, table_name="audit_facts")
    for name, where, columns in new:
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
    op.execute(sa.text("ANALYZE audit_facts"))  # both databases: plan with fresh statistics


def upgrade() -> None:
    _replace(BEFORE, AFTER)


def downgrade() -> None:
    _replace(AFTER, BEFORE)
