"""The payout worker on the in-process EVM (py-evm) and a SQLite ledger served over HTTP: an
accepted vault offer is paid once its acceptance is anchored, recorded as compensation_paid
and verifiable; restarts, stale claims and lost records never pay twice; refusals record
nothing and are retried."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from ledger.anchoring.config import ConfigError
from ledger.anchoring.contract import LogAnchorClient, log_id_for_origin
from ledger.complaints.payouts import payout_commitment
from ledger.complaints.states import replay
from ledger.complaints.vocab import Role
from ledger.payouts.models import PayoutRecord, PayoutState, payout_summary, utcnow
from ledger.payouts.settings import (
    PayoutSettings,
    ensure_signing_key,
    load_signing_key,
    write_vault_record,
)
from ledger.payouts.vault import CompensationVaultClient, deploy_test_token
from ledger.payouts.worker import PayoutConfig, PayoutWorker
from ledger.verify.complaint import verify_complaint_proof
from ledger.verify.onchain import check_payments, check_vault_payout
from ledger.verify.report import Report
from ledger.verify.rpc import (
    PAID_TOPIC,
    VAULT_ANCHOR_SELECTOR,
    VAULT_CODE_SHA256,
    VAULT_IMMUTABLES,
    VAULT_LOG_ID_SELECTOR,
)
from tests.payouts.vault_complaint import Web3Reader, accepted_vault_offer, signed, vault_terms
from tests.support.complaint_api import Client
from tests.support.paths import ROOT

pytestmark = pytest.mark.evm  # py-evm in process

FUNDS = 10**21
TOKEN_FUNDS = 10**12  # 1,000,000 TEUR at 6 decimals
CONFIRMATIONS = 2


class Clock:
    """The worker's clock, moved by the test (back-off waits)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Rig:
    w3: Web3
    ledger: object
    actors: dict
    anchor: LogAnchorClient
    submitter: LocalAccount
    owner: LocalAccount
    sender: LocalAccount
    vault: CompensationVaultClient
    token: Contract
    signing_key: Ed25519PrivateKey
    clock: Clock

    @property
    def log_id(self) -> bytes:
        return log_id_for_origin(self.ledger.store.origin)

    def anchor_log(self) -> int:
        """Anchor the log's latest checkpoint (with the consistency proof from the last)."""
        store = self.ledger.store
        cp = store.latest_checkpoint()
        head = self.anchor.latest(self.log_id)
        if cp.size > head.size:
            proof = store.consistency_proof(head.size, cp.size) if head.size else []
            note = hashlib.sha256(cp.note.encode()).digest()
            self.anchor.anchor(self.submitter, self.log_id, cp.size, cp.root, note, proof)
        return cp.size

    def mine(self, blocks: int = 1) -> None:
        self.w3.provider.ethereum_tester.mine_blocks(blocks)

    def worker(self, *, register_as: str | None = None, **config) -> PayoutWorker:
        settings = {"confirmations": CONFIRMATIONS, "retry_initial": 5.0, **config}
        return PayoutWorker(
            w3=self.w3,
            vault=self.vault,
            account=self.sender,
            signing_key=self.signing_key,
            reads=self.ledger.complaints.reads,
            writes=self.ledger.complaints.writes,
            engine=self.ledger.engine,
            config=PayoutConfig(**settings),
            now=self.clock,
            register_as=register_as,
        )

    def register_worker_key(self) -> None:
        raw = self.signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.ledger.officer_keys.register(
            admin_id="test-admin", public_key=raw, roles=["system"],
            valid_from=utcnow() - timedelta(minutes=1), valid_until=None, name="Payout worker",
        )  # fmt: skip

    def terms(self, native: bool = False) -> dict:
        chain_id = int(self.w3.eth.chain_id)
        if native:
            return vault_terms(chain_id, self.vault.address, None, "0.015", 18, "ETH")
        return vault_terms(chain_id, self.vault.address, self.token.address)

    def accept(self, terms: dict, recipient: str | None = None) -> tuple[str, str, str]:
        """An accepted vault offer; returns (reference, secret, recipient)."""
        recipient = recipient or Account.create().address
        a = self.actors
        ref, secret = accepted_vault_offer(
            a["url"], a["agent"], a["officer"], terms, recipient, (a["officer_key"], a["key_id"])
        )
        return ref, secret, recipient

    def balance(self, terms: dict, address: str) -> int:
        if "token" in terms:
            return int(self.token.functions.balanceOf(address).call())
        return int(self.w3.eth.get_balance(address))

    def nonce(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.sender.address))

    def record(self, ref: str) -> PayoutRecord | None:
        with Session(self.ledger.engine) as session:
            return session.scalars(
                select(PayoutRecord).where(PayoutRecord.reference == ref)
            ).one_or_none()

    def paid_events(self, ref: str) -> list:
        rec = self.record(ref)
        assert rec is not None
        offer = bytes.fromhex(rec.offer_hash)
        return [e for e in self.vault.paid_events() if e.offer_leaf_hash == offer]


