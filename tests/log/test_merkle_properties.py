"""Property tests: every generated proof verifies; any single-bit change is rejected."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.log import merkle

MAX_SIZE = 3000
# Sizes one bit-flip away from any size <= MAX_SIZE (below 2**12) stay within the tree.
TREE_LEAVES = 4096


@pytest.fixture(scope="module")
def tree():
    leaves = [
        merkle.leaf_hash(hashlib.sha256(i.to_bytes(4, "big")).digest()) for i in range(TREE_LEAVES)
    ]
    get = merkle.in_memory_getter(leaves)
    roots = {}

    def root(size: int) -> bytes:
        if size not in roots:
            roots[size] = merkle.root_from_leaf_hashes(leaves[:size])
        return roots[size]

    return leaves, get, root


def _flip(data: bytes, bit: int) -> bytes:
    b = bytearray(data)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def _root_for(root, size: int, fallback: int) -> bytes:
    """The root a verifier would hold for ``size``: the one in the signed checkpoint of that size.

    RFC 9162 proofs bind the size through the root: a proof can have the same shape for two
    sizes, but it never leads to the root of the other size. Beyond our tree we have no such
    root, so the original one is used (and the proof's shape must then give it away).
    """
    return root(size) if 0 < size <= TREE_LEAVES else root(fallback)


def _rejects_inclusion(index, size, leaf, proof, root) -> bool:
    try:
        merkle.verify_inclusion(index, size, leaf, proof, root)
    except merkle.ProofError:
        return True
    return False


def _rejects_consistency(size1, size2, root1, root2, proof) -> bool:
    try:
        merkle.verify_consistency(size1, size2, root1, root2, proof)
    except merkle.ProofError:
        return True
    return False


def test_tree_root_matches_recursive_definition(tree) -> None:
    leaves, get, root = tree

    def mth(hs):
        if len(hs) == 1:
            return hs[0]
        k = 1 << ((len(hs) - 1).bit_length() - 1)
        return merkle.node_hash(mth(hs[:k]), mth(hs[k:]))

    for n in [*range(1, 70), 255, 256, 257, 1000, MAX_SIZE]:
        assert root(n) == mth(leaves[:n]) == merkle.tree_root(n, get)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_inclusion_proofs_verify_and_any_bit_flip_fails(tree, data) -> None:
    leaves, get, root = tree
    size = data.draw(st.integers(1, MAX_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.inclusion_proof(index, size, get)
    merkle.verify_inclusion(index, size, leaves[index], proof, root(size))

    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="node")
        bit = data.draw(st.integers(0, 255), label="bit")
        bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        assert _rejects_inclusion(index, size, leaves[index], bad, root(size))
    bit = data.draw(st.integers(0, 255), label="root bit")
    assert _rejects_inclusion(index, size, leaves[index], proof, _flip(root(size), bit))
    assert _rejects_inclusion(index, size, _flip(leaves[index], bit), proof, root(size))
    # Index and size changed by a single bit (within 64-bit range).
    ibit = data.draw(st.integers(0, 63), label="index bit")
    assert _rejects_inclusion(index ^ (1 << ibit), size, leaves[index], proof, root(size))
    sbit = data.draw(st.integers(0, 63), label="size bit")
    other = size ^ (1 << sbit)
    assert _rejects_inclusion(index, other, leaves[index], proof, _root_for(root, other, size))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_consistency_proofs_verify_and_any_bit_flip_fails(tree, data) -> None:
    _, get, root = tree
    size2 = data.draw(st.integers(1, MAX_SIZE), label="size2")
    size1 = data.draw(st.integers(1, size2), label="size1")
    proof = merkle.consistency_proof(size1, size2, get)
    r1, r2 = root(size1), root(size2)
    merkle.verify_consistency(size1, size2, r1, r2, proof)

    bit = data.draw(st.integers(0, 255), label="bit")
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="node")
        bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        assert _rejects_consistency(size1, size2, r1, r2, bad)
    assert _rejects_consistency(size1, size2, _flip(r1, bit), r2, proof)
    assert _rejects_consistency(size1, size2, r1, _flip(r2, bit), proof)
    s1bit = data.draw(st.integers(0, 63), label="size1 bit")
    other1 = size1 ^ (1 << s1bit)
    assert _rejects_consistency(other1, size2, _root_for(root, other1, size1), r2, proof)
    s2bit = data.draw(st.integers(0, 63), label="size2 bit")
    other2 = size2 ^ (1 << s2bit)
    assert _rejects_consistency(size1, other2, r1, _root_for(root, other2, size2), proof)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(0, 1100), count=st.integers(0, 1100))
def test_frontier_extend_equals_appending_one_by_one(tree, start: int, count: int) -> None:
    leaves, _, _ = tree
    one: list[bytes] = []  # the compact range of [0, start)
    for i in range(start):
        merkle.frontier_append(one, i, leaves[i])
    many = list(one)
    for i in range(start, start + count):
        merkle.frontier_append(one, i, leaves[i])
    merkle.frontier_extend(many, start, leaves[start : start + count])
    assert many == one


def test_perfect_root_is_the_mth_of_a_power_of_two() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(256)]
    for n in (1, 2, 4, 128, 256):
        assert merkle.perfect_root(leaves[:n]) == merkle.root_from_leaf_hashes(leaves[:n])
    for n in (0, 3, 255):
        with pytest.raises(ValueError):
            merkle.perfect_root(leaves[:n])


@pytest.mark.parametrize("index", [0.5, 0.0, False, "0", None])
def test_an_index_that_is_not_an_integer_never_verifies(index) -> None:
    leaf = merkle.leaf_hash(b"only leaf")
    with pytest.raises(merkle.ProofError, match="not an integer"):
        merkle.verify_inclusion(index, 1, leaf, [], leaf)  # one-leaf tree: root = leaf hash


@pytest.mark.parametrize("sizes", [(1.0, 2), (1, 2.5), (True, 2)])
def test_a_tree_size_that_is_not_an_integer_never_verifies(sizes) -> None:
    root = merkle.leaf_hash(b"x")
    with pytest.raises(merkle.ProofError, match="not an integer"):
        merkle.verify_consistency(*sizes, root, root, [])
