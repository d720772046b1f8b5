"""The schema comes from Alembic revisions: they create exactly what the models declare."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from ledger import migrations
from ledger.config import Settings
from ledger.db import make_engine
from ledger.log.keys import create_key_file
from ledger.runtime import SchemaNotCurrent, open_ledger

ROOT = Path(__file__).resolve().parents[2]


def schema_diff(engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, migrations.target_metadata())


def ledger_tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def model_tables() -> set[str]:
    return set(migrations.target_metadata().tables)


def test_migrated_schema_equals_the_models(scratch) -> None:
    engine = make_engine(scratch.create())
    try:
        migrations.upgrade(engine)
        assert schema_diff(engine) == []
        assert ledger_tables(engine) == model_tables()
        with engine.connect() as conn:
            assert migrations.current_revisions(conn) == migrations.head_revisions()
    finally:
        engine.dispose()


def test_every_model_module_is_migrated() -> None:
    """A new module declaring tables must be listed, so the schema test covers it."""
    listed = set(migrations.MODEL_MODULES) | set(migrations.OPTIONAL_MODEL_MODULES)
    declaring = set()
    for path in (ROOT / "ledger").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id == "Base" for b in node.bases
            ):
                rel = path.relative_to(ROOT).with_suffix("")
                declaring.add(".".join(rel.parts))
    assert declaring <= listed, f"add to ledger.migrations.MODEL_MODULES: {declaring - listed}"


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config())
    assert len(script.get_heads()) == 1, "two heads: merge them (alembic merge heads)"
    assert list(script.get_bases()) == [migrations.BASELINE]


def test_upgrade_from_empty_then_downgrade_and_upgrade_again(scratch) -> None:
    engine = make_engine(scratch.create())
    try:
        migrations.upgrade(engine)
        assert ledger_tables(engine) == model_tables()
        migrations.downgrade(engine, "base")
        assert ledger_tables(engine) == set()
        migrations.upgrade(engine)
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def _walk_down_and_up(engine) -> list[str]:
    """Downgrade one revision at a time to base, then upgrade one at a time to head."""
    script = ScriptDirectory.from_config(migrations.alembic_config())
    revisions = [r.revision for r in script.walk_revisions()]  # head first
    seen = []
    for _ in revisions:
        migrations.downgrade(engine, "-1")
        with engine.connect() as conn:
            seen.append(migrations.current_revisions(conn))
    assert seen[-1] == ()
    for _ in revisions:
        migrations.upgrade(engine, "+1")
    with engine.connect() as conn:
        assert migrations.current_revisions(conn) == migrations.head_revisions()
    return revisions


def test_round_trip_on_postgresql(pg_scratch) -> None:
    """Upgrade from empty, then every downgrade and upgrade step, on PostgreSQL."""
    engine = make_engine(pg_scratch.create())
    try:
        migrations.upgrade(engine)
        assert schema_diff(engine) == []
        _walk_down_and_up(engine)
        assert schema_diff(engine) == []
        assert ledger_tables(engine) == model_tables()
        _assert_append_only(engine)
    finally:
        engine.dispose()


def _assert_append_only(engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO logs (origin, verifier_key, created_at) "
                "VALUES ('o', 'k', CURRENT_TIMESTAMP)"
            )
        )
        log_id = conn.execute(text("SELECT id FROM logs WHERE origin = 'o'")).scalar_one()
        conn.execute(
            text("INSERT INTO log_entries (log_id, idx, leaf_hash, data) VALUES (:l, 0, :h, :d)"),
            {"l": log_id, "h": b"\0" * 32, "d": b"x"},
        )
    for stmt in ("UPDATE log_entries SET data = :d", "DELETE FROM log_entries"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(stmt), {"d": b"y"})
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE log_entries"))


def test_append_only_triggers_are_migrated(scratch) -> None:
    engine = make_engine(scratch.create())
    try:
        migrations.upgrade(engine)
        _assert_append_only(engine)
    finally:
        engine.dispose()


def test_a_database_made_by_create_all_is_adopted(scratch) -> None:
    """Databases from before migrations: stamped at the baseline, then upgraded."""
    engine = make_engine(scratch.create())
    try:
        metadata = migrations.target_metadata()
        baseline = [metadata.tables[t] for t in migrations.BASELINE_TABLES[:4]]
        metadata.create_all(engine, tables=baseline)  # a partial, older database
        migrations.upgrade(engine)
        assert schema_diff(engine) == []
        with engine.connect() as conn:
            assert migrations.current_revisions(conn) == migrations.head_revisions()
    finally:
        engine.dispose()


def test_concurrent_starts_migrate_once(scratch) -> None:
    """Several workers starting at once: one migrates, the others wait and find it done."""
    url = scratch.create()
    engines = [make_engine(url) for _ in range(3)]
    errors: list[BaseException] = []

    def run(engine) -> None:
        try:
            migrations.upgrade(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert not any(t.is_alive() for t in threads)
        assert errors == [], [repr(e) for e in errors]
        assert schema_diff(engines[0]) == []
    finally:
        for e in engines:
            e.dispose()


def test_open_ledger_migrates_or_refuses(scratch, tmp_path: Path) -> None:
    key = tmp_path / "log.key"
    create_key_file(key, "migrations.test/log")
    url = scratch.create()
    strict = Settings(
        data_dir=tmp_path,
        database_url=url,
        log_origin="migrations.test/log",
        log_key_file=key,
        auto_migrate=False,
    )
    with pytest.raises(SchemaNotCurrent):
        open_ledger(strict)
    led = open_ledger(Settings(**{**strict.__dict__, "auto_migrate": True}))
    led.close()
    led = open_ledger(strict)  # now current: served without migrating
    led.close()


def test_upgrade_of_a_current_database_runs_no_revision(engine, monkeypatch) -> None:
    """Every start upgrades (and so does every test's ledger): on a current database that is
    one read of alembic_version, not a run of Alembic."""

    def refuse(*args, **kwargs) -> None:
        raise AssertionError("alembic ran on a database already at the head revisions")

    monkeypatch.setattr(migrations.command, "upgrade", refuse)
    migrations.upgrade(engine)
    assert migrations.is_current(engine)
