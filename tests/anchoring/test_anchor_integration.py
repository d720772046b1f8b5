"""The real log store, the anchor worker and anvil together, seen through the HTTP API."""

from __future__ import annotations

import hashlib

import pytest
from eth_account import Account
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger.anchoring.contract import LogAnchorClient, log_id_for_origin
from ledger.anchoring.deploy import retire_records
from ledger.anchoring.logsource import StoreCheckpointSource, open_store_readonly
from ledger.anchoring.models import AnchorRecord, AnchorState
from ledger.anchoring.status import AnchorScope, anchor_coverage
from ledger.anchoring.worker import AnchorError, AnchorWorker, WorkerConfig
from ledger.log import merkle
from ledger.log.checkpoint import open_checkpoint
from ledger.log.encoding import parse_hashes
from ledger.log.note import Signer, Verifier
from ledger.logstore.store import LogStore
from tests.support.anchoring import FUNDING


@pytest.fixture
def deployed(anvil):
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    owner, submitter = Account.create(), Account.create()
    anvil.set_balance(owner.address, FUNDING)
    anvil.set_balance(submitter.address, FUNDING)
    client = LogAnchorClient.deploy(w3, owner)
    client.add_submitter(owner, submitter.address)
    return w3, client, submitter


def make_worker(deployed, source, engine) -> AnchorWorker:
    w3, client, submitter = deployed
    config = WorkerConfig(
        confirmations=2,
        every_entries=1,
        interval_seconds=3600,
        poll_seconds=0.05,
        expected_chain_id=31337,
    )
    return AnchorWorker(
        w3=w3, client=client, account=submitter, source=source, engine=engine, config=config
    )


def test_anchors_of_the_real_log_show_in_the_api_with_proofs_to_the_chain(
    anvil, deployed, ledger, client
):
    w3, contract, _ = deployed
    store = ledger.store
    # The worker reads the log without its signing key, checking notes with the stored key.
    source = StoreCheckpointSource(open_store_readonly(ledger.engine, store.origin))
    assert source.verifier == store.verifier and store.signer is not None
    worker = make_worker(deployed, source, ledger.engine)
    verifier = Verifier.from_string(client.get("/v1/log/keys").json["verifier_key"])

    missing = client.get("/v1/anchors/latest")
    assert missing.status_code == 404
    assert missing.content_type == "application/problem+json"
    assert client.get("/v1/log/checkpoint").json["anchor"] is None
    assert worker.step() == "idle"  # an empty log has nothing to anchor

    store.append_batch([b"entry 0", b"entry 1", b"entry 2"])
    store.append_batch([b"entry 3", b"entry 4"])
    assert worker.step() == "sent"
    cp = client.get("/v1/log/checkpoint").json
    assert cp["size"] == 5 and cp["origin"] == store.origin
    assert open_checkpoint(cp["checkpoint"], verifier).root.hex() == cp["root"]
    assert cp["anchor"]["state"] == "pending" and cp["anchor"]["confirmations"] == 0
    assert cp["anchor"]["block_number"] is None

    assert worker.step() == "mined"  # automine: in a block, one confirmation of two
    pending = client.get("/v1/log/checkpoint").json["anchor"]
    assert (pending["state"], pending["confirmations"]) == ("pending", 1)
    anvil.mine(1)
    assert worker.step() == "confirmed"

    latest = client.get("/v1/anchors/latest").json
    receipt = w3.eth.get_transaction_receipt(latest["tx_hash"])
    assert (latest["state"], latest["confirmations"], latest["tree_size"]) == ("confirmed", 2, 5)
    assert (latest["block_number"], latest["block_hash"]) == (
        receipt["blockNumber"],
        "0x" + bytes(receipt["blockHash"]).hex(),
    )
    assert latest["contract"] == contract.address and latest["chain_id"] == 31337
    covered = client.get("/v1/log/checkpoint").json["anchor"]
    assert covered["state"] == "confirmed" and covered["confirmations"] == 2
    assert covered["anchored_size"] == 5 and covered["consistency_proof"] == []

    # An older checkpoint: its inclusion proof comes with the way to the anchored root.
    resp = client.get("/v1/log/proof/inclusion", query_string={"index": 1, "tree_size": 3})
    assert resp.status_code == 200
    proof = resp.json
    checkpoint3 = open_checkpoint(proof["checkpoint"], verifier, store.origin)
    merkle.verify_inclusion(
        1, 3, merkle.leaf_hash(b"entry 1"), parse_hashes(proof["proof"]), checkpoint3.root
    )
    anchor = proof["anchor"]
    assert (anchor["checkpoint_size"], anchor["anchored_size"]) == (3, 5)
    assert anchor["state"] == "confirmed" and anchor["tx_hash"] == latest["tx_hash"]
    head = contract.latest(log_id_for_origin(store.origin))  # what the chain itself holds
    assert head.size == 5 and anchor["anchored_root"] == head.root.hex()
    to_anchor = parse_hashes(anchor["consistency_proof"])
    merkle.verify_consistency(3, head.size, checkpoint3.root, head.root, to_anchor)
    # The anchored note is the log's, and its hash is the one in the Anchored event.
    anchored_note = anchor["anchored_checkpoint"]
    assert open_checkpoint(anchored_note, verifier).root == head.root
    (event,) = contract.anchored_events(log_id_for_origin(store.origin))
    assert "0x" + event.note_hash.hex() == anchor["note_hash"]
    assert event.note_hash == hashlib.sha256(anchored_note.encode()).digest()

    # The log grows: the new checkpoint is not covered until the next anchor.
    store.append_batch([b"entry 5", b"entry 6"])
    assert client.get("/v1/log/checkpoint").json["anchor"] is None
    assert client.get("/v1/log/proof/inclusion?index=6").json["anchor"] is None
    assert client.get("/v1/log/checkpoint?tree_size=5").json["anchor"]["anchored_size"] == 5
    assert worker.step() == "sent"
    assert client.get("/v1/log/checkpoint").json["anchor"]["state"] == "pending"
    # Confirmed anchors count first: size 3 stays with the confirmed anchor of size 5.
    assert client.get("/v1/log/checkpoint?tree_size=3").json["anchor"]["anchored_size"] == 5
    assert worker.step() == "mined"
    anvil.mine(1)
    assert worker.step() == "confirmed"
    assert client.get("/v1/log/checkpoint?tree_size=3").json["anchor"]["anchored_size"] == 5
    # No checkpoint was signed at size 6: proofs still answer, the checkpoint view does not.
    at6 = client.get("/v1/log/proof/inclusion?index=0&tree_size=6").json
    assert at6["checkpoint"] is None and at6["anchor"]["anchored_size"] == 7
    head7 = contract.latest(log_id_for_origin(store.origin))
    to_anchor = parse_hashes(at6["anchor"]["consistency_proof"])
    merkle.verify_consistency(6, head7.size, store.root_at(6), head7.root, to_anchor)
    assert client.get("/v1/log/checkpoint?tree_size=6").status_code == 404
    assert client.get("/v1/log/checkpoint?tree_size=99").status_code == 400

    first = client.get("/v1/anchors?page_size=1").json
    assert (first["total"], first["pages"], first["page"]) == (2, 2, 1)
    assert first["items"][0]["tree_size"] == 7 and first["items"][0]["from_size"] == 5
    assert first["links"]["next"] == "/v1/anchors?page=2&page_size=1"
    assert first["links"]["prev"] is None
    second = client.get(first["links"]["next"]).json
    assert second["items"][0]["tree_size"] == 5 and second["links"]["next"] is None
    assert client.get("/v1/anchors?state=dropped").json["total"] == 0
    assert client.get("/v1/anchors?page_size=500").status_code == 422
    assert "raw_tx" not in first["items"][0] and "last_error" not in first["items"][0]

    # Records of another deployment do not count; retired records no longer cover anything.
    assert anchor_coverage(ledger.engine, store, 3, AnchorScope(chain_id=1)) is None
    assert anchor_coverage(ledger.engine, store, 3, AnchorScope(31337, contract.address))
    assert retire_records(ledger.engine, 31337, contract.address, "chain reset") == 2
    assert client.get("/v1/anchors/latest").status_code == 404
    assert client.get("/v1/log/checkpoint").json["anchor"] is None
    assert client.get("/v1/anchors?state=dropped").json["total"] == 2


