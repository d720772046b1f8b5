"""Restored databases are served only once checked against the log's anchored checkpoint.

``scripts/backup.py restore`` records a *restore mark* (state ``unverified``) in the restored
database before anything can open it; ``scripts/backup.py verify`` (run by ``restore``
itself) recomputes the whole log (``ledger.logstore.integrity``) with the log signing key's
verifier, and checks that the latest anchored ``(size, root)`` - from the chain when an RPC is
configured, else from the anchor records - is a prefix of the restored log
(``root_at(size)`` equal). Only then is the mark set to ``verified``. ``open_ledger`` and
``/readyz`` refuse a database whose latest mark is not ``verified``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, String, Text, insert, inspect, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime, make_private
from ledger.errors import LedgerError

UNVERIFIED = "unverified"
VERIFIED = "verified"
REFUSED = "refused"


class RestoreMark(Base):
    """One restore of a backup into this database, and the outcome of its check."""

    __tablename__ = "ledger_restores"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    restored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class UnverifiedDatabase(LedgerError, RuntimeError):
    """The database was restored from a backup and has not passed its check."""


@dataclass
class RestoreStatus:
    state: str | None  # None: never restored
    detail: str | None = None
    restored_at: datetime | None = None
    mark_id: str | None = None

    @property
    def servable(self) -> bool:
        return self.state in (None, VERIFIED)


def latest_mark(engine: Engine) -> RestoreStatus:
    """The state of the latest restore mark (``state`` None when the database never was)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(RestoreMark.__tablename__):
            return RestoreStatus(None)
        row = conn.execute(
            select(RestoreMark.id, RestoreMark.state, RestoreMark.detail, RestoreMark.restored_at)
            .order_by(RestoreMark.restored_at.desc(), RestoreMark.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return RestoreStatus(None)
    return RestoreStatus(row.state, row.detail, row.restored_at, row.id)


def ensure_servable(engine: Engine) -> None:
    """Raise ``UnverifiedDatabase`` unless the database may be served."""
    status = latest_mark(engine)
    if not status.servable:
        why = f": {status.detail}" if status.detail else ""
        raise UnverifiedDatabase(
            f"this database was restored from a backup and is {status.state}{why}; "
            "run `scripts/backup.py verify` (it must pass) before serving it"
        )


def add_mark(conn, source: str, state: str = UNVERIFIED, detail: str | None = None) -> str:
    """Insert a restore mark on ``conn`` (inside the caller's transaction)."""
    mark_id = str(uuid.uuid4())
    conn.execute(
        insert(RestoreMark).values(
            id=mark_id,
            restored_at=datetime.now(UTC),
            source=source[-255:],
            state=state,
            detail=detail,
        )
    )
    return mark_id


def set_mark(engine: Engine, mark_id: str, state: str, detail: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(RestoreMark)
            .where(RestoreMark.id == mark_id)
            .values(state=state, detail=(detail or "")[:4000] or None, checked_at=datetime.now(UTC))
        )


@dataclass
class RestoreReport:
    """What the check after a restore found; ``ok`` only when nothing is wrong."""

    log_size: int = 0
    anchored_size: int | None = None
    anchor_source: str = "none"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        what = "; ".join(self.problems) if self.problems else "consistent"
        anchored = (
            f"anchored size {self.anchored_size} ({self.anchor_source})"
            if self.anchored_size is not None
            else "no anchor"
        )
        return f"log size {self.log_size}, {anchored}: {what}"


def anchored_consistent(store, size: int, root: bytes) -> str | None:
    """None when the log's tree of ``size`` has root ``root``; else why not."""
    log_size = store.size()
    if size > log_size:
        return (
            f"the anchored checkpoint has {size} entries but the restored log only {log_size}: "
            "anchored entries are missing"
        )
    if size == 0:
        return None
    try:
        ours = store.root_at(size)
    except (DBAPIError, LookupError, ValueError) as exc:  # missing tiles, etc.
        return f"cannot recompute the root at size {size}: {exc}"
    except Exception as exc:
        return f"cannot recompute the root at size {size}: {type(exc).__name__}: {exc}"
    if ours != root:
        return f"the restored log's root at size {size} differs from the anchored root"
    return None


# --- dump, restore, verify ------------------------------------------------------------------


class BackupError(LedgerError, RuntimeError):
    """A dump or restore could not be done as asked."""


def _pg_env(url: str) -> tuple[dict[str, str], str]:
    """libpq environment (password never on a command line) and the database name."""
    import os

    from sqlalchemy.engine import make_url

    u = make_url(url)
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", u.host),
        ("PGPORT", str(u.port) if u.port else None),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
    ):
        if value:
            env[var] = value
    if not u.database:
        raise BackupError("the PostgreSQL URL names no database")
    return env, u.database


def _sqlite_path(url: str):
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def dump_database(url: str, out) -> None:
    """Write a consistent backup of the database at ``url`` to ``out``.

    PostgreSQL: ``pg_dump`` custom format (one consistent snapshot, restorable with
    ``pg_restore``). SQLite: the online backup API (consistent while the server runs).
    """
    import sqlite3
    import subprocess
    from pathlib import Path

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        src_path = _sqlite_path(url)
        if not src_path.exists():
            raise BackupError(f"no database at {src_path}")
        tmp = out.with_name(out.name + ".partial")
        tmp.unlink(missing_ok=True)
        make_private(tmp)  # a backup holds personal data: 0600 like the database
        src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        tmp.replace(out)
        return
    env, dbname = _pg_env(url)
    cmd = ["pg_dump", "--format=custom", "--no-owner", "--file", str(out), "--dbname", dbname]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[-2000:]}")


