"""Web3 client for the LogAnchor contract: artifact, deployment, calls, events, revert reasons."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.anchoring import txn

# Defined with the records, so the API can use it without importing web3; re-exported here.
from ledger.anchoring.models import log_id_for_origin as log_id_for_origin

BUILD_DIR = Path(__file__).resolve().parents[2] / "contracts" / "build"
HASH_SIZE = 32


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str


@cache
def load_artifact(name: str = "LogAnchor", build_dir: Path = BUILD_DIR) -> Artifact:
    """Read a compiled artifact written by scripts/build_contracts.py."""
    data = json.loads((build_dir / f"{name}.json").read_text())
    return Artifact(name, data["abi"], data["bytecode"], data["deployedBytecode"])


def note_hash(note: bytes) -> bytes:
    """SHA-256 of the signed checkpoint note text, as recorded in the Anchored event."""
    return hashlib.sha256(note).digest()


def _hash32(name: str, value: bytes) -> bytes:
    # The contract types every hash as bytes32; refuse anything else rather than pad it.
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be exactly {HASH_SIZE} bytes")
    return bytes(value)


@dataclass(frozen=True)
class AnchoredHead:
    """What the contract holds for one log."""

    size: int
    root: bytes
    block_number: int


@dataclass(frozen=True)
class AnchoredEvent:
    log_id: bytes
    size: int
    root: bytes
    note_hash: bytes
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    log_index: int


@dataclass(frozen=True)
class RevertReason:
    name: str
    args: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(str, self.args))})"


@cache
def _error_table(artifact_name: str = "LogAnchor") -> dict[bytes, tuple[str, list[str]]]:
    table = {}
    for item in load_artifact(artifact_name).abi:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            table[selector] = (item["name"], types)
    return table


def decode_revert(
    data: bytes | str | None, w3: Web3 | None = None, *, artifact: str = "LogAnchor"
) -> RevertReason | None:
    """Name the custom error of contract ``artifact`` in revert data; None when not one of its."""
    if not data:
        return None
    raw = HexBytes(data)
    entry = _error_table(artifact).get(bytes(raw[:4]))
    if entry is None:
        return None
    name, types = entry
    codec = (w3 or Web3()).codec
    return RevertReason(name, tuple(codec.decode(types, bytes(raw[4:]))))


def revert_data_of(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a failed call/estimate exception, if any.

    web3 puts it in ``ContractLogicError.data`` (hex); the in-process eth-tester backend only
    has it in its message as ``execution reverted: b'...'``.
    """
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes(HexBytes(data))
    message = str(exc.args[0]) if exc.args else ""
    prefix = "execution reverted: "
    if message.startswith(prefix):
        with contextlib.suppress(ValueError, SyntaxError):
            literal = ast.literal_eval(message[len(prefix) :])
            if isinstance(literal, bytes):
                return literal
    return None


def revert_reason_of(
    exc: BaseException, w3: Web3 | None = None, *, artifact: str = "LogAnchor"
) -> str:
    """Best-effort readable reason for a failed call or estimate of contract ``artifact``."""
    reason = decode_revert(revert_data_of(exc), w3, artifact=artifact)
    return str(reason) if reason else str(exc)


def _revert_exceptions() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ContractLogicError]
    with contextlib.suppress(ImportError):  # eth-tester is a test-only backend
        from eth_tester.exceptions import TransactionFailed

        errors.append(TransactionFailed)
    return tuple(errors)


# What a call or gas estimate of a reverting transaction raises, whatever the backend.
REVERT_ERRORS = _revert_exceptions()


