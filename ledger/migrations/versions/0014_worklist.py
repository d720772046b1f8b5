"""The worklist read model and SLA alert marks (placeholder).

Revision ID: 0014_worklist
Revises: 0013_staff_accounts
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0014_worklist"
down_revision: str | Sequence[str] | None = "0013_staff_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
