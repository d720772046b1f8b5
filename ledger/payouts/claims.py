"""Claims for the compensation vault, built from log leaves and their inclusion proofs.

Pure: no chain library. A :class:`Claim` is what ``CompensationVault.payout`` takes, a
:class:`Withdrawal` what ``voidOffer`` takes; both carry the byte offsets of the texts the
contract checks, found here once so the contract never searches. :func:`verify_claim` checks a
claim the way the contract does (inclusion under the anchored root, leaf types, commitments),
so a payout that would be refused is refused before anything is signed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.complaints import payouts
from ledger.complaints.vocab import EventType
from ledger.errors import LedgerError
from ledger.log.merkle import ProofError, leaf_hash, verify_inclusion

HASH_SIZE = 32


class ClaimError(LedgerError, ValueError):
    """The leaves, proofs or terms do not make a claim the vault would pay (or void)."""


def _address(name: str, value: str | None) -> str:
    value = payouts.ZERO_ADDRESS if value is None else value
    if not isinstance(value, str) or not payouts.EVM_ADDRESS.fullmatch(value):
        raise ClaimError(f"{name} is not an EVM address: {value!r}")
    return value


def _count(name: str, value: int, bits: int = 256) -> int:
    if type(value) is not int or not 0 <= value < 2**bits:
        raise ClaimError(f"{name} is not a uint{bits}: {value!r}")
    return value


def _proof(name: str, proof: Sequence[bytes]) -> tuple[bytes, ...]:
    nodes = tuple(bytes(p) for p in proof)
    if any(len(p) != HASH_SIZE for p in nodes):
        raise ClaimError(f"{name}: every node is {HASH_SIZE} bytes")
    return nodes


def _at(leaf: bytes, text: bytes, what: str) -> int:
    try:
        return payouts.offset_of(leaf, text)
    except ValueError:
        raise ClaimError(f"{what}: {text.decode()} is not in the leaf exactly once") from None


def _key(name: str) -> bytes:
    # Where a commitment's text starts: the key and the opening quote of its value.
    return f'"{name}":"'.encode("ascii")


@dataclass(frozen=True)
class Claim:
    """The arguments of ``payout(Claim)``, field for field."""

    token: str  # payouts.ZERO_ADDRESS: the native coin
    recipient: str
    amount: int
    size: int
    offer_leaf: bytes
    offer_index: int
    offer_proof: tuple[bytes, ...]
    offer_type_at: int
    offer_terms_at: int
    accept_leaf: bytes
    accept_index: int
    accept_proof: tuple[bytes, ...]
    accept_type_at: int
    accept_payout_at: int

    @property
    def offer_leaf_hash(self) -> bytes:
        return leaf_hash(self.offer_leaf)

    @property
    def accept_leaf_hash(self) -> bytes:
        return leaf_hash(self.accept_leaf)

    def abi_args(self) -> tuple[Any, ...]:
        """The struct as the ABI tuple, in the contract's field order."""
        return (
            self.token,
            self.recipient,
            self.amount,
            self.size,
            self.offer_leaf,
            self.offer_index,
            list(self.offer_proof),
            self.offer_type_at,
            self.offer_terms_at,
            self.accept_leaf,
            self.accept_index,
            list(self.accept_proof),
            self.accept_type_at,
            self.accept_payout_at,
        )


@dataclass(frozen=True)
class Withdrawal:
    """The arguments of ``voidOffer(Withdrawal)``, field for field."""

    offer_leaf_hash: bytes
    token: str
    recipient: str
    amount: int
    size: int
    accept_leaf: bytes
    accept_index: int
    accept_proof: tuple[bytes, ...]
    accept_type_at: int
    accept_payout_at: int
    withdrawn_leaf: bytes
    withdrawn_index: int
    withdrawn_proof: tuple[bytes, ...]
    withdrawn_type_at: int
    withdrawn_prev_at: int

    @property
    def withdrawn_leaf_hash(self) -> bytes:
        return leaf_hash(self.withdrawn_leaf)

    def abi_args(self) -> tuple[Any, ...]:
        return (
            self.offer_leaf_hash,
            self.token,
            self.recipient,
            self.amount,
            self.size,
            self.accept_leaf,
            self.accept_index,
            list(self.accept_proof),
            self.accept_type_at,
            self.accept_payout_at,
            self.withdrawn_leaf,
            self.withdrawn_index,
            list(self.withdrawn_proof),
            self.withdrawn_type_at,
            self.withdrawn_prev_at,
        )


def build_claim(
    offer_leaf: bytes,
    offer_index: int,
    offer_proof: Sequence[bytes],
    accept_leaf: bytes,
    accept_index: int,
    accept_proof: Sequence[bytes],
    size: int,
    token: str | None,
    recipient: str,
    amount: int,
) -> Claim:
    """A payout claim: the two leaves and their inclusion proofs in the tree of ``size``.

    Finds the offsets of the offer's type and ``payout_terms`` and of the acceptance's type
    and ``payout``; each must stand in its leaf exactly once. Proofs are not checked here
    (no root): :func:`verify_claim` does, as the contract will.
    """
    offer_leaf, accept_leaf = bytes(offer_leaf), bytes(accept_leaf)
    return Claim(
        token=_address("token", token),
        recipient=_address("recipient", recipient),
        amount=_count("amount", amount),
        size=_count("tree size", size, 64),
        offer_leaf=offer_leaf,
        offer_index=_count("offer index", offer_index),
        offer_proof=_proof("offer proof", offer_proof),
        offer_type_at=_at(offer_leaf, payouts.type_text(EventType.COMPENSATION_OFFERED), "offer"),
        offer_terms_at=_at(offer_leaf, _key(payouts.TERMS_FIELD), "offer"),
        accept_leaf=accept_leaf,
        accept_index=_count("acceptance index", accept_index),
        accept_proof=_proof("acceptance proof", accept_proof),
        accept_type_at=_at(
            accept_leaf, payouts.type_text(EventType.COMPENSATION_ACCEPTED), "acceptance"
        ),
        accept_payout_at=_at(accept_leaf, _key(payouts.PAYOUT_FIELD), "acceptance"),
    )


