"""A log client that trusts nothing but the log's verifier key.

It fetches the signed checkpoint and C2SP tiles through a ``fetch(path) -> bytes`` function
(HTTP, a CDN, a local mirror), verifies the checkpoint signature, and recomputes roots and
proofs from tiles alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint, open_checkpoint
from ledger.log.note import Verifier
from ledger.log.tiles import (
    TILE_WIDTH,
    TileCoord,
    decode_entry_bundle,
    expand_tile,
    tile_node_getter,
    tile_path,
)

Fetch = Callable[[str], bytes]


class TileClient:
    def __init__(self, fetch: Fetch, verifier: Verifier, origin: str, cache_size: int = 4096):
        self.fetch = fetch
        self.verifier = verifier
        self.origin = origin
        self._expanded = functools.lru_cache(maxsize=cache_size)(self._fetch_expanded)

    def checkpoint(self) -> tuple[Checkpoint, str]:
        """The latest checkpoint, verified with the log's key, and its signed note."""
        note = self.fetch("checkpoint").decode("utf-8")
        return open_checkpoint(note, self.verifier, self.origin), note

    def _fetch_expanded(self, level: int, index: int, width: int) -> list[bytes]:
        blob = self.fetch(tile_path(TileCoord(level, index, width)))
        if len(blob) != width * merkle.HASH_SIZE:
            raise merkle.ProofError(f"tile {level}/{index} has the wrong length")
        return expand_tile(blob)

    def node_getter(self, tree_size: int) -> merkle.NodeGetter:
        return tile_node_getter(tree_size, self._expanded)

    def root(self, tree_size: int) -> bytes:
        return merkle.tree_root(tree_size, self.node_getter(tree_size))

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        return merkle.inclusion_proof(index, tree_size, self.node_getter(tree_size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return merkle.consistency_proof(size1, size2, self.node_getter(size2))

    def leaf_hash(self, index: int, tree_size: int) -> bytes:
        return self.node_getter(tree_size)(0, index)

    def entries(self, bundle_index: int, tree_size: int) -> list[bytes]:
        """Entries of one entry bundle, checked against the level-0 hash tile."""
        width = min(TILE_WIDTH, tree_size - bundle_index * TILE_WIDTH)
        data = decode_entry_bundle(self.fetch(tile_path(TileCoord(-1, bundle_index, width))))
        if len(data) != width:
            raise merkle.ProofError("entry bundle has the wrong number of entries")
        get = self.node_getter(tree_size)
        for k, entry in enumerate(data):
            if merkle.leaf_hash(entry) != get(0, bundle_index * TILE_WIDTH + k):
                raise merkle.ProofError(f"entry {bundle_index * TILE_WIDTH + k} does not match")
        return data