@pytest.fixture
def rig(ledger, actors) -> Rig:
    w3 = Web3(EthereumTesterProvider())
    owner, submitter, sender = Account.create(), Account.create(), Account.create()
    for account in (owner, submitter, sender):
        tx = {"from": w3.eth.accounts[0], "to": account.address, "value": FUNDS}
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
    anchor = LogAnchorClient.deploy(w3, owner)
    anchor.add_submitter(owner, submitter.address)
    log_id = log_id_for_origin(ledger.store.origin)
    vault = CompensationVaultClient.deploy(w3, owner, anchor.address, log_id)
    token = deploy_test_token(w3, owner)
    token.functions.mint(vault.address, TOKEN_FUNDS).transact({"from": w3.eth.accounts[0]})
    tx = {"from": w3.eth.accounts[0], "to": vault.address, "value": 10**20}
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
    vault.set_caps(owner, token.address, 10**9, 10**10)  # 1,000 and 10,000 TEUR
    vault.set_caps(owner, None, 10**18, 10**19)  # 1 and 10 ETH
    rig = Rig(w3, ledger, actors, anchor, submitter, owner, sender, vault, token,
              Ed25519PrivateKey.generate(), Clock())  # fmt: skip
    rig.register_worker_key()
    return rig


@pytest.fixture
def vkey(ledger) -> str:
    return str(ledger.store.verifier)


def paid_step(rig: Rig, ref: str):
    return rig.ledger.complaints.reads.events(ref)[-1]


# --- the payout ------------------------------------------------------------------------------


