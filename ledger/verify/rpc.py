"""A minimal, read-only JSON-RPC reader of an EVM chain for the offline verifier.

Standard library only (``urllib``), so ``scripts/verify_bundle.py`` runs without web3 and
needs nothing from the ledger's operator: any node or public RPC endpoint of the chain will
do. Only standard ``eth_*`` methods are called. Values come back as the node sends them
(0x-hex strings); the verifier decodes what it needs.
"""

from __future__ import annotations

import json
from typing import Any

from ledger.errors import LedgerError

# keccak256("Anchored(bytes32,uint64,bytes32,bytes32)"): the LogAnchor event; logId is indexed.
ANCHORED_TOPIC = "0xe0fefe2c385c268b407afff2ad80d6521edf6409537f95b897f228a08e900205"
# First 4 bytes of keccak256("latest(bytes32)") -> (uint64 size, bytes32 root, uint64 block).
LATEST_SELECTOR = "79feb107"
# keccak256("Transfer(address,address,uint256)"): the ERC-20 transfer event.
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
# SHA-256 of the deployed LogAnchor runtime code (contracts/build/LogAnchor.json,
# "deployedBytecode"; no immutables, so every deployment has exactly these bytes).
LOG_ANCHOR_CODE_SHA256 = "e77a887976d08c10b611dd115232017f7b8ade24856788f57b6cdac51271cb92"
# keccak256("Paid(bytes32,bytes32,address,address,uint256,uint64)"): the CompensationVault's
# payout; offerLeafHash, acceptLeafHash and recipient are indexed, then (token, amount,
# treeSize) in the data.
PAID_TOPIC = "0x60ad3f4fe770b1021b5046e6e9ecef79ba4653e2fe9699a9730621034ec1ac5d"
# The vault's deployed code holds two immutables (the LogAnchor address and the log id) at
# these (offset, length) places (contracts/build/CompensationVault.json,
# "immutableReferences"): the SHA-256 is of the code with them zeroed, the same for every
# deployment; the values themselves are read from the vault (anchor(), logId()).
VAULT_IMMUTABLES = ((878, 32), (929, 32), (4559, 32), (4599, 32))
VAULT_CODE_SHA256 = "85dd7085f93f17cc8165b799930c4724b6d9400c2b2d0a19c3da53015def38db"
# First 4 bytes of keccak256("anchor()") and of keccak256("logId()").
VAULT_ANCHOR_SELECTOR = "d3fb73b4"
VAULT_LOG_ID_SELECTOR = "c8adae4a"


class RpcError(LedgerError, RuntimeError):
    """The node could not be reached or answered with an error."""


class JsonRpcChain:
    """Read-only access to one chain through its JSON-RPC URL."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url
        self.timeout = timeout
        self._id = 0
        self._chain_id: int | None = None

    def call(self, method: str, *params: Any) -> Any:
        import urllib.error  # here, not at the top: offline verification never needs it
        import urllib.request

        self._id += 1
        payload = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}
        request = urllib.request.Request(
            self.url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                reply = json.loads(resp.read())
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise RpcError(f"{method}: {exc}") from exc
        if not isinstance(reply, dict):
            raise RpcError(f"{method}: malformed reply")
        if reply.get("error"):
            raise RpcError(f"{method}: {reply['error']}")
        return reply.get("result")

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.call("eth_chainId"), 16)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def block_hash(self, number: int) -> str | None:
        block = self.call("eth_getBlockByNumber", hex(number), False)
        return None if block is None else str(block["hash"]).lower()

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        return _object(self.call("eth_getTransactionReceipt", tx_hash))

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        return _object(self.call("eth_getTransactionByHash", tx_hash))

    def code(self, address: str) -> bytes:
        return _bytes(self.call("eth_getCode", address, "latest"))

    def eth_call(self, to: str, data: str) -> bytes:
        return _bytes(self.call("eth_call", {"to": to, "data": data}, "latest"))


def _object(value: Any) -> dict[str, Any] | None:
    """A receipt or transaction: a JSON object, or null when the node does not know it."""
    if value is not None and not isinstance(value, dict):
        raise RpcError(f"expected a JSON object or null, got {type(value).__name__}")
    return value


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(f"expected 0x-hex data, got {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise RpcError(f"not hex: {value!r}") from exc
