"""The status answer's read model: ``work_items.status_view``
(``ledger.complaints.status_view``), kept by the write path with each step.

Revision ID: 0017_status_views
Revises: 0016_staff_passkeys
Create Date: 2026-12-09

Existing rows get none: their status is made from the chain until the complaint's next step.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_status_views"
down_revision: str | Sequence[str] | None = "0016_staff_passkeys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(sa.Column("status_view", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("status_view")
