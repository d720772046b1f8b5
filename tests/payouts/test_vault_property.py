"""Property: a valid claim with any single field, leaf byte or proof byte changed pays nothing.

Each example mutates one thing in a claim the vault would pay, then checks that the
simulation refuses it, that the same call sent on chain reverts and moves nothing, and that
the pure reference (ledger.payouts.claims.verify_claim) refuses it too.
"""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.payouts.claims import Claim, ClaimError, verify_claim
from tests.payouts.scenario import NATIVE, Base, PayoutEnv, new_env

FIELDS = [
    "token",
    "recipient",
    "amount",
    "size",
    "offer_index",
    "offer_type_at",
    "offer_terms_at",
    "accept_index",
    "accept_type_at",
    "accept_payout_at",
    "offer_proof",
    "accept_proof",
]
KINDS = ["field", "leaf-byte", "proof-byte"]


class Fixture:
    """Not a dataclass: hypothesis prints dataclasses field by field, log and all."""

    def __init__(self, env: PayoutEnv, claims: list[Claim]) -> None:
        self.env = env
        self.claims = claims

    def __repr__(self) -> str:
        return f"Fixture({self.env!r})"


@pytest.fixture(scope="module")
def fixture(base: Base) -> Fixture:
    """One vault, one log of a few hundred steps, two accepted offers (coin and token)."""
    env = new_env(base)
    acceptances = []
    for token, amount in ((NATIVE, 10**17), (base.token.address, 3_000_000)):
        env.filler(97)
        offer = env.offer(token, amount)
        env.filler(41)
        acceptances.append(env.accept(offer, Account.create().address))
    env.filler(60)
    env.anchor()
    return Fixture(env, [env.claim(a) for a in acceptances])


def _flip(value: bytes, position: int, mask: int) -> bytes:
    i = position % len(value)
    return value[:i] + bytes([value[i] ^ mask]) + value[i + 1 :]


def _mutate_field(claim: Claim, name: str, data, base: Base) -> Claim:
    old = getattr(claim, name)
    if name == "token":
        choices = [NATIVE, base.token.address, base.quiet_token.address, "0x" + "7e" * 20]
        new = data.draw(st.sampled_from([c for c in choices if c.lower() != old.lower()]))
    elif name == "recipient":
        new = data.draw(st.sampled_from([Account.create().address, NATIVE, base.token.address]))
    elif name == "amount":
        delta = data.draw(st.integers(1, 2**64))
        new = old + delta if data.draw(st.booleans()) or old < delta else old - delta
    elif name == "size":
        new = old + data.draw(st.sampled_from([-3, -2, -1, 1, 2, 2**32]))
    elif name in ("offer_proof", "accept_proof"):
        nodes = list(old)
        how = data.draw(st.sampled_from(["drop", "add", "swap", "empty"]))
        at = data.draw(st.integers(0, len(nodes) - 1))
        if how == "drop":
            del nodes[at]
        elif how == "add":
            nodes.insert(at, nodes[(at + 1) % len(nodes)])
        elif how == "swap":
            other = (at + data.draw(st.integers(1, len(nodes) - 1))) % len(nodes)
            nodes[at], nodes[other] = nodes[other], nodes[at]
        else:
            nodes = []
        new = tuple(nodes)
    else:  # an index or an offset: any other value the ABI can carry
        new = data.draw(
            st.one_of(st.integers(0, 2048), st.integers(0, 2**256 - 1)).filter(lambda v: v != old)
        )
    return dataclasses.replace(claim, **{name: new})


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_single_change_is_refused_and_pays_nothing(fixture: Fixture, base: Base, data):
    env = fixture.env
    claim = data.draw(st.sampled_from(fixture.claims), label="claim")
    kind = data.draw(st.sampled_from(KINDS), label="kind")
    if kind == "field":
        name = data.draw(st.sampled_from(FIELDS), label="field")
        mutated = _mutate_field(claim, name, data, base)
    elif kind == "leaf-byte":
        name = data.draw(st.sampled_from(["offer_leaf", "accept_leaf"]), label="leaf")
        leaf = getattr(claim, name)
        position = data.draw(st.integers(0, len(leaf) - 1), label="position")
        mask = data.draw(st.integers(1, 255), label="mask")
        mutated = dataclasses.replace(claim, **{name: _flip(leaf, position, mask)})
    else:
        name = data.draw(st.sampled_from(["offer_proof", "accept_proof"]), label="proof")
        nodes = list(getattr(claim, name))
        k = data.draw(st.integers(0, len(nodes) - 1), label="node")
        nodes[k] = _flip(nodes[k], data.draw(st.integers(0, 31)), data.draw(st.integers(1, 255)))
        mutated = dataclasses.replace(claim, **{name: tuple(nodes)})
    assert mutated != claim

    # The unchanged claim is still payable: the refusal is the mutation's doing.
    assert env.vault.simulate(env.base.submitter.address, env.vault.payout_calldata(claim)) is None
    reason = env.attempt(mutated)  # simulates, sends, checks nothing moved
    assert reason is not None, f"{kind} {name}: the vault paid a changed claim"
    assert reason.name != "unknown", f"{kind} {name}: refused without a vault error: {reason}"
    with pytest.raises(ClaimError):
        verify_claim(mutated, env.anchored, env.root(env.anchored), env.chain_id, env.vault.address)


def test_the_unchanged_claims_are_paid(base: Base):
    env = new_env(base)
    env.filler(5)
    offer = env.offer(base.token.address, 3_000_000)
    acceptance = env.accept(offer, Account.create().address)
    env.anchor()
    claim = env.claim(acceptance)
    verify_claim(claim, env.anchored, env.root(env.anchored), env.chain_id, env.vault.address)
    assert env.attempt(claim) is None
