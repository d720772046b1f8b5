"""The monitor's multi-process replay gives the one-process replay's report and saved state, on
valid and tampered logs, from scratch and resumed; and its state file is versioned."""

from __future__ import annotations

import runpy
import sqlite3
from pathlib import Path

import pytest

from ledger.complaints.figures import FACT_FIELDS
from ledger.complaints.officers import build_key_revocation
from ledger.log.tiles import TILE_WIDTH, TileCoord, decode_entry_bundle, encode_entry_bundle
from ledger.log.tiles import tile_path as tile_file
from ledger.monitor import Monitor, StateFile, StateFileError, directory_fetch
from ledger.monitor import parallel as _parallel
from ledger.monitor import replay as _replay

ROOT = Path(__file__).resolve().parents[2]
BENCH = runpy.run_path(str(ROOT / "scripts" / "bench_audit.py"), run_name="bench_audit")


@pytest.fixture(autouse=True, params=["blocks-4096", "blocks-64"])
def fact_block(request, monkeypatch) -> int:
    """Every test with the real fact block (4,096 entries: these logs fit in one) and with
    blocks of 64, so the workers settle facts and chain rows while they replay."""
    if request.param == "blocks-64":
        from ledger.monitor import memory as _state

        for module in (_replay, _parallel, _state):
            monkeypatch.setattr(module, "FACT_BLOCK", 64)
        monkeypatch.setattr(_replay, "SETTLE_ENTRIES", 128)
    return _replay.FACT_BLOCK


@pytest.fixture(scope="module")
def valid():
    leaves, signer = BENCH["make_leaves"](1500, seed=3)
    return leaves, signer


def write_log(directory: Path, leaves: list[bytes], signer) -> Path:
    log = directory / "log"
    BENCH["write_tiles"](leaves, signer, log)
    return log


def run(log: Path, state_path: Path, signer, workers: int):
    state = StateFile(state_path)
    try:
        monitor = Monitor(directory_fetch(log), state, str(signer.verifier()), workers=workers)
        monitor.parallel_min_entries = 0
        report = monitor.run()
        return report, snapshot(state)
    finally:
        state.close()


def snapshot(state: StateFile) -> dict:
    meta = state.meta()
    return {
        "meta": (meta.size, meta.root, meta.frontier),
        "chains": sorted(state.chain_rows()),
        "officers": state.officer_leaves(),
        "facts": list(state.facts()),
    }


def both_modes(tmp_path: Path, leaves: list[bytes], signer, workers: int = 2):
    log = write_log(tmp_path, leaves, signer)
    one = run(log, tmp_path / "one.sqlite3", signer, 1)
    many = run(log, tmp_path / "many.sqlite3", signer, workers)
    assert many[0].lines() == one[0].lines()
    assert many[1] == one[1]
    return one


@pytest.mark.parametrize("workers", [2, 3])
def test_valid_log_same_result(tmp_path, valid, workers) -> None:
    leaves, signer = valid
    report, state = both_modes(tmp_path, leaves, signer, workers)
    assert report.ok, report.lines()
    assert len(state["facts"]) == len(leaves) - 1
    assert [f.log_index for f in state["facts"]] == list(range(1, len(leaves)))


def _with(leaves: list[bytes], index: int, leaf: bytes) -> list[bytes]:
    return [*leaves[:index], leaf, *leaves[index + 1 :]]


def test_broken_rules_same_problems(tmp_path, valid) -> None:
    leaves, signer = valid
    rated = next(i for i, leaf in enumerate(leaves) if b'"csat":4' in leaf)
    bad = list(leaves)
    bad[rated] = leaves[rated].replace(b'"csat":4', b'"csat":5')  # its chain's next prev breaks
    bad[40] = b"not json"
    bad[41] = leaves[41].replace(b'"log":"bench.', b'"log":"other.')
    bad.insert(60, leaves[0])  # the officer key registered twice: reported once
    received = next(leaf for leaf in leaves if b'"type":"received"' in leaf)
    bad.append(received)  # a complaint received twice
    report, _ = both_modes(tmp_path, bad, signer)
    text = "\n".join(report.problems)
    assert "entry 40 is not a valid event" in text
    assert "entry 41 names log" in text
    assert text.count("KEY_REGISTERED") == 1
    assert "DUPLICATE" in text


