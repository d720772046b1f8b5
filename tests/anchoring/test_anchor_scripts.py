"""Deployment script, worker settings and the submitter key file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from ledger.anchoring.config import (
    AnchorSettings,
    ConfigError,
    load_account,
    redact_url,
    write_new_key,
)
from ledger.anchoring.contract import LogAnchorClient
from ledger.anchoring.deployments import read_deployment
from ledger.anchoring.devchain import DevChain
from ledger.anchoring.status import AnchorScope
from ledger.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _deploy(url: str, key_file: Path, data_dir: Path) -> str:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "deploy_contract.py"),
            "--rpc-url",
            url,
            "--key-file",
            str(key_file),
            "--data-dir",
            str(data_dir),
            "--create-key",
            "--dev-fund",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout + proc.stderr


def test_deploy_script_deploys_once_and_redeploys_on_a_reset_chain(anvil, tmp_path):
    key_file = tmp_path / "keys" / "submitter.key"
    out1 = _deploy(anvil.url, key_file, tmp_path)
    assert "created submitter key file" in out1 and "deployed LogAnchor" in out1
    account = load_account(key_file)
    assert account.key.hex().removeprefix("0x") not in out1
    record = read_deployment(tmp_path, 31337)
    client = LogAnchorClient(Web3(Web3.HTTPProvider(anvil.url)), record["address"])
    assert client.has_code() and client.is_submitter(account.address)
    assert client.owner() == account.address

    out2 = _deploy(anvil.url, key_file, tmp_path)
    assert "already deployed" in out2 and record["address"] in out2
    assert read_deployment(tmp_path, 31337) == record

    with DevChain(log_file=tmp_path / "fresh.log") as fresh:  # a dev chain started afresh
        out3 = _deploy(fresh.url, key_file, tmp_path)
        assert "redeploying" in out3
        new = read_deployment(tmp_path, 31337)
        assert LogAnchorClient(Web3(Web3.HTTPProvider(fresh.url)), new["address"]).has_code()


def test_settings_come_from_the_environment(tmp_path):
    env = {
        "LEDGER_CHAIN_RPC_URL": "http://127.0.0.1:8545",
        "LEDGER_CHAIN_ID": "31337",
        "LEDGER_ANCHOR_KEY_FILE": str(tmp_path / "k"),
        "LEDGER_ANCHOR_INTERVAL_SECONDS": "30",
        "LEDGER_ANCHOR_EVERY_ENTRIES": "50",
        "LEDGER_ANCHOR_CONFIRMATIONS": "3",
    }
    s = AnchorSettings.from_env(env)
    assert (s.chain_id, s.interval_seconds, s.every_entries, s.confirmations) == (31337, 30, 50, 3)
    assert s.contract is None
    with pytest.raises(ConfigError, match="LEDGER_CHAIN_RPC_URL"):
        AnchorSettings.from_env({k: v for k, v in env.items() if k != "LEDGER_CHAIN_RPC_URL"})
    with pytest.raises(ConfigError, match="LEDGER_ANCHOR_CONFIRMATIONS"):
        AnchorSettings.from_env(env | {"LEDGER_ANCHOR_CONFIRMATIONS": "0"})
    with pytest.raises(ConfigError, match="LEDGER_ANCHOR_EVERY_ENTRIES"):
        AnchorSettings.from_env(env | {"LEDGER_ANCHOR_EVERY_ENTRIES": "many"})


def test_worker_and_api_read_the_anchor_variables_through_settings(tmp_path, monkeypatch):
    for name, value in {
        "LEDGER_DATA_DIR": str(tmp_path),
        "LEDGER_CHAIN_RPC_URL": "http://127.0.0.1:8545",
        "LEDGER_CHAIN_ID": "31337",
        "LEDGER_ANCHOR_CONFIRMATIONS": "3",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LEDGER_ANCHOR_KEY_FILE", raising=False)
    monkeypatch.delenv("LEDGER_ANCHOR_CONTRACT", raising=False)
    settings = Settings()
    with pytest.raises(ConfigError, match="LEDGER_ANCHOR_KEY_FILE is not set"):
        AnchorSettings.from_settings(settings)
    # Reading the chain (backup verification) needs no submitter key.
    s = AnchorSettings.from_settings(settings, {"LEDGER_ANCHOR_KEY_FILE": "-"})
    assert (s.rpc_url, s.chain_id, s.confirmations) == ("http://127.0.0.1:8545", 31337, 3)
    assert s.data_dir == tmp_path.resolve()
    assert AnchorScope.from_settings(settings) == AnchorScope(31337, None)
    monkeypatch.setenv("LEDGER_CHAIN_ID", "main")
    with pytest.raises(ValueError, match="LEDGER_CHAIN_ID='main' is not a valid int"):
        AnchorScope.from_settings(Settings())


def test_key_file_must_be_private_and_valid_and_is_never_echoed(tmp_path):
    key_file = tmp_path / "submitter.key"
    account = write_new_key(key_file)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_account(key_file).address == account.address
    with pytest.raises(FileExistsError):
        write_new_key(key_file)

    os.chmod(key_file, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_account(key_file)

    secret_ish = "0x" + "zz" * 32
    bad = tmp_path / "bad.key"
    bad.write_text(secret_ish)
    os.chmod(bad, 0o600)
    with pytest.raises(ConfigError) as info:
        load_account(bad)
    assert secret_ish not in str(info.value) and info.value.__cause__ is None
    assert Account.from_key(account.key).address == account.address


def test_rpc_urls_are_shown_without_the_secrets_providers_put_in_them():
    assert redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert redact_url("https://mainnet.example.io/v3/SECRET") == "https://mainnet.example.io/…"
    shown = redact_url("https://user:pw@node.example:8443/?key=SECRET")
    assert shown == "https://node.example:8443/…" and "pw" not in shown
    assert redact_url("not a url") == "<unparsable URL>"
