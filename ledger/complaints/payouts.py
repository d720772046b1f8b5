"""On-chain payouts by the compensation vault: what an offer and its acceptance commit to.

The vault contract (``contracts/CompensationVault.sol``) pays an accepted offer only against
two leaves proven included in a tree that ``LogAnchor`` has anchored: the officers' offer and
the customer's acceptance. It cannot parse JSON, so each leaf carries one commitment it can
recompute, as 64 lower-case hex characters in the leaf's public fields:

* the offer's ``public.payout_terms`` = SHA-256(abi.encode(chainId, vault, token, amount));
* the acceptance's ``public.payout`` = SHA-256(abi.encode(chainId, vault, token, amount,
  recipient, offerLeafHash)) — the customer confirms the receiving address and binds it to
  that one offer (its RFC 6962 leaf hash).

``abi.encode`` of these static types is one 32-byte word each: integers big-endian, addresses
left-padded with zeros. ``token`` is the ERC-20 contract, or the zero address for the chain's
native coin; ``amount`` is in the asset's base units.

In a leaf (RFC 8785 JSON) a commitment is the exact text ``"payout_terms":"<hex>"`` or
``"payout":"<hex>"``: no other public value can hold a quote, so the contract checks it at an
offset the caller names (``claim_offsets``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from ledger.complaints.vocab import EventType

ZERO_ADDRESS = "0x" + "00" * 20  # the token of a payout in the chain's native coin
EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")  # any case: EIP-55 checksums are not read
TERMS_FIELD = "payout_terms"
PAYOUT_FIELD = "payout"


def _uint(value: int) -> bytes:
    if not 0 <= value < 2**256:
        raise ValueError(f"not a uint256: {value}")
    return value.to_bytes(32, "big")


def _address(value: str) -> bytes:
    if not isinstance(value, str) or not EVM_ADDRESS.fullmatch(value):
        raise ValueError(f"not an EVM address: {value!r}")
    return bytes(12) + bytes.fromhex(value[2:])


def terms_commitment(chain_id: int, vault: str, token: str | None, amount: int) -> str:
    """The offer's ``payout_terms``: what the officers offer, where, in which asset."""
    data = _uint(chain_id) + _address(vault) + _address(token or ZERO_ADDRESS) + _uint(amount)
    return hashlib.sha256(data).hexdigest()


def payout_commitment(
    chain_id: int,
    vault: str,
    token: str | None,
    amount: int,
    recipient: str,
    offer_leaf_hash: bytes | str,
) -> str:
    """The acceptance's ``payout``: the offer's terms, the customer's address, that offer."""
    offer = bytes.fromhex(offer_leaf_hash) if isinstance(offer_leaf_hash, str) else offer_leaf_hash
    if len(offer) != 32:
        raise ValueError("an offer leaf hash is 32 bytes")
    data = (
        _uint(chain_id)
        + _address(vault)
        + _address(token or ZERO_ADDRESS)
        + _uint(amount)
        + _address(recipient)
        + offer
    )
    return hashlib.sha256(data).hexdigest()


def field_text(name: str, commitment: str) -> bytes:
    """The exact bytes of a commitment in a leaf: ``"name":"<hex>"``."""
    return f'"{name}":"{commitment}"'.encode("ascii")


def type_text(event_type: str) -> bytes:
    """The exact bytes of a leaf's type: ``"type":"<event type>"``."""
    return f'"type":"{event_type}"'.encode("ascii")


def offset_of(leaf: bytes, text: bytes) -> int:
    """Where ``text`` stands in ``leaf`` (it must stand there exactly once)."""
    first = leaf.find(text)
    if first < 0 or leaf.find(text, first + 1) >= 0:
        raise ValueError(f"{text!r} is not in the leaf exactly once")
    return first


def last_of(types: Sequence[str], before: int, event_type: str) -> int | None:
    """The position of the last step of ``event_type`` before position ``before``."""
    for i in range(before - 1, -1, -1):
        if types[i] == event_type:
            return i
    return None


def accepted_offer(types: Sequence[str], before: int) -> tuple[int | None, int | None]:
    """(offer, acceptance): the positions of the steps a payment at ``before`` pays, among a
    complaint's step types in chain order — the last acceptance before it and the last offer
    before that acceptance (None where there is none)."""
    accepted = last_of(types, before, EventType.COMPENSATION_ACCEPTED)
    offered = None if accepted is None else last_of(types, accepted, EventType.COMPENSATION_OFFERED)
    return offered, accepted