def test_worker_refuses_a_checkpoint_the_log_key_did_not_sign(anvil, deployed, ledger):
    ledger.store.append_batch([b"entry"])
    impostor = Signer.generate(ledger.store.origin)  # same name, another key
    source = StoreCheckpointSource(
        LogStore(ledger.engine, ledger.store.origin, verifier=impostor.verifier())
    )
    worker = make_worker(deployed, source, ledger.engine)
    with pytest.raises(AnchorError, match="signature"):
        worker.step()
    with Session(ledger.engine) as session:
        assert session.scalars(select(AnchorRecord)).all() == []
    honest = make_worker(deployed, StoreCheckpointSource(ledger.store), ledger.engine)
    assert honest.step() == "sent"
    with Session(ledger.engine) as session:
        assert session.scalars(select(AnchorRecord.state)).all() == [AnchorState.PENDING]


def test_anchor_lost_in_a_deep_reorg_is_sent_again_as_the_same_transaction(anvil, deployed, ledger):
    _, contract, _ = deployed
    ledger.store.append_batch([b"a", b"b", b"c"])
    worker = make_worker(deployed, StoreCheckpointSource(ledger.store), ledger.engine)
    before = anvil.snapshot()
    assert worker.step() == "sent"
    assert worker.step() == "mined"
    anvil.mine(1)
    assert worker.step() == "confirmed"

    # Deeper than the confirmation wait: the chain forgets the anchor (as a reset dev chain
    # would). Re-signing gives the very same transaction, which is followed again.
    assert anvil.revert(before)
    assert contract.latest(log_id_for_origin(ledger.store.origin)).size == 0
    assert worker.step() == "sent"
    with Session(ledger.engine) as session:
        (rec,) = session.scalars(select(AnchorRecord)).all()
        assert rec.state == AnchorState.PENDING and rec.block_hash is None
        assert rec.last_error.startswith("dropped earlier")
    assert worker.step() == "mined"
    anvil.mine(1)
    assert worker.step() == "confirmed"
    assert contract.latest(log_id_for_origin(ledger.store.origin)).size == 3