def test_many_problems_are_cut_the_same_way(tmp_path, valid) -> None:
    leaves, signer = valid
    bad = [leaf.replace(b'"seq":1,', b'"seq":2,') for leaf in leaves]
    report, _ = both_modes(tmp_path, bad, signer)
    assert len(report.problems) == 51
    assert report.problems[-1] == "(further problems not listed)"


def test_revoked_officer_key_same_result(tmp_path, valid) -> None:
    leaves, signer = valid
    registration = leaves[0]
    from ledger.complaints.events import parse_envelope

    reg = parse_envelope(registration)
    revocation = build_key_revocation(
        log=reg.log, at="2026-06-01T00:00:00.000Z", admin_id="admin-1", registration=reg,
        reason="compromised",
    )  # fmt: skip
    bad = [*leaves[:700], revocation.leaf, *leaves[700:]]
    report, _ = both_modes(tmp_path, bad, signer)
    assert "KEY_REVOKED" in "\n".join(report.problems)


def test_tampered_entry_and_tile_same_report(tmp_path, valid) -> None:
    leaves, signer = valid
    log = write_log(tmp_path, leaves, signer)
    # An entry altered in its bundle (the hash tile still has the old hash).
    bundle = 2
    path = log / tile_file(TileCoord(-1, bundle, TILE_WIDTH))
    entries = decode_entry_bundle(path.read_bytes())
    entries[7] = entries[7].replace(b'"seq":', b'"seq": ')
    path.write_bytes(encode_entry_bundle(entries))
    one = run(log, tmp_path / "one.sqlite3", signer, 1)
    many = run(log, tmp_path / "many.sqlite3", signer, 2)
    index = bundle * TILE_WIDTH + 7
    assert f"entry {index} does not match its hash tile" in "\n".join(one[0].problems)
    assert many[0].lines() == one[0].lines()
    # A bundle with the wrong number of entries, after the altered one: the first error wins.
    later = log / tile_file(TileCoord(-1, 4, TILE_WIDTH))
    later.write_bytes(encode_entry_bundle(decode_entry_bundle(later.read_bytes())[:-1]))
    one = run(log, tmp_path / "one2.sqlite3", signer, 1)
    many = run(log, tmp_path / "many2.sqlite3", signer, 2)
    assert f"entry {index} does not match" in "\n".join(one[0].problems)
    assert many[0].lines() == one[0].lines()


def test_resumed_runs_same_state(tmp_path, valid) -> None:
    leaves, signer = valid
    first = write_log(tmp_path / "a", leaves[:700], signer)
    full = write_log(tmp_path / "b", leaves, signer)
    states = {}
    for workers in (1, 2):
        path = tmp_path / f"w{workers}.sqlite3"
        assert run(first, path, signer, workers)[0].ok
        report, states[workers] = run(full, path, signer, workers)
        assert report.ok and report.new_entries == len(leaves) - 700
    assert states[1] == states[2]
    assert [f.log_index for f in states[2]["facts"]] == list(range(1, len(leaves)))


def test_a_misrouted_leaf_falls_back_to_one_process(tmp_path, valid, monkeypatch) -> None:
    leaves, signer = valid
    monkeypatch.setattr(_parallel, "route", lambda data, leaf_hash, partitions: 0)
    report, _ = both_modes(tmp_path, leaves, signer)
    assert report.ok


def test_spawned_workers_same_result(tmp_path, valid, monkeypatch, fact_block) -> None:
    import multiprocessing

    if fact_block != 4096:
        pytest.skip("spawned workers import the real fact block again")
    leaves, signer = valid
    monkeypatch.setattr(_parallel, "_context", lambda: multiprocessing.get_context("spawn"))
    both_modes(tmp_path, leaves[:400], signer)


