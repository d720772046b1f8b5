"""Storage of the transparency log: logs, entries, full hash tiles and signed checkpoints.

Partial tiles are not stored: a partial level-0 tile is the run of leaf hashes after the
last full tile, a partial level-L tile the run of level-(L-1) tile roots. Entries, tiles
and checkpoints are append-only; database triggers refuse UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime

APPEND_ONLY_TABLES = ("log_entries", "log_tiles", "log_checkpoints")


class Log(Base):
    __tablename__ = "logs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(255), unique=True)
    verifier_key: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LogEntry(Base):
    __tablename__ = "log_entries"

    log_id: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_log_entries_leaf_hash", "log_id", "leaf_hash"),)


class LogTile(Base):
    """A full (256-hash) tile at level ``level``; ``root`` is the hash of its subtree."""

    __tablename__ = "log_tiles"

    log_id: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogCheckpoint(Base):
    """A signed checkpoint per committed batch, with the compact range needed to extend it."""

    __tablename__ = "log_checkpoints"

    log_id: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    frontier: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _sqlite_trigger_ddl(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for op in ("UPDATE", "DELETE")
    ]


PG_APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql
"""


def _pg_trigger_ddl(table: str) -> list[str]:
    return [
        PG_APPEND_ONLY_FUNCTION,
        f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
        f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()",
    ]


def append_only_ddl(dialect: str, table: str) -> list[str]:
    """Statements that make ``table`` append-only on this dialect (used by migrations too)."""
    if dialect == "sqlite":
        return _sqlite_trigger_ddl(table)
    if dialect == "postgresql":
        return _pg_trigger_ddl(table)
    raise ValueError(f"unsupported database dialect {dialect}")


def install_append_only_triggers(table_obj) -> None:
    """Attach the append-only triggers to a table, created together with it."""
    for dialect in ("sqlite", "postgresql"):
        for stmt in append_only_ddl(dialect, table_obj.name):
            # DDL() interpolates %-placeholders, so literal percent signs are doubled.
            ddl = DDL(stmt.replace("%", "%%"))
            event.listen(table_obj, "after_create", ddl.execute_if(dialect=dialect))


for _model in (LogEntry, LogTile, LogCheckpoint):
    install_append_only_triggers(_model.__table__)
