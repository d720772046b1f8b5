"""The chains this service names: where a transaction on each can be looked at.

The /verify page links a payout's transaction to the block explorer configured for its chain
(``LEDGER_EXPLORER_TX_URLS``); it only links, it never fetches from an explorer. Public: the
templates are configuration, not data about anyone.

``GET /v1/chains/<chain_id>/transactions/<tx_hash>`` relays a transaction's receipt from the
service's own chain node (``LEDGER_CHAIN_RPC_URL``, the one /readyz probes), so that the
/verify page, held to its own origin by its CSP, can check a vault payout's ``Paid`` event as
``ledger-verify-bundle --rpc`` does. The node's values are passed on as it gave them (0x-hex);
the page decodes and judges them. Public and read-only: the chain is public.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import marshmallow as ma
from flask import Response, current_app, jsonify
from flask.views import MethodView

from api.blueprints import Blueprint
from api.context import get_ledger
from api.problems import Problem
from ledger.complaints.payouts import EVM_ADDRESS
from ledger.verify.rpc import JsonRpcChain, RpcError

blp = Blueprint(
    "chains",
    __name__,
    url_prefix="/v1",
    description="The chains this service names, with their block explorers",
)

# Configuration changes only with a restart: a client may keep it a while.
CHAINS_CACHE = "public, max-age=300"


class Chain(ma.Schema):
    chain_id = ma.fields.Integer(metadata={"description": "EIP-155 chain id"})
    explorer_tx_url = ma.fields.String(
        metadata={
            "description": "a transaction's page on this chain's block explorer, {tx} standing "
            "for the transaction hash (0x + 64 hex)"
        }
    )


class ChainList(ma.Schema):
    chains = ma.fields.List(ma.fields.Nested(Chain), metadata={"description": "by chain id"})


@blp.route("/chains")
class ChainsResource(MethodView):
    @blp.response(200, ChainList)
    def get(self) -> Response:
        """The chains with a block explorer configured (``LEDGER_EXPLORER_TX_URLS``), for
        links to on-chain transactions such as a compensation payout. Public and cacheable."""
        urls = get_ledger().settings.explorer_tx_urls
        chains = [{"chain_id": cid, "explorer_tx_url": urls[cid]} for cid in sorted(urls)]
        resp = jsonify({"chains": chains})
        resp.headers["Cache-Control"] = CHAINS_CACHE
        return resp


# --- a transaction's receipt, from this service's chain node -----------------------------------

# Confirmations grow with every block: a short cache still spares the node a burst of readers.
RECEIPT_CACHE = "public, max-age=10"
_CHAIN_ID = re.compile(r"^[1-9][0-9]{0,15}$")
MAX_CHAIN_ID = 2**53 - 1  # a JSON number every client reads exactly
_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_QUANTITY = re.compile(r"^0x(0|[1-9a-fA-F][0-9a-fA-F]{0,63})$")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_DATA = re.compile(r"^0x([0-9a-fA-F]{2})*$")
MAX_LOGS = 1024  # far above any payout's receipt: more is refused, never relayed
MAX_TOPICS = 4  # the EVM's LOG0..LOG4

# Problem codes the /verify page tells apart (verify-ui.js, fetchReceipt).
TX_NOT_FOUND = "TX_NOT_FOUND"
CHAIN_NOT_SERVED = "CHAIN_NOT_SERVED"
NO_CHAIN_NODE = "NO_CHAIN_NODE"
CHAIN_NODE_DOWN = "CHAIN_NODE_DOWN"

_HEX_TEXT = "0x-hex, as the chain node gave it"
_node_ids_lock = threading.Lock()


class ReceiptLog(ma.Schema):
    address = ma.fields.String(metadata={"description": "the contract that emitted it"})
    topics = ma.fields.List(ma.fields.String(), metadata={"description": "32-byte words"})
    data = ma.fields.String(metadata={"description": _HEX_TEXT})
    logIndex = ma.fields.String(metadata={"description": "its index in the block"})


class TransactionReceipt(ma.Schema):
    transactionHash = ma.fields.String()
    status = ma.fields.String(metadata={"description": "0x1: succeeded, 0x0: reverted"})
    blockNumber = ma.fields.String(metadata={"description": _HEX_TEXT})
    blockHash = ma.fields.String()
    to = ma.fields.String(allow_none=True)
    logs = ma.fields.List(ma.fields.Nested(ReceiptLog))


class ChainTransaction(ma.Schema):
    chain_id = ma.fields.Integer(metadata={"description": "the node's EIP-155 chain id"})
    tx_hash = ma.fields.String(metadata={"description": "the transaction asked about"})
    receipt = ma.fields.Nested(TransactionReceipt)
    latest_block = ma.fields.String(
        metadata={"description": "the node's latest block number (eth_blockNumber), 0x-hex"}
    )
    block_hash_at_height = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "the hash of the node's block at the receipt's height now: the "
            "receipt's block is canonical when it equals receipt.blockHash (null: none)"
        },
    )


_PATH_PARAMETERS = [
    {
        "in": "path",
        "name": "chain_id",
        "description": "EIP-155 chain id, decimal",
        "schema": {"type": "string", "pattern": _CHAIN_ID.pattern},
    },
    {
        "in": "path",
        "name": "tx_hash",
        "description": "the transaction hash: 0x and 64 hex digits",
        "schema": {"type": "string", "pattern": _TX_HASH.pattern},
    },
]


def _parse_path(chain_id: str, tx_hash: str) -> tuple[int, str]:
    if not _CHAIN_ID.fullmatch(chain_id) or int(chain_id) > MAX_CHAIN_ID:
        raise Problem("bad-request", "chain_id must be a decimal EIP-155 chain id")
    if not _TX_HASH.fullmatch(tx_hash):
        raise Problem("bad-request", "tx_hash must be 0x followed by 64 hex digits")
    return int(chain_id), tx_hash.lower()


def _node_down(exc: Exception) -> Problem:
    return Problem(
        "unavailable",
        f"this service's chain node does not answer ({type(exc).__name__})",
        headers={"Retry-After": "5", "Cache-Control": "no-store"},
        code=CHAIN_NODE_DOWN,
    )


def _node_chain_id(node: JsonRpcChain) -> int:
    """The node's chain id, asked once per process and URL: it changes only with the node."""
    ids: dict[str, int] = current_app.extensions.setdefault("chain_node_ids", {})
    with _node_ids_lock:
        known = ids.get(node.url)
    if known is None:
        known = node.chain_id()
        with _node_ids_lock:
            ids[node.url] = known
    return known


