"""Decision drafts awaiting officers' browser signatures (placeholder).

Revision ID: 0015_signing_drafts
Revises: 0014_worklist
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0015_signing_drafts"
down_revision: str | Sequence[str] | None = "0014_worklist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
