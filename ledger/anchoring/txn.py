"""EIP-1559 fees, signing and sending of transactions from a local key.

Signing happens here, in process, so the signed bytes can be stored before they are broadcast
(the worker's no-double-send rule) and so no node ever needs an unlocked account.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import TxReceipt

DEFAULT_PRIORITY_FEE = Web3.to_wei(1, "gwei")


@dataclass(frozen=True)
class FeePolicy:
    """How much the submitter is willing to pay.

    ``max_fee_per_gas`` is ``base_fee_multiplier`` times the latest base fee plus the tip, so
    the transaction stays includable through several full blocks of base-fee growth (the
    base fee rises at most 12.5% per block). ``fee_cap`` bounds it absolutely (0: no cap).
    """

    base_fee_multiplier: int = 2
    priority_fee: int | None = None  # None: ask the node (eth_maxPriorityFeePerGas)
    fee_cap: int = 0
    gas_margin_percent: int = 25


def eip1559_fees(w3: Web3, policy: FeePolicy = FeePolicy()) -> tuple[int, int]:
    """Return ``(max_fee_per_gas, max_priority_fee_per_gas)`` for the next block."""
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
    tip = policy.priority_fee
    if tip is None:
        try:
            with warnings.catch_warnings():
                # web3 warns, then falls back to eth_feeHistory, on nodes without the method.
                warnings.simplefilter("ignore")
                tip = int(w3.eth.max_priority_fee)
        except Web3RPCError:
            tip = DEFAULT_PRIORITY_FEE
    max_fee = base_fee * policy.base_fee_multiplier + tip
    if policy.fee_cap:
        max_fee = min(max_fee, policy.fee_cap)
        tip = min(tip, max_fee)
    return max_fee, tip


def prepare(
    w3: Web3,
    account: LocalAccount,
    tx: dict[str, Any],
    *,
    nonce: int,
    chain_id: int,
    policy: FeePolicy = FeePolicy(),
) -> dict[str, Any]:
    """Complete ``tx`` (to/data/value) into a type-2 transaction: fees, gas, nonce, chain id."""
    full = {"from": account.address, "value": 0, **tx, "nonce": nonce, "chainId": chain_id}
    max_fee, tip = eip1559_fees(w3, policy)
    full["maxFeePerGas"] = max_fee
    full["maxPriorityFeePerGas"] = tip
    full["type"] = 2
    if "gas" not in full:
        # Estimating also simulates: a call that would revert raises here, before signing.
        estimate = w3.eth.estimate_gas({k: v for k, v in full.items() if k != "type"})
        full["gas"] = estimate * (100 + policy.gas_margin_percent) // 100
    full.pop("from")
    return full


def sign(account: LocalAccount, tx: dict[str, Any]) -> SignedTransaction:
    return account.sign_transaction(tx)


def send_and_wait(
    w3: Web3,
    account: LocalAccount,
    tx: dict[str, Any],
    *,
    policy: FeePolicy = FeePolicy(),
    timeout: float = 60,
) -> TxReceipt:
    """Sign, send and wait for one receipt; for admin tasks (deploy, add submitter) and tests.

    The anchor worker does not use this: it persists the signed bytes between the two steps.
    """
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    full = prepare(w3, account, tx, nonce=nonce, chain_id=w3.eth.chain_id, policy=policy)
    signed = sign(account, full)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
