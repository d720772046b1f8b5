"""Every RFC 6962 consistency vector (tests/vectors/rfc6962/consistency) against LogAnchor.

For each vector: anchor (size1, root1) first when size1 > 0, then try (size2, root2, proof).
A verifier accepts a vector exactly when ``wantErr`` is false. The contract is a verifier with
state, so the degenerate cases map as follows (``expected_on_chain``):

* size2 <= size1 (equal sizes included): the contract refuses with SizeNotIncreasing, because
  anchored sizes only grow. For the equal-size vectors that a verifier accepts (same tree), the
  contract's revert loses nothing: the stored checkpoint already *is* (size1, root1). The
  size check comes before any root or proof is looked at, so "don't care" placeholder roots
  that are not 32 bytes are zero-padded to make these calls encodable.
* size1 == 0: nothing can be anchored first (stored size 0 means "no anchor yet"), so the try
  is a first anchor. A first anchor is trust-on-first-use and carries no proof: the contract
  accepts it only with an empty proof (UnexpectedProof otherwise). The vectors' point that a
  proof from the empty tree proves nothing is exactly why none is taken.
* any root or proof node that is not 32 bytes (the "garbage", "wrong-root" and placeholder
  vectors): the contract's ABI types them as bytes32, so such a call cannot even be expressed.
  The client refuses to encode it (ValueError) and the vector must have ``wantErr``. Where the
  bad item is a proof node, we also send the raw calldata that results from concatenating the
  nodes as given, and the contract must revert.
* otherwise: accepted exactly when ``wantErr`` is false.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak

from tests.support.anchoring import attempt_anchor, fresh_log_id, head, send_raw_call, simulate

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc6962" / "consistency"
FILES = sorted(VECTORS.glob("**/*.json"))
ANCHOR_SELECTOR = keccak(text="anchor(bytes32,uint64,bytes32,bytes32,bytes32[])")[:4]


def _load(path: Path) -> dict:
    v = json.loads(path.read_text())
    return {
        "size1": v["size1"],
        "size2": v["size2"],
        "root1": base64.b64decode(v["root1"]),
        "root2": base64.b64decode(v["root2"]),
        "proof": [base64.b64decode(p) for p in (v["proof"] or [])],
        "want_err": v["wantErr"],
    }


def _pad(value: bytes) -> bytes:
    return value.ljust(32, b"\0")[:32]


def expected_on_chain(v: dict) -> str:
    """'accept', 'SizeNotIncreasing', 'UnexpectedProof', 'unencodable' or 'reject'."""
    if v["size2"] <= v["size1"]:
        return "SizeNotIncreasing"
    hashes = [v["root2"], *v["proof"]] + ([v["root1"]] if v["size1"] else [])
    if any(len(h) != 32 for h in hashes):
        return "unencodable"
    if v["size1"] == 0:
        return "UnexpectedProof" if v["proof"] else "accept"
    return "reject" if v["want_err"] else "accept"


def test_vector_folder_is_complete():
    assert len(FILES) >= 90
    outcomes = {expected_on_chain(_load(f)) for f in FILES}
    assert outcomes == {"accept", "reject", "SizeNotIncreasing", "UnexpectedProof", "unencodable"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_consistency_vector(deployment, path: Path):
    client, sub = deployment.client, deployment.submitter
    v = _load(path)
    log_id = fresh_log_id(f"{deployment.chain.name}/{path}")
    expected = expected_on_chain(v)

    if expected != "accept":
        # Whatever the contract does below, a verifier must refuse these (or, for equal
        # sizes, they are the "same tree" case the size rule refuses by design).
        assert v["want_err"] or v["size1"] == v["size2"], "mapping would refuse a good vector"
    if expected == "accept":
        assert not v["want_err"] or v["size1"] == 0

    if expected == "SizeNotIncreasing":
        if v["size1"]:
            assert attempt_anchor(client, sub, log_id, v["size1"], _pad(v["root1"]), []) is None
        before = head(client, log_id)
        got = attempt_anchor(client, sub, log_id, v["size2"], _pad(v["root2"]), [])
        assert got == "SizeNotIncreasing"
        assert head(client, log_id) == before
        return

    if expected == "unencodable":
        assert v["want_err"]
        if v["size1"] and len(v["root1"]) != 32:
            with pytest.raises(ValueError, match="root must be exactly 32 bytes"):
                client.anchor_calldata(log_id, v["size1"], v["root1"], b"\0" * 32, [])
        else:
            with pytest.raises(ValueError, match="must be exactly 32 bytes"):
                client.anchor_calldata(log_id, v["size2"], v["root2"], b"\0" * 32, v["proof"])
        if len(v["root1"]) == 32 and len(v["root2"]) == 32:
            _send_garbage_proof(deployment, log_id, v)
        return

    if v["size1"]:
        assert attempt_anchor(client, sub, log_id, v["size1"], v["root1"], []) is None
    got = attempt_anchor(client, sub, log_id, v["size2"], v["root2"], v["proof"])
    if expected == "accept":
        assert got is None
        assert head(client, log_id) == (v["size2"], v["root2"])
    else:
        assert got is not None and got != "NotSubmitter", got
        if expected == "UnexpectedProof":
            assert got == expected
        assert head(client, log_id) == ((v["size1"], v["root1"]) if v["size1"] else (0, b"\0" * 32))


def _send_garbage_proof(deployment, log_id: bytes, v: dict) -> None:
    """Send the proof nodes as given, concatenated under their declared count: must revert."""
    client, sub = deployment.client, deployment.submitter
    assert attempt_anchor(client, sub, log_id, v["size1"], v["root1"], []) is None
    head_args = encode(
        ["bytes32", "uint64", "bytes32", "bytes32", "uint256"],
        [log_id, v["size2"], v["root2"], b"\0" * 32, 5 * 32],
    )
    array = len(v["proof"]).to_bytes(32, "big") + b"".join(v["proof"])
    calldata = ANCHOR_SELECTOR + head_args + array
    assert simulate(client, sub.address, calldata) is not None
    assert send_raw_call(client, sub, calldata) == 0
    assert head(client, log_id) == (v["size1"], v["root1"])