def _matches(pattern: re.Pattern[str], value: Any, *, nullable: bool = False) -> bool:
    return (nullable and value is None) or (
        isinstance(value, str) and bool(pattern.fullmatch(value))
    )


def _receipt_fields(receipt: dict[str, Any], tx_hash: str) -> dict[str, Any]:
    """What the page needs of a receipt, each value as the node gave it; RpcError when the
    node's answer is not a receipt of ``tx_hash``."""
    logs = receipt.get("logs")
    well_formed = (
        _matches(_HASH, receipt.get("transactionHash"))
        and str(receipt["transactionHash"]).lower() == tx_hash
        and _matches(_QUANTITY, receipt.get("status"))
        and _matches(_QUANTITY, receipt.get("blockNumber"))
        and _matches(_HASH, receipt.get("blockHash"))
        and _matches(EVM_ADDRESS, receipt.get("to"), nullable=True)
        and isinstance(logs, list)
        and len(logs) <= MAX_LOGS
    )
    if not well_formed:
        raise RpcError("eth_getTransactionReceipt: not a receipt of this transaction")
    out_logs = []
    for entry in logs:
        topics = entry.get("topics") if isinstance(entry, dict) else None
        if not (
            isinstance(topics, list)
            and len(topics) <= MAX_TOPICS
            and all(_matches(_HASH, t) for t in topics)
            and _matches(EVM_ADDRESS, entry.get("address"))
            and _matches(_DATA, entry.get("data"))
            and _matches(_QUANTITY, entry.get("logIndex"))
        ):
            raise RpcError("eth_getTransactionReceipt: a malformed log")
        out_logs.append({k: entry[k] for k in ("address", "topics", "data", "logIndex")})
    fields = ("transactionHash", "status", "blockNumber", "blockHash", "to")
    return {**{k: receipt.get(k) for k in fields}, "logs": out_logs}


@blp.route("/chains/<chain_id>/transactions/<tx_hash>", parameters=_PATH_PARAMETERS)
class TransactionResource(MethodView):
    @blp.response(200, ChainTransaction)
    @blp.alt_response(400, description="Not a chain id or not a transaction hash")
    @blp.alt_response(
        404,
        description="The node does not know the transaction, or is not on that chain "
        f"(problem code {TX_NOT_FOUND} or {CHAIN_NOT_SERVED})",
    )
    @blp.alt_response(
        503,
        description=f"No chain node configured ({NO_CHAIN_NODE}) or it does not answer "
        f"({CHAIN_NODE_DOWN})",
    )
    def get(self, chain_id: str, tx_hash: str) -> Response:
        """A transaction's receipt as this service's chain node (``LEDGER_CHAIN_RPC_URL``)
        reports it, with the node's latest block number and the hash of its block at the
        receipt's height: what the /verify page needs to check a vault payout's ``Paid``
        event and its confirmations. Public. For a check that trusts nothing of this service,
        ask a node of your own (``ledger-verify-bundle --rpc``)."""
        wanted, tx = _parse_path(chain_id, tx_hash)
        settings = get_ledger().settings
        if not settings.chain_rpc_url:
            raise Problem(
                "unavailable",
                "this service has no chain node configured",
                headers={"Cache-Control": "no-store"},
                code=NO_CHAIN_NODE,
            )
        node = JsonRpcChain(settings.chain_rpc_url, timeout=settings.ready_timeout)
        try:
            served = _node_chain_id(node)
            if served != wanted:
                raise Problem(
                    "not-found",
                    f"this service's chain node is on chain {served}, not {wanted}",
                    headers={"Cache-Control": "no-store"},
                    code=CHAIN_NOT_SERVED,
                    served_chain_id=served,
                )
            receipt = node.receipt(tx)
            if receipt is None or receipt.get("blockNumber") is None:
                raise Problem(
                    "not-found",
                    f"chain {wanted}'s node knows no mined transaction {tx}",
                    headers={"Cache-Control": "no-store"},
                    code=TX_NOT_FOUND,
                )
            fields = _receipt_fields(receipt, tx)
            latest = node.call("eth_blockNumber")
            block = node.call("eth_getBlockByNumber", fields["blockNumber"], False)
            at_height = block.get("hash") if isinstance(block, dict) else None
            if not _matches(_QUANTITY, latest) or not _matches(_HASH, at_height, nullable=True):
                raise RpcError("eth_blockNumber / eth_getBlockByNumber: malformed answer")
        except (RpcError, ValueError, TypeError, KeyError) as exc:
            raise _node_down(exc) from exc
        resp = jsonify(
            {
                "chain_id": served,
                "tx_hash": tx,
                "receipt": fields,
                "latest_block": latest,
                "block_hash_at_height": at_height,
            }
        )
        resp.headers["Cache-Control"] = RECEIPT_CACHE
        return resp
