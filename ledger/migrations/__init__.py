"""Alembic migrations of the ledger's schema, run programmatically or from the command line.

Every table, index and append-only trigger is created by a revision in ``versions/``;
``ledger.runtime.create_schema`` runs :func:`upgrade` (``alembic upgrade heads``), so the
embedded SQLite default, the tests and production all get the same migrated schema.
From the repository root the usual alembic commands work too (``alembic.ini`` reads the
database from ``LEDGER_DATABASE_URL``)::

    .venv/bin/alembic upgrade heads
    .venv/bin/alembic revision --autogenerate -m "what changed"   # then review the file
    .venv/bin/alembic downgrade -1

Concurrent starts (several gunicorn workers, the anchor worker) are safe: the upgrade runs
in one transaction that first takes a lock (PostgreSQL advisory lock; SQLite
``BEGIN IMMEDIATE``), and DDL is transactional on both.

A database made before migrations existed (by ``metadata.create_all``: it has ledger tables
but no ``alembic_version``) is adopted: missing baseline tables are created, the baseline
revision is stamped, and later revisions run as usual.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import struct
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

HERE = Path(__file__).resolve().parent
BASELINE = "0001_baseline"
# Tables of the baseline revision (for adopting databases made by create_all).
BASELINE_TABLES = (
    "logs",
    "log_entries",
    "log_tiles",
    "log_checkpoints",
    "api_keys",
    "complaints",
    "complaint_events",
    "event_bodies",
    "officer_key_entries",
    "idempotency_records",
    "access_records",
    "anchor_records",
)
# Every module that declares tables on ledger.db.Base. tests/migrations checks that no model
# module is missing here, and that the migrated schema equals these models.
MODEL_MODULES = (
    "ledger.logstore.models",
    "ledger.access.models",
    "ledger.casework.records",
    "ledger.anchoring.models",
    "ledger.payouts.models",
    "ledger.backup",
    "ledger.casework.exports",
    "ledger.access.portal_sessions",
    "ledger.messages.models",
    "ledger.attachments.models",
    "ledger.access.staff",
    "ledger.access.staff_record",
    "ledger.access.staff_sessions",
    "ledger.access.passkeys",
    "ledger.access.passkey_challenges",
    "ledger.casework.drafts",
    "ledger.casework.key_holders",
    "ledger.casework.worklist",
    "ledger.messages.alerts",
)
OPTIONAL_MODEL_MODULES = ("ledger.casework.facts",)
_LOCK_KEY = struct.unpack(">q", hashlib.sha256(b"ledger-schema-migrations").digest()[:8])[0]


def target_metadata() -> MetaData:
    """``ledger.db.Base.metadata`` with every model module imported."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    for name in OPTIONAL_MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    from ledger.db import Base

    return Base.metadata


def alembic_config(url: str | None = None) -> Config:
    """An alembic Config pointing at this package (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> tuple[str, ...]:
    return tuple(sorted(_script().get_heads()))


def current_revisions(conn: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def is_current(engine: Engine) -> bool:
    """True when the database is at the head revision(s): nothing to do."""
    with engine.connect() as conn:
        return current_revisions(conn) == head_revisions()


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def _begin_locked(conn: Connection):
    if conn.dialect.name == "sqlite":
        conn.info["sqlite_begin"] = "IMMEDIATE"  # see ledger.db: one writer, waits its turn
    tx = conn.begin()
    _lock(conn)
    return tx


def _adopt_unversioned(conn: Connection, cfg: Config) -> None:
    """A create_all-made database: create missing baseline tables and stamp the baseline."""
    insp = inspect(conn)
    if insp.has_table("alembic_version"):
        return
    existing = set(insp.get_table_names())
    if not existing & set(BASELINE_TABLES):
        return  # empty (or foreign) database: migrate from the start
    metadata = target_metadata()
    missing = [metadata.tables[t] for t in BASELINE_TABLES if t not in existing]
    metadata.create_all(conn, tables=missing)
    cfg.attributes["connection"] = conn
    command.stamp(cfg, BASELINE)


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database to ``revision`` (all heads by default); a no-op when current."""
    if revision == "heads" and is_current(engine):
        return
    cfg = alembic_config()
    with engine.connect() as conn:
        tx = _begin_locked(conn)
        try:
            _adopt_unversioned(conn, cfg)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            tx.commit()
        except BaseException:
            tx.rollback()
            raise


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        tx = _begin_locked(conn)
        try:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
            tx.commit()
        except BaseException:
            tx.rollback()
            raise
