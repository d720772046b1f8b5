"""LogAnchor on a real EVM: in-process py-evm and a real anvil process (see conftest)."""

from __future__ import annotations

import hashlib

import pytest
from hexbytes import HexBytes

from ledger.anchoring import txn
from ledger.anchoring.contract import log_id_for_origin
from tests.support.anchoring import attempt_anchor, fresh_log_id, head, send_raw_call, simulate
from tests.support.memsource import MemoryLog


def _proof(log: MemoryLog, size1: int, size2: int) -> list[bytes]:
    return log.consistency_proof(size1, size2)


def test_log_id_is_sha256_of_origin():
    assert log_id_for_origin("example.org/log") == hashlib.sha256(b"example.org/log").digest()


def test_first_anchor_then_valid_extensions_are_accepted(deployment, request):
    client, sub = deployment.client, deployment.submitter
    log = MemoryLog(origin=request.node.name)
    log_id = fresh_log_id(request.node.name)
    assert head(client, log_id) == (0, b"\0" * 32)

    previous = 0
    # Power-of-two and odd old sizes, one-leaf steps and big jumps.
    for size in (1, 2, 3, 4, 7, 8, 9, 100, 1023, 1024, 1500):
        log.grow_to(size)
        root = log.root_at(size)
        proof = _proof(log, previous, size) if previous else []
        note = b"checkpoint %d" % size
        receipt = client.anchor(sub, log_id, size, root, hashlib.sha256(note).digest(), proof)
        assert receipt["status"] == 1
        (event,) = client.events_in(receipt)
        assert (event.log_id, event.size, event.root) == (log_id, size, root)
        assert event.note_hash == hashlib.sha256(note).digest()
        assert event.block_number == receipt["blockNumber"]
        stored = client.latest(log_id)
        assert (stored.size, stored.root, stored.block_number) == (
            size,
            root,
            receipt["blockNumber"],
        )
        previous = size

    events = client.anchored_events(log_id)
    assert [e.size for e in events] == [1, 2, 3, 4, 7, 8, 9, 100, 1023, 1024, 1500]


def test_refused_anchors_revert_and_leave_state_unchanged(deployment, request):
    client, sub = deployment.client, deployment.submitter
    log = MemoryLog(origin=request.node.name)
    log_id = fresh_log_id(request.node.name)
    log.grow_to(13)
    assert attempt_anchor(client, sub, log_id, 6, log.root_at(6), []) is None
    good = _proof(log, 6, 13)
    root13 = log.root_at(13)
    assert len(good) >= 3

    other = MemoryLog(origin=request.node.name)
    other.append(*(b"rewritten %d" % i for i in range(13)))
    flipped = [bytes([good[0][0] ^ 1]) + good[0][1:], *good[1:]]
    cases = {
        "another root for the anchored size": (6, log.root_at(5), []),
        "the same checkpoint again": (6, log.root_at(6), []),
        "a smaller size": (5, log.root_at(5), []),
        "an empty proof": (13, root13, []),
        "a truncated proof": (13, root13, good[:-1]),
        "a proof with an extra node": (13, root13, [*good, good[-1]]),
        "a corrupted proof node": (13, root13, flipped),
        "a wrong new root": (13, log.root_at(12), good),
        "a rewritten history": (13, other.root_at(13), other.consistency_proof(6, 13)),
    }
    expected = {
        "another root for the anchored size": "SizeNotIncreasing",
        "the same checkpoint again": "SizeNotIncreasing",
        "a smaller size": "SizeNotIncreasing",
        "an empty proof": "EmptyProof",
        "a truncated proof": "ProofTooShort",
        "a proof with an extra node": "ProofTooLong",
        "a corrupted proof node": "ProofDoesNotMatchAnchoredRoot",
        "a wrong new root": "ProofDoesNotMatchNewRoot",
        "a rewritten history": "ProofDoesNotMatchAnchoredRoot",
    }
    for name, (size, root, proof) in cases.items():
        got = attempt_anchor(client, sub, log_id, size, root, proof)
        assert got == expected[name], name
        assert head(client, log_id) == (6, log.root_at(6)), name

    # Nobody else may anchor, not even with a valid proof.
    stranger = deployment.chain.new_account()
    assert attempt_anchor(client, stranger, log_id, 13, root13, good) == "NotSubmitter"
    # A first anchor carries no proof: one given means the caller expected another state.
    new_id = fresh_log_id(request.node.name + "/second")
    assert attempt_anchor(client, sub, new_id, 13, root13, good) == "UnexpectedProof"
    assert head(client, new_id) == (0, b"\0" * 32)
    # And the valid extension still goes through after all that.
    assert attempt_anchor(client, sub, log_id, 13, root13, good) is None
    assert len(client.anchored_events(log_id)) == 2


