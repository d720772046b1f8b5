"""scripts/run.py as a user runs it: dev chain, contract, worker and API; stop; run again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from web3 import Web3

from ledger.anchoring.config import write_new_key
from ledger.anchoring.contract import LogAnchorClient, log_id_for_origin
from ledger.anchoring.devchain import DevChain
from ledger.db import make_engine
from ledger.log.keys import load_key_file
from ledger.logstore.store import LogStore
from ledger.processes import free_port
from tests.support.paths import ROOT
from tests.support.run_command import START_TIMEOUT, Run, alive, confirmed_at, get, serving

pytestmark = [pytest.mark.evm, pytest.mark.slow]  # run.py starts anvil, gunicorn and the worker

ORIGIN = "run-test.ledger.example/log"
ANCHOR_TIMEOUT = 60


def test_run_command_serves_anchors_stops_cleanly_restarts_and_survives_a_chain_reset(tmp_path):
    data = tmp_path / "data"
    api_port, chain_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    # Embedded defaults only: no production chain, database or key settings leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {
        "LEDGER_DATA_DIR": str(data),
        "LEDGER_LOG_ORIGIN": ORIGIN,
        "LEDGER_PORT": str(api_port),
        "LEDGER_DEV_CHAIN_PORT": str(chain_port),
        "LEDGER_WORKERS": "1",
        "LEDGER_ANCHOR_POLL_SECONDS": "0.2",
        "LEDGER_DEMO": "0",  # this test counts entries itself; the demo seed has its own test
    }

    first = Run(env, tmp_path / "run1.log")
    second = third = None
    try:
        first.wait("the API", serving(api), START_TIMEOUT)
        key_file = data / "anchor.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert (data / "log.key").stat().st_mode & 0o777 == 0o600

        # Entries appended straight into the log, as the complaint service would.
        engine = make_engine(f"sqlite:///{data / 'ledger.sqlite3'}")
        try:
            store = LogStore(engine, ORIGIN, load_key_file(data / "log.key"))
            store.append_batch([b"complaint 0", b"complaint 1"])
            store.append_batch([b"complaint 2"])
            root = store.root_at(3)
        finally:
            engine.dispose()
        anchor = first.wait("a confirmed anchor of size 3", confirmed_at(api, 3), ANCHOR_TIMEOUT)
        assert anchor["tree_size"] == 3 and anchor["confirmations"] >= 1
        checkpoint = get(f"{api}/v1/log/checkpoint").json()
        assert checkpoint["size"] == 3 and checkpoint["anchor"]["state"] == "confirmed"
        assert checkpoint["anchor"]["consistency_proof"] == []
        contract = json.loads((data / "anchor_contract.json").read_text())["chains"]["31337"]
        assert anchor["contract"] == contract["address"]

        children = set(first.seen)
        assert len(children) >= 4  # anvil, worker, gunicorn master and its worker
        assert first.stop() == 0
        assert not [pid for pid in children if alive(pid)]
        assert (data / "chain-state.json").stat().st_size > 0
        output = (tmp_path / "run1.log").read_text()
        assert contract["address"] in output and "verifier key" in output
        secret = key_file.read_text().strip().removeprefix("0x")
        assert secret not in output

        second = Run(env, tmp_path / "run2.log")
        second.wait("the API again", serving(api), START_TIMEOUT)
        again = second.wait("the anchor again", confirmed_at(api, 3), ANCHOR_TIMEOUT)
        assert again["tx_hash"] == anchor["tx_hash"]
        assert json.loads((data / "anchor_contract.json").read_text())["chains"]["31337"] == (
            contract
        )
        output = (tmp_path / "run2.log").read_text()
        assert f"LogAnchor already deployed on chain 31337 at {contract['address']}" in output
        # The restarted chain kept its state: the contract still holds the anchored root.
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{chain_port}"))
        head = LogAnchorClient(w3, contract["address"]).latest(log_id_for_origin(ORIGIN))
        assert (head.size, head.root) == (3, root)
        assert second.stop() == 0
        assert not [pid for pid in second.seen if alive(pid)]

        # A reset development chain: the contract is deployed again, the old anchor records
        # stop counting, and the log is anchored afresh on the new chain.
        (data / "chain-state.json").unlink()
        third = Run(env, tmp_path / "run3.log")
        third.wait("the API on a new chain", serving(api), START_TIMEOUT)
        output = (tmp_path / "run3.log").read_text()
        assert "has no LogAnchor code: redeploying" in output
        assert "anchor record(s) of the previous contract marked dropped" in output
        third.wait("the anchor on the new chain", confirmed_at(api, 3), ANCHOR_TIMEOUT)
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{chain_port}"))
        contract = json.loads((data / "anchor_contract.json").read_text())["chains"]["31337"]
        head = LogAnchorClient(w3, contract["address"]).latest(log_id_for_origin(ORIGIN))
        assert (head.size, head.root) == (3, root)
        assert third.stop() == 0
        assert not [pid for pid in third.seen if alive(pid)]
    finally:
        for run in (first, second, third):
            if run is not None:
                run.kill_leftovers()


def test_run_command_in_production_uses_the_configured_chain_contract_and_key(tmp_path):
    data = tmp_path / "data"
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    node = DevChain(log_file=tmp_path / "node.log").start()  # "production": an existing node
    run = None
    try:
        key_file = tmp_path / "secrets" / "submitter.key"
        submitter = write_new_key(key_file)
        node.set_balance(submitter.address, 10**21)
        w3 = Web3(Web3.HTTPProvider(node.url))
        contract = LogAnchorClient.deploy(w3, submitter)
        contract.add_submitter(submitter, submitter.address)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env |= {
            "LEDGER_DATA_DIR": str(data),
            "LEDGER_LOG_ORIGIN": ORIGIN,
            "LEDGER_PORT": str(api_port),
            "LEDGER_WORKERS": "1",
            "LEDGER_CHAIN_RPC_URL": node.url,
            "LEDGER_CHAIN_ID": "31337",
            "LEDGER_ANCHOR_POLL_SECONDS": "0.2",
            "LEDGER_ANCHOR_EVERY_ENTRIES": "1",
            "LEDGER_DEMO": "0",
            "LEDGER_ANCHOR_CONFIRMATIONS": "1",
        }
        # Incomplete settings: refused before anything starts.
        for missing, message in [
            ({}, "LEDGER_ANCHOR_KEY_FILE is not set"),
            ({"LEDGER_ANCHOR_KEY_FILE": str(key_file)}, "no LogAnchor recorded for chain 31337"),
        ]:
            proc = subprocess.run(
                [sys.executable, str(ROOT / "scripts" / "run.py")],
                env=env | missing,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT,
                check=False,
            )
            assert proc.returncode == 2 and message in proc.stderr, proc.stdout + proc.stderr

        env |= {"LEDGER_ANCHOR_KEY_FILE": str(key_file), "LEDGER_ANCHOR_CONTRACT": contract.address}
        run = Run(env, tmp_path / "run.log")
        run.wait("the API", serving(api), START_TIMEOUT)
        engine = make_engine(f"sqlite:///{data / 'ledger.sqlite3'}")
        try:
            store = LogStore(engine, ORIGIN, load_key_file(data / "log.key"))
            store.append_batch([b"complaint"])
        finally:
            engine.dispose()
        anchor = run.wait("a confirmed anchor", confirmed_at(api, 1), ANCHOR_TIMEOUT)
        assert anchor["contract"] == contract.address
        assert contract.latest(log_id_for_origin(ORIGIN)).size == 1
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in run.seen if alive(pid)]
        assert not [c for c in commands if b"anvil" in c]
        assert not (data / "chain-state.json").exists()
        assert not (data / "anchor_contract.json").exists()
        assert not (data / "anchor.key").exists()
        assert run.stop() == 0
        assert node.running  # not ours to stop
    finally:
        if run is not None:
            run.kill_leftovers()
        node.stop()
