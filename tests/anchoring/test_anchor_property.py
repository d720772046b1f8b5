"""Differential test: the on-chain verifier agrees with ledger.log.merkle on random inputs."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.log.merkle import ProofError, verify_consistency
from tests.support.anchoring import attempt_anchor, fresh_log_id, simulate
from tests.support.memsource import MemoryLog

MAX_SIZE = 300
LOG = MemoryLog(origin="property")
LOG.grow_to(MAX_SIZE)
_ids = itertools.count()

MUTATIONS = ["none", "flip-proof", "flip-root", "drop-node", "extra-node", "size+1", "size-1"]


def _flip(value: bytes, bit: int) -> bytes:
    i = (bit // 8) % len(value)
    return value[:i] + bytes([value[i] ^ (1 << (bit % 8))]) + value[i + 1 :]


def _reference_accepts(size1, size2, root1, root2, proof) -> bool:
    try:
        verify_consistency(size1, size2, root1, root2, proof)
    except ProofError:
        return False
    return True


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_contract_agrees_with_reference_verifier(deployment, data):
    client, sub = deployment.client, deployment.submitter
    size2 = data.draw(st.integers(2, MAX_SIZE - 1), label="size2")
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    bit = data.draw(st.integers(0, 255), label="bit")
    root1, root2 = LOG.root_at(size1), LOG.root_at(size2)
    proof = LOG.consistency_proof(size1, size2)
    if mutation == "flip-proof" and proof:
        k = bit % len(proof)
        proof[k] = _flip(proof[k], bit)
    elif mutation == "flip-root":
        root2 = _flip(root2, bit)
    elif mutation == "drop-node" and proof:
        del proof[bit % len(proof)]
    elif mutation == "extra-node":
        proof.insert(bit % (len(proof) + 1), LOG.root_at(1 + bit % size2))
    elif mutation == "size+1":
        size2 += 1
    elif mutation == "size-1":
        size2 -= 1

    log_id = fresh_log_id(f"{deployment.chain.name}/property/{next(_ids)}")
    assert attempt_anchor(client, sub, log_id, size1, root1, []) is None
    calldata = client.anchor_calldata(log_id, size2, root2, b"\0" * 32, proof)
    contract_accepts = simulate(client, sub.address, calldata) is None
    assert contract_accepts == _reference_accepts(size1, size2, root1, root2, proof)
    if mutation == "none":
        assert contract_accepts
