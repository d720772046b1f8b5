"""SQLAlchemy base and engine factory shared by every ledger package."""

from __future__ import annotations

import os
import select
from datetime import UTC
from pathlib import Path

from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase

DEFAULT_DATA_DIR = Path(os.environ.get("LEDGER_DATA_DIR", "data"))


class Base(DeclarativeBase):
    """Declarative base: every table of the ledger hangs off this metadata."""


def default_database_url() -> str:
    url = os.environ.get("LEDGER_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{(DEFAULT_DATA_DIR / 'ledger.sqlite3').resolve()}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, full fsync and manual transaction control."""
    url = url or default_database_url()
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
    connect_args.setdefault(
        "connect_timeout",
        kwargs.pop("connect_timeout", None)
        or int(os.environ.get("LEDGER_DB_CONNECT_TIMEOUT", "5")),
    )
    kwargs["connect_args"] = connect_args
    engine = create_engine(url, **kwargs)
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


def _configure_sqlite(engine: Engine) -> None:
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
