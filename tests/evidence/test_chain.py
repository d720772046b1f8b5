"""Bundles against a real chain (anvil): the anchor worker anchors the log, the verifier checks
the anchor and real on-chain payments over JSON-RPC, and a log rewritten after anchoring fails."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from eth_account import Account
from web3 import Web3

from ledger.anchoring import txn
from ledger.anchoring.contract import LogAnchorClient, log_id_for_origin
from ledger.anchoring.logsource import StoreCheckpointSource, open_store_readonly
from ledger.anchoring.worker import AnchorError, AnchorWorker, WorkerConfig
from ledger.config import Settings
from ledger.evidence.bundle import build_bundle
from ledger.runtime import open_ledger
from ledger.verify.bundle import verify_bundle
from ledger.verify.rpc import JsonRpcChain
from tests.support.anchoring import FUNDING, anvil_chain, attempt_anchor
from tests.support.bundles import get_bundle, unzip
from tests.support.complaint_api import Client, make_actors, run_lifecycle, signed_step
from tests.support.server import LiveServer

pytestmark = [pytest.mark.evm, pytest.mark.slow]  # a real anvil


CHAIN_ID = 31337
CONFIRMATIONS = 3
TRANSFER = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
# A minimal contract that emits an ERC-20 Transfer(msg.sender, to, amount) for calldata
# (to, amount): enough to exercise the verifier's token path against real receipts.
_RUNTIME = "602035600052600035337f" + TRANSFER + "60206000a300"
TOKEN_INITCODE = "0x6031600c6000396031" + "6000f3" + _RUNTIME


@pytest.fixture
def node(tmp_path) -> Iterator:
    chain = anvil_chain(tmp_path)
    try:
        yield chain
    finally:
        chain.stop()


@pytest.fixture
def deployed(node):
    w3 = Web3(Web3.HTTPProvider(node.url))
    owner, submitter, payer = Account.create(), Account.create(), Account.create()
    for account in (owner, submitter, payer):
        node.set_balance(account.address, FUNDING)
    client = LogAnchorClient.deploy(w3, owner)
    client.add_submitter(owner, submitter.address)
    return {"w3": w3, "client": client, "submitter": submitter, "payer": payer}


def anchor_log(ledger, deployed, node) -> None:
    """Run the real anchor worker until the log's latest checkpoint is confirmed."""
    source = StoreCheckpointSource(open_store_readonly(ledger.engine, ledger.store.origin))
    worker = AnchorWorker(
        w3=deployed["w3"],
        client=deployed["client"],
        account=deployed["submitter"],
        source=source,
        engine=ledger.engine,
        config=WorkerConfig(
            confirmations=2,
            every_entries=1,
            interval_seconds=3600,
            poll_seconds=0.05,
            expected_chain_id=CHAIN_ID,
        ),
    )
    assert worker.step() == "sent"
    assert worker.step() == "mined"
    node.mine(1)
    assert worker.step() == "confirmed"
    node.mine(CONFIRMATIONS)


def pay(deployed, to: str, wei: int) -> str:
    receipt = txn.send_and_wait(deployed["w3"], deployed["payer"], {"to": to, "value": wei})
    assert receipt["status"] == 1
    return "0x" + bytes(receipt["transactionHash"]).hex()


