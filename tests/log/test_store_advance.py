"""Two writers of one log (two processes' stores): each moves its cached right edge on by the
entries the other appended, and the edge it ends with is the one a fresh reader rebuilds."""

from __future__ import annotations

import random

from ledger.log import merkle
from ledger.log.tiles import TILE_WIDTH
from ledger.logstore.store import LogStore


def test_alternating_writers_advance_their_edges_exactly(engine, signer, store) -> None:
    other = LogStore(engine, store.origin, signer)
    advanced = []
    for s in (store, other):
        real = s._advance

        def spy(conn, cached, size, real=real):
            advanced.append(size - cached.size)
            return real(conn, cached, size)

        s._advance = spy
    rng = random.Random(7)
    leaves: list[bytes] = []
    writers = [store, other]
    for turn in range(40):
        batch = [f"entry {len(leaves) + i}".encode() for i in range(rng.randint(1, 40))]
        writers[turn % 2].append_batch(batch)
        leaves.extend(batch)
    assert len(leaves) > 2 * TILE_WIDTH  # tiles completed on both levels' edges
    assert len(advanced) >= 38 and all(n > 0 for n in advanced)

    fresh = LogStore(engine, store.origin, signer)
    with engine.connect() as conn:
        rebuilt = fresh._current_state(conn)
    for s in writers:
        with engine.connect() as conn:
            edge = s._current_state(conn)
        assert edge.size == rebuilt.size == len(leaves)
        assert edge.frontier == rebuilt.frontier and edge.partials == rebuilt.partials
        assert edge.root == merkle.root_from_leaf_hashes([merkle.leaf_hash(x) for x in leaves])
