"""Anchoring on a chain under test: funded accounts, a fresh anvil, raw anchor attempts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from ledger.anchoring import txn
from ledger.anchoring.contract import (
    REVERT_ERRORS,
    AnchoredHead,
    LogAnchorClient,
    decode_revert,
    revert_data_of,
)
from ledger.anchoring.devchain import DevChain

FUNDING = 10**21  # wei; plenty for thousands of anchors at dev-chain fees
FORCED_GAS = 400_000  # sent without estimation, so a reverting anchor really lands on chain


def anvil_chain(tmp: Path, **kwargs) -> DevChain:
    """A started anvil (from node_modules) logging to ``tmp``/anvil.log."""
    return DevChain(log_file=tmp / "anvil.log", **kwargs).start()


def fresh_log_id(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def simulate(client: LogAnchorClient, sender: str, calldata: bytes) -> str | None:
    """eth_call the anchor: None when it would succeed, else the custom error's name."""
    try:
        client.w3.eth.call({"from": sender, "to": client.address, "data": HexBytes(calldata)})
    except REVERT_ERRORS as exc:
        reason = decode_revert(revert_data_of(exc))
        return reason.name if reason else f"revert without a known error: {exc}"
    return None


def send_raw_call(client: LogAnchorClient, sender: LocalAccount, calldata: bytes) -> int:
    """Send ``calldata`` to the contract with a fixed gas limit; return the receipt status."""
    tx = {"to": client.address, "data": calldata, "gas": FORCED_GAS}
    return int(txn.send_and_wait(client.w3, sender, tx)["status"])


def attempt_anchor(
    client: LogAnchorClient,
    sender: LocalAccount,
    log_id: bytes,
    size: int,
    root: bytes,
    proof: Sequence[bytes],
    note: bytes = b"note",
) -> str | None:
    """Try an anchor for real: simulate for the error name, then send it on chain.

    Returns None when accepted, else the revert's error name. Checks that the simulation and
    the mined transaction agree, and that a revert left the stored head untouched.
    """
    calldata = client.anchor_calldata(log_id, size, root, hashlib.sha256(note).digest(), proof)
    before = client.latest(log_id)
    expected = simulate(client, sender.address, calldata)
    status = send_raw_call(client, sender, calldata)
    after = client.latest(log_id)
    if expected is None:
        assert status == 1, "simulation succeeded but the transaction reverted"
        assert (after.size, after.root) == (size, bytes(root))
    else:
        assert status == 0, f"simulation reverted with {expected} but the transaction succeeded"
        assert (after.size, after.root, after.block_number) == (
            before.size,
            before.root,
            before.block_number,
        )
    return expected


def head(client: LogAnchorClient, log_id: bytes) -> tuple[int, bytes]:
    h: AnchoredHead = client.latest(log_id)
    return h.size, h.root
