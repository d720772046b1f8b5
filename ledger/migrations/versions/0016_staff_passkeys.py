"""Staff passkeys (``ledger.access.passkeys``) and their open WebAuthn challenges
(``ledger.access.passkey_challenges``).

Revision ID: 0016_staff_passkeys
Revises: 0015_signing_drafts
Create Date: 2026-12-08

A passkey is kept as its credential id and COSE public key only; a challenge as its SHA-256,
bound to the SHA-256 of the browser's cookie, until it is used or expires.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_staff_passkeys"
down_revision: str | Sequence[str] | None = "0015_signing_drafts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_passkeys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["staff_accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id"),
    )
    op.create_index("ix_staff_passkeys_account_id", "staff_passkeys", ["account_id"])
    op.create_table(
        "staff_passkey_challenges",
        sa.Column("challenge_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("binding_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["staff_accounts.id"]),
        sa.PrimaryKeyConstraint("challenge_hash"),
    )
    op.create_index(
        "ix_staff_passkey_challenges_binding_hash", "staff_passkey_challenges", ["binding_hash"]
    )
    op.create_index(
        "ix_staff_passkey_challenges_expires_at", "staff_passkey_challenges", ["expires_at"]
    )


def downgrade() -> None:
    # Dropping a table drops its indexes.
    op.drop_table("staff_passkey_challenges")
    op.drop_table("staff_passkeys")
