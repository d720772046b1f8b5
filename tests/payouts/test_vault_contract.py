"""CompensationVault on py-evm and on anvil: what it pays, everything it refuses, its owner.

Every payout attempt is simulated and then sent for real (scenario.PayoutEnv.attempt), so
each refusal is seen both as the simulation's error and as a reverted transaction that moved
nothing.
"""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account

from ledger.anchoring import txn
from ledger.anchoring.contract import RevertReason
from ledger.complaints import payouts
from ledger.log.merkle import leaf_hash
from ledger.payouts.claims import ClaimError, verify_claim
from ledger.payouts.vault import CompensationVaultClient, PayoutRefused
from tests.payouts.scenario import (
    DAILY_CAP,
    NATIVE,
    PER_PAYOUT_CAP,
    Base,
    PayoutEnv,
    envelope,
    mint,
    new_env,
)

OFFER, ACCEPTANCE, WITHDRAWAL = 0, 1, 2  # the contract's LeafRole


def recipient() -> str:
    return Account.create().address


def refused(env: PayoutEnv, claim) -> RevertReason:
    reason = env.attempt(claim)
    assert reason is not None, "the vault paid a claim it should refuse"
    return reason


def accepted_offer(env: PayoutEnv, token: str = NATIVE, amount: int = 10**17, *, filler=2):
    """An offer, its acceptance and a few unrelated steps, anchored."""
    env.filler(filler)
    offer = env.offer(token, amount)
    env.filler(1)
    acceptance = env.accept(offer, recipient())
    env.filler(filler)
    env.anchor()
    return acceptance


# --- paying --------------------------------------------------------------------------------


def test_pays_the_native_coin_exactly_once(env: PayoutEnv):
    acceptance = accepted_offer(env, NATIVE, 12345 * 10**12)
    claim = env.claim(acceptance)
    verify_claim(claim, env.anchored, env.root(env.anchored), env.chain_id, env.vault.address)
    day = env.vault.today()
    assert env.attempt(claim) is None  # balances and the Paid event checked there
    assert env.vault.paid(claim.offer_leaf_hash)
    assert env.vault.spent_on(NATIVE, day) == 12345 * 10**12
    reason = refused(env, claim)
    assert reason == RevertReason("AlreadyPaid", (claim.offer_leaf_hash,))
    (event,) = [e for e in env.vault.paid_events() if e.offer_leaf_hash == claim.offer_leaf_hash]
    assert event.tree_size == env.anchored


@pytest.mark.parametrize("which", ["token", "quiet_token"])
def test_pays_an_erc20_token(env: PayoutEnv, which: str):
    token = getattr(env.base, which).address
    acceptance = accepted_offer(env, token, 2_500_000)
    claim = env.claim(acceptance)
    assert env.attempt(claim) is None
    assert env.balance_of(token, acceptance.recipient) == 2_500_000
    assert refused(env, claim).name == "AlreadyPaid"


def test_client_payout_simulates_first_and_names_the_refusal(env: PayoutEnv):
    acceptance = accepted_offer(env)
    claim = env.claim(acceptance)
    receipt = env.vault.payout(env.base.submitter, claim)
    assert receipt["status"] == 1
    (event,) = env.vault.paid_events_in(receipt)
    assert (event.amount, event.recipient) == (claim.amount, acceptance.recipient)
    nonce = env.w3.eth.get_transaction_count(env.base.submitter.address)
    with pytest.raises(PayoutRefused) as info:
        env.vault.payout(env.base.submitter, claim)
    assert info.value.reason is not None and info.value.reason.name == "AlreadyPaid"
    assert env.w3.eth.get_transaction_count(env.base.submitter.address) == nonce  # not sent


def test_anyone_may_send_a_valid_claim(env: PayoutEnv):
    acceptance = accepted_offer(env)
    stranger = env.chain.new_account()
    assert env.attempt(env.claim(acceptance), sender=stranger) is None


