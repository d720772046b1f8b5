"""The monitor against a live server: it replays everything and agrees with the API; it
notices tampered entries and tiles, a forked or rewritten log, and altered audit facts."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.log.note import Signer
from ledger.logstore.store import LogStore
from ledger.monitor import Monitor, StateFile, http_fetch, http_figures
from tests.support.audit_dataset import at
from tests.support.leaves import received_leaf

ROOT = Path(__file__).resolve().parents[2]


def run(url: str, state_path: Path, ledger, token: str | None, **kw):
    state = StateFile(state_path)
    try:
        monitor = Monitor(
            http_fetch(url),
            state,
            str(ledger.store.verifier),
            http_figures(url, token) if token else None,
            **kw,
        )
        return monitor.run()
    finally:
        state.close()


def drop_append_only(conn, table: str, postgres: bool) -> None:
    if postgres:
        conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
    else:
        conn.execute(text(f"DROP TRIGGER {table}_no_update"))


def test_monitor_replays_everything_and_agrees(live_server, ledger, march, tokens, tmp_path):
    state = tmp_path / "monitor.sqlite3"
    report = run(live_server.url, state, ledger, tokens["regulator"])
    assert report.ok, report.lines()
    size = ledger.store.latest_checkpoint().size
    assert report.size == size and report.new_entries == size
    text_ = "\n".join(report.lines())
    assert "7 complaints, 1 officer keys" in text_
    assert "match a recomputation from the log" in text_

    again = run(live_server.url, state, ledger, tokens["regulator"])
    assert again.ok and again.new_entries == 0

    ledger.complaints.writes.clock.now = at("2026-04-02T10:00:00Z")
    decision = ledger.complaints.reads.state(march["E"]).events[3]
    assert decision.type == "decision"
    ledger.complaints.writes.record(
        march["E"], type="rated", public={"csat": 1, "rates": 3}, body={}, actor=_customer()
    )
    third = run(live_server.url, state, ledger, tokens["regulator"])
    assert third.ok, third.lines()
    assert third.new_entries == 1
    assert any("consistent with the previous checkpoint" in n for n in third.notes)


def _customer():
    from ledger.complaints.events import Actor
    from ledger.complaints.vocab import Role

    return Actor(Role.CUSTOMER, "customer")


def test_cli_exit_codes_and_plain_words(live_server, ledger, march, tokens, tmp_path, capsys):
    main = runpy.run_path(str(ROOT / "scripts" / "monitor.py"), run_name="monitor")["main"]
    state = str(tmp_path / "cli.sqlite3")
    vkey = str(ledger.store.verifier)
    assert main([live_server.url, "--state", state, "--log-key", vkey, "--no-figures"]) == 0
    assert "OK: no problems found" in capsys.readouterr().out
    # Figures need a regulator key; without one the run is refused in plain words.
    assert main([live_server.url, "--state", state, "--log-key", vkey]) == 1
    assert "no regulator API key" in capsys.readouterr().out
    # A key of the wrong role is refused by the API: reported, exit 1.
    code = main([live_server.url, "--state", state, "--api-key", tokens["agent"]])
    assert code == 1
    assert "could not get the API's figures: HTTP 403" in capsys.readouterr().out
    assert main([live_server.url, "--state", state, "--api-key", tokens["regulator"]]) == 0
    # A different log key than the pinned one is a problem.
    other = str(Signer.generate(ledger.store.origin).verifier())
    assert main([live_server.url, "--state", state, "--log-key", other, "--no-figures"]) == 1
    assert "differs from the one this state file was made with" in capsys.readouterr().out


def test_a_tampered_entry_is_reported(live_server, ledger, march, tokens, tmp_path, is_postgres):
    index = _index_of(ledger, '"csat":4')
    with ledger.engine.begin() as conn:
        drop_append_only(conn, "log_entries", is_postgres)
        data = conn.execute(text("SELECT data FROM log_entries WHERE idx = :i"), {"i": index})
        forged = bytes(data.scalar_one()).replace(b'"csat":4', b'"csat":5')
        conn.execute(text("UPDATE log_entries SET data = :d WHERE idx = :i"),
                     {"d": forged, "i": index})  # fmt: skip
    report = run(live_server.url, tmp_path / "fresh.sqlite3", ledger, tokens["regulator"])
    assert not report.ok
    assert f"entry {index} does not match its hash tile" in "\n".join(report.problems)


def test_a_tampered_tile_is_reported(live_server, ledger, march, tokens, tmp_path, is_postgres):
    # The partial level-0 tile is served from the stored leaf hashes: forge one of them.
    index = _index_of(ledger, '"type":"decision"')
    with ledger.engine.begin() as conn:
        drop_append_only(conn, "log_entries", is_postgres)
        conn.execute(text("UPDATE log_entries SET leaf_hash = :h WHERE idx = :i"),
                     {"h": bytes(32), "i": index})  # fmt: skip
    report = run(live_server.url, tmp_path / "fresh.sqlite3", ledger, tokens["regulator"])
    assert not report.ok
    problems = "\n".join(report.problems)
    assert f"entry {index} does not match its hash tile" in problems or "signed root" in problems


def test_tampered_audit_facts_change_the_api_figures(
    live_server, ledger, march, tokens, tmp_path, is_postgres
):
    state = tmp_path / "monitor.sqlite3"
    assert run(live_server.url, state, ledger, tokens["regulator"]).ok
    # Someone with database access turns an upheld decision into a rejection, in the facts
    # table only: the log (and so the monitor's recomputation) still says upheld.
    with ledger.engine.begin() as conn:
        drop_append_only(conn, "audit_facts", is_postgres)
        upheld = "outcome = 'upheld' AND type = 'decision'"
        index = conn.execute(
            text(f"SELECT MIN(log_index) FROM audit_facts WHERE {upheld}")
        ).scalar_one()
        conn.execute(
            text("UPDATE audit_facts SET outcome = 'rejected' WHERE log_index = :i"), {"i": index}
        )
    report = run(live_server.url, state, ledger, tokens["regulator"])
    assert not report.ok
    problems = "\n".join(report.problems)
    assert "the API's audit figures differ from the log's" in problems
    assert "totals.decisions.upheld: the API says 2, the log says 3" in problems


def _index_of(ledger, needle: str) -> int:
    size = ledger.store.latest_checkpoint().size
    return next(i for i, e in enumerate(ledger.store.entries(0, size)) if needle.encode() in e)


# --- forks and rewritten history, with a log served from a store directly ------------------------


def store_fetch(store: LogStore):
    from ledger.log.tiles import parse_tile_path

    def fetch(path: str) -> bytes:
        if path == "checkpoint":
            return store.latest_checkpoint().note.encode()
        coord = parse_tile_path(path)
        if coord.is_entries:
            return store.entry_bundle(coord.index, coord.width)
        return store.hash_tile(coord.level, coord.index, coord.width)

    return fetch


@pytest.fixture
def two_logs(tmp_path, database_url):
    """Two logs signed with the same key: the honest one and a rewritten one."""
    from ledger.db import make_engine
    from ledger.runtime import create_schema

    signer = Signer.generate("fork.example/log")
    stores = []
    for name in ("honest", "rewritten"):
        url = f"sqlite:///{tmp_path / name}.sqlite3"
        engine = make_engine(url)
        create_schema(engine)
        store = LogStore(engine, "fork.example/log", signer)
        store.initialise()
        stores.append(store)
    yield signer, stores
    for s in stores:
        s.engine.dispose()


def _leaves(n: int, tag: str) -> list[bytes]:
    return [received_leaf("fork.example/log", i, tag) for i in range(n)]


def test_a_rewritten_history_is_not_consistent(two_logs, tmp_path) -> None:
    signer, (honest, rewritten) = two_logs
    vkey = str(signer.verifier())
    honest.append_batch(_leaves(5, "a"))
    state = StateFile(tmp_path / "m.sqlite3")
    assert Monitor(store_fetch(honest), state, vkey).run().ok
    # The operator rewrites entry 3 onwards and signs a longer tree with the same key.
    rewritten.append_batch([*_leaves(3, "a"), *_leaves(7, "b")[3:]])
    report = Monitor(store_fetch(rewritten), state, vkey).run()
    assert not report.ok
    assert "is not consistent with the one of size 5" in report.problems[0]


def test_two_roots_for_one_size_is_a_fork(two_logs, tmp_path) -> None:
    signer, (honest, rewritten) = two_logs
    vkey = str(signer.verifier())
    honest.append_batch(_leaves(4, "a"))
    rewritten.append_batch(_leaves(4, "b"))
    state = StateFile(tmp_path / "m.sqlite3")
    assert Monitor(store_fetch(honest), state, vkey).run().ok
    report = Monitor(store_fetch(rewritten), state, vkey).run()
    assert "fork: two different roots signed for tree size 4" in report.problems[0]


def test_a_checkpoint_signed_by_another_key_is_refused(two_logs, tmp_path) -> None:
    _, (honest, _) = two_logs
    honest.append_batch(_leaves(2, "a"))
    impostor = str(Signer.generate("fork.example/log").verifier())
    report = Monitor(store_fetch(honest), StateFile(tmp_path / "x.sqlite3"), impostor).run()
    assert not report.ok and "does not verify with the log key" in report.problems[0]
