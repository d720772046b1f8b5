"""Building and checking claims without a chain (ledger.payouts.claims is pure)."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.complaints import payouts
from ledger.log.merkle import in_memory_getter, inclusion_proof, leaf_hash, tree_root
from ledger.payouts.claims import ClaimError, build_claim, build_withdrawal, verify_claim
from tests.payouts.scenario import envelope, offer_public

CHAIN_ID = 31337
VAULT = "0x" + "5a" * 20
RECIPIENT = "0x" + "c3" * 20
AMOUNT = 4_200_000


def _leaves():
    terms = payouts.terms_commitment(CHAIN_ID, VAULT, None, AMOUNT)
    offer = envelope("compensation_offered", 4, b"\x01" * 32, offer_public(terms))
    payout = payouts.payout_commitment(CHAIN_ID, VAULT, None, AMOUNT, RECIPIENT, leaf_hash(offer))
    accept = envelope(
        "compensation_accepted",
        5,
        leaf_hash(offer),
        {"payout": payout},
        role="customer",
        actor="customer",
    )
    withdrawn = envelope("withdrawn", 6, leaf_hash(accept), {}, role="customer", actor="customer")
    leaves = [b"a", b"b", offer, b"c", accept, withdrawn, b"d"]
    return leaves, in_memory_getter([leaf_hash(x) for x in leaves])


def _claim(**changes):
    leaves, get = _leaves()
    n = len(leaves)
    args = dict(
        offer_leaf=leaves[2],
        offer_index=2,
        offer_proof=inclusion_proof(2, n, get),
        accept_leaf=leaves[4],
        accept_index=4,
        accept_proof=inclusion_proof(4, n, get),
        size=n,
        token=None,
        recipient=RECIPIENT,
        amount=AMOUNT,
    )
    args.update(changes)
    return build_claim(**args), tree_root(n, get)


def test_offsets_point_at_the_texts_the_contract_checks():
    claim, root = _claim()
    offer, accept = claim.offer_leaf, claim.accept_leaf
    assert offer[claim.offer_type_at :].startswith(b'"type":"compensation_offered"')
    assert offer[claim.offer_terms_at :].startswith(b'"payout_terms":"')
    assert accept[claim.accept_type_at :].startswith(b'"type":"compensation_accepted"')
    assert accept[claim.accept_payout_at :].startswith(b'"payout":"')
    assert claim.token == payouts.ZERO_ADDRESS
    verify_claim(claim, 7, root, CHAIN_ID, VAULT)


def test_builder_refuses_what_is_no_claim():
    leaves, _ = _leaves()
    with pytest.raises(ClaimError, match="offer"):
        _claim(offer_leaf=leaves[4])  # an acceptance is no offer
    with pytest.raises(ClaimError, match="acceptance"):
        _claim(accept_leaf=leaves[2])
    with pytest.raises(ClaimError, match="exactly once"):
        _claim(offer_leaf=leaves[2] + leaves[2])
    with pytest.raises(ClaimError, match="address"):
        _claim(recipient="0x1234")
    with pytest.raises(ClaimError, match="uint256"):
        _claim(amount=-1)
    with pytest.raises(ClaimError, match="uint64"):
        _claim(size=2**64)
    with pytest.raises(ClaimError, match="32 bytes"):
        _claim(offer_proof=[b"\x00" * 31])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"size": 6}, "tree size"),
        ({"amount": AMOUNT + 1}, "offer does not commit"),
        ({"token": "0x" + "11" * 20}, "offer does not commit"),
        ({"recipient": "0x" + "c4" * 20}, "acceptance does not commit"),
        ({"offer_index": 3}, "offer inclusion"),
        ({"accept_index": 9}, "not below"),
        ({"offer_type_at": 0}, "not a compensation offer"),
        ({"accept_type_at": 1}, "not a compensation acceptance"),
    ],
)
def test_verify_claim_refuses_as_the_contract_does(change, message):
    claim, root = _claim()
    with pytest.raises(ClaimError, match=message):
        verify_claim(dataclasses.replace(claim, **change), 7, root, CHAIN_ID, VAULT)


def test_verify_claim_refuses_another_vault_or_chain():
    claim, root = _claim()
    with pytest.raises(ClaimError):
        verify_claim(claim, 7, root, CHAIN_ID + 1, VAULT)
    with pytest.raises(ClaimError):
        verify_claim(claim, 7, root, CHAIN_ID, "0x" + "5b" * 20)


def test_withdrawal_must_name_the_acceptance():
    leaves, get = _leaves()
    n = len(leaves)
    args = (
        leaf_hash(leaves[2]),
        leaves[4],
        4,
        inclusion_proof(4, n, get),
        leaves[5],
        5,
        inclusion_proof(5, n, get),
        n,
        None,
        RECIPIENT,
        AMOUNT,
    )
    withdrawal = build_withdrawal(*args)
    assert leaves[5][withdrawal.withdrawn_prev_at :].startswith(
        b'"prev":"' + leaf_hash(leaves[4]).hex().encode()
    )
    assert leaves[5][withdrawal.withdrawn_type_at :].startswith(b'"type":"withdrawn"')
    other = envelope("withdrawn", 6, b"\x09" * 32, {}, role="customer", actor="customer")
    with pytest.raises(ClaimError, match="successor"):
        build_withdrawal(*args[:4], other, *args[5:])