@pytest.mark.parametrize("native", [False, True], ids=["token", "native"])
def test_an_accepted_vault_offer_is_paid_once_anchored_and_recorded(rig, native, vkey) -> None:
    terms = rig.terms(native)
    ref, secret, recipient = rig.accept(terms)
    worker = rig.worker()
    assert worker.step() == {ref: "waiting_anchor"}  # LogAnchor holds nothing yet
    assert rig.record(ref) is None and rig.nonce() == 0
    before = rig.balance(terms, recipient)

    rig.anchor_log()
    assert worker.step() == {ref: "sent"}
    rec = rig.record(ref)
    assert rec.state == PayoutState.SENT and rec.nonce == 0 and rec.raw_tx
    assert rec.tree_size == rig.ledger.store.size()
    assert worker.step() == {ref: "mined"}  # one confirmation of two
    assert rig.ledger.complaints.reads.state(ref).status == "compensation_accepted"
    rig.mine()
    assert worker.step() == {ref: "recorded"}

    assert rig.balance(terms, recipient) - before == int(terms["amount_base_units"])
    state = rig.ledger.complaints.reads.state(ref)
    assert state.status == "compensation_paid"
    paid = paid_step(rig, ref).envelope
    assert paid.type == "compensation_paid" and paid.actor.role == Role.SYSTEM
    assert paid.actor.id == worker.key_id and paid.public["signature"]["key_id"] == worker.key_id
    assert (
        paid.public["payout"]
        == rig.ledger.complaints.reads.events(ref)[-2].envelope.public["payout"]
    )
    assert {k: paid.public[k] for k in ("amount", "asset", "method")} == {
        k: terms[k] for k in ("amount", "asset", "method")
    }
    body = json.loads(paid_step(rig, ref).body_jcs)
    rec = rig.record(ref)
    (event,) = rig.paid_events(ref)
    assert body["tx_hash"] == "0x" + rec.tx_hash.hex() == "0x" + event.tx_hash.hex()
    assert body["recipient"] == recipient and body["vault"] == rig.vault.address
    assert body["chain_id"] == terms["chain_id"] and body.get("token") == terms.get("token")
    assert body["amount_base_units"] == terms["amount_base_units"]
    assert body["decimals"] == terms["decimals"] and body["method"] == "on_chain"
    assert body["paid_event_log_index"] == event.log_index == rec.paid_log_index
    assert body["tx_hash"] in body["message"]["text"]  # the customer's payment letter
    assert rec.state == PayoutState.RECORDED and rec.recorded_index == paid_step(rig, ref).log_index
    # Replayed with the registry, the whole chain holds (the worker's key, role system).
    events = rig.ledger.complaints.reads.events(ref)
    registry = rig.ledger.officer_keys.registry()
    assert replay([e.envelope for e in events], registry=registry) == state

    # Nothing more to do, and nothing sent again.
    assert worker.step() == {}
    assert rig.worker().step() == {}
    assert rig.nonce() == 1 and len(rig.paid_events(ref)) == 1

    # The customer's proof verifies, payout checks included; on chain, the vault's Paid event
    # pays this offer and acceptance, to that address, that amount of that asset.
    proof = Client(rig.actors["url"], secret).get(f"/v1/complaints/{ref}/proof")
    report = verify_complaint_proof(proof, vkey)
    assert report.ok, report.failures
    assert [c.status for c in report.checks if c.category == "payout"] == ["ok"] * 4
    chain = Web3Reader(rig.w3)
    report = Report()
    check_payments(report, proof, [chain], CONFIRMATIONS,
                   explorers={terms["chain_id"]: "https://explorer.example/tx/{tx}"})  # fmt: skip
    assert report.ok, report.lines()
    names = [c.name for c in report.checks]
    assert len(names) == 4 and all(n.startswith("vault payout in event") for n in names)
    assert f"https://explorer.example/tx/{body['tx_hash']}" in report.checks[0].detail
    assert payout_summary(rig.ledger.engine)["records"]["recorded"] == 1


def test_the_rpc_check_flags_a_payout_the_chain_does_not_show(rig) -> None:
    terms = rig.terms()
    ref, _, recipient = rig.accept(terms)
    worker = rig.worker(confirmations=1)
    rig.anchor_log()
    assert worker.step() == {ref: "sent"}
    assert worker.step() == {ref: "recorded"}
    proof = rig.actors["legal"].get(f"/v1/complaints/{ref}/proof")
    item = proof["events"][-1]
    body = json.loads(item["body"])
    chain = Web3Reader(rig.w3)

    def failed(changed: dict, need: int = 1) -> list[str]:
        report = Report()
        check_vault_payout(report, proof, item, {**body, **changed}, [chain], need)
        return [c.name.split(": ", 1)[1] for c in report.failures]

    assert failed({}) == []
    assert failed({}, need=5) == ["the transaction succeeded with at least 5 confirmations"]
    assert failed({"recipient": Account.create().address}) == [
        "the vault paid the recipient, token and amount the log authorises"
    ]
    assert failed({"amount_base_units": "1"}) == [
        "the vault paid the recipient, token and amount the log authorises"
    ]
    assert failed({"paid_event_log_index": 99}) == [
        "the vault's Paid event pays the offer and the acceptance on the log"
    ]
    code = "the vault runs the CompensationVault code, paying this log as anchored in its LogAnchor"
    paid = "the vault's Paid event pays the offer and the acceptance on the log"
    assert failed({"vault": rig.token.address}) == [code, paid]  # not the vault
    other = rig.w3.eth.send_transaction(
        {"from": rig.w3.eth.accounts[0], "to": recipient, "value": 1}
    )
    assert failed({"tx_hash": "0x" + bytes(other).hex()}) == [paid]  # not the payout


