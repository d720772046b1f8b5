"""A vault payout end to end, as users run it: scripts/run.py (anvil, LogAnchor, the vault,
the anchor and payout workers, gunicorn) driven over HTTP. A complaint is filed and decided,
compensation offered by one officer and co-signed by a second (above the first's dual-control
threshold), accepted by the customer with their address; the anchor worker anchors it, the
payout worker pays it from the vault and records compensation_paid; the customer's proof and
the bundle (``verify_bundle --rpc``) verify with the payout checked on chain. A second payout
is refused while the vault is paused (nothing recorded), then sent, and the payout worker is
killed (SIGKILL) before the transaction is mined: after a restart it is paid exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger.access.apikeys import create_api_key
from ledger.anchoring import txn
from ledger.anchoring.config import load_account
from ledger.anchoring.contract import load_artifact
from ledger.anchoring.devchain import rpc_call
from ledger.db import make_engine
from ledger.payouts.models import PayoutRecord, PayoutState
from ledger.payouts.vault import CompensationVaultClient
from ledger.processes import free_port, wait_for
from ledger.verify.complaint import verify_complaint_proof
from tests.payouts.vault_complaint import accepted_vault_offer, register_officer, vault_terms
from tests.support.complaint_api import Client
from tests.support.paths import ROOT
from tests.support.run_command import START_TIMEOUT, Run, alive, descendants, get, serving

pytestmark = [pytest.mark.evm, pytest.mark.slow]  # run.py starts anvil, gunicorn, the workers

ORIGIN = "payout-e2e.ledger.example/log"
CHAIN_ID = 31337
TIMEOUT = 60
DUAL_CONTROL = {"amounts": {"TEUR": "100"}, "dual_control_above": {"TEUR": "10"}}
SENIOR = {"amounts": {"TEUR": "100"}}


class Ledger:
    """The running ledger as its staff and its chain see it."""

    def __init__(self, data: Path, api: str, rpc: str) -> None:
        self.data, self.api, self.rpc = data, api, rpc
        self.engine = make_engine(f"sqlite:///{data / 'ledger.sqlite3'}")
        tokens = {
            role: create_api_key(self.engine, f"e2e {role}", role)[0]
            for role in ("agent", "officer", "admin", "legal")
        }
        self.staff = {role: Client(api, token) for role, token in tokens.items()}
        record = json.loads((data / "payout_vault.json").read_text())["chains"][str(CHAIN_ID)]
        self.w3 = Web3(Web3.HTTPProvider(rpc))
        self.vault = CompensationVaultClient(self.w3, record["vault"])
        self.token = self.w3.eth.contract(
            address=record["token"], abi=load_artifact("TestToken").abi
        )
        self.owner = load_account(data / "vault-owner.key")
        self.sender = load_account(data / "payout.key").address
        self.signer = register_officer(self.staff["admin"], "Olga Officer", DUAL_CONTROL)
        self.cosigner = register_officer(self.staff["admin"], "Sam Senior", SENIOR)

    def accept(self, amount: str) -> tuple[str, str, str, dict]:
        terms = vault_terms(CHAIN_ID, self.vault.address, self.token.address, amount)
        recipient = Account.create().address
        ref, secret = accepted_vault_offer(
            self.api, self.staff["agent"], self.staff["officer"], terms, recipient,
            self.signer, self.cosigner,
        )  # fmt: skip
        return ref, secret, recipient, terms

    def state(self, ref: str) -> str:
        return self.staff["agent"].get(f"/v1/complaints/{ref}")["status"]

    def record(self, ref: str) -> PayoutRecord | None:
        with Session(self.engine) as session:
            return session.scalars(
                select(PayoutRecord).where(PayoutRecord.reference == ref)
            ).one_or_none()

    def balance(self, address: str) -> int:
        return int(self.token.functions.balanceOf(address).call())

    def paid_events(self, ref: str) -> list:
        rec = self.record(ref)
        assert rec is not None
        return [e for e in self.vault.paid_events() if e.offer_leaf_hash.hex() == rec.offer_hash]

    def anchored_all(self) -> bool:
        checkpoint = get(f"{self.api}/v1/log/checkpoint")
        if checkpoint is None or checkpoint.status_code != 200:
            return False
        anchor = checkpoint.json()["anchor"]
        return anchor is not None and anchor["state"] == "confirmed"


def payout_worker_pid(run: Run) -> int:
    for pid in descendants(run.proc.pid):
        try:
            if b"ledger.cli.payout_worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    raise AssertionError("no payout worker among run.py's children")


def _the_page_shows_the_payout_verified(
    chromium: str, api: str, ref: str, secret: str, tx_hash: str
) -> None:
    """The customer opens /verify on the running server (Debian's Chromium): every check of
    the complaint, the vault payout's among them, is verified in their browser, and so is the
    vault's Paid event, in the receipt the service's chain node (anvil) relays."""
    from playwright.sync_api import expect, sync_playwright

    from tests.support.browser import CHROMIUM_ARGS, PHONE, Visit

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for viewport, name in ((None, "desktop"), (PHONE, "phone")):
                v = Visit(browser, api) if viewport is None else Visit(browser, api, viewport=PHONE)
                v.open()
                v.check(ref, secret)
                assert v.verdict() == "ok"
                assert v.check_status("payout") == "ok"
                expect(v.page.locator("#summary")).to_contain_text("25.50")
                onchain = v.page.locator("li.check[data-check=payout] li.item").filter(
                    has_text="the vault's Paid event on chain"
                )
                expect(onchain).to_have_attribute("data-status", "ok")
                expect(onchain).to_contain_text(f"Transaction {tx_hash} succeeded in block")
                expect(onchain).to_contain_text("Receipt from this service's chain node.")
                summary = v.page.locator("#summary")
                expect(summary.locator(".payout-onchain[data-onchain=ok]")).to_be_visible()
                expect(v.page.locator("#verdict .caveats")).to_contain_text(
                    "receipt came from this service's chain node"
                )
                asked = [r.url for r in v.requests if "/transactions/" in r.url]
                assert asked == [f"{api}/v1/chains/{CHAIN_ID}/transactions/{tx_hash}"]
                v.screenshot(f"e2e-vault-payout-en-{name}")
                assert v.errors == []
                v.close()
        finally:
            browser.close()


def test_a_vault_payout_over_http_on_anvil_verifies_and_survives_a_killed_worker(
    tmp_path, chromium_path
):
    data = tmp_path / "data"
    api_port, chain_port = free_port(), free_port()
    api, rpc = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{chain_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {
        "LEDGER_DATA_DIR": str(data),
        "LEDGER_LOG_ORIGIN": ORIGIN,
        "LEDGER_PORT": str(api_port),
        "LEDGER_DEV_CHAIN_PORT": str(chain_port),
        "LEDGER_WORKERS": "1",
        "LEDGER_ANCHOR_POLL_SECONDS": "0.2",
        "LEDGER_PAYOUT_POLL_SECONDS": "0.2",
        "LEDGER_DEMO": "0",
    }
    first = Run(env, tmp_path / "run1.log")
    second = None
    try:
        first.wait("the API", serving(api), START_TIMEOUT)
        ledger = Ledger(data, api, rpc)
        vkey = (data / "log.vkey").read_text().strip()

        # 1. Filed, decided, offered (signed and co-signed), accepted with the customer's
        #    address; anchored and paid by the workers; recorded on the log.
        ref, secret, recipient, terms = ledger.accept("25.50")
        first.wait("the payout on the log", lambda: ledger.state(ref) == "compensation_paid",
                   TIMEOUT)  # fmt: skip
        assert ledger.balance(recipient) == int(terms["amount_base_units"])
        (event,) = ledger.paid_events(ref)
        customer = Client(api, secret)
        timeline = customer.get(f"/v1/complaints/{ref}/timeline")
        paid = timeline["events"][-1]
        assert paid["type"] == "compensation_paid" and paid["actor"]["role"] == "system"
        assert paid["body"]["tx_hash"] == "0x" + event.tx_hash.hex()
        assert paid["body"]["recipient"] == recipient

        proof = customer.get(f"/v1/complaints/{ref}/proof")
        report = verify_complaint_proof(proof, vkey, ORIGIN)
        assert report.ok, report.failures
        assert [c.status for c in report.checks if c.category == "payout"] == ["ok"] * 4

        _the_page_shows_the_payout_verified(
            chromium_path, api, ref, secret, paid["body"]["tx_hash"]
        )

        first.wait("the payment anchored", ledger.anchored_all, TIMEOUT)
        rpc_call(rpc, "anvil_mine", ["0x2"])  # confirmations for the verifier
        bundle = ledger.staff["legal"].session.post(f"{api}/v1/complaints/{ref}/bundle",
                                                    json={}, timeout=60)  # fmt: skip
        assert bundle.status_code in (200, 201), bundle.text
        zipped = tmp_path / "bundle.zip"
        zipped.write_bytes(bundle.content)
        contract = json.loads((data / "anchor_contract.json").read_text())["chains"]["31337"]
        verified = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "verify_bundle.py"), str(zipped),
             "--log-key", vkey, "--rpc", rpc, "--contract", contract["address"],
             "--confirmations", "2", "--json"],
            capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
        )  # fmt: skip
        assert verified.returncode == 0, verified.stdout + verified.stderr
        checks = json.loads(verified.stdout)["checks"]
        vault_checks = [c for c in checks if c["name"].startswith("vault payout in event")]
        assert [c["status"] for c in vault_checks] == ["ok"] * 4, vault_checks

        # 2. A paused vault refuses the next payout: nothing is recorded, it is retried.
        ledger.vault.pause(ledger.owner)
        ref2, _, recipient2, terms2 = ledger.accept("12.00")
        first.wait(
            "the refusal",
            lambda: (rec := ledger.record(ref2)) is not None and rec.error_name == "IsPaused",
            TIMEOUT,
        )
        assert ledger.state(ref2) == "compensation_accepted"
        first.wait("everything anchored", ledger.anchored_all, TIMEOUT)

        # 3. No more blocks: the vault is unpaused, the retried payout is sent and waits in
        #    the node's pool, and the payout worker is killed before it is mined.
        rpc_call(rpc, "evm_setAutomine", [False])
        unpause = txn.prepare(
            ledger.w3, ledger.owner,
            {"to": ledger.vault.address, "data": ledger.vault.contract.encode_abi("unpause")},
            nonce=ledger.w3.eth.get_transaction_count(ledger.owner.address, "pending"),
            chain_id=CHAIN_ID,
        )  # fmt: skip
        ledger.w3.eth.send_raw_transaction(txn.sign(ledger.owner, unpause).raw_transaction)
        rpc_call(rpc, "anvil_mine", ["0x1"])
        assert not ledger.vault.paused()
        sent = first.wait(
            "the payout sent",
            lambda: (
                (rec := ledger.record(ref2)) is not None
                and rec.state == PayoutState.SENT
                and rec.broadcasts > 0
                and rec
            ),
            TIMEOUT,
        )
        assert ledger.w3.eth.get_transaction_count(ledger.sender, "latest") == sent.nonce
        os.kill(payout_worker_pid(first), signal.SIGKILL)
        wait_for(lambda: first.proc.poll() is not None, TIMEOUT, what="run.py stopping")
        assert first.proc.returncode == 1  # a child died: everything was stopped
        assert not [pid for pid in first.seen if alive(pid)]
        assert ledger.record(ref2).state == PayoutState.SENT  # not mined, not recorded

        # 4. Restarted: the same transaction is followed (sent again if the node lost it),
        #    paid once, recorded once.
        second = Run(env, tmp_path / "run2.log")
        second.wait("the API again", serving(api), START_TIMEOUT)
        second.wait("the second payout on the log",
                    lambda: ledger.state(ref2) == "compensation_paid", TIMEOUT)  # fmt: skip
        assert ledger.balance(recipient2) == int(terms2["amount_base_units"])
        (event2,) = ledger.paid_events(ref2)
        assert event2.tx_hash == sent.tx_hash
        rec = ledger.record(ref2)
        assert rec.state == PayoutState.RECORDED and rec.tx_hash == sent.tx_hash
        events = ledger.staff["agent"].get(f"/v1/complaints/{ref2}/timeline")["events"]
        assert [e["type"] for e in events].count("compensation_paid") == 1
        assert ledger.w3.eth.get_transaction_count(ledger.sender, "latest") == sent.nonce + 1
        assert second.stop() == 0
    finally:
        for run in (first, second):
            if run is not None:
                run.kill_leftovers()