def test_views(env: PayoutEnv, base: Base):
    assert env.vault.anchor() == base.anchor.address
    assert env.vault.log_id() == env.log_id
    assert env.vault.owner() == base.owner.address
    assert env.vault.caps(NATIVE) == (PER_PAYOUT_CAP, DAILY_CAP)
    assert env.vault.caps(base.token.address) == (PER_PAYOUT_CAP, DAILY_CAP)
    assert not env.vault.paused()
    assert env.vault.has_code()
    assert env.vault.today() == env.chain.timestamp() // 86_400


# --- not anchored ---------------------------------------------------------------------------


def test_refuses_a_leaf_not_yet_anchored(env: PayoutEnv):
    env.filler(2)
    offer = env.offer(NATIVE, 10**17)
    env.anchor()  # the offer is anchored, the acceptance not yet
    acceptance = env.accept(offer, recipient())
    claim = env.claim(acceptance)
    assert refused(env, claim).name == "NotAnchored"
    env.anchor()
    assert env.attempt(env.claim(acceptance)) is None


def test_refuses_a_tree_grown_but_not_anchored(env: PayoutEnv):
    acceptance = accepted_offer(env)
    anchored = env.anchored
    env.filler(3)
    claim = env.claim(acceptance, size=len(env.leaves))
    assert refused(env, claim) == RevertReason("NotAnchoredSize", (anchored, len(env.leaves)))
    # An older size is refused too: the vault pays against the latest anchor only.
    env.anchor()
    old = env.claim(acceptance, size=anchored)
    assert refused(env, old) == RevertReason("NotAnchoredSize", (env.anchored, anchored))
    assert env.attempt(env.claim(acceptance)) is None


def test_refuses_a_log_that_was_never_anchored(env: PayoutEnv):
    env.filler(1)
    offer = env.offer(NATIVE, 10**17)
    acceptance = env.accept(offer, recipient())
    claim = env.claim(acceptance, size=len(env.leaves))
    assert refused(env, claim) == RevertReason("NotAnchoredSize", (0, len(env.leaves)))


def test_refuses_leaves_anchored_under_another_log(env: PayoutEnv, base: Base):
    # The vault's own log is anchored at the same size as another log that holds the leaves.
    env.filler(6)
    env.anchor()
    other = PayoutEnv(base, leaf_hash(b"another log " + env.log_id), env.vault)
    other.filler(4)
    offer = other.offer(NATIVE, 10**17)
    acceptance = other.accept(offer, recipient())
    assert len(other.leaves) == env.anchored
    other.anchor()
    claim = other.claim(acceptance)
    assert refused(env, claim) == RevertReason("InclusionProofInvalid", (OFFER,))


# --- what the leaves commit to -------------------------------------------------------------


def test_refuses_another_recipient(env: PayoutEnv):
    claim = env.claim(accepted_offer(env), recipient=recipient())
    assert refused(env, claim).name == "PayoutMismatch"


def test_refuses_another_token(env: PayoutEnv, base: Base):
    acceptance = accepted_offer(env, NATIVE, 10**6)
    for token in (base.token.address, base.quiet_token.address):
        assert refused(env, env.claim(acceptance, token=token)).name == "TermsMismatch"
    erc20 = accepted_offer(env, base.token.address, 10**6)
    assert refused(env, env.claim(erc20, token=NATIVE)).name == "TermsMismatch"


def test_refuses_another_amount(env: PayoutEnv):
    acceptance = accepted_offer(env, NATIVE, 10**17)
    for amount in (10**17 + 1, 10**17 - 1, 10**16, 0):
        assert refused(env, env.claim(acceptance, amount=amount)).name == "TermsMismatch"


def test_refuses_an_acceptance_on_other_terms_than_the_offer(env: PayoutEnv):
    env.filler(1)
    offer = env.offer(NATIVE, 10**17)
    # The customer's commitment names a larger amount than the officers offered.
    acceptance = env.accept(offer, recipient(), amount=2 * 10**17)
    env.anchor()
    assert refused(env, env.claim(acceptance)).name == "PayoutMismatch"
    assert refused(env, env.claim(acceptance, amount=2 * 10**17)).name == "TermsMismatch"


