"""A complaint compensated by the vault, over the HTTP API as its callers drive it: filed,
decided, offered by an officer (co-signed by a second one when asked), accepted by the
customer with their receiving address; and a ChainReader over web3 for the ``--rpc`` checks
on the in-process EVM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound

from ledger.anchoring.contract import REVERT_ERRORS
from ledger.complaints.officers import officer_key_id, sign_body
from ledger.verify.rpc import RpcError
from tests.support.complaint_api import Client

Signer = tuple[Ed25519PrivateKey, str]  # an officer's key and key id


def vault_terms(
    chain_id: int, vault: str, token: str | None, amount: str = "25.50", decimals: int = 6,
    asset: str = "TEUR",
) -> dict[str, Any]:  # fmt: skip
    """The body of a vault offer: the money, and where and in what the vault pays it."""
    terms: dict[str, Any] = {
        "kind": "money",
        "amount": amount,
        "asset": asset,
        "method": "on_chain",
        "chain_id": chain_id,
        "vault": vault,
        "amount_base_units": str(int(Decimal(amount).scaleb(decimals))),
        "decimals": decimals,
    }
    if token is not None:
        terms["token"] = token
    return terms


def register_officer(admin: Client, name: str, limits: dict | None = None) -> Signer:
    """A new officer key registered over HTTP by an admin (with ``limits`` if given)."""
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    request: dict[str, Any] = {
        "public_key": raw.hex(),
        "roles": ["officer"],
        "valid_from": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "name": name,
    }
    if limits is not None:
        request["limits"] = limits
    admin.post("/v1/officers/keys", request)
    return key, officer_key_id(raw)


def signed(
    officer: Client,
    ref: str,
    type_: str,
    content: dict,
    public: dict,
    signer: Signer,
    cosigner: Signer | None = None,
) -> dict:
    """A signed step: its signing body, signed by ``signer`` (and co-signed by ``cosigner``)."""
    to_sign = officer.post(f"/v1/complaints/{ref}/signing-body",
                           {"type": type_, "content": content}, expect=200)  # fmt: skip
    data = to_sign["body_jcs"].encode("utf-8")
    public = {**public, "signature": {"key_id": signer[1], "sig": sign_body(signer[0], data).hex()}}
    if cosigner is not None:
        public["cosignature"] = {"key_id": cosigner[1], "sig": sign_body(cosigner[0], data).hex()}
    return officer.post(
        f"/v1/complaints/{ref}/events", {"type": type_, "public": public, "body": to_sign["body"]}
    )


def accepted_vault_offer(
    base: str,
    agent: Client,
    officer: Client,
    terms: dict[str, Any],
    recipient: str,
    signer: Signer,
    cosigner: Signer | None = None,
) -> tuple[str, str]:
    """File, acknowledge, add evidence, decide, offer ``terms`` and accept them with
    ``recipient`` as the customer; returns (reference, secret)."""
    filed = Client(base).post(
        "/v1/complaints",
        {
            "category": "stuck_transaction",
            "channel": "in_app",
            "language": "en",
            "description": "My withdrawal was charged twice.",
        },
    )
    ref, secret = filed["reference"], filed["secret"]
    events = f"/v1/complaints/{ref}/events"
    agent.post(events, {"type": "acknowledged"})
    evidence = agent.post(events, {"type": "evidence_added", "public": {"kind": "transaction"},
                                   "body": {"description": "Two debits on 2 March."}})  # fmt: skip
    decision = {
        "outcome": "upheld",
        "finding": "The fee was charged twice by a retry bug.",
        "rules": ["Fee schedule 2.1"],
        "evidence": [evidence["event"]["leaf_hash"]],
        "root_cause": "product_defect",
        "remedy": "We refund it on chain, paid by the compensation vault.",
    }
    public = {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")}
    signed(officer, ref, "decision", decision, public, signer)
    money = {k: terms[k] for k in ("kind", "amount", "asset", "method")}
    offered = signed(officer, ref, "compensation_offered", terms, money, signer, cosigner)
    assert "payout_terms" in offered["event"]["public"]
    accepted = Client(base, secret).post(
        events, {"type": "compensation_accepted", "body": {"recipient": recipient}}
    )
    assert accepted["status"] == "compensation_accepted"
    assert "payout" in accepted["event"]["public"]
    return ref, secret


# --- a ChainReader (ledger.verify.onchain) over web3, for the in-process EVM ------------------


def _rpc(value: Any) -> Any:
    """A web3 value as a JSON-RPC node sends it: integers and bytes as 0x-hex."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _rpc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rpc(v) for v in value]
    return value


class Web3Reader:
    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def block_hash(self, number: int) -> str | None:
        return "0x" + bytes(self.w3.eth.get_block(number)["hash"]).hex()

    def receipt(self, tx_hash: str) -> dict | None:
        try:
            return _rpc(self.w3.eth.get_transaction_receipt(HexBytes(tx_hash)))
        except TransactionNotFound:
            return None

    def transaction(self, tx_hash: str) -> dict | None:
        try:
            return _rpc(self.w3.eth.get_transaction(HexBytes(tx_hash)))
        except TransactionNotFound:
            return None

    def code(self, address: str) -> bytes:
        return bytes(self.w3.eth.get_code(Web3.to_checksum_address(address)))

    def eth_call(self, to: str, data: str) -> bytes:
        try:
            return bytes(self.w3.eth.call({"to": Web3.to_checksum_address(to), "data": data}))
        except REVERT_ERRORS as exc:  # a node answers a reverted call with an error
            raise RpcError(f"eth_call: {exc}") from exc