def build_withdrawal(
    offer_leaf_hash: bytes,
    accept_leaf: bytes,
    accept_index: int,
    accept_proof: Sequence[bytes],
    withdrawn_leaf: bytes,
    withdrawn_index: int,
    withdrawn_proof: Sequence[bytes],
    size: int,
    token: str | None,
    recipient: str,
    amount: int,
) -> Withdrawal:
    """Proof that the acceptance of that offer was directly followed by a withdrawal."""
    accept_leaf, withdrawn_leaf = bytes(accept_leaf), bytes(withdrawn_leaf)
    if len(offer_leaf_hash) != HASH_SIZE:
        raise ClaimError(f"the offer leaf hash is {HASH_SIZE} bytes")
    prev = payouts.field_text("prev", leaf_hash(accept_leaf).hex())
    return Withdrawal(
        offer_leaf_hash=bytes(offer_leaf_hash),
        token=_address("token", token),
        recipient=_address("recipient", recipient),
        amount=_count("amount", amount),
        size=_count("tree size", size, 64),
        accept_leaf=accept_leaf,
        accept_index=_count("acceptance index", accept_index),
        accept_proof=_proof("acceptance proof", accept_proof),
        accept_type_at=_at(
            accept_leaf, payouts.type_text(EventType.COMPENSATION_ACCEPTED), "acceptance"
        ),
        accept_payout_at=_at(accept_leaf, _key(payouts.PAYOUT_FIELD), "acceptance"),
        withdrawn_leaf=withdrawn_leaf,
        withdrawn_index=_count("withdrawal index", withdrawn_index),
        withdrawn_proof=_proof("withdrawal proof", withdrawn_proof),
        withdrawn_type_at=_at(withdrawn_leaf, payouts.type_text(EventType.WITHDRAWN), "withdrawal"),
        withdrawn_prev_at=_at(withdrawn_leaf, prev, "withdrawal (not the acceptance's successor)"),
    )


def _text_at(leaf: bytes, pos: int, text: bytes) -> bool:
    return leaf[pos : pos + len(text)] == text


def _included(
    which: str, leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    if index >= size:
        raise ClaimError(f"the {which} leaf {index} is not below the anchored size {size}")
    try:
        verify_inclusion(index, size, leaf_hash(leaf), proof, root)
    except ProofError as exc:
        raise ClaimError(f"the {which} inclusion proof does not verify: {exc}") from None


def verify_claim(
    claim: Claim, anchored_size: int, anchored_root: bytes, chain_id: int, vault: str
) -> None:
    """Check ``claim`` as the contract will against what LogAnchor holds; ClaimError if not.

    The size matters beyond the root: an inclusion proof far from the tree's right edge
    also verifies for some other sizes, so the claim must name exactly the anchored one.
    Caps, pausing and whether the offer was paid or voided are the contract's state: only
    the chain answers those (simulate the call).
    """
    if claim.size != anchored_size:
        raise ClaimError(f"the claim is for tree size {claim.size}, {anchored_size} is anchored")
    root, size = anchored_root, anchored_size
    _included("offer", claim.offer_leaf, claim.offer_index, size, claim.offer_proof, root)
    _included("acceptance", claim.accept_leaf, claim.accept_index, size, claim.accept_proof, root)
    if not _text_at(
        claim.offer_leaf, claim.offer_type_at, payouts.type_text(EventType.COMPENSATION_OFFERED)
    ):
        raise ClaimError("the offer leaf is not a compensation offer")
    if not _text_at(
        claim.accept_leaf,
        claim.accept_type_at,
        payouts.type_text(EventType.COMPENSATION_ACCEPTED),
    ):
        raise ClaimError("the acceptance leaf is not a compensation acceptance")
    terms = payouts.terms_commitment(chain_id, vault, claim.token, claim.amount)
    if not _text_at(
        claim.offer_leaf, claim.offer_terms_at, payouts.field_text(payouts.TERMS_FIELD, terms)
    ):
        raise ClaimError("the offer does not commit to this token and amount from this vault")
    payout = payouts.payout_commitment(
        chain_id, vault, claim.token, claim.amount, claim.recipient, claim.offer_leaf_hash
    )
    if not _text_at(
        claim.accept_leaf, claim.accept_payout_at, payouts.field_text(payouts.PAYOUT_FIELD, payout)
    ):
        raise ClaimError("the acceptance does not commit to this payout of this offer")
    if int(claim.recipient, 16) == 0:
        raise ClaimError("the recipient is the zero address")