def test_refuses_an_acceptance_of_another_offer(env: PayoutEnv):
    env.filler(1)
    first = env.offer(NATIVE, 10**17)
    second = env.offer(NATIVE, 10**17)  # same terms, another complaint
    acceptance = env.accept(first, recipient())
    env.anchor()
    claim = env.claim(acceptance, offer=second)
    assert refused(env, claim).name == "PayoutMismatch"
    assert env.attempt(env.claim(acceptance)) is None
    assert not env.vault.paid(second.hash)


def test_refuses_an_offer_for_another_vault_or_chain(env: PayoutEnv):
    env.filler(1)
    elsewhere = env.offer(NATIVE, 10**17, vault="0x" + "12" * 20)
    other_chain = env.offer(NATIVE, 10**17, chain_id=env.chain_id + 1)
    accepted = [env.accept(o, recipient()) for o in (elsewhere, other_chain)]
    env.anchor()
    for acceptance in accepted:
        assert refused(env, env.claim(acceptance)).name == "TermsMismatch"


def test_refuses_wrong_leaf_types(env: PayoutEnv):
    acceptance = accepted_offer(env)
    claim = env.claim(acceptance)
    # The acceptance given as the offer (its proof and type offset with it).
    as_offer = dataclasses.replace(
        claim,
        offer_leaf=claim.accept_leaf,
        offer_index=claim.accept_index,
        offer_proof=claim.accept_proof,
        offer_type_at=claim.accept_type_at,
    )
    assert refused(env, as_offer) == RevertReason("WrongLeafType", (OFFER,))
    # The offer given as the acceptance.
    as_acceptance = dataclasses.replace(
        claim,
        accept_leaf=claim.offer_leaf,
        accept_index=claim.offer_index,
        accept_proof=claim.offer_proof,
        accept_type_at=claim.offer_type_at,
    )
    assert refused(env, as_acceptance) == RevertReason("WrongLeafType", (ACCEPTANCE,))
    # Offsets pointing elsewhere.
    shifted = dataclasses.replace(claim, offer_type_at=claim.offer_type_at + 1)
    assert refused(env, shifted) == RevertReason("WrongLeafType", (OFFER,))
    beyond = dataclasses.replace(claim, accept_type_at=2**256 - 1)
    assert refused(env, beyond) == RevertReason("WrongLeafType", (ACCEPTANCE,))
    terms = dataclasses.replace(claim, offer_terms_at=claim.offer_terms_at + 1)
    assert refused(env, terms).name == "TermsMismatch"
    payout = dataclasses.replace(claim, accept_payout_at=len(claim.accept_leaf) - 10)
    assert refused(env, payout).name == "PayoutMismatch"
    assert env.attempt(claim) is None


def test_refuses_a_payment_record_given_as_the_acceptance(env: PayoutEnv):
    env.filler(1)
    offer = env.offer(NATIVE, 10**17)
    paid = env.accept(offer, recipient(), event_type="compensation_paid")
    env.anchor()
    with pytest.raises(ClaimError):  # the builder finds no acceptance type in it
        env.claim(paid)
    accepted = env.accept(offer, paid.recipient)
    env.anchor()
    claim = env.claim(accepted)
    forged = dataclasses.replace(
        claim,
        accept_leaf=paid.leaf,
        accept_index=paid.index,
        accept_proof=tuple(env.proof(paid.index, env.anchored)),
        accept_payout_at=payouts.offset_of(paid.leaf, b'"payout":"'),
    )
    assert refused(env, forged) == RevertReason("WrongLeafType", (ACCEPTANCE,))


def test_refuses_the_zero_address_as_recipient(env: PayoutEnv):
    env.filler(1)
    offer = env.offer(NATIVE, 10**17)
    acceptance = env.accept(offer, payouts.ZERO_ADDRESS)
    env.anchor()
    assert refused(env, env.claim(acceptance)).name == "ZeroAddress"


