"""Reading the log's entries from its tiles, checked as they are read.

Each entry bundle is checked against its level-0 hash tile (count, then each entry's leaf
hash), and every leaf hash is folded into the compact range, whose root the caller compares
with the signed one: so every entry, and every tile it was checked against, is authenticated.
Each leaf is hashed once; the hash also serves the chain links.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from ledger.log import merkle
from ledger.log.client import TileClient
from ledger.log.tiles import TILE_WIDTH, TileCoord, decode_entry_bundle, tile_path
from ledger.monitor.replay import Replayer


def mismatch_message(index: int) -> str:
    return f"entry {index} does not match its hash tile: the entry or the tile was altered"


def bundles(
    client: TileClient, start: int, size: int
) -> Iterator[tuple[int, int, list[bytes], bytes, bytes]]:
    """(first index, first new position, entries, bundle blob, level-0 hash tile) of every
    bundle holding entries [start, size), after the bundle-level checks."""
    for bundle in range(start // TILE_WIDTH, -(-size // TILE_WIDTH)):
        first = bundle * TILE_WIDTH
        width = min(TILE_WIDTH, size - first)
        blob = client.fetch(tile_path(TileCoord(-1, bundle, width)))
        entries = decode_entry_bundle(blob)
        if len(entries) != width:
            raise merkle.ProofError(f"entry bundle {bundle} has {len(entries)} entries")
        hashes = client.fetch(tile_path(TileCoord(0, bundle, width)))
        if len(hashes) != width * 32:
            raise merkle.ProofError(f"hash tile 0/{bundle} has the wrong length")
        yield first, max(0, start - first), entries, blob, hashes


def replay_entries(
    client: TileClient, start: int, size: int, frontier: list[bytes], replayer: Replayer
) -> None:
    """Entries [start, size) checked, folded into ``frontier`` and fed to ``replayer`` in order;
    raises ``merkle.ProofError`` (or the fetch function's errors) at the first bad one."""
    sha256 = hashlib.sha256
    feed = replayer.feed
    for first, k0, entries, _, hashes in bundles(client, start, size):
        tile = tile_hashes(hashes, k0)
        for k, data in enumerate(entries[k0:]):
            leaf_hash = sha256(b"\x00" + data).digest()
            if leaf_hash != tile[k]:
                raise merkle.ProofError(mismatch_message(first + k0 + k))
            feed(first + k0 + k, data, leaf_hash)
        merkle.frontier_extend(frontier, first + k0, tile)


def tile_hashes(tile: bytes, k0: int = 0) -> list[bytes]:
    """The hashes of a level-0 hash tile, from the ``k0``-th on."""
    return [tile[i : i + 32] for i in range(32 * k0, len(tile), 32)]