def _pg_admin_engine(url: str):
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    admin = make_url(url).set(drivername="postgresql+psycopg", database="postgres")
    return create_engine(admin, isolation_level="AUTOCOMMIT")


def _prepare_pg_target(url: str, force: bool) -> None:
    """Create the target database if missing; refuse a non-empty one unless ``force``."""
    from sqlalchemy import text

    from ledger.db import make_engine

    _, dbname = _pg_env(url)
    admin = _pg_admin_engine(url)
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": dbname}
            ).first()
            if exists is None:
                conn.execute(text(f'CREATE DATABASE "{dbname}"'))
                return
    finally:
        admin.dispose()
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            tables = inspect(conn).get_table_names()
            if tables and not force:
                raise BackupError(
                    f"database {dbname!r} is not empty ({len(tables)} tables): restore into an "
                    "empty database, or pass --force to replace its contents"
                )
            if tables:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _ensure_mark_table(engine: Engine) -> bool:
    """Create ``ledger_restores`` if the restored schema predates it; True if created."""
    with engine.begin() as conn:
        if inspect(conn).has_table(RestoreMark.__tablename__):
            return False
        RestoreMark.__table__.create(conn)
        return True


def _finish_schema(engine: Engine, created_mark_table: bool) -> None:
    """Bring a restored database to the current schema (the mark table may pre-exist)."""
    from ledger import migrations

    if created_mark_table:
        from alembic import command

        with engine.begin() as conn:
            if migrations.current_revisions(conn) == ("0001_baseline",):
                cfg = migrations.alembic_config()
                cfg.attributes["connection"] = conn
                command.stamp(cfg, "0002_restore_marks")
    migrations.upgrade(engine)