# --- voiding --------------------------------------------------------------------------------


def test_an_offer_voided_by_a_withdrawal_is_never_paid(env: PayoutEnv):
    acceptance = accepted_offer(env)
    withdrawn = env.withdraw(acceptance)
    env.anchor()
    withdrawal = env.withdrawal(acceptance, withdrawn)
    stranger = env.chain.new_account()
    receipt = env.vault.void_offer(stranger, withdrawal)
    logs = env.vault.contract.events.Voided().process_receipt(receipt)
    assert [(bytes(e.args.offerLeafHash), bytes(e.args.withdrawnLeafHash)) for e in logs] == [
        (acceptance.offer.hash, leaf_hash(env.leaves[withdrawn]))
    ]
    assert env.vault.voided(acceptance.offer.hash)
    assert not env.vault.paid(acceptance.offer.hash)
    reason = refused(env, env.claim(acceptance))
    assert reason == RevertReason("OfferVoided", (acceptance.offer.hash,))
    with pytest.raises(PayoutRefused) as info:
        env.vault.void_offer(stranger, withdrawal)
    assert info.value.reason is not None and info.value.reason.name == "OfferVoided"


def test_voiding_needs_the_withdrawal_right_after_the_acceptance(env: PayoutEnv):
    acceptance = accepted_offer(env)
    # A withdrawal after another step of the complaint names that step, not the acceptance.
    later = env.withdraw(acceptance, prev=leaf_hash(b"a later note"))
    real = env.withdraw(acceptance)
    note = env.append(envelope("note_added", 6, acceptance.hash, {}))
    env.anchor()
    good = env.withdrawal(acceptance, real)
    forged = dataclasses.replace(
        good,
        withdrawn_leaf=env.leaves[later],
        withdrawn_index=later,
        withdrawn_proof=tuple(env.proof(later, env.anchored)),
    )
    reason = env.vault.simulate(env.base.submitter.address, env.vault.void_calldata(forged))
    assert reason == RevertReason("NotSuccessor", ())
    # Something other than a withdrawal after the acceptance.
    not_withdrawn = dataclasses.replace(
        good,
        withdrawn_leaf=env.leaves[note],
        withdrawn_index=note,
        withdrawn_proof=tuple(env.proof(note, env.anchored)),
    )
    reason = env.vault.simulate(env.base.submitter.address, env.vault.void_calldata(not_withdrawn))
    assert reason == RevertReason("WrongLeafType", (WITHDRAWAL,))
    # Naming another offer than the one accepted.
    other = dataclasses.replace(good, offer_leaf_hash=leaf_hash(b"another offer"))
    reason = env.vault.simulate(env.base.submitter.address, env.vault.void_calldata(other))
    assert reason == RevertReason("PayoutMismatch", ())
    assert not env.vault.voided(acceptance.offer.hash)
    assert env.attempt(env.claim(acceptance)) is None
    # A paid offer cannot be voided afterwards.
    reason = env.vault.simulate(env.base.submitter.address, env.vault.void_calldata(good))
    assert reason == RevertReason("AlreadyPaid", (acceptance.offer.hash,))


# --- caps and pausing ----------------------------------------------------------------------


def test_refuses_over_the_per_payout_cap(env: PayoutEnv, base: Base):
    big = accepted_offer(env, NATIVE, PER_PAYOUT_CAP + 1)
    assert refused(env, env.claim(big)) == RevertReason(
        "OverPayoutCap", (PER_PAYOUT_CAP, PER_PAYOUT_CAP + 1)
    )
    exact = accepted_offer(env, NATIVE, PER_PAYOUT_CAP)
    assert env.attempt(env.claim(exact)) is None
    # A token without caps is not paid at all.
    env.vault.set_caps(base.owner, base.token.address, 0, 0)
    uncapped = accepted_offer(env, base.token.address, 1)
    assert refused(env, env.claim(uncapped)) == RevertReason("OverPayoutCap", (0, 1))


