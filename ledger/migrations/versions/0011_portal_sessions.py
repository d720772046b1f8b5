"""(placeholder: to be filled by the work that owns it)

Revision ID: 0011_portal_sessions
Revises: 0010_attachments
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0011_portal_sessions"
down_revision: str | Sequence[str] | None = "0010_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
