"""Web3 client for the CompensationVault contract: deployment, administration, payouts, events.

A payout is simulated before it is signed (``txn.prepare`` estimates gas, which runs it): a
claim the contract would refuse raises :class:`PayoutRefused` naming the contract's error and
costs nothing. ``deploy_test_token`` deploys ``TestToken``, the ERC-20 of tests, benchmarks
and the development chain's demo vault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.anchoring import txn
from ledger.anchoring.contract import (
    BUILD_DIR,
    REVERT_ERRORS,
    Artifact,
    RevertReason,
    decode_revert,
    load_artifact,
    revert_data_of,
)
from ledger.complaints.payouts import ZERO_ADDRESS
from ledger.errors import LedgerError
from ledger.payouts.claims import Claim, Withdrawal

ARTIFACT = "CompensationVault"


class PayoutRefused(LedgerError, RuntimeError):
    """The vault refuses the call (seen in simulation); ``reason`` names its custom error."""

    def __init__(self, message: str, reason: RevertReason | None) -> None:
        super().__init__(message)
        self.reason = reason


def vault_revert(data: bytes | str | None, w3: Web3 | None = None) -> RevertReason | None:
    """Name a CompensationVault custom error in revert data; None when not one of its."""
    return decode_revert(data, w3, artifact=ARTIFACT)


@cache
def immutable_ranges(name: str, build_dir: Path = BUILD_DIR) -> tuple[tuple[int, int], ...]:
    """``(start, length)`` of each immutable in the deployed code of artifact ``name``."""
    data = json.loads((build_dir / f"{name}.json").read_text())
    refs = data.get("immutableReferences", {})
    return tuple(sorted((r["start"], r["length"]) for uses in refs.values() for r in uses))


def _checksum(value: str | None) -> str:
    return Web3.to_checksum_address(value or ZERO_ADDRESS)


@dataclass(frozen=True)
class PaidEvent:
    offer_leaf_hash: bytes
    accept_leaf_hash: bytes
    recipient: str
    token: str
    amount: int
    tree_size: int
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    log_index: int


class CompensationVaultClient:
    """A deployed CompensationVault at ``address`` on the chain behind ``w3``."""

    def __init__(self, w3: Web3, address: str, artifact: Artifact | None = None) -> None:
        self.w3 = w3
        self.artifact = artifact or load_artifact(ARTIFACT)
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.artifact.abi)

    # --- deployment and administration -------------------------------------------------

    @classmethod
    def deploy(
        cls,
        w3: Web3,
        deployer: LocalAccount,
        anchor: str,
        log_id: bytes,
        owner: str | None = None,
    ) -> CompensationVaultClient:
        """Deploy a vault paying claims of log ``log_id`` as anchored in LogAnchor ``anchor``."""
        if len(log_id) != 32:
            raise ValueError("a log id is 32 bytes")
        artifact = load_artifact(ARTIFACT)
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        args = (_checksum(anchor), bytes(log_id), _checksum(owner or deployer.address))
        data = factory.constructor(*args).data_in_transaction
        receipt = txn.send_and_wait(w3, deployer, {"data": data})
        if receipt["status"] != 1 or not receipt.get("contractAddress"):
            raise RuntimeError(f"deployment failed: {receipt['transactionHash'].hex()}")
        return cls(w3, receipt["contractAddress"], artifact)

    def has_code(self) -> bool:
        """Whether the code at the address is this artifact's (its immutables aside)."""
        code = bytearray(self.w3.eth.get_code(self.address))
        expected = HexBytes(self.artifact.deployed_bytecode)
        if len(code) != len(expected):
            return False
        for start, length in immutable_ranges(self.artifact.name):
            code[start : start + length] = bytes(length)
        return bytes(code) == bytes(expected)

    def _send(self, sender: LocalAccount, fn: str, *args: Any, gas: int | None = None) -> TxReceipt:
        """Simulate, sign, send and wait; a call the vault refuses raises PayoutRefused."""
        tx: dict[str, Any] = {"to": self.address, "data": self.contract.encode_abi(fn, args=args)}
        if gas is not None:
            tx["gas"] = gas  # sent as is, even if it reverts (tests see it fail on chain)
        try:
            return txn.send_and_wait(self.w3, sender, tx)
        except REVERT_ERRORS as exc:
            reason = vault_revert(revert_data_of(exc), self.w3)
            raise PayoutRefused(f"{fn} refused: {reason or exc}", reason) from exc

    def set_caps(
        self, owner: LocalAccount, token: str | None, per_payout: int, daily: int
    ) -> TxReceipt:
        """Caps of ``token`` (None: the native coin) in base units; 0 per payout stops it."""
        return self._send(owner, "setCaps", _checksum(token), per_payout, daily)

    def pause(self, owner: LocalAccount) -> TxReceipt:
        return self._send(owner, "pause")

    def unpause(self, owner: LocalAccount) -> TxReceipt:
        return self._send(owner, "unpause")

    def withdraw(self, owner: LocalAccount, token: str | None, to: str, amount: int) -> TxReceipt:
        return self._send(owner, "withdraw", _checksum(token), _checksum(to), amount)

    def transfer_ownership(self, owner: LocalAccount, new_owner: str) -> TxReceipt:
        return self._send(owner, "transferOwnership", _checksum(new_owner))

    def accept_ownership(self, new_owner: LocalAccount) -> TxReceipt:
        return self._send(new_owner, "acceptOwnership")

    # --- reading -------------------------------------------------------------------------

    def owner(self) -> str:
        return self.contract.functions.owner().call()

    def pending_owner(self) -> str:
        return self.contract.functions.pendingOwner().call()

    def paused(self) -> bool:
        return bool(self.contract.functions.paused().call())

    def anchor(self) -> str:
        return self.contract.functions.anchor().call()

    def log_id(self) -> bytes:
        return bytes(self.contract.functions.logId().call())

    def caps(self, token: str | None) -> tuple[int, int]:
        """``(per payout, daily)`` of ``token`` (None: the native coin)."""
        per_payout, daily = self.contract.functions.caps(_checksum(token)).call()
        return int(per_payout), int(daily)

    def today(self) -> int:
        return int(self.contract.functions.today().call())

    def spent_on(self, token: str | None, day: int) -> int:
        return int(self.contract.functions.spentOn(_checksum(token), day).call())

    def paid(self, offer_leaf_hash: bytes) -> bool:
        return bool(self.contract.functions.paidOffers(bytes(offer_leaf_hash)).call())

    def voided(self, offer_leaf_hash: bytes) -> bool:
        return bool(self.contract.functions.voided(bytes(offer_leaf_hash)).call())

    def balance(self, token: str | None) -> int:
        """The vault's funds in ``token`` (None: the native coin)."""
        if token is None or int(token, 16) == 0:
            return int(self.w3.eth.get_balance(self.address))
        erc20 = self.w3.eth.contract(address=_checksum(token), abi=load_artifact("TestToken").abi)
        return int(erc20.functions.balanceOf(self.address).call())

    # --- paying --------------------------------------------------------------------------

    def payout_calldata(self, claim: Claim) -> bytes:
        return bytes(HexBytes(self.contract.encode_abi("payout", args=[self._claim_abi(claim)])))

    def void_calldata(self, withdrawal: Withdrawal) -> bytes:
        args = list(withdrawal.abi_args())
        args[1], args[2] = _checksum(args[1]), _checksum(args[2])
        return bytes(HexBytes(self.contract.encode_abi("voidOffer", args=[tuple(args)])))

    @staticmethod
    def _claim_abi(claim: Claim) -> tuple[Any, ...]:
        args = list(claim.abi_args())
        args[0], args[1] = _checksum(args[0]), _checksum(args[1])
        return tuple(args)

    def simulate(self, sender: str, calldata: bytes) -> RevertReason | None:
        """eth_call ``calldata`` from ``sender``: None when it would succeed, else why not.

        A revert that is none of the vault's errors (out of gas, a token's own error) comes
        back as ``RevertReason("unknown", (message,))``.
        """
        tx = {"from": _checksum(sender), "to": self.address, "data": HexBytes(calldata)}
        try:
            self.w3.eth.call(tx)  # type: ignore[arg-type]
        except REVERT_ERRORS as exc:
            reason = vault_revert(revert_data_of(exc), self.w3)
            return reason or RevertReason("unknown", (str(exc),))
        return None

    def payout(self, sender: LocalAccount, claim: Claim, *, gas: int | None = None) -> TxReceipt:
        """Pay ``claim`` and wait for the receipt; PayoutRefused when the vault would refuse.

        With ``gas`` given the transaction is sent without simulation, so a test can see a
        refusal happen on chain.
        """
        return self._send(sender, "payout", self._claim_abi(claim), gas=gas)

    def void_offer(
        self, sender: LocalAccount, withdrawal: Withdrawal, *, gas: int | None = None
    ) -> TxReceipt:
        args = list(withdrawal.abi_args())
        args[1], args[2] = _checksum(args[1]), _checksum(args[2])
        return self._send(sender, "voidOffer", tuple(args), gas=gas)

    # --- events ---------------------------------------------------------------------------

    def paid_events_in(self, receipt: TxReceipt) -> list[PaidEvent]:
        """Paid events emitted by this vault in one transaction."""
        logs = self.contract.events.Paid().process_receipt(receipt, errors=DISCARD)
        return [self._paid(e) for e in logs if e["address"] == self.address]

    def paid_events(self, from_block: int = 0, to_block: int | str = "latest") -> list[PaidEvent]:
        logs = self.contract.events.Paid().get_logs(from_block=from_block, to_block=to_block)
        return [self._paid(e) for e in logs]

    @staticmethod
    def _paid(e: Any) -> PaidEvent:
        a = e["args"]
        return PaidEvent(
            offer_leaf_hash=bytes(a["offerLeafHash"]),
            accept_leaf_hash=bytes(a["acceptLeafHash"]),
            recipient=a["recipient"],
            token=a["token"],
            amount=int(a["amount"]),
            tree_size=int(a["treeSize"]),
            tx_hash=bytes(e["transactionHash"]),
            block_number=int(e["blockNumber"]),
            block_hash=bytes(e["blockHash"]),
            log_index=int(e["logIndex"]),
        )


def deploy_test_token(
    w3: Web3,
    deployer: LocalAccount,
    name: str = "Test Euro",
    symbol: str = "TEUR",
    decimals: int = 6,
    *,
    quiet: bool = False,
) -> Contract:
    """Deploy ``TestToken`` (anyone may mint; ``quiet``: transfers return no data)."""
    artifact = load_artifact("TestToken")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(name, symbol, decimals, quiet).data_in_transaction
    receipt = txn.send_and_wait(w3, deployer, {"data": data})
    if receipt["status"] != 1 or not receipt.get("contractAddress"):
        raise RuntimeError(f"deployment failed: {receipt['transactionHash'].hex()}")
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)
