"""No insert rewrites a row of an append-only table: SQLite's ``INSERT OR REPLACE`` and
``REPLACE INTO`` (which delete without firing DELETE triggers) and the upsert's
``ON CONFLICT DO UPDATE`` are refused on every key of every protected table, on migrated
databases, on databases made by ``create_all``, and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from ledger import migrations
from ledger.db import make_engine

EXPECTED = {
    "log_entries",
    "log_tiles",
    "log_checkpoints",
    "complaint_events",
    "officer_key_entries",
    "access_records",
    "audit_facts",
    "staff_access_events",
}


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def protected_tables(conn: sqlite3.Connection) -> set[str]:
    """Tables with the append-only UPDATE trigger: the ones REPLACE must not rewrite."""
    rows = conn.execute(
        "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%\\_no\\_update'"
        " ESCAPE '\\'"
    )
    return {r[0] for r in rows}


def keys_of(table: Table, inspector) -> list[list[str]]:
    """The primary key and every unique key, as the database reports them."""
    keys = [inspector.get_pk_constraint(table.name)["constrained_columns"]]
    keys += [u["column_names"] for u in inspector.get_unique_constraints(table.name)]
    keys += [i["column_names"] for i in inspector.get_indexes(table.name) if i["unique"]]
    return [k for k in keys if k]


def value(column, variant: int):
    """A value of the column's type; ``variant`` 0 and 1 differ."""
    py = column.type.python_type
    if py is bool:
        return bool(variant)
    if py is int:
        return 1 + variant
    if py is bytes:
        return bytes([variant]) * 32
    if py is datetime:
        return datetime(2026, 1, 1 + variant, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"v{variant}"


def rows_for(table: Table, key: list[str]) -> tuple[dict, dict]:
    """A row, and another with the same ``key`` and every other column different."""
    first = {c.name: value(c, 0) for c in table.columns}
    second = {c.name: first[c.name] if c.name in key else value(c, 1) for c in table.columns}
    return first, second


def insert_sql(table: str, row: dict, prefix: str = "INSERT", suffix: str = "") -> str:
    cols = ", ".join(row)
    params = ", ".join(f":{c}" for c in row)
    return f"{prefix} INTO {table} ({cols}) VALUES ({params}) {suffix}"


def rewrites(table: str, key: list[str], row: dict, dialect: str) -> list[str]:
    other = next(c for c in row if c not in key)
    upsert = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {other} = excluded.{other}"
    stmts = [insert_sql(table, row, suffix=upsert)]
    if dialect == "sqlite":
        stmts += [insert_sql(table, row, "INSERT OR REPLACE"), insert_sql(table, row, "REPLACE")]
    return stmts


def assert_rewrites_refused(url: str) -> set[str]:
    """Every rewrite of every key of every protected table is refused, the row unchanged."""
    engine = create_engine(url)  # a plain engine: no pragmas from ledger.db, as an intruder
    try:
        inspector = inspect(engine)
        metadata = MetaData()
        if engine.dialect.name == "sqlite":
            with sqlite3.connect(sqlite_path(url)) as raw:
                tables = protected_tables(raw)
        else:
            tables = EXPECTED
        assert tables == EXPECTED
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:  # the log rows the entries refer to
                for i in (1, 2):
                    conn.execute(
                        text(
                            "INSERT INTO logs (id, origin, verifier_key, created_at) "
                            "VALUES (:i, :o, 'k', CURRENT_TIMESTAMP)"
                        ),
                        {"i": i, "o": f"o{i}"},
                    )
                # The staff accounts the access events refer to (account_id "v0" and "v1").
                accounts = Table("staff_accounts", metadata, autoload_with=engine)
                for variant in (0, 1):
                    row = {c.name: value(c, variant) for c in accounts.columns}
                    conn.execute(text(insert_sql("staff_accounts", row)), row)
        for name in sorted(tables):
            table = Table(name, metadata, autoload_with=engine)
            keys = keys_of(table, inspector)
            assert keys, name
            for key in keys:
                first, second = rows_for(table, key)
                for stmt in rewrites(name, key, second, engine.dialect.name):
                    with engine.begin() as conn:
                        conn.execute(text(insert_sql(name, first)), first)
                    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                        conn.execute(text(stmt), second)
                    with engine.connect() as conn:
                        rows = conn.execute(text(f"SELECT * FROM {name}")).mappings().all()
                    assert len(rows) == 1, (name, key, stmt)
                    assert _same(rows[0], first), (name, key, stmt)
                    _clear(engine, name)
        return tables
    finally:
        engine.dispose()


def _same(row, expected: dict) -> bool:
    def norm(v):
        return v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else v

    return all(norm(row[c]) == norm(v) for c, v in expected.items())


def _clear(engine, table: str) -> None:
    """Empty a protected table between cases (its triggers are lifted for this only)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER {table}_no_delete"))
            conn.execute(text(f"DELETE FROM {table}"))
            ddl = f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN "
            conn.execute(text(ddl + f"SELECT RAISE(ABORT, '{table} is append-only'); END"))
        else:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def test_migrated_sqlite_refuses_replace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    assert_rewrites_refused(url)


def test_a_new_key_is_still_appended(tmp_path: Path) -> None:
    """The trigger refuses only keys already present: plain appends go through."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO logs (origin, verifier_key, created_at) "
                    "VALUES ('o', 'k', CURRENT_TIMESTAMP)"
                )
            )
            for idx in range(3):
                conn.execute(
                    text(
                        "INSERT INTO log_entries (log_id, idx, leaf_hash, data) "
                        "VALUES (1, :i, :h, x'00')"
                    ),
                    {"i": idx, "h": bytes([idx]) * 32},
                )
            assert conn.execute(text("SELECT count(*) FROM log_entries")).scalar_one() == 3
    finally:
        engine.dispose()


def test_replace_trigger_is_removed_and_restored_by_the_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    engine = make_engine(url)
    try:
        migrations.upgrade(engine)
        migrations.downgrade(engine, "0004_audit_facts_cell_indexes")
        with engine.connect() as conn:
            names = conn.execute(
                text("SELECT name FROM sqlite_master WHERE name LIKE '%no_replace'")
            ).all()
        assert names == []
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    assert_rewrites_refused(url)


def test_a_database_made_by_create_all_refuses_replace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    engine = make_engine(url)
    try:
        migrations.target_metadata().create_all(engine)
    finally:
        engine.dispose()
    assert_rewrites_refused(url)


def test_postgresql_refuses_upsert_updates(pg_scratch) -> None:
    """PostgreSQL has no REPLACE; ON CONFLICT DO UPDATE is an UPDATE: the triggers fire."""
    url = pg_scratch.create()
    engine = make_engine(url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    assert_rewrites_refused(url)
