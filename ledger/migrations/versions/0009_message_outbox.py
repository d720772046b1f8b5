"""(placeholder: to be filled by the work that owns it)

Revision ID: 0009_message_outbox
Revises: 0008_payout_records
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0009_message_outbox"
down_revision: str | Sequence[str] | None = "0008_payout_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
