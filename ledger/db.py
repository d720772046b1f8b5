"""SQLAlchemy base and engine factory shared by every ledger package."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import stat
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Index,
    MetaData,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    exc,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger(__name__)

# Seconds to connect to PostgreSQL when the caller gives none: the default of
# LEDGER_DB_CONNECT_TIMEOUT (Settings.db_connect_timeout).
CONNECT_TIMEOUT = 5
# Each engine's connect timeout as make_engine was given it (an engine does not tell its
# connect arguments): connections opened beside the engine's pool use the same.
_CONNECT_TIMEOUTS: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


class Base(DeclarativeBase):
    """Declarative base: every table of the ledger hangs off this metadata."""


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, connect_timeout: int = CONNECT_TIMEOUT, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, full fsync and manual transaction control.

    ``connect_timeout``: seconds to connect to PostgreSQL (``Settings.engine_options`` gives
    the configured one); SQLite ignores it.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    # PostgreSQL: check pooled connections before use (a restarted server leaves dead ones
    # behind), and fail fast when the server is down instead of hanging a worker.
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("connect_timeout", connect_timeout)
    kwargs["connect_args"] = connect_args
    engine = create_engine(url, **kwargs)
    _CONNECT_TIMEOUTS[engine] = int(connect_args["connect_timeout"])
    if not kwargs.get("pool_pre_ping"):
        _replace_connections_closed_by_server(engine)
    return engine


def _replace_connections_closed_by_server(engine: Engine) -> None:
    """On pool checkout, replace a connection the server closed (restart, killed backend).

    An idle pooled connection has nothing to read unless the server closed it (or sent it a
    notice), so a zero-timeout poll of its socket tells without the round trip that
    ``pool_pre_ping`` spends on every checkout. Only a connection with input is pinged; if
    the ping fails, every older pooled connection is replaced too, as ``pool_pre_ping`` does.
    """

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, _record, _proxy) -> None:
        try:
            if not (dbapi_conn.closed or dbapi_conn.broken):
                poller = select.poll()
                poller.register(dbapi_conn.fileno(), select.POLLIN | select.POLLHUP)
                if not poller.poll(0) or engine.dialect.do_ping(dbapi_conn):
                    return
        except Exception as error:
            reason = type(error).__name__
        else:
            reason = "closed"
        raise exc.InvalidatePoolError(f"pooled connection is dead ({reason})")


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for in-memory databases and ``file:`` URIs."""
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:") or url.query.get("uri"):
        return None
    return Path(db)


def make_private(path: Path) -> None:
    """The SQLite file ``path`` and its -wal/-shm: created 0600, or made 0600 if ours.

    SQLite gives a new -wal and -shm file the main file's permissions, so a 0600 database
    keeps its later journal files private too. A missing folder is left for SQLite to
    report.
    """
    if not path.parent.is_dir():
        return
    # An existing file is not opened here (it may be read-only to us): only its mode counts.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO) and st.st_uid == os.getuid():
            try:
                os.chmod(f, 0o600)
            except OSError as exc:  # a read-only file system: nothing is written there
                log.warning("cannot make %s private (mode 0600): %s", f, exc)


def _configure_sqlite(engine: Engine) -> None:
    path = sqlite_file(engine.url)

    @event.listens_for(engine, "do_connect")
    def _private_files(_dialect, _record, _cargs, _cparams):
        if path is not None:
            make_private(path)  # before SQLite opens (and maybe creates) it

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's BEGIN reach SQLite so BEGIN IMMEDIATE can be issued explicitly.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # 64 MiB page cache: the leaf-hash index takes random inserts as the log grows.
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.info.pop("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value, dialect):
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


def sqlite_no_replace_ddl(table: str, keys: Sequence[Sequence[str]]) -> list[str]:
    """A trigger refusing ``INSERT OR REPLACE`` / ``REPLACE INTO`` on an append-only table.

    REPLACE deletes the row holding a conflicting key and inserts the new one, and SQLite
    does not fire DELETE triggers for it (recursive triggers are off), so the append-only
    triggers alone let it rewrite history. BEFORE INSERT triggers do run first: this one
    aborts an insert whose key (``keys``: the primary key and every unique key) is already
    present. An upsert's DO UPDATE is an UPDATE, refused by the append-only triggers.
    """
    match = " OR ".join("(" + " AND ".join(f"{c} = NEW.{c}" for c in cols) + ")" for cols in keys)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {match}) "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: this key is already present'); END"
    ]