def paid_lifecycle(actors: dict, amount: str, asset: str, details: dict) -> str:
    """File, decide (upheld), offer, accept, pay on chain with ``details``, close."""
    agent = actors["agent"]
    filed = actors["anon"].post(
        "/v1/complaints",
        {
            "category": "refund_or_claim",
            "channel": "in_app",
            "language": "en",
            "description": "I was charged the withdrawal fee twice.",
        },
    )
    ref = filed["reference"]
    customer = Client(actors["url"], filed["secret"])
    events = f"/v1/complaints/{ref}/events"
    agent.post(events, {"type": "acknowledged"})
    evidence = agent.post(
        events,
        {
            "type": "evidence_added",
            "public": {"kind": "transaction"},
            "body": {"description": "Two fee debits on 2 March."},
        },
    )
    decision = {
        "outcome": "upheld",
        "finding": "The fee was charged twice by a retry bug.",
        "rules": ["Fee schedule 2.1"],
        "evidence": [evidence["event"]["leaf_hash"]],
        "root_cause": "product_defect",
        "remedy": "We refund the second fee on chain.",
    }
    public = {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")}
    signed_step(actors, ref, "decision", decision, public)
    offer = {"amount": amount, "asset": asset, "method": "on_chain"}
    signed_step(actors, ref, "compensation_offered", offer, offer)
    customer.post(events, {"type": "compensation_accepted"})
    signed_step(actors, ref, "compensation_paid", {**offer, **details}, offer)
    agent.post(events, {"type": "closed"})
    return ref


def eth_payment(tx_hash: str, recipient: str, amount: str) -> dict:
    units = int(Decimal(amount).scaleb(18))
    return {
        "tx_hash": tx_hash,
        "recipient": recipient,
        "chain_id": CHAIN_ID,
        "amount_base_units": str(units),
        "decimals": 18,
    }


def failed_names(report) -> list[str]:
    return [r.name for r in report.failures]


def test_anchor_and_real_payments_verify_against_the_chain(actors, ledger, vkey, node, deployed):
    recipient, stranger = Account.create().address, Account.create().address
    paid = pay(deployed, recipient, 5 * 10**16)  # 0.05 ETH, a plain value transfer
    short = pay(deployed, recipient, 4 * 10**16)  # 0.04 ETH sent, 0.05 recorded
    good = paid_lifecycle(actors, "0.05", "ETH", eth_payment(paid, recipient, "0.05"))
    wrong_amount = paid_lifecycle(actors, "0.05", "ETH", eth_payment(short, recipient, "0.05"))
    wrong_recipient = paid_lifecycle(actors, "0.05", "ETH", eth_payment(paid, stranger, "0.05"))
    # An ERC-20 style payment: a Transfer event of 25.5 USDC (6 decimals) to the recipient.
    w3 = deployed["w3"]
    token = txn.send_and_wait(w3, deployed["payer"], {"data": TOKEN_INITCODE})["contractAddress"]
    word = recipient[2:].lower().rjust(64, "0") + hex(25_500_000)[2:].rjust(64, "0")
    transfer = txn.send_and_wait(w3, deployed["payer"], {"to": token, "data": "0x" + word})
    token_tx = "0x" + bytes(transfer["transactionHash"]).hex()
    token_details = {
        "tx_hash": token_tx,
        "recipient": recipient,
        "chain_id": CHAIN_ID,
        "token": token,
        "amount_base_units": "25500000",
        "decimals": 6,
    }
    token_ref = paid_lifecycle(actors, "25.5", "USDC", token_details)
    wrong_token = paid_lifecycle(actors, "25.5", "USDC", {**token_details, "token": stranger})
    anchor_log(ledger, deployed, node)

    chain = JsonRpcChain(node.url)
    contract = deployed["client"].address
    options = {
        "log_key": vkey,
        "chain": chain,
        "contract": contract,
        "confirmations": CONFIRMATIONS,
    }
    bundles = {
        ref: get_bundle(actors, ref).content
        for ref in (good, wrong_amount, wrong_recipient, token_ref, wrong_token)
    }
    for data in bundles.values():  # offline, every one is genuine
        assert verify_bundle(data, log_key=vkey).ok

    report = verify_bundle(bundles[good], **options)
    assert report.ok, report.lines()
    passed = {r.name: r.detail for r in report.checks}
    anchor = json.loads(unzip(bundles[good])["anchor/anchor.json"])
    assert anchor["state"] == "confirmed" and anchor["chain_id"] == CHAIN_ID
    assert anchor["contract"] == contract and anchor["tx_hash"].startswith("0x")
    for name in (
        "the anchor transaction succeeded in the block the bundle records",
        "the anchor contract runs the LogAnchor code (consistency checked on chain)",
        "the transaction's Anchored event holds the anchored size and root of this log",
        "the root on chain is consistent with this bundle's checkpoint",
        "the contract still holds this anchor or a later, consistent one",
        f"the anchor has at least {CONFIRMATIONS} confirmations",
    ):
        assert name in passed, name
    payment = "on-chain payment in event 6 (0.05 ETH) is on chain as recorded"
    assert "value transfer of 50000000000000000 base units" in passed[payment]

    for ref in (wrong_amount, wrong_recipient):
        report = verify_bundle(bundles[ref], **options)
        assert failed_names(report) == [payment], report.lines()
    assert verify_bundle(bundles[token_ref], **options).ok
    report = verify_bundle(bundles[wrong_token], **options)
    assert failed_names(report) == [
        "on-chain payment in event 6 (25.5 USDC) is on chain as recorded"
    ]

    # Not enough confirmations, another contract, the wrong chain: each fails by name.
    report = verify_bundle(bundles[good], **{**options, "confirmations": 50})
    assert failed_names(report) == [
        "the anchor has at least 50 confirmations",
        "on-chain payment in event 6 (0.05 ETH) is on chain as recorded",
    ]
    report = verify_bundle(bundles[good], **{**options, "contract": stranger})
    assert failed_names(report) == ["the anchor contract is the one you gave"]


def test_history_rewritten_after_anchoring_fails_against_the_chain(
    actors, ledger, vkey, settings, tmp_path, node, deployed
):
    recipient = Account.create().address
    tx = pay(deployed, recipient, 10**16)
    ref = paid_lifecycle(actors, "0.01", "ETH", eth_payment(tx, recipient, "0.01"))
    anchor_log(ledger, deployed, node)
    chain = JsonRpcChain(node.url)
    options = {
        "log_key": vkey,
        "chain": chain,
        "contract": deployed["client"].address,
        "confirmations": CONFIRMATIONS,
    }
    genuine = get_bundle(actors, ref).content
    assert verify_bundle(genuine, **options).ok
    anchored = json.loads(unzip(genuine)["proof.json"])["anchor"]

    # The operator rewrites history: a new database for the same log, signed with the same
    # log key, with a different past (and more entries than were anchored).
    forged_settings = Settings(
        data_dir=tmp_path / "forged",
        database_url=f"sqlite:///{tmp_path / 'forged.sqlite3'}",
        log_origin=settings.log_origin,
        log_key_file=settings.log_key_file,
    )
    forged = open_ledger(forged_settings)
    from api import create_app

    server = LiveServer(create_app(forged_settings, forged))
    try:
        forged_actors = make_actors(server.url, forged)
        forged_ref, _ = run_lifecycle(forged_actors)
        run_lifecycle(forged_actors)
        assert forged.store.size() > anchored["anchored_size"]
        assert str(forged.store.verifier) == vkey

        # The chain refuses to anchor it: the worker will not even try, the contract reverts.
        source = StoreCheckpointSource(open_store_readonly(forged.engine, forged.store.origin))
        worker = AnchorWorker(
            w3=deployed["w3"],
            client=deployed["client"],
            account=deployed["submitter"],
            source=source,
            engine=forged.engine,
            config=WorkerConfig(every_entries=1),
        )
        with pytest.raises(AnchorError):
            worker.step()
        size = forged.store.size()
        proof = forged.store.consistency_proof(anchored["anchored_size"], size)
        log_id = log_id_for_origin(forged.store.origin)
        refused = attempt_anchor(
            deployed["client"],
            deployed["submitter"],
            log_id,
            size,
            forged.store.root_at(size),
            proof,
        )
        assert refused == "ProofDoesNotMatchAnchoredRoot"

        # Its bundle is validly signed, so it passes offline: only the chain tells.
        bundle = get_bundle(forged_actors, forged_ref).content
        assert verify_bundle(bundle, log_key=vkey).ok
        report = verify_bundle(bundle, **options)
        assert "the bundle's checkpoint is anchored on chain" in failed_names(report)

        # Forged further: an anchor record of the forged log pointing at the real anchor
        # transaction, consistent within the forged log and signed by the log key.
        proof_json = json.loads(unzip(bundle)["proof.json"])
        cp = forged.store.latest_checkpoint()
        consistency = forged.store.consistency_proof(proof_json["checkpoint"]["size"], cp.size)
        proof_json["anchor"] = {
            **anchored,
            "checkpoint_size": proof_json["checkpoint"]["size"],
            "anchored_size": cp.size,
            "anchored_root": cp.root.hex(),
            "anchored_checkpoint": cp.note,
            "note_hash": "0x" + hashlib.sha256(cp.note.encode()).hexdigest(),
            "consistency_proof": [p.hex() for p in consistency],
        }
        fake = build_bundle(proof_json, forged.store.signer).data
        assert verify_bundle(fake, log_key=vkey).ok  # offline it all adds up
        report = verify_bundle(fake, **options)
        assert (
            "the transaction's Anchored event holds the anchored size and root of this log"
            in failed_names(report)
        ), report.lines()
        # The genuine anchor pasted unchanged onto the forged checkpoint fails offline too.
        proof_json["anchor"] = anchored
        pasted = build_bundle(proof_json, forged.store.signer).data
        report = verify_bundle(pasted, log_key=vkey)
        assert "this checkpoint is a prefix of the anchored tree (consistency proof)" in (
            failed_names(report)
        )
    finally:
        server.stop()
        forged.close()
