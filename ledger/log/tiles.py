"""C2SP tlog-tiles: tile coordinates, paths, entry bundles and in-tile node expansion.

Pure functions. A tile at level L holds up to 256 consecutive hashes of tree level 8L;
a full tile has 256, a partial tile ``W`` (1..255). Tile contents never change for a
given (L, N, W), which is why they can be cached forever.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ledger.errors import LedgerError
from ledger.log.merkle import HASH_SIZE, NodeGetter, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY_SIZE = 0xFFFF  # entry bundles prefix each entry with a big-endian uint16 length


class TilePathError(LedgerError, ValueError):
    """A tile path is not in the canonical C2SP form."""


@dataclass(frozen=True)
class TileCoord:
    level: int  # tile level L; -1 for entry bundles
    index: int
    width: int  # 256 for a full tile

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def is_entries(self) -> bool:
        return self.level < 0


def encode_index(n: int) -> str:
    """N as 3-digit groups, all but the last prefixed with ``x`` (e.g. 1234067 -> x001/x234/067)."""
    if n < 0:
        raise ValueError("tile index must be non-negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_path(coord: TileCoord) -> str:
    level = "entries" if coord.is_entries else str(coord.level)
    path = f"tile/{level}/{encode_index(coord.index)}"
    if not coord.is_full:
        path += f".p/{coord.width}"
    return path


_PATH_RE = re.compile(
    r"^tile/(entries|0|[1-9][0-9]{0,2})/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?$"
)


def parse_tile_path(path: str) -> TileCoord:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/...``; reject non-canonical forms."""
    m = _PATH_RE.fullmatch(path)
    if not m:
        raise TilePathError(f"not a tile path: {path!r}")
    level_s, index_s, width_s = m.groups()
    index = int(index_s.replace("x", "").replace("/", ""))
    if encode_index(index) != index_s:
        raise TilePathError("tile index is not in canonical form")
    width = TILE_WIDTH
    if width_s is not None:
        width = int(width_s)
        if not 1 <= width < TILE_WIDTH or str(width) != width_s:
            raise TilePathError("partial tile width must be 1..255")
    level = -1 if level_s == "entries" else int(level_s)
    if level > 63:
        raise TilePathError("tile level out of range")
    return TileCoord(level, index, width)


def tile_width_at(level: int, index: int, tree_size: int) -> int:
    """Width of hash tile (level, index) in the tree of ``tree_size``; 0 if it does not exist."""
    count = tree_size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, count - index * TILE_WIDTH))


def tile_coords_for_size(tree_size: int) -> list[TileCoord]:
    """Every hash tile (full and the partial ones) of a tree of ``tree_size`` leaves."""
    coords = []
    level = 0
    while (count := tree_size >> (TILE_HEIGHT * level)) > 0:
        for index in range((count + TILE_WIDTH - 1) // TILE_WIDTH):
            coords.append(TileCoord(level, index, tile_width_at(level, index, tree_size)))
        level += 1
    return coords


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree over a power-of-two number of hashes."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def expand_tile(blob: bytes) -> list[bytes]:
    """All complete in-tile levels of a tile: result[r] holds the concatenated level-r nodes."""
    levels = [blob]
    width = len(blob) // HASH_SIZE
    cur = [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
    while width > 1:
        cur = [node_hash(cur[i], cur[i + 1]) for i in range(0, width - 1, 2)]
        width = len(cur)
        levels.append(b"".join(cur))
    return levels


def split_hashes(blob: bytes) -> list[bytes]:
    if len(blob) % HASH_SIZE:
        raise ValueError("hash tile length is not a multiple of 32")
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY_SIZE:
            raise ValueError("entry too large for an entry bundle")
        out += struct.pack(">H", len(e))
        out += e
    return bytes(out)


def decode_entry_bundle(blob: bytes) -> list[bytes]:
    entries = []
    pos = 0
    while pos < len(blob):
        if pos + 2 > len(blob):
            raise ValueError("truncated entry bundle")
        (n,) = struct.unpack_from(">H", blob, pos)
        pos += 2
        if pos + n > len(blob):
            raise ValueError("truncated entry bundle")
        entries.append(blob[pos : pos + n])
        pos += n
    return entries


ExpandedTileGetter = Callable[[int, int, int], list[bytes]]


def tile_node_getter(tree_size: int, expanded: ExpandedTileGetter) -> NodeGetter:
    """``get_node(level, index)`` for a tree of ``tree_size``, reading nodes out of tiles.

    ``expanded(tile_level, tile_index, width)`` returns ``expand_tile`` of that tile.
    """

    def get(level: int, index: int) -> bytes:
        tile_level, r = divmod(level, TILE_HEIGHT)
        first = index << r
        tile_index = first >> TILE_HEIGHT
        count = tree_size >> (TILE_HEIGHT * tile_level)
        width = min(TILE_WIDTH, count - tile_index * TILE_WIDTH)
        pos = ((first & (TILE_WIDTH - 1)) >> r) * HASH_SIZE
        return expanded(tile_level, tile_index, width)[r][pos : pos + HASH_SIZE]

    return get
