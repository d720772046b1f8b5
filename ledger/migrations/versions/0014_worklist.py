"""The worklist read model, its search keys, and the SLA alert marks.

Revision ID: 0014_worklist
Revises: 0013_staff_accounts
Create Date: 2026-12-07

``work_items``: one row per complaint (``ledger.casework.worklist``), written by the write path
in each step's transaction; ``work_search``: keyed hashes (HMAC under the lookup key) of the
values staff search by; ``sla_alerts``: each SLA warning, breach alert and automatic escalation
once (``ledger.messages.alerts``). Existing complaints get their rows from the log
(``ledger.casework.work_items.backfill``) with the default service rules and no lookup key:
the runtime recomputes such rows (``indexed`` false) with the deployment's rules and writes
their search keys when it opens.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_worklist"
down_revision: str | Sequence[str] | None = "0013_staff_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)  # ledger.db.UTCDateTime stores this


def upgrade() -> None:
    op.create_table(
        "work_items",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("specialism", sa.String(length=16), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("next_clock", sa.String(length=32), nullable=True),
        sa.Column("next_due_at", UTC_DATETIME, nullable=True),
        sa.Column("clock_started_at", UTC_DATETIME, nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("next_alert_at", UTC_DATETIME, nullable=True),
        sa.Column("indexed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("reference"),
    )
    op.create_index("ix_work_items_open_due", "work_items", ["open", "next_due_at"])
    op.create_index("ix_work_items_queue", "work_items", ["queue", "open"])
    op.create_index("ix_work_items_owner", "work_items", ["owner"])
    op.create_index("ix_work_items_next_alert", "work_items", ["next_alert_at"])
    op.create_index("ix_work_items_indexed", "work_items", ["indexed"])
    op.create_table(
        "work_search",
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("key", "reference", "leaf_hash"),
    )
    op.create_index("ix_work_search_reference", "work_search", ["reference"])
    op.create_index("ix_work_search_leaf", "work_search", ["leaf_hash"])
    op.create_table(
        "sla_alerts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("clock", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("to_role", sa.String(length=16), nullable=True),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sla_alerts_owner", "sla_alerts", ["owner", "at"])
    op.create_index("ix_sla_alerts_role", "sla_alerts", ["to_role", "at"])
    op.create_index("ix_sla_alerts_reference", "sla_alerts", ["reference"])

    from ledger.casework.work_items import backfill

    # The status views' column comes with 0017: rows made here have none until a next step.
    backfill(op.get_bind(), views=False)


def downgrade() -> None:
    op.drop_index("ix_sla_alerts_reference", table_name="sla_alerts")
    op.drop_index("ix_sla_alerts_role", table_name="sla_alerts")
    op.drop_index("ix_sla_alerts_owner", table_name="sla_alerts")
    op.drop_table("sla_alerts")
    op.drop_index("ix_work_search_leaf", table_name="work_search")
    op.drop_index("ix_work_search_reference", table_name="work_search")
    op.drop_table("work_search")
    for name in ("indexed", "next_alert", "owner", "queue", "open_due"):
        op.drop_index(f"ix_work_items_{name}", table_name="work_items")
    op.drop_table("work_items")
