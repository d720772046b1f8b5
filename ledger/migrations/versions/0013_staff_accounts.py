"""Staff accounts, their sessions and their access events (``ledger.access.staff``,
``ledger.access.staff_sessions``, ``ledger.access.staff_record``).

Revision ID: 0013_staff_accounts
Revises: 0012_nps_facts
Create Date: 2026-12-07

An account keeps its password as an argon2id hash and its TOTP secret sealed (AES-GCM under
the staff key file); a session, the SHA-256 of its id. The access record
(``staff_access_events``) is append-only, like the other records.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.db import sqlite_no_replace_ddl
from ledger.logstore.models import append_only_ddl

revision: str = "0013_staff_accounts"
down_revision: str | Sequence[str] | None = "0012_nps_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("pseudonym", sa.String(length=32), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("languages", sa.String(length=100), nullable=False),
        sa.Column("specialisms", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
        sa.UniqueConstraint("pseudonym"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("session_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["staff_accounts.id"]),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    op.create_index("ix_staff_sessions_account_id", "staff_sessions", ["account_id"])
    op.create_index("ix_staff_sessions_expires_at", "staff_sessions", ["expires_at"])
    op.create_table(
        "staff_access_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["staff_accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_staff_access_events_account_id", "staff_access_events", ["account_id", "id"]
    )
    op.create_index("ix_staff_access_events_kind", "staff_access_events", ["kind", "id"])
    dialect = op.get_bind().dialect.name
    for stmt in append_only_ddl(dialect, "staff_access_events"):
        op.execute(sa.text(stmt))
    if dialect == "sqlite":
        for stmt in sqlite_no_replace_ddl("staff_access_events", [["id"]]):
            op.execute(sa.text(stmt))


def downgrade() -> None:
    # Dropping a table drops its indexes and triggers.
    op.drop_table("staff_access_events")
    op.drop_table("staff_sessions")
    op.drop_table("staff_accounts")