# --- restarts and crashes --------------------------------------------------------------------


def test_a_restart_between_send_and_confirmation_pays_once(rig) -> None:
    terms = rig.terms()
    ref, _, recipient = rig.accept(terms)
    rig.anchor_log()
    assert rig.worker().step() == {ref: "sent"}  # this worker stops here (dies)
    again = rig.worker()
    assert again.step() == {ref: "mined"}
    rig.mine()
    assert again.step() == {ref: "recorded"}
    assert rig.worker().step() == {}
    assert rig.nonce() == 1 and len(rig.paid_events(ref)) == 1
    assert rig.balance(terms, recipient) == int(terms["amount_base_units"])
    types = [e.envelope.type for e in rig.ledger.complaints.reads.events(ref)]
    assert types.count("compensation_paid") == 1


def test_a_payout_stored_but_never_sent_is_sent_as_the_same_transaction(rig) -> None:
    terms = rig.terms()
    ref, _, _ = rig.accept(terms)
    rig.anchor_log()
    assert rig.worker().prepare(ref) == "sent"  # stored; the worker dies before broadcasting
    rec = rig.record(ref)
    assert rec.state == PayoutState.SENT and rec.broadcasts == 0 and rig.nonce() == 0
    worker = rig.worker()
    assert worker.step() == {ref: "rebroadcast"}  # the very same bytes
    assert rig.record(ref).tx_hash == rec.tx_hash
    rig.mine()
    assert worker.step() == {ref: "recorded"}
    assert rig.nonce() == 1 and len(rig.paid_events(ref)) == 1


def test_a_claim_made_stale_by_a_new_anchor_is_rebuilt_and_paid_once(rig) -> None:
    terms = rig.terms()
    ref, _, recipient = rig.accept(terms)
    rig.anchor_log()
    assert rig.worker().prepare(ref) == "sent"
    stale = rig.record(ref)
    # The log grows and a newer checkpoint is anchored before the payout is mined.
    rig.accept(rig.terms())
    assert rig.anchor_log() > stale.tree_size
    worker = rig.worker(confirmations=1)
    outcome = worker.step()[ref]
    assert outcome == "rebroadcast"
    receipt = rig.w3.eth.get_transaction_receipt(stale.tx_hash)
    assert receipt["status"] == 0  # NotAnchoredSize: nothing paid
    assert rig.balance(terms, recipient) == 0
    assert worker.step()[ref] == "sent"  # rebuilt for the anchored size
    assert rig.record(ref).tree_size == rig.anchor.latest(rig.log_id).size
    assert worker.step()[ref] == "recorded"
    assert rig.balance(terms, recipient) == int(terms["amount_base_units"])
    assert len(rig.paid_events(ref)) == 1
    assert rig.nonce() == 3  # the stale claim, its rebuild, and the other complaint's payout


def test_a_payout_made_but_not_on_record_is_recorded_without_paying_again(rig) -> None:
    terms = rig.terms()
    ref, _, recipient = rig.accept(terms)
    rig.anchor_log()
    assert rig.worker().step() == {ref: "sent"}
    with Session(rig.ledger.engine) as session:  # the worker's record is lost
        session.execute(delete(PayoutRecord))
        session.commit()
    worker = rig.worker()
    assert worker.step() == {ref: "mined"}  # the vault says paid: its Paid event is adopted
    rig.mine()
    assert worker.step() == {ref: "recorded"}
    assert rig.nonce() == 1 and len(rig.paid_events(ref)) == 1
    assert rig.balance(terms, recipient) == int(terms["amount_base_units"])
    body = json.loads(paid_step(rig, ref).body_jcs)
    assert body["tx_hash"] == "0x" + rig.paid_events(ref)[0].tx_hash.hex()


# --- refusals ----------------------------------------------------------------------------------


