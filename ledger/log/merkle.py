"""RFC 6962 / RFC 9162 Merkle tree hashing, proof generation and proof verification.

Pure functions only. Proof *generation* takes a ``get_node(level, index)`` callback
that returns the hash of the perfect subtree of ``2**level`` leaves starting at leaf
``index << level``; storage decides where those hashes come from (tiles, memory).
Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from ledger.errors import LedgerError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

_sha256 = hashlib.sha256

NodeGetter = Callable[[int, int], bytes]


class ProofError(LedgerError, ValueError):
    """A proof, root, index or size does not verify."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(NODE_PREFIX + left + right).digest()


EMPTY_ROOT = _sha256(b"").digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (RFC 6962 section 2.1), without recursion."""
    if not hashes:
        return EMPTY_ROOT
    frontier: list[bytes] = []
    for i, h in enumerate(hashes):
        frontier = frontier_append(frontier, i, h)
    return root_from_frontier(frontier)


def frontier_append(frontier: list[bytes], size: int, leaf: bytes) -> list[bytes]:
    """Add leaf hash ``leaf`` at index ``size`` to a compact range; mutates and returns it.

    The frontier holds the roots of the perfect subtrees that make up ``[0, size)``,
    largest (leftmost) first: one per set bit of ``size``.
    """
    h = leaf
    n = size
    while n & 1:
        h = node_hash(frontier.pop(), h)
        n >>= 1
    frontier.append(h)
    return frontier


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of a power-of-two number of leaf hashes, one level at a time."""
    if len(hashes) & (len(hashes) - 1) or not hashes:
        raise ValueError("perfect_root needs a power-of-two number of hashes")
    level = list(hashes)
    while len(level) > 1:
        pairs = zip(level[::2], level[1::2], strict=True)
        level = [_sha256(NODE_PREFIX + a + b).digest() for a, b in pairs]
    return level[0]


def frontier_extend(frontier: list[bytes], size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """``frontier_append`` of each of ``leaves`` in turn (the first at index ``size``);
    mutates and returns ``frontier``.

    Each run of ``2**k`` leaves that starts at a multiple of ``2**k`` (a whole tile, say) is
    folded as one perfect subtree, which needs the same hashes with less bookkeeping.
    """
    i, n = 0, len(leaves)
    while i < n:
        pos = size + i
        # The largest aligned perfect subtree starting at pos that fits in what is left.
        level = min((pos & -pos).bit_length() - 1 if pos else 63, (n - i).bit_length() - 1)
        width = 1 << level
        h = leaves[i] if width == 1 else perfect_root(leaves[i : i + width])
        frontier_append_subtree(frontier, pos, level, h)
        i += width
    return frontier


def frontier_append_subtree(frontier: list[bytes], size: int, level: int, root: bytes) -> None:
    """Add the root of a perfect subtree of ``2**level`` leaves starting at leaf ``size`` (a
    multiple of ``2**level``) to a compact range; mutates it."""
    if size % (1 << level):
        raise ValueError(f"a subtree of 2**{level} leaves cannot start at {size}")
    m = size >> level
    while m & 1:
        root = node_hash(frontier.pop(), root)
        m >>= 1
    frontier.append(root)


def root_from_frontier(frontier: Sequence[bytes]) -> bytes:
    """Root hash of the tree whose compact range is ``frontier``."""
    if not frontier:
        return EMPTY_ROOT
    h = frontier[-1]
    for left in reversed(frontier[:-1]):
        h = node_hash(left, h)
    return h


def _range_hash(begin: int, end: int, get_node: NodeGetter) -> bytes:
    """MTH of leaves [begin, end) where ``begin`` is aligned to a power of two >= end-begin."""
    nodes: list[bytes] = []
    pos = begin
    while pos < end:
        level = (end - pos).bit_length() - 1
        nodes.append(get_node(level, pos >> level))
        pos += 1 << level
    return root_from_frontier(nodes)


def _path(index: int, level: int, size: int, get_node: NodeGetter) -> list[bytes]:
    """Audit path of node (level, index) in the tree of ``size`` leaves, bottom-up."""
    proof: list[bytes] = []
    while ((size - 1) >> level) > 0:
        sibling = index ^ 1
        start = sibling << level
        if sibling < index:
            proof.append(get_node(level, sibling))
        elif start < size:
            if ((sibling + 1) << level) <= size:
                proof.append(get_node(level, sibling))
            else:
                proof.append(_range_hash(start, size, get_node))
        index >>= 1
        level += 1
    return proof


def inclusion_proof(index: int, size: int, get_node: NodeGetter) -> list[bytes]:
    """RFC 9162 PATH(index, D[size])."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} out of range for tree size {size}")
    return _path(index, 0, size, get_node)


def consistency_proof(size1: int, size2: int, get_node: NodeGetter) -> list[bytes]:
    """RFC 9162 PROOF(size1, D[size2]) for 0 < size1 <= size2."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to {size2}")
    if size1 == size2:
        return []
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    path = _path(index, level, size2, get_node)
    if index == 0:
        return path
    return [get_node(level, index), *path]


def tree_root(size: int, get_node: NodeGetter) -> bytes:
    """Root of the tree of ``size`` leaves, from perfect-subtree lookups."""
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, get_node)


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) -------------------------------------


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{name} is not a {HASH_SIZE}-byte hash")


def _check_count(name: str, value: int) -> None:
    # A float (0.5) or a bool compares like a number but is no leaf index or tree size: with
    # an empty proof, index 0.5 of a one-leaf tree would otherwise "verify".
    if type(value) is not int:
        raise ProofError(f"{name} is not an integer: {value!r}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the root from an inclusion proof; raises ProofError when malformed."""
    _check_count("index", index)
    _check_count("tree size", size)
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not below tree size {size}")
    _check_hash("leaf hash", leaf)
    fn, sn = index, size - 1
    r = leaf
    for i, p in enumerate(proof):
        _check_hash(f"proof node {i}", p)
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless ``proof`` shows leaf hash ``leaf`` at ``index`` under ``root``."""
    _check_hash("root", root)
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the expected root")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless ``proof`` shows tree (size1, root1) is a prefix of (size2, root2)."""
    _check_count("first tree size", size1)
    _check_count("second tree size", size2)
    if size1 < 0 or size2 < size1:
        raise ProofError(f"tree size {size1} is not a prefix size of {size2}")
    if size1 == 0:
        raise ProofError("a consistency proof from an empty tree proves nothing")
    if size1 == size2:
        # Same tree: nothing to prove beyond byte equality of the roots.
        if proof:
            raise ProofError("proof between equal sizes must be empty")
        if root1 != root2:
            raise ProofError("roots differ for the same tree size")
        return
    _check_hash("first root", root1)
    _check_hash("second root", root2)
    for i, p in enumerate(proof):
        _check_hash(f"proof node {i}", p)
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1:
        raise ProofError("consistency proof does not lead to the first root")
    if sr != root2:
        raise ProofError("consistency proof does not lead to the second root")


def in_memory_getter(leaves: Sequence[bytes]) -> NodeGetter:
    """A ``get_node`` over a list of leaf hashes, building levels lazily (for tests and tools)."""
    levels: list[list[bytes]] = [list(leaves)]

    def get(level: int, index: int) -> bytes:
        while len(levels) <= level:
            below = levels[-1]
            levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
        return levels[level][index]

    return get


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    return [leaf_hash(e) for e in entries]
