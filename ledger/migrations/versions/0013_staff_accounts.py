"""Staff accounts, their sessions and their access events (placeholder).

Revision ID: 0013_staff_accounts
Revises: 0012_nps_facts
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0013_staff_accounts"
down_revision: str | Sequence[str] | None = "0012_nps_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