def test_refused_payouts_record_nothing_and_are_retried_with_back_off(rig) -> None:
    terms = rig.terms()
    ref, _, recipient = rig.accept(terms)
    rig.anchor_log()
    rig.vault.set_caps(rig.owner, rig.token.address, 0, 0)  # payouts in TEUR stopped
    worker = rig.worker(confirmations=1)
    assert worker.step() == {ref: "failed"}
    rec = rig.record(ref)
    assert rec.state == PayoutState.FAILED and rec.error_name == "OverPayoutCap"
    assert rec.attempts == 1 and rec.tx_hash is None and "OverPayoutCap" in rec.last_error
    assert worker.step() == {ref: "backoff"}
    assert payout_summary(rig.ledger.engine)["records"]["failed"] == 1

    # The cap is raised but the vault is paused: refused again, waiting longer.
    rig.vault.set_caps(rig.owner, rig.token.address, 10**9, 10**10)
    rig.vault.pause(rig.owner)
    rig.clock.advance(6)
    assert worker.step() == {ref: "failed"}
    rec = rig.record(ref)
    assert (rec.error_name, rec.attempts) == ("IsPaused", 2)
    rig.clock.advance(6)
    assert worker.step() == {ref: "backoff"}  # 10 s after the second refusal
    rig.vault.unpause(rig.owner)
    rig.clock.advance(5)
    assert worker.step() == {ref: "sent"}
    assert worker.step() == {ref: "recorded"}
    assert rig.nonce() == 1 and worker.refusals == 2
    assert rig.balance(terms, recipient) == int(terms["amount_base_units"])
    assert rig.record(ref).last_error is None


def test_nothing_is_paid_that_the_log_would_not_record(rig, ledger) -> None:
    terms = rig.terms()
    ref, _, _ = rig.accept(terms)
    rig.anchor_log()
    rig.signing_key = Ed25519PrivateKey.generate()  # a key never registered
    worker = rig.worker(confirmations=1)
    assert worker.step() == {ref: "failed"}
    rec = rig.record(ref)
    assert rec.error_name == "KEY_UNKNOWN" and "--roles system" in rec.last_error
    assert rig.nonce() == 0 and not rig.vault.paid(bytes.fromhex(rec.offer_hash))

    # On a development chain the worker registers its own key when it needs it.
    rig.clock.advance(60)
    dev = rig.worker(confirmations=1, register_as="run-command")
    assert not dev.check_key()
    assert dev.step() == {ref: "sent"}
    assert dev.step() == {ref: "recorded"}
    assert dev.check_key() and rig.nonce() == 1
    key = ledger.officer_keys.registry()[dev.key_id]
    assert key.roles == frozenset({Role.SYSTEM})


def test_an_offer_for_another_vault_is_not_paid(rig) -> None:
    terms = {**rig.terms(), "vault": rig.token.address}  # not this worker's vault
    ref, _, _ = rig.accept(terms)
    rig.anchor_log()
    worker = rig.worker()
    assert worker.step() == {ref: "failed"}
    assert rig.record(ref).error_name == "OTHER_VAULT" and rig.nonce() == 0


