"""The SQL-backed log: appends, tiles, proofs against checkpoints, append-only triggers."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.log import merkle
from ledger.log.checkpoint import open_checkpoint
from ledger.log.tiles import TILE_WIDTH, split_hashes, tile_coords_for_size
from ledger.logstore.store import InvalidRequest, LogStore, NotFound


def _entries(n: int, prefix: str = "e") -> list[bytes]:
    return [f"{prefix}-{i}".encode() for i in range(n)]


def test_empty_log_has_signed_empty_checkpoint(store: LogStore) -> None:
    cp = store.latest_checkpoint()
    assert cp.size == 0 and cp.root == merkle.EMPTY_ROOT
    parsed = open_checkpoint(cp.note, store.verifier, store.origin)
    assert parsed.size == 0


def test_initialise_is_idempotent(store: LogStore, signer) -> None:
    again = LogStore(store.engine, store.origin, signer)
    again.initialise()
    assert again.log_id == store.log_id
    assert len(store.checkpoints()) == 1


def test_batches_build_the_rfc6962_tree(store: LogStore) -> None:
    data = _entries(1500)
    receipts = []
    for chunk in (data[:1], data[1:300], data[300:301], data[301:1024], data[1024:]):
        receipts += store.append_batch(chunk)
    leaves = [merkle.leaf_hash(d) for d in data]
    assert [r.index for r in receipts] == list(range(1500))
    assert [r.leaf_hash for r in receipts] == leaves
    cp = store.latest_checkpoint()
    assert cp.size == 1500 and cp.root == merkle.root_from_leaf_hashes(leaves)
    # Each receipt's checkpoint is signed and its size covers the entry.
    for r in receipts[::97]:
        parsed = open_checkpoint(r.checkpoint.note, store.verifier, store.origin)
        assert parsed.size > r.index
        proof = store.inclusion_proof(r.index, parsed.size)
        merkle.verify_inclusion(r.index, parsed.size, r.leaf_hash, proof, parsed.root)


def test_proofs_for_every_index_and_prefix(store: LogStore) -> None:
    data = _entries(700)
    for i in range(0, 700, 130):
        store.append_batch(data[i : i + 130])
    leaves = [merkle.leaf_hash(d) for d in data]
    for size in (1, 2, 3, 255, 256, 257, 511, 512, 513, 650, 700):
        root = merkle.root_from_leaf_hashes(leaves[:size])
        assert store.root_at(size) == root
        for index in range(0, size, max(1, size // 40)):
            proof = store.inclusion_proof(index, size)
            merkle.verify_inclusion(index, size, leaves[index], proof, root)
        for size1 in range(1, size + 1, max(1, size // 25)):
            proof = store.consistency_proof(size1, size)
            old = merkle.root_from_leaf_hashes(leaves[:size1])
            merkle.verify_consistency(size1, size, old, root, proof)


def test_tiles_let_a_client_recompute_root_and_entries(store: LogStore) -> None:
    data = _entries(70_000 // 100)
    store.append_batch(data)
    size = store.size()
    level0 = []
    for coord in tile_coords_for_size(size):
        blob = store.hash_tile(coord.level, coord.index, coord.width)
        assert len(blob) == coord.width * 32
        if coord.level == 0:
            level0 += split_hashes(blob)
            bundle = store.entry_bundle(coord.index, coord.width)
            from ledger.log.tiles import decode_entry_bundle

            start = coord.index * TILE_WIDTH
            assert decode_entry_bundle(bundle) == data[start : start + coord.width]
    assert level0 == [merkle.leaf_hash(d) for d in data]
    assert merkle.root_from_leaf_hashes(level0) == store.latest_checkpoint().root
    # A level-1 tile holds the roots of full level-0 tiles.
    lvl1 = split_hashes(store.hash_tile(1, 0, size // TILE_WIDTH))
    assert lvl1[0] == merkle.root_from_leaf_hashes(level0[:TILE_WIDTH])


def test_partial_tile_requests(store: LogStore) -> None:
    store.append_batch(_entries(300))
    assert len(store.hash_tile(0, 1, 44)) == 44 * 32
    assert store.hash_tile(0, 0, 10) == store.hash_tile(0, 0, 256)[: 10 * 32]
    with pytest.raises(NotFound):
        store.hash_tile(0, 1, 45)
    with pytest.raises(NotFound):
        store.hash_tile(0, 2, 1)
    with pytest.raises(NotFound):
        store.hash_tile(1, 0, 2)


def test_bad_requests(store: LogStore) -> None:
    store.append_batch(_entries(10))
    with pytest.raises(InvalidRequest):
        store.inclusion_proof(10, 10)
    with pytest.raises(InvalidRequest):
        store.inclusion_proof(0, 11)
    with pytest.raises(InvalidRequest):
        store.consistency_proof(0, 5)
    with pytest.raises(InvalidRequest):
        store.consistency_proof(6, 5)
    with pytest.raises(InvalidRequest):
        store.append_batch([b"x" * 70_000])
    assert store.size() == 10


@pytest.mark.parametrize("table", ["log_entries", "log_tiles", "log_checkpoints"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET log_id = log_id", "DELETE FROM {t}"])
def test_database_refuses_rewrites(store: LogStore, table: str, statement: str) -> None:
    store.append_batch(_entries(300))
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(statement.format(t=table)))
    assert store.size() == 300


@pytest.mark.postgres
def test_postgres_refuses_truncate(store: LogStore, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    store.append_batch(_entries(3))
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("TRUNCATE log_entries CASCADE"))


def test_checkpoint_base64_root_matches(store: LogStore) -> None:
    store.append_batch(_entries(5))
    cp = store.latest_checkpoint()
    lines = cp.note.split("\n")
    assert lines[0] == store.origin and lines[1] == "5"
    assert base64.b64decode(lines[2]) == cp.root


def test_pending_entry_checks_and_writes_share_the_transaction(store: LogStore) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table

    from ledger.logstore.store import PendingEntry, Rejected

    meta = MetaData()
    side = Table("side_effects", meta, Column("idx", Integer, primary_key=True))
    meta.create_all(store.engine)

    def write(conn, index, _leaf):
        conn.execute(side.insert().values(idx=index))

    def refuse(_conn):
        raise Rejected("not this one")

    results = store.append_batch(
        [
            PendingEntry(b"a", write=write),
            PendingEntry(b"b", check=refuse),
            PendingEntry(b"c", write=write),
        ]
    )
    assert isinstance(results[1], Rejected)
    assert [results[0].index, results[2].index] == [0, 1]
    with store.engine.connect() as conn:
        assert [r[0] for r in conn.execute(side.select().order_by(side.c.idx))] == [0, 1]
    assert store.entries(0, 2) == [b"a", b"c"]

    def explode(conn, index, _leaf):
        write(conn, index, _leaf)
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        store.append_batch([PendingEntry(b"d", write=write), PendingEntry(b"e", write=explode)])
    assert store.size() == 2
    with store.engine.connect() as conn:
        assert conn.execute(side.select()).all() == [(0,), (1,)]


def test_a_batch_whose_queued_rows_fail_in_the_database_leaves_nothing(store: LogStore) -> None:
    """The batch's queued rows, entries and checkpoint go to the database together at its end
    (on PostgreSQL, in one pipeline): one refused row fails the whole batch, nothing of it
    is stored, and the next batch appends as if it had never been tried."""
    from sqlalchemy import Column, Integer, MetaData, Table
    from sqlalchemy.exc import IntegrityError

    from ledger.logstore.store import PendingEntry, defer_insert

    meta = MetaData()
    side = Table("queued_side_rows", meta, Column("idx", Integer, primary_key=True))
    meta.create_all(store.engine)

    def queue(conn, index, _leaf):
        defer_insert(conn, side, {"idx": index})

    def queue_taken(conn, _index, _leaf):
        defer_insert(conn, side, {"idx": 0})  # the first batch's row: a duplicate key

    assert [r.index for r in store.append_batch([PendingEntry(b"a", write=queue)])] == [0]
    before = store.latest_checkpoint()
    # SQLAlchemy's own error, whether the driver raised it in a statement or at the sync.
    with pytest.raises(IntegrityError):
        store.append_batch([PendingEntry(b"b", write=queue), PendingEntry(b"c", write=queue_taken)])
    assert store.size() == 1
    assert store.latest_checkpoint() == before
    with store.engine.connect() as conn:
        assert conn.execute(side.select()).all() == [(0,)]
    assert [r.index for r in store.append_batch([PendingEntry(b"d", write=queue)])] == [1]
    assert store.entries(0, 2) == [b"a", b"d"]
    with store.engine.connect() as conn:
        assert [r[0] for r in conn.execute(side.select().order_by(side.c.idx))] == [0, 1]