def test_daily_cap_counts_per_utc_day_and_resets_the_next(env: PayoutEnv):
    amount = PER_PAYOUT_CAP
    accepted = [accepted_offer(env, NATIVE, amount) for _ in range(DAILY_CAP // amount)]
    extra = accepted_offer(env, NATIVE, amount)
    token = accepted_offer(env, env.base.token.address, 10**6)
    day = env.chain.start_of_next_day()
    for acceptance in accepted:
        assert env.attempt(env.claim(acceptance)) is None
    assert env.vault.spent_on(NATIVE, day) == DAILY_CAP
    reason = refused(env, env.claim(extra))
    assert reason == RevertReason("OverDailyCap", (DAILY_CAP, DAILY_CAP, amount))
    # Other assets have their own daily totals.
    assert env.attempt(env.claim(token)) is None
    assert env.chain.start_of_next_day() == day + 1
    assert env.attempt(env.claim(extra)) is None
    assert env.vault.spent_on(NATIVE, day + 1) == amount
    # Only the latest day's total is kept on chain (one slot per token, rewritten).
    assert env.vault.spent_on(NATIVE, day) == 0


def test_paused_vault_pays_nothing(env: PayoutEnv, base: Base):
    claim = env.claim(accepted_offer(env))
    receipt = env.vault.pause(base.owner)
    assert env.vault.contract.events.Paused().process_receipt(receipt)
    assert env.vault.paused()
    assert refused(env, claim) == RevertReason("IsPaused", ())
    receipt = env.vault.unpause(base.owner)
    assert env.vault.contract.events.Unpaused().process_receipt(receipt)
    assert env.attempt(claim) is None


def test_set_caps_emits_and_applies(env: PayoutEnv, base: Base):
    receipt = env.vault.set_caps(base.owner, base.token.address, 5, 7)
    (event,) = env.vault.contract.events.CapsSet().process_receipt(receipt)
    assert (event.args.token, event.args.perPayout, event.args.daily) == (
        base.token.address,
        5,
        7,
    )
    assert env.vault.caps(base.token.address) == (5, 7)


# --- transfers ---------------------------------------------------------------------------------


def test_a_failed_transfer_reverts_the_whole_payout(env: PayoutEnv, base: Base):
    # A recipient contract that refuses the coin (the test token has no receive()).
    env.filler(1)
    offer = env.offer(NATIVE, 10**17)
    rejecting = env.accept(offer, base.token.address)
    env.anchor()
    claim = env.claim(rejecting)
    assert refused(env, claim).name == "TransferFailed"
    assert not env.vault.paid(claim.offer_leaf_hash)
    assert env.vault.spent_on(NATIVE, env.vault.today()) == 0
    # A vault without the token's funds.
    empty = new_env(base, fund=False)
    acceptance = accepted_offer(empty, base.quiet_token.address, 10**6)
    assert refused(empty, empty.claim(acceptance)).name == "TransferFailed"
    mint(base, base.quiet_token, empty.vault.address, 10**6)
    assert empty.attempt(empty.claim(acceptance)) is None


def test_funding_and_withdrawal_by_the_owner(env: PayoutEnv, base: Base):
    to = recipient()
    before = env.vault.balance(None)
    receipt = env.vault.withdraw(base.owner, None, to, 10**18)
    (event,) = env.vault.contract.events.Withdrawn().process_receipt(receipt)
    assert (event.args.to, event.args.amount) == (to, 10**18)
    assert env.vault.balance(None) == before - 10**18
    assert env.w3.eth.get_balance(to) == 10**18
    env.vault.withdraw(base.owner, base.token.address, to, 777)
    assert env.balance_of(base.token.address, to) == 777
    with pytest.raises(PayoutRefused) as info:
        env.vault.withdraw(base.owner, None, payouts.ZERO_ADDRESS, 1)
    assert info.value.reason == RevertReason("ZeroAddress", ())


# --- ownership ------------------------------------------------------------------------------


def _refusal(call) -> RevertReason | None:
    with pytest.raises(PayoutRefused) as info:
        call()
    return info.value.reason


def test_non_owner_is_refused_every_admin_function(env: PayoutEnv, base: Base):
    stranger = env.chain.new_account()
    vault = env.vault
    calls = [
        lambda: vault.set_caps(stranger, None, 10**30, 10**30),
        lambda: vault.pause(stranger),
        lambda: vault.unpause(stranger),
        lambda: vault.withdraw(stranger, None, stranger.address, 1),
        lambda: vault.withdraw(stranger, base.token.address, stranger.address, 1),
        lambda: vault.transfer_ownership(stranger, stranger.address),
    ]
    for call in calls:
        assert _refusal(call) == RevertReason("NotOwner", (stranger.address.lower(),))
    # Also on chain, without simulation.
    data = vault.contract.encode_abi("pause", args=[])
    tx = {"to": vault.address, "data": data, "gas": 100_000}
    assert txn.send_and_wait(env.w3, stranger, tx)["status"] == 0
    assert not vault.paused()
    assert vault.caps(None) == (PER_PAYOUT_CAP, DAILY_CAP)


def test_two_step_ownership_transfer(env: PayoutEnv, base: Base):
    vault = env.vault
    successor, stranger = env.chain.new_account(), env.chain.new_account()
    receipt = vault.transfer_ownership(base.owner, successor.address)
    assert vault.contract.events.OwnershipTransferStarted().process_receipt(receipt)
    assert vault.owner() == base.owner.address  # nothing changes until accepted
    assert vault.pending_owner() == successor.address
    assert _refusal(lambda: vault.accept_ownership(stranger)) == RevertReason(
        "NotPendingOwner", (stranger.address.lower(),)
    )
    receipt = vault.accept_ownership(successor)
    (event,) = vault.contract.events.OwnershipTransferred().process_receipt(receipt)
    assert (event.args.previousOwner, event.args.newOwner) == (
        base.owner.address,
        successor.address,
    )
    assert vault.owner() == successor.address
    assert vault.pending_owner() == payouts.ZERO_ADDRESS
    assert _refusal(lambda: vault.pause(base.owner)) == RevertReason(
        "NotOwner", (base.owner.address.lower(),)
    )
    vault.pause(successor)
    assert vault.paused()
    # Cancelling a pending transfer: the zero address.
    vault.transfer_ownership(successor, stranger.address)
    vault.transfer_ownership(successor, payouts.ZERO_ADDRESS)
    assert _refusal(lambda: vault.accept_ownership(stranger)).name == "NotPendingOwner"


def test_deployment_refuses_zero_addresses(base: Base):
    for anchor, owner in ((payouts.ZERO_ADDRESS, base.owner.address), (base.anchor.address, None)):
        with pytest.raises(Exception):  # noqa: B017  (estimation refuses the constructor)
            CompensationVaultClient.deploy(
                base.chain.w3,
                base.owner,
                anchor,
                b"\x01" * 32,
                owner or payouts.ZERO_ADDRESS,
            )


def test_a_vault_whose_anchor_does_not_answer_pays_nothing(base: Base):
    # Deployed against an account without code: latest() returns nothing.
    stray = CompensationVaultClient.deploy(
        base.chain.w3, base.owner, recipient(), b"\x02" * 32, base.owner.address
    )
    env = PayoutEnv(base, b"\x02" * 32, stray)
    base.chain.fund(stray.address, 10**18)
    stray.set_caps(base.owner, NATIVE, PER_PAYOUT_CAP, DAILY_CAP)
    env.filler(1)
    offer = env.offer(NATIVE, 10**17)
    acceptance = env.accept(offer, recipient())
    claim = env.claim(acceptance, size=len(env.leaves))
    assert refused(env, claim) == RevertReason("NotAnchored", ())