def test_settled_rows_are_saved_with_the_run_or_not_at_all(
    tmp_path, valid, monkeypatch, fact_block
) -> None:
    """Rows the workers settle early are staged in the run's transaction: a run that saves
    commits them, a run that finds a problem leaves the state file as it was."""
    if fact_block != 64:
        pytest.skip("needs blocks small enough to settle")
    leaves, signer = valid
    staged = []
    stage = StateFile.stage

    def counted(self, rows, blocks) -> None:
        staged.append(len(blocks))
        stage(self, rows, blocks)

    monkeypatch.setattr(StateFile, "stage", counted)
    good = write_log(tmp_path / "good", leaves[:900], signer)
    bad = list(leaves)
    bad[-3] = b"not json"  # found only after much has been settled
    bad_log = write_log(tmp_path / "bad", bad, signer)
    state = StateFile(tmp_path / "state.sqlite3")  # one file, kept open: as a watching monitor
    try:

        def run_on(log: Path):
            monitor = Monitor(directory_fetch(log), state, str(signer.verifier()), workers=2)
            monitor.parallel_min_entries = 0
            return monitor.run()

        assert run_on(good).ok
        assert staged and sum(staged) > 5
        before = snapshot(state)
        staged.clear()
        report = run_on(bad_log)
        assert not report.ok and staged
        assert snapshot(state) == before
    finally:
        state.close()


def test_route_agrees_with_the_envelopes(valid) -> None:
    from ledger.complaints.events import parse_envelope
    from ledger.log.merkle import leaf_hash

    leaves, _ = valid
    replayer = _replay.Replayer("bench.ledger.example/audit", 0, 3)
    for leaf in leaves:
        assert _replay.route(leaf, leaf_hash(leaf), 3) == replayer._owner(parse_envelope(leaf))


# --- the state file's version -----------------------------------------------------------------


def _downgrade_to_version_1(path: Path) -> None:
    """Rewrite a state file the way version 1 kept it: one row per fact in ``facts``."""
    state = StateFile(path)
    facts = list(state.facts())
    state.close()
    db = sqlite3.connect(path)
    with db:
        db.execute(f"CREATE TABLE facts ({', '.join(FACT_FIELDS)}, PRIMARY KEY (log_index))")
        marks = ", ".join("?" * len(FACT_FIELDS))
        db.executemany(f"INSERT INTO facts VALUES ({marks})", map(_replay.fact_values, facts))
        db.execute("DROP TABLE fact_blocks")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
        db.execute("DELETE FROM meta WHERE key = 'fact_columns'")
    db.close()


def test_version_1_state_files_are_upgraded(tmp_path, valid) -> None:
    leaves, signer = valid
    first = write_log(tmp_path / "a", leaves[:700], signer)
    full = write_log(tmp_path / "b", leaves, signer)
    path = tmp_path / "old.sqlite3"
    _, before = run(first, path, signer, 1)
    _downgrade_to_version_1(path)
    state = StateFile(path)  # upgraded when opened
    assert snapshot(state) == before
    state.close()
    report, after = run(full, path, signer, 2)
    assert report.ok
    _, fresh = run(full, tmp_path / "fresh.sqlite3", signer, 1)
    assert after == fresh


def test_unknown_versions_are_refused(tmp_path, valid) -> None:
    leaves, signer = valid
    log = write_log(tmp_path, leaves[:50], signer)
    path = tmp_path / "new.sqlite3"
    run(log, path, signer, 1)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value = '9' WHERE key = 'version'")
    db.close()
    with pytest.raises(StateFileError, match="version 9 is not known to this monitor"):
        StateFile(path)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'version'")
        db.execute("UPDATE meta SET value = 'a,b' WHERE key = 'fact_columns'")
    db.close()
    with pytest.raises(StateFileError, match="audit facts in this state file have the columns"):
        StateFile(path)


def test_new_state_files_use_large_pages(tmp_path) -> None:
    from ledger.monitor.memory import PAGE_SIZE

    state = StateFile(tmp_path / "new.sqlite3")
    try:
        assert state.db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    finally:
        state.close()
