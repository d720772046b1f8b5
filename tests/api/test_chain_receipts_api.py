"""GET /v1/chains/<chain_id>/transactions/<tx_hash>: a transaction's receipt from this
service's chain node (LEDGER_CHAIN_RPC_URL), for the /verify page's on-chain payout check.

On anvil: a token transfer's receipt, logs and block as the node gives them; an unknown
transaction and another chain are 404; no node configured, or a node that does not answer
(or answers nonsense), 503; bad input 400, all problem+json. And the constants the page's
check uses (payout.js) are the contract's and the command-line verifier's."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from eth_utils import keccak
from web3 import Web3

from ledger.anchoring.contract import load_artifact
from ledger.anchoring.devchain import DevChain, rpc_call
from ledger.processes import free_port
from ledger.verify.onchain import DEFAULT_CONFIRMATIONS
from ledger.verify.rpc import PAID_TOPIC, TRANSFER_TOPIC
from tests.support.anchoring import anvil_chain
from tests.support.paths import ROOT
from tests.support.token_transfers import TRANSFERRED, token_transfer

PATH = "/v1/chains/{chain}/transactions/{tx}"
UNKNOWN_TX = "0x" + "ab" * 32
PAYOUT_JS = ROOT / "api" / "static" / "verify" / "payout.js"


def _client(ledger, **changes):
    from api import create_app

    configured = replace(ledger, settings=replace(ledger.settings, **changes))
    return create_app(configured.settings, configured).test_client()


def _problem(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    if code is not None:
        assert resp.json["code"] == code, resp.json
    return resp.json


@pytest.fixture
def anvil(tmp_path) -> Iterator[DevChain]:
    node = anvil_chain(tmp_path)
    try:
        yield node
    finally:
        node.stop()


# --- no chain node, bad input ---------------------------------------------------------------------


def test_without_a_chain_node_the_answer_is_503_saying_so(client) -> None:
    resp = client.get(PATH.format(chain=31337, tx=UNKNOWN_TX))
    body = _problem(resp, 503, "NO_CHAIN_NODE")
    assert "no chain node" in body["detail"]
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "chain", ["0", "-1", "01", "abc", "1e3", "0x7a69", "9007199254740992", "1" * 17, " 1"]
)
def test_a_chain_id_that_is_not_one_is_refused(client, chain: str) -> None:
    body = _problem(client.get(PATH.format(chain=chain, tx=UNKNOWN_TX)), 400)
    assert "chain_id" in body["detail"]


@pytest.mark.parametrize(
    "tx",
    ["0x" + "ab" * 31, "0x" + "ab" * 33, "ab" * 32, "0x" + "zz" * 32, "0X" + "ab" * 32, "0x"],
)
def test_a_tx_hash_that_is_not_one_is_refused(client, tx: str) -> None:
    body = _problem(client.get(PATH.format(chain=1, tx=tx)), 400)
    assert "tx_hash" in body["detail"]


def test_a_node_that_does_not_answer_is_503(ledger) -> None:
    client = _client(ledger, chain_rpc_url=f"http://127.0.0.1:{free_port()}", ready_timeout=1)
    resp = client.get(PATH.format(chain=31337, tx=UNKNOWN_TX))
    _problem(resp, 503, "CHAIN_NODE_DOWN")
    assert int(resp.headers["Retry-After"]) > 0


class _FakeNode(BaseHTTPRequestHandler):
    """A JSON-RPC node on chain 31337 whose receipts are ``answers[method]``."""

    answers: ClassVar[dict] = {}

    def do_POST(self) -> None:
        call = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        result = {"eth_chainId": "0x7a69", **self.answers}.get(call["method"])
        body = json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _receipt(**changes) -> dict:
    log = {"address": "0x" + "11" * 20, "topics": ["0x" + "22" * 32], "data": "0x"}
    return {
        "transactionHash": UNKNOWN_TX,
        "status": "0x1",
        "blockNumber": "0x5",
        "blockHash": "0x" + "33" * 32,
        "to": "0x" + "11" * 20,
        "logs": [{**log, "logIndex": "0x0"}],
        **changes,
    }


@pytest.mark.parametrize(
    "answers",
    [
        {"eth_getTransactionReceipt": _receipt(transactionHash="0x" + "cd" * 32)},
        {"eth_getTransactionReceipt": _receipt(status="1")},
        {"eth_getTransactionReceipt": _receipt(logs=[{"address": "x", "topics": [], "data": ""}])},
        {"eth_getTransactionReceipt": _receipt(logs="none")},
        {"eth_getTransactionReceipt": "a string"},
        {"eth_getTransactionReceipt": _receipt(), "eth_blockNumber": 7},
        {
            "eth_getTransactionReceipt": _receipt(),
            "eth_blockNumber": "0x9",
            "eth_getBlockByNumber": {"hash": "nonsense"},
        },
    ],
    ids=["another-tx", "status", "log", "logs", "not-an-object", "block-number", "block-hash"],
)
def test_a_node_answering_nonsense_is_503_never_relayed(ledger, answers: dict) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Node", (_FakeNode,), {"answers": answers}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = _client(ledger, chain_rpc_url=f"http://127.0.0.1:{server.server_port}")
        _problem(client.get(PATH.format(chain=31337, tx=UNKNOWN_TX)), 503, "CHAIN_NODE_DOWN")
    finally:
        server.shutdown()
        server.server_close()


# --- on anvil ------------------------------------------------------------------------------------


def test_a_receipt_is_relayed_as_the_node_gives_it(ledger, anvil: DevChain) -> None:
    w3, tx = token_transfer(anvil.url)
    client = _client(ledger, chain_rpc_url=anvil.url)
    resp = client.get(PATH.format(chain=31337, tx=tx.upper().replace("0X", "0x")))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "public, max-age=10"
    body = resp.json
    raw = rpc_call(anvil.url, "eth_getTransactionReceipt", [tx])
    assert body["chain_id"] == 31337 and body["tx_hash"] == tx
    receipt = body["receipt"]
    for field in ("transactionHash", "status", "blockNumber", "blockHash", "to"):
        assert receipt[field] == raw[field], field
    assert receipt["status"] == "0x1"
    assert receipt["logs"] == [
        {k: entry[k] for k in ("address", "topics", "data", "logIndex")} for entry in raw["logs"]
    ]
    (transfer,) = receipt["logs"]
    assert transfer["topics"][0] == TRANSFER_TOPIC
    assert int(transfer["data"], 16) == TRANSFERRED
    assert body["latest_block"] == hex(w3.eth.block_number)
    assert body["block_hash_at_height"] == raw["blockHash"]

    # Every new block is one more confirmation (answers are not cached by the service).
    rpc_call(anvil.url, "anvil_mine", ["0x3"])
    later = client.get(PATH.format(chain=31337, tx=tx)).json
    assert int(later["latest_block"], 16) == int(body["latest_block"], 16) + 3
    assert later["receipt"] == receipt


def test_a_reverted_transaction_is_relayed_with_its_status(ledger, anvil: DevChain) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    artifact = load_artifact("TestToken")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    deployed = w3.eth.wait_for_transaction_receipt(
        factory.constructor("Test", "TST", 6, False).transact({"from": w3.eth.accounts[0]})
    )
    token = w3.eth.contract(address=deployed["contractAddress"], abi=artifact.abi)
    # More than the sender holds, sent without estimation so it is mined and reverts.
    tx = token.functions.transfer(w3.eth.accounts[1], 1).transact(
        {"from": w3.eth.accounts[2], "gas": 100_000}
    )
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 0
    body = (
        _client(ledger, chain_rpc_url=anvil.url)
        .get(PATH.format(chain=31337, tx="0x" + bytes(tx).hex()))
        .json
    )
    assert body["receipt"]["status"] == "0x0" and body["receipt"]["logs"] == []


def test_an_unknown_transaction_and_another_chain_are_404(ledger, anvil: DevChain) -> None:
    client = _client(ledger, chain_rpc_url=anvil.url)
    resp = client.get(PATH.format(chain=31337, tx=UNKNOWN_TX))
    _problem(resp, 404, "TX_NOT_FOUND")
    assert resp.headers["Cache-Control"] == "no-store"
    other = _problem(client.get(PATH.format(chain=1, tx=UNKNOWN_TX)), 404, "CHAIN_NOT_SERVED")
    assert other["served_chain_id"] == 31337


def test_it_is_public_and_rate_limited_like_other_reads(ledger, anvil: DevChain) -> None:
    _, tx = token_transfer(anvil.url)
    client = _client(ledger, chain_rpc_url=anvil.url, rate_limit="2/minute")
    url = PATH.format(chain=31337, tx=tx)
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    _problem(client.get(url), 429)


# --- documented, and the page's constants -------------------------------------------------------


def test_the_endpoint_is_in_the_openapi_spec(client) -> None:
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/v1/chains/{chain_id}/transactions/{tx_hash}"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["tx_hash"]["schema"]["pattern"] == "^0x[0-9a-fA-F]{64}$"
    assert params["chain_id"]["schema"]["pattern"]
    assert {"200", "400", "404", "503"} <= set(operation["get"]["responses"])


def _js_constant(name: str) -> str:
    match = re.search(rf"^export const {name} = (.+);$", PAYOUT_JS.read_text("utf-8"), re.M)
    assert match, name
    return match.group(1).strip('"')


def _event_topic(artifact: str, event: str) -> str:
    abi = json.loads((ROOT / "contracts" / "build" / f"{artifact}.json").read_text())["abi"]
    (entry,) = [e for e in abi if e["type"] == "event" and e["name"] == event]
    signature = f"{event}({','.join(i['type'] for i in entry['inputs'])})"
    return "0x" + keccak(text=signature).hex()


def test_the_page_checks_the_vaults_paid_event_by_the_contracts_topic() -> None:
    assert _js_constant("PAID_TOPIC") == _event_topic("CompensationVault", "Paid") == PAID_TOPIC
    assert _js_constant("TRANSFER_TOPIC") == _event_topic("TestToken", "Transfer")
    assert _js_constant("TRANSFER_TOPIC") == TRANSFER_TOPIC


def test_the_page_asks_the_command_lines_confirmations_but_one_on_the_dev_chain() -> None:
    from ledger.cli.run import DEV_CHAIN_ID

    assert int(_js_constant("DEFAULT_CONFIRMATIONS")) == DEFAULT_CONFIRMATIONS
    assert int(_js_constant("DEV_CHAIN_ID")) == DEV_CHAIN_ID
