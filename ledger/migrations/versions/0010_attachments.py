"""(placeholder: to be filled by the work that owns it)

Revision ID: 0010_attachments
Revises: 0009_message_outbox
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0010_attachments"
down_revision: str | Sequence[str] | None = "0009_message_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
