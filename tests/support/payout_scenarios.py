"""Vault payouts in memory, valid and broken where only the texts disagree, for the payout
checks of both verifiers (ledger/verify/payouts.py, api/static/verify/payout.js).

Each is the chain of proof_scenarios' ``vault_*`` scenarios (a vault offer, the customer's
acceptance with their address, the payout worker's payment), with one thing changed in what
the offer, the acceptance or the payment says. Every leaf is correctly logged and proven.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.complaints.payouts import payout_commitment, terms_commitment
from ledger.log.note import Signer
from tests.support.proof_scenarios import (
    AGENT,
    CUSTOMER,
    DECISION,
    RECEIVED,
    RECIPIENT,
    VAULT,
    VAULT_MONEY,
    VAULT_TERMS,
    Builder,
    _decision_public,
    minutes,
)

OTHER_ADDRESS = "0x" + "d2" * 20
PAYOUT_TX = "0x" + "ab" * 32
NATIVE_MONEY = {"amount": "0.015", "asset": "ETH", "method": "on_chain"}
NATIVE_TERMS = {**NATIVE_MONEY, "chain_id": 31337, "vault": VAULT,
                "amount_base_units": "15000000000000000", "decimals": 18}  # fmt: skip


def _words(terms: dict[str, Any]) -> tuple[int, str, str | None, int]:
    return terms["chain_id"], terms["vault"], terms.get("token"), int(terms["amount_base_units"])


def _vault_payout(
    *,
    terms: dict[str, Any] = VAULT_TERMS,
    money: dict[str, Any] = VAULT_MONEY,
    stated_terms: dict[str, Any] | None = None,
    committed_to: str = RECIPIENT,
    paid: dict[str, Any] | None = None,
    disclose: bool = True,
) -> Callable[[Signer], dict]:
    """received → acknowledged → decision → vault offer (seq 3) → accepted with the customer's
    address (seq 4) → paid by the payout worker (seq 5) → closed. ``stated_terms``: the terms
    the offer's payout_terms commit to (default: its text's); ``committed_to``: the address
    the acceptance's payout commits to (its text gives RECIPIENT); ``paid``: fields of the
    payment's text that differ from what was accepted."""

    def build(signer: Signer) -> dict:
        b = Builder(signer)
        officer, worker = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        b.register_key(officer, minutes(-60))
        b.register_key(worker, minutes(-60), roles=("system",))
        b.step("received", minutes(0), CUSTOMER, RECEIVED, {"description": "Charged twice."})
        b.step("acknowledged", minutes(1), AGENT, {"state": "acknowledged"}, {})
        b.signed(officer, "decision", minutes(2), DECISION, _decision_public(DECISION))
        public = {"state": "compensation_offered", **money,
                  "payout_terms": terms_commitment(*_words(stated_terms or terms))}  # fmt: skip
        # The production builder refuses payout_terms that are not the text's: encode by hand.
        offer = b.signed(officer, "compensation_offered", minutes(3), dict(terms), public,
                         raw=stated_terms is not None)  # fmt: skip
        payout = payout_commitment(*_words(terms), committed_to, offer)
        accepted = {"state": "compensation_accepted", "payout": payout}
        b.step("compensation_accepted", minutes(4), CUSTOMER, accepted, {"recipient": RECIPIENT})
        body = {**terms, "recipient": RECIPIENT, "tx_hash": PAYOUT_TX, **(paid or {})}
        paid_public = {"state": "compensation_paid", **money, "payout": payout}
        b.signed(worker, "compensation_paid", minutes(5), body, paid_public, role="system")
        b.step("closed", minutes(6), AGENT, {"state": "closed", "reason": "resolved"}, {})
        return b.proof(disclose=disclose)

    return build


PAYOUT_SCENARIOS: dict[str, Callable[[Signer], dict]] = {
    "payout_in_a_token": _vault_payout(),
    "payout_in_the_native_coin": _vault_payout(terms=NATIVE_TERMS, money=NATIVE_MONEY),
    "payout_without_bodies": _vault_payout(disclose=False),
    "payout_to_another_address": _vault_payout(paid={"recipient": OTHER_ADDRESS}),
    "payout_on_another_chain": _vault_payout(paid={"chain_id": 1}),
    "payout_from_another_vault": _vault_payout(paid={"vault": "0x" + "5b" * 20}),
    "payout_in_another_token": _vault_payout(paid={"token": "0x" + "71" * 20}),
    "payout_committed_to_another_address": _vault_payout(committed_to=OTHER_ADDRESS),
    "payout_terms_not_the_offer_text": _vault_payout(
        stated_terms={**VAULT_TERMS, "amount_base_units": "255000000"}
    ),
}
PAYOUT_VALID = {"payout_in_a_token", "payout_in_the_native_coin", "payout_without_bodies"}
# The payout check that fails in each broken scenario: (check name, detail), the same in both
# verifiers; the terms that are not the offer's text also fail its commitment.
PAYOUT_BREAKS: dict[str, tuple[str, str]] = {
    "payout_to_another_address": (
        "Step 5: the payment pays the accepted terms",
        "The payment's recipient is not the accepted one.",
    ),
    "payout_on_another_chain": (
        "Step 5: the payment pays the accepted terms",
        "The payment's chain_id is not the accepted one.",
    ),
    "payout_from_another_vault": (
        "Step 5: the payment pays the accepted terms",
        "The payment's vault is not the accepted one.",
    ),
    "payout_in_another_token": (
        "Step 5: the payment pays the accepted terms",
        "The payment's token is not the accepted one.",
    ),
    "payout_committed_to_another_address": (
        "Step 4: the acceptance's payout commitment",
        "The acceptance's payout commitment is not the one of the offer's terms, the address "
        f"{RECIPIENT} and the offer of step 3.",
    ),
    "payout_terms_not_the_offer_text": (
        "Step 3: the offer's payout terms",
        "The offer's payout_terms are not the commitment of the terms in its text.",
    ),
}
PAYOUT_FAILED_CATEGORIES: dict[str, set[str]] = {
    **{name: {"payout"} for name in PAYOUT_BREAKS},
    "payout_terms_not_the_offer_text": {"commitments", "payout"},
}