def restore_database(url: str, backup, force: bool = False) -> str:
    """Restore ``backup`` into the database at ``url``, marked ``unverified``; the mark id.

    The mark is written before the log's rows arrive (PostgreSQL: between the schema and the
    data sections of the dump; SQLite: into the copy before it replaces the database file),
    so no server can open the restored log before ``verify_database`` accepts it.
    """
    import os
    import sqlite3
    import subprocess
    from pathlib import Path

    from ledger.db import make_engine

    backup = Path(backup)
    if not backup.is_file():
        raise BackupError(f"no backup file {backup}")
    if url.startswith("sqlite"):
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not force:
            raise BackupError(f"{target} exists: stop the server and pass --force to replace it")
        tmp = target.with_name(target.name + ".restoring")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        make_private(tmp)
        src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        engine = make_engine(f"sqlite:///{tmp}")
        try:
            created = _ensure_mark_table(engine)
            with engine.begin() as conn:
                mark_id = add_mark(conn, backup.name)
            _finish_schema(engine, created)
            with engine.connect() as conn:  # fold the WAL into the file before the move
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()
        for suffix in ("-wal", "-shm", "-journal"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        return mark_id

    _prepare_pg_target(url, force)
    env, dbname = _pg_env(url)

    def pg_restore(section: str) -> None:
        cmd = [
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            f"--section={section}",
            "--dbname",
            dbname,
            str(backup),
        ]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
        if result.returncode != 0:
            raise BackupError(f"pg_restore ({section}) failed: {result.stderr.strip()[-2000:]}")

    pg_restore("pre-data")
    engine = make_engine(url)
    try:
        created = _ensure_mark_table(engine)
        with engine.begin() as conn:
            mark_id = add_mark(conn, backup.name)
        pg_restore("data")
        pg_restore("post-data")
        _finish_schema(engine, created)
    finally:
        engine.dispose()
    return mark_id


def _trusted_verifier(settings, verifier_key: str | None):
    """The verifier key to trust: given explicitly, else from the log signing key file."""
    from ledger.log.keys import KeyFileError, load_key_file
    from ledger.log.note import Verifier

    if verifier_key:
        return Verifier.from_string(verifier_key), "given verifier key"
    try:
        return load_key_file(settings.log_key_file).verifier(), "log signing key file"
    except (KeyFileError, OSError) as exc:
        raise BackupError(
            f"cannot load the log signing key ({exc}); pass the log's verifier key "
            "(--verifier-key) to check the restored log against"
        ) from exc


def _chain_head(settings) -> tuple[int, bytes, str]:
    """(size, root, description) the chain's LogAnchor holds for this log."""
    from web3 import Web3

    from ledger.anchoring.config import AnchorSettings, redact_url
    from ledger.anchoring.contract import LogAnchorClient, log_id_for_origin

    # The submitter key is not needed for reading.
    anchor = AnchorSettings.from_settings(settings, {"LEDGER_ANCHOR_KEY_FILE": "-"})
    w3 = Web3(Web3.HTTPProvider(anchor.rpc_url, request_kwargs={"timeout": 10}))
    client = LogAnchorClient(w3, anchor.contract_address())
    head = client.latest(log_id_for_origin(settings.log_origin))
    return head.size, head.root, f"chain via {redact_url(anchor.rpc_url)}"


def verify_database(
    settings,
    *,
    verifier_key: str | None = None,
    anchor_source: str = "auto",
    mark: bool = True,
) -> RestoreReport:
    """Check the database's log: integrity, and consistency with the anchored checkpoint.

    ``anchor_source``: ``chain`` (LEDGER_CHAIN_RPC_URL and the contract), ``records`` (the
    confirmed anchor records in the database), or ``auto`` (the chain when an RPC URL is
    configured, else the records). The latest restore mark becomes ``verified`` only when
    every check passes, else ``refused``.
    """
    from ledger.anchoring.contract import log_id_for_origin
    from ledger.anchoring.models import AnchorRecord, AnchorState
    from ledger.db import make_engine
    from ledger.logstore.integrity import check_integrity
    from ledger.logstore.models import Log
    from ledger.logstore.store import LogStore

    report = RestoreReport()
    engine = make_engine(settings.database_url, connect_timeout=settings.db_connect_timeout)
    try:
        status = latest_mark(engine)
        try:
            verifier, key_source = _trusted_verifier(settings, verifier_key)
        except BackupError as exc:
            report.problems.append(str(exc))
            verifier, key_source = None, ""
        origin = settings.log_origin
        with engine.connect() as conn:
            stored_key = conn.execute(select(Log.verifier_key).where(Log.origin == origin)).scalar()
        if stored_key is None:
            report.problems.append(f"the restored database has no log {origin!r}")
        elif verifier is not None and stored_key != str(verifier):
            report.problems.append(
                f"the restored log's verifier key is not the trusted one ({key_source})"
            )
        if report.ok:
            store = LogStore(engine, origin, verifier=verifier)
            integrity = check_integrity(store)
            report.log_size = integrity.entries
            if not integrity.ok:
                report.problems.append(f"integrity check failed: {integrity.first}")
            report.notes.append(
                f"integrity: {integrity.entries} entries, {integrity.tiles} tiles, "
                f"{integrity.checkpoints} checkpoints recomputed ({key_source})"
            )
        if report.ok:
            heads: list[tuple[int, bytes]] = []
            use_chain = anchor_source == "chain" or (
                anchor_source == "auto" and settings.chain_rpc_url
            )
            if use_chain:
                try:
                    size, root, where = _chain_head(settings)
                    report.anchor_source = where
                    if size > 0:
                        heads.append((size, root))
                except Exception as exc:
                    report.problems.append(
                        f"cannot read the anchored checkpoint from the chain "
                        f"({type(exc).__name__}); use --anchor-source records to check "
                        "against the anchor records instead"
                    )
            else:
                report.anchor_source = "anchor records"
                with engine.connect() as conn:
                    rows = conn.execute(
                        select(AnchorRecord.tree_size, AnchorRecord.root_hash)
                        .where(
                            AnchorRecord.log_id == log_id_for_origin(origin),
                            AnchorRecord.state == AnchorState.CONFIRMED,
                        )
                        .order_by(AnchorRecord.tree_size.desc())
                        .limit(1000)
                    ).all()
                heads = [(int(r[0]), bytes(r[1])) for r in rows]
            if heads:
                report.anchored_size = heads[0][0]
            for size, root in heads:
                why = anchored_consistent(store, size, root)
                if why is not None:
                    report.problems.append(why)
                    break
            if not heads and report.ok:
                report.notes.append("no anchored checkpoint yet: integrity check only")
    finally:
        engine.dispose()
    if mark and status.mark_id is not None:
        state = VERIFIED if report.ok else REFUSED
        engine = make_engine(settings.database_url, connect_timeout=settings.db_connect_timeout)
        try:
            set_mark(engine, status.mark_id, state, report.summary())
        finally:
            engine.dispose()
    return report