class LogAnchorClient:
    """A deployed LogAnchor at ``address`` on the chain behind ``w3``."""

    def __init__(self, w3: Web3, address: str, artifact: Artifact | None = None) -> None:
        self.w3 = w3
        self.artifact = artifact or load_artifact("LogAnchor")
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.artifact.abi)

    # --- deployment and administration -------------------------------------------------

    @classmethod
    def deploy(cls, w3: Web3, deployer: LocalAccount, owner: str | None = None) -> LogAnchorClient:
        """Deploy a new LogAnchor owned by ``owner`` (default: the deployer)."""
        artifact = load_artifact("LogAnchor")
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = factory.constructor(owner or deployer.address).data_in_transaction
        receipt = txn.send_and_wait(w3, deployer, {"data": data})
        if receipt["status"] != 1 or not receipt.get("contractAddress"):
            raise RuntimeError(f"deployment failed: {receipt['transactionHash'].hex()}")
        return cls(w3, receipt["contractAddress"], artifact)

    def has_code(self) -> bool:
        return self.w3.eth.get_code(self.address) == HexBytes(self.artifact.deployed_bytecode)

    def owner(self) -> str:
        return self.contract.functions.owner().call()

    def is_submitter(self, account: str) -> bool:
        return self.contract.functions.isSubmitter(Web3.to_checksum_address(account)).call()

    def _admin(self, sender: LocalAccount, fn: str, *args: Any) -> TxReceipt:
        data = self.contract.encode_abi(fn, args=list(args))
        return txn.send_and_wait(self.w3, sender, {"to": self.address, "data": data})

    def add_submitter(self, owner: LocalAccount, account: str) -> TxReceipt:
        return self._admin(owner, "addSubmitter", Web3.to_checksum_address(account))

    def remove_submitter(self, owner: LocalAccount, account: str) -> TxReceipt:
        return self._admin(owner, "removeSubmitter", Web3.to_checksum_address(account))

    def transfer_ownership(self, owner: LocalAccount, new_owner: str) -> TxReceipt:
        return self._admin(owner, "transferOwnership", Web3.to_checksum_address(new_owner))

    def accept_ownership(self, new_owner: LocalAccount) -> TxReceipt:
        return self._admin(new_owner, "acceptOwnership")

    # --- anchoring ------------------------------------------------------------------------

    def latest(self, log_id: bytes, block: str | int = "latest") -> AnchoredHead:
        size, root, block_number = self.contract.functions.latest(_hash32("log id", log_id)).call(
            block_identifier=block
        )
        return AnchoredHead(int(size), bytes(root), int(block_number))

    def anchor_calldata(
        self,
        log_id: bytes,
        size: int,
        root: bytes,
        note_sha256: bytes,
        proof: Sequence[bytes],
    ) -> bytes:
        """ABI-encoded ``anchor(...)`` call; refuses anything that is not a 32-byte hash."""
        if not 0 <= size < 2**64:
            raise ValueError(f"tree size {size} does not fit the contract's uint64")
        args = [
            _hash32("log id", log_id),
            size,
            _hash32("root", root),
            _hash32("note hash", note_sha256),
            [_hash32(f"proof node {i}", p) for i, p in enumerate(proof)],
        ]
        return bytes(HexBytes(self.contract.encode_abi("anchor", args=args)))

    def anchor(
        self,
        sender: LocalAccount,
        log_id: bytes,
        size: int,
        root: bytes,
        note_sha256: bytes,
        proof: Sequence[bytes],
        *,
        gas: int | None = None,
    ) -> TxReceipt:
        """Send one anchor and wait for its receipt (tests, scripts; the worker persists first).

        With ``gas`` given the transaction is sent even if it would revert, so a test can see
        the revert happen on chain; without it, a reverting call raises at estimation.
        """
        tx: dict[str, Any] = {
            "to": self.address,
            "data": self.anchor_calldata(log_id, size, root, note_sha256, proof),
        }
        if gas is not None:
            tx["gas"] = gas
        return txn.send_and_wait(self.w3, sender, tx)

    # --- events ---------------------------------------------------------------------------

    def events_in(self, receipt: TxReceipt) -> list[AnchoredEvent]:
        """Anchored events emitted by this contract in one transaction."""
        logs = self.contract.events.Anchored().process_receipt(receipt, errors=DISCARD)
        return [self._event(e) for e in logs if e["address"] == self.address]

    def anchored_events(
        self, log_id: bytes | None = None, from_block: int = 0, to_block: int | str = "latest"
    ) -> list[AnchoredEvent]:
        filters = {"logId": _hash32("log id", log_id)} if log_id is not None else None
        logs = self.contract.events.Anchored().get_logs(
            from_block=from_block, to_block=to_block, argument_filters=filters
        )
        return [self._event(e) for e in logs]

    @staticmethod
    def _event(e: Any) -> AnchoredEvent:
        a = e["args"]
        return AnchoredEvent(
            log_id=bytes(a["logId"]),
            size=int(a["size"]),
            root=bytes(a["root"]),
            note_hash=bytes(a["noteHash"]),
            tx_hash=bytes(e["transactionHash"]),
            block_number=int(e["blockNumber"]),
            block_hash=bytes(e["blockHash"]),
            log_index=int(e["logIndex"]),
        )
