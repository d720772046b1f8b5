"""Test databases on the backend under test: SQLite files, or PostgreSQL when
LEDGER_DATABASE_URL is set.

Migrating a database takes far longer than copying one, so a session migrates one template
and every test gets a copy of it (:class:`TemplateDatabases`). Schema and backup tests that
need empty databases take them from :class:`ScratchDatabases`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from ledger.db import make_engine
from ledger.runtime import create_schema

PG_URL = os.environ.get("LEDGER_DATABASE_URL")
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_url_for(base: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``base`` (psycopg driver)."""
    url = make_url(base).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def pg_admin(base: str) -> Engine:
    """An autocommit engine on the server's ``postgres`` database, for CREATE/DROP DATABASE.

    Pinged on checkout: tests that terminate backends or restart the server may kill its
    pooled connection."""
    return create_engine(
        pg_url_for(base, "postgres"), isolation_level="AUTOCOMMIT", pool_pre_ping=True
    )


def pg_reachable(url: str) -> bool:
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"), connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        create_schema(engine)
    finally:
        engine.dispose()  # PostgreSQL copies a template only while nobody is connected to it


class TemplateDatabases:
    """Migrated databases for tests: copies of one template migrated on first use.

    SQLite: the template is one self-contained file (journal_mode DELETE: no -wal/-shm beside
    it), copied byte for byte; the ledger turns WAL back on when it opens the copy.
    PostgreSQL: ``CREATE DATABASE ... TEMPLATE``, which takes as long as a short test (the
    server copies and syncs its files), so the next copy is made in the background while the
    test that got the previous one runs.
    """

    def __init__(self, workdir: Path, pg_url: str | None) -> None:
        self.workdir = workdir
        self.pg_url = pg_url
        self._admin = pg_admin(pg_url) if pg_url else None
        self._template: str | None = None  # file path (SQLite) or database name
        self._background = ThreadPoolExecutor(max_workers=1) if pg_url else None
        self._spare: Future[str] | None = None  # the next copy (PostgreSQL)

    def _ensure_template(self) -> str:
        if self._template is not None:
            return self._template
        if self._admin is None:
            path = self.workdir / "template.sqlite3"
            _migrate(f"sqlite:///{path}")
            with closing(sqlite3.connect(path)) as conn:
                conn.execute("PRAGMA journal_mode=DELETE")  # folds the WAL into the file
            self._template = str(path)
        else:
            name = f"tmpl_{uuid.uuid4().hex[:16]}"
            self._execute(f'CREATE DATABASE "{name}"')
            self._template = name  # dropped by close() even if migrating fails
            _migrate(pg_url_for(self.pg_url, name))
        return self._template

    def create(self, folder: Path) -> str:
        """A new migrated database (a file in ``folder`` on SQLite); returns its URL."""
        template = self._ensure_template()
        if self._admin is None:
            path = folder / "ledger.sqlite3"
            # 0600 like every database file the ledger makes (ledger.db.make_private).
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        assert self._background is not None
        name = self._spare.result() if self._spare is not None else self._copy(template)
        self._spare = self._background.submit(self._copy, template)
        return pg_url_for(self.pg_url, name)

    def _copy(self, template: str) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop(self, url: str) -> None:
        """Drop a database made by :meth:`create` (SQLite files go with the test's tmp_path)."""
        if self._admin is not None:
            self._execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    def close(self) -> None:
        if self._admin is None:
            return
        assert self._background is not None
        try:
            if self._spare is not None:
                self._execute(f'DROP DATABASE IF EXISTS "{self._spare.result()}" WITH (FORCE)')
        finally:
            self._background.shutdown()
        if self._template is not None:
            self._execute(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
        self._admin.dispose()

    def _execute(self, sql: str) -> None:
        assert self._admin is not None
        with self._admin.connect() as conn:
            conn.execute(text(sql))


class ScratchDatabases:
    """Empty databases: files in ``tmp_path``, or PostgreSQL databases dropped by drop_all()."""

    def __init__(self, tmp_path: Path, pg_url: str | None) -> None:
        self.tmp_path = tmp_path
        self.pg_url = pg_url
        self.names: list[str] = []

    def new(self) -> str:
        """The URL of a database that does not exist yet."""
        if self.pg_url is None:
            return f"sqlite:///{self.tmp_path / f'db_{uuid.uuid4().hex[:8]}.sqlite3'}"
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.names.append(name)
        return pg_url_for(self.pg_url, name)

    def create(self) -> str:
        """The URL of a new, empty database."""
        url = self.new()
        if self.pg_url is not None:
            self._execute([f'CREATE DATABASE "{make_url(url).database}"'])
        return url

    def drop_all(self) -> None:
        if self.pg_url is None or not self.names:
            return
        self._execute([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.names])

    def _execute(self, statements: list[str]) -> None:
        assert self.pg_url is not None
        admin = pg_admin(self.pg_url)
        try:
            with admin.connect() as conn:
                for sql in statements:
                    conn.execute(text(sql))
        finally:
            admin.dispose()