def test_the_customer_gives_the_payout_address_when_accepting(rig) -> None:
    """Over HTTP: the address is required and checked, and the service, not the client,
    computes the commitment the vault will check."""
    a, terms = rig.actors, rig.terms()
    filed = Client(a["url"]).post("/v1/complaints", {"category": "stuck_transaction",
                                  "channel": "in_app", "language": "en",
                                  "description": "Charged twice."})  # fmt: skip
    ref, secret = filed["reference"], filed["secret"]
    events = f"/v1/complaints/{ref}/events"
    a["agent"].post(events, {"type": "acknowledged"})
    signer = (a["officer_key"], a["key_id"])
    decision = {"outcome": "upheld", "finding": "Twice.", "rules": ["Fee schedule 2.1"],
                "evidence": [], "root_cause": "product_defect", "remedy": "Refund."}  # fmt: skip
    public = {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")}
    signed(a["officer"], ref, "decision", decision, public, signer)
    money = {k: terms[k] for k in ("kind", "amount", "asset", "method")}
    signed(a["officer"], ref, "compensation_offered", terms, money, signer)
    customer = Client(a["url"], secret)
    missing = customer.post(events, {"type": "compensation_accepted"}, expect=409)
    assert missing["code"] == "PAYOUT_ADDRESS_REQUIRED"
    bad = customer.post(events, {"type": "compensation_accepted",
                                 "body": {"recipient": "0x12"}}, expect=422)  # fmt: skip
    assert "body.recipient" in json.dumps(bad)
    recipient = Account.create().address
    accepted = customer.post(events, {"type": "compensation_accepted", "public": {
        "payout": "ab" * 32}, "body": {"recipient": recipient}})  # fmt: skip
    offer_hash = rig.ledger.complaints.reads.events(ref)[-2].envelope.leaf_hash
    units = int(terms["amount_base_units"])
    expected = payout_commitment(
        terms["chain_id"], rig.vault.address, rig.token.address, units, recipient, offer_hash
    )
    assert accepted["event"]["public"]["payout"] == expected


# --- settings and constants ----------------------------------------------------------------------


def test_settings_and_key_files(tmp_path: Path) -> None:
    env = {"LEDGER_CHAIN_RPC_URL": "http://127.0.0.1:1", "LEDGER_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="LEDGER_PAYOUT_KEY_FILE is not set"):
        PayoutSettings.from_env(env)
    env |= {
        "LEDGER_PAYOUT_KEY_FILE": str(tmp_path / "payout.key"),
        "LEDGER_PAYOUT_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
    }
    settings = PayoutSettings.from_env(env)
    assert (settings.confirmations, settings.poll_seconds) == (6, 5.0)
    with pytest.raises(ConfigError, match="LEDGER_PAYOUT_VAULT, or LEDGER_CHAIN_ID"):
        settings.vault_address()
    settings = PayoutSettings.from_env(env | {"LEDGER_CHAIN_ID": "31337"})
    with pytest.raises(ConfigError, match="no compensation vault recorded for chain 31337"):
        settings.vault_address()
    write_vault_record(tmp_path, 31337, {"vault": "0x" + "5a" * 20, "deployedAtBlock": 7})
    assert settings.vault_address() == "0x" + "5a" * 20 and settings.scan_from_block() == 7
    with pytest.raises(ConfigError, match="LEDGER_PAYOUT_CONFIRMATIONS must be at least 1"):
        PayoutSettings.from_env(env | {"LEDGER_PAYOUT_CONFIRMATIONS": "0"})

    key = ensure_signing_key(tmp_path / "signing.pem")
    assert (tmp_path / "signing.pem").stat().st_mode & 0o777 == 0o600
    assert load_signing_key(tmp_path / "signing.pem").private_bytes_raw() == key.private_bytes_raw()
    os.chmod(tmp_path / "signing.pem", 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_signing_key(tmp_path / "signing.pem")
    (tmp_path / "other.pem").write_text("not a key")
    os.chmod(tmp_path / "other.pem", 0o600)
    with pytest.raises(ConfigError, match="does not hold a PEM private key"):
        load_signing_key(tmp_path / "other.pem")


def test_the_verifiers_vault_constants_match_the_artifact() -> None:
    artifact = json.loads((ROOT / "contracts" / "build" / "CompensationVault.json").read_text())
    refs = artifact["immutableReferences"]
    ranges = sorted((r["start"], r["length"]) for uses in refs.values() for r in uses)
    assert tuple(ranges) == VAULT_IMMUTABLES
    code = bytearray(bytes.fromhex(artifact["deployedBytecode"][2:]))
    for start, length in ranges:
        code[start : start + length] = bytes(length)
    assert hashlib.sha256(bytes(code)).hexdigest() == VAULT_CODE_SHA256
    ids = artifact["methodIdentifiers"]
    assert (ids["anchor()"], ids["logId()"]) == (VAULT_ANCHOR_SELECTOR, VAULT_LOG_ID_SELECTOR)
    signature = "Paid(bytes32,bytes32,address,address,uint256,uint64)"
    assert "0x" + keccak(text=signature).hex() == PAID_TOPIC