def test_proof_array_longer_than_calldata_is_refused(deployment, request):
    """The ABI decoder refuses a proof whose declared length runs past the calldata."""
    client, sub = deployment.client, deployment.submitter
    log = MemoryLog(origin=request.node.name)
    log_id = fresh_log_id(request.node.name)
    log.grow_to(8)
    assert attempt_anchor(client, sub, log_id, 3, log.root_at(3), []) is None
    proof = _proof(log, 3, 8)
    calldata = client.anchor_calldata(log_id, 8, log.root_at(8), b"\1" * 32, proof)
    # Drop the last node's bytes but keep the declared array length.
    truncated = calldata[:-32]
    assert simulate(client, sub.address, truncated) is not None
    assert send_raw_call(client, sub, truncated) == 0
    assert head(client, log_id) == (3, log.root_at(3))


def test_client_refuses_values_that_are_not_hashes(deployment):
    client = deployment.client
    with pytest.raises(ValueError, match="root"):
        client.anchor_calldata(b"\0" * 32, 1, b"short", b"\0" * 32, [])
    with pytest.raises(ValueError, match="proof node 1"):
        client.anchor_calldata(b"\0" * 32, 2, b"\0" * 32, b"\0" * 32, [b"\0" * 32, b""])
    with pytest.raises(ValueError, match="uint64"):
        client.anchor_calldata(b"\0" * 32, 2**64, b"\0" * 32, b"\0" * 32, [])


def test_submitters_and_ownership_are_owner_controlled(deployment, request):
    client, owner, chain = deployment.client, deployment.owner, deployment.chain
    w3 = chain.w3
    alice = chain.new_account()
    bob = chain.new_account()
    log = MemoryLog(origin=request.node.name)
    log.grow_to(2)
    log_id = fresh_log_id(request.node.name)

    def call_error(sender, fn: str, *args) -> str | None:
        data = client.contract.encode_abi(fn, args=list(args))
        name = simulate(client, sender.address, bytes(HexBytes(data)))
        status = send_raw_call(client, sender, bytes(HexBytes(data)))
        assert (status == 1) == (name is None)
        return name

    assert client.owner() == owner.address
    assert call_error(alice, "addSubmitter", alice.address) == "NotOwner"
    assert not client.is_submitter(alice.address)
    zero = "0x" + "00" * 20
    assert call_error(owner, "addSubmitter", zero) == "ZeroAddress"

    assert client.add_submitter(owner, alice.address)["status"] == 1
    assert client.is_submitter(alice.address)
    assert attempt_anchor(client, alice, log_id, 1, log.root_at(1), []) is None
    assert call_error(alice, "removeSubmitter", alice.address) == "NotOwner"
    assert client.remove_submitter(owner, alice.address)["status"] == 1
    assert not client.is_submitter(alice.address)
    proof = _proof(log, 1, 2)
    assert attempt_anchor(client, alice, log_id, 2, log.root_at(2), proof) == "NotSubmitter"

    # Two-step transfer: nothing changes until the new owner accepts.
    assert call_error(alice, "transferOwnership", alice.address) == "NotOwner"
    assert client.transfer_ownership(owner, bob.address)["status"] == 1
    assert client.owner() == owner.address
    assert call_error(alice, "acceptOwnership") == "NotPendingOwner"
    assert client.accept_ownership(bob)["status"] == 1
    assert client.owner() == bob.address
    assert call_error(owner, "addSubmitter", alice.address) == "NotOwner"
    # Hand it back so the module's other tests keep their owner.
    client.transfer_ownership(bob, owner.address)
    client.accept_ownership(owner)
    assert client.owner() == owner.address
    assert w3.eth.get_code(client.address) == HexBytes(client.artifact.deployed_bytecode)


def test_constructor_refuses_zero_owner(deployment):
    chain = deployment.chain
    artifact = deployment.client.artifact
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor("0x" + "00" * 20).data_in_transaction
    receipt = txn.send_and_wait(chain.w3, chain.new_account(), {"data": data, "gas": 2_000_000})
    assert receipt["status"] == 0
    assert not receipt.get("contractAddress") or chain.w3.eth.get_code(
        receipt["contractAddress"]
    ) == HexBytes(b"")
