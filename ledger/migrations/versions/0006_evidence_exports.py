"""Evidence exports: one row per distinct bundle given out, with its bytes for a while.

Revision ID: 0006_evidence_exports
Revises: 0005_storage_hardening
Create Date: 2026-11-24

Exporting a bundle is a POST that records ``bundle_exported`` once per distinct bundle (the
row is written in the same transaction as the log entry; its primary key refuses a twin);
the bytes are kept for ``LEDGER_EXPORT_RETENTION_HOURS`` so that fetching the export again
is a read (``ledger.casework.exports``). Earlier exports were not stored: nothing to convert.

Stored bundles hold bodies: a trigger on ``event_bodies`` deletes the stored bytes of a
complaint's exports in the transaction that erases one of its bodies.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_evidence_exports"
down_revision: str | Sequence[str] | None = "0005_storage_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The complaint of the erased body: its (older) complaint_events row already exists.
_FORGET = """UPDATE evidence_exports SET data = NULL, stored_until = NULL
  WHERE data IS NOT NULL
    AND reference = (SELECT reference FROM complaint_events WHERE leaf_hash = NEW.leaf_hash)"""
FORGET_ERASED = {
    "sqlite": [
        "CREATE TRIGGER evidence_exports_forget_erased AFTER UPDATE OF erased_by ON event_bodies "
        f"FOR EACH ROW WHEN NEW.erased_by IS NOT NULL BEGIN {_FORGET}; END"
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION ledger_forget_erased_exports() RETURNS trigger AS $$ "
        f"BEGIN {_FORGET}; RETURN NEW; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER evidence_exports_forget_erased AFTER UPDATE OF erased_by ON event_bodies "
        "FOR EACH ROW WHEN (NEW.erased_by IS NOT NULL) "
        "EXECUTE FUNCTION ledger_forget_erased_exports()",
    ],
}
DROP_FORGET_ERASED = {
    "sqlite": ["DROP TRIGGER IF EXISTS evidence_exports_forget_erased"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS evidence_exports_forget_erased ON event_bodies",
        "DROP FUNCTION IF EXISTS ledger_forget_erased_exports()",
    ],
}


def upgrade() -> None:
    op.create_table(
        "evidence_exports",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("bundle_sha256", sa.String(length=64), nullable=False),
        sa.Column("proof_sha256", sa.String(length=64), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("customer_safe", sa.Boolean(), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("stored_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("reference", "bundle_sha256"),
    )
    op.create_index("ix_evidence_exports_proof", "evidence_exports", ["reference", "proof_sha256"])
    op.create_index("ix_evidence_exports_stored_until", "evidence_exports", ["stored_until"])
    for stmt in FORGET_ERASED[op.get_bind().dialect.name]:
        op.execute(stmt)


def downgrade() -> None:
    for stmt in DROP_FORGET_ERASED[op.get_bind().dialect.name]:
        op.execute(stmt)
    op.drop_index("ix_evidence_exports_stored_until", table_name="evidence_exports")
    op.drop_index("ix_evidence_exports_proof", table_name="evidence_exports")
    op.drop_table("evidence_exports")
