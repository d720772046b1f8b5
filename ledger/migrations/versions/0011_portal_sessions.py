"""Customer portal sessions: the hash of each signed-in browser's session id, the complaint
it opens, its CSRF token, and its absolute and idle expiry (``ledger.access.portal_sessions``).

Revision ID: 0011_portal_sessions
Revises: 0010_attachments
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_portal_sessions"
down_revision: str | Sequence[str] | None = "0010_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("session_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    op.create_index("ix_portal_sessions_reference", "portal_sessions", ["reference"])
    op.create_index("ix_portal_sessions_expires_at", "portal_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_portal_sessions_expires_at", table_name="portal_sessions")
    op.drop_index("ix_portal_sessions_reference", table_name="portal_sessions")
    op.drop_table("portal_sessions")
