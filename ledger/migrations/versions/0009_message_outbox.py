"""Customer messages: the transactional outbox and the webhook endpoints.

Revision ID: 0009_message_outbox
Revises: 0008_payout_records
Create Date: 2026-12-07

``outbox_messages``: one row per message and receiver (an email to the customer, a webhook
delivery per subscribed endpoint), written in the transaction of the step that causes it and
worked off by the dispatcher; no address or text is stored here (``ledger.messages.models``).
``webhook_endpoints``: the admin-registered receivers, their signing secret encrypted at rest.
New tables: nothing to convert.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_message_outbox"
down_revision: str | Sequence[str] | None = "0008_payout_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)  # ledger.db.UTCDateTime stores this
STATES = ("pending", "sending", "delivered", "recorded", "dead", "skipped")


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("for_seq", sa.Integer(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("email", "webhook", name="channel", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="outboxstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("recorded_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_outbox_messages_state", "outbox_messages", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_messages_reference", "outbox_messages", ["reference"])
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("disabled_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("webhook_endpoints")
    op.drop_index("ix_outbox_messages_reference", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_state", table_name="outbox_messages")
    op.drop_table("outbox_messages")