def unique_keys(table) -> list[list[str]]:
    """The column lists of a Table's primary key, unique constraints and unique indexes."""
    keys = [[c.name for c in table.primary_key.columns]]
    for item in (*table.constraints, *table.indexes):
        if isinstance(item, UniqueConstraint) or (isinstance(item, Index) and item.unique):
            keys.append([c.name for c in item.columns])
    return [k for k in keys if k]


@event.listens_for(Base.metadata, "after_create")
def _refuse_replace_on_created_tables(
    _target: MetaData, connection: Connection, tables=(), **_kw
) -> None:
    """Tables made by ``create_all`` (not by migrations): an append-only table (one with the
    ``<table>_no_delete`` trigger of ``ledger.logstore.models``) gets the no-REPLACE trigger."""
    if connection.dialect.name != "sqlite":
        return
    for table in tables:
        append_only = connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = :n"),
            {"n": f"{table.name}_no_delete"},
        ).first()
        if append_only is not None:
            for stmt in sqlite_no_replace_ddl(table.name, unique_keys(table)):
                connection.exec_driver_sql(stmt)


def read_engine(engine: Engine) -> Engine:
    """The engine for single-statement reads, which need no transaction: on PostgreSQL,
    autocommit saves the BEGIN and the ROLLBACK round trips of each (SQLite keeps its own
    BEGIN handling)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class DirectReads:
    """Single-statement reads on PostgreSQL run straight on psycopg connections of a small
    pool of their own (autocommit, server-side prepared): for the hottest reads, where a
    SQLAlchemy checkout and execute cost three times the statement. Statements are
    SQLAlchemy ones, compiled once. A connection is opened when a read finds none idle, so
    there are at most as many as reads run at once (a worker's threads); ``size`` idle ones
    are kept, and they connect with the engine's timeout (``make_engine``'s
    ``connect_timeout``). Elsewhere (SQLite), and whenever a direct connection
    fails (it is dropped, e.g. after a server restart), the engine runs the statement.
    """

    def __init__(self, engine: Engine, size: int = 32) -> None:
        self.engine = engine
        self.size = size
        self._direct = engine.dialect.name == "postgresql"
        self._reader = read_engine(engine)
        self._idle: list[Any] = []
        self._guard = threading.Lock()
        self._pid = os.getpid()
        self._sql: dict[Any, str] = {}
        self._down_until = 0.0  # after a failed connect, the engine alone for a while

    def first(self, statement: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of ``statement`` with ``params`` (named like its bind parameters)."""
        if self._direct:
            conn = self._take()
            if conn is not None:
                try:
                    row = conn.execute(self._compiled(statement), params, prepare=True).fetchone()
                except Exception:  # a dead or broken connection: the engine answers instead
                    with contextlib.suppress(Exception):
                        conn.close()
                else:
                    self._give(conn)
                    return row
        with self._reader.connect() as sa_conn:
            found = sa_conn.execute(statement, params).first()
        return None if found is None else tuple(found)

    def _compiled(self, statement: Any) -> str:
        sql = self._sql.get(statement)
        if sql is None:
            sql = str(statement.compile(dialect=self.engine.dialect))
            self._sql[statement] = sql
        return sql

    def _take(self) -> Any:
        with self._guard:
            if self._pid != os.getpid():  # a forked child: the parent's sockets are not ours
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
            if time.monotonic() < self._down_until:
                return None
        try:
            import psycopg

            url = self.engine.url.set(drivername="postgresql")
            return psycopg.connect(
                url.render_as_string(hide_password=False),
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUTS.get(self.engine, CONNECT_TIMEOUT),
            )
        except Exception:
            self._down_until = time.monotonic() + 5.0
            return None

    def _give(self, conn: Any) -> None:
        with self._guard:
            if len(self._idle) < self.size and os.getpid() == self._pid:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()
