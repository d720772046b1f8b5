"""The development chain's demo vault: a TestToken and a CompensationVault, deployed once per
chain and data folder, funded, capped, and recorded in ``payout_vault.json``.

Used by the run command on its local anvil only. A recorded vault is reused while its code is
there and it reads the current LogAnchor for this log; otherwise (a reset chain, a LogAnchor
deployed anew) both are deployed again. Funds and caps are topped up on every start, so the
demo never runs dry. ``TestToken`` has no value: anyone may mint it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.anchoring import txn
from ledger.anchoring.contract import load_artifact
from ledger.payouts.settings import read_vault_record, write_vault_record
from ledger.payouts.vault import CompensationVaultClient, deploy_test_token

TOKEN_NAME, TOKEN_SYMBOL, TOKEN_DECIMALS = "Test Euro", "TEUR", 6
# Caps per payout and per UTC day, in whole units of each asset, and the funds kept.
TOKEN_CAPS = (Decimal(1_000), Decimal(10_000))
TOKEN_FUNDS = Decimal(1_000_000)
NATIVE_CAPS = (Decimal(1), Decimal(10))
NATIVE_FUNDS = Decimal(100)


@dataclass(frozen=True)
class DevVault:
    vault: str
    token: str
    symbol: str
    decimals: int
    chain_id: int
    deployed: bool  # by this call


def _say_nothing(_message: str) -> None:
    pass


def _units(amount: Decimal, decimals: int) -> int:
    return int(amount.scaleb(decimals))


def ensure_dev_vault(
    w3: Web3,
    owner: LocalAccount,
    anchor: str,
    log_id: bytes,
    data_dir: Path,
    *,
    say: Callable[[str], None] = _say_nothing,
) -> DevVault:
    """Find (or deploy) this data folder's demo vault and token; fund and cap them."""
    chain_id = int(w3.eth.chain_id)
    record = read_vault_record(data_dir, chain_id)
    vault = token = None
    if record is not None:
        candidate = CompensationVaultClient(w3, record["vault"])
        token_code = w3.eth.get_code(Web3.to_checksum_address(record["token"]))
        if (
            candidate.has_code()
            and token_code
            and candidate.anchor() == Web3.to_checksum_address(anchor)
            and candidate.log_id() == log_id
        ):
            vault, token = candidate, Web3.to_checksum_address(record["token"])
            say(f"CompensationVault already deployed on chain {chain_id} at {vault.address}")
        else:
            say(f"recorded vault {record['vault']} is gone or reads another LogAnchor: redeploying")
    deployed = vault is None
    if vault is None or token is None:
        erc20 = deploy_test_token(w3, owner, TOKEN_NAME, TOKEN_SYMBOL, TOKEN_DECIMALS)
        token = erc20.address
        vault = CompensationVaultClient.deploy(w3, owner, anchor, log_id)
        artifact = load_artifact("CompensationVault")
        write_vault_record(
            data_dir,
            chain_id,
            {
                "vault": vault.address,
                "token": token,
                "token_symbol": TOKEN_SYMBOL,
                "token_decimals": TOKEN_DECIMALS,
                "anchor": Web3.to_checksum_address(anchor),
                "owner": owner.address,
                "deployedAtBlock": int(w3.eth.block_number),
                "deployedBytecodeSha256": hashlib.sha256(
                    bytes.fromhex(artifact.deployed_bytecode[2:])
                ).hexdigest(),
            },
        )
        say(f"deployed CompensationVault on chain {chain_id} at {vault.address}")
        say(f"deployed {TOKEN_SYMBOL} (TestToken, no value) at {token}")
    _fund_and_cap(w3, owner, vault, token)
    return DevVault(vault.address, token, TOKEN_SYMBOL, TOKEN_DECIMALS, chain_id, deployed)


def _fund_and_cap(
    w3: Web3, owner: LocalAccount, vault: CompensationVaultClient, token: str
) -> None:
    erc20 = w3.eth.contract(address=token, abi=load_artifact("TestToken").abi)
    funds = _units(TOKEN_FUNDS, TOKEN_DECIMALS)
    if vault.balance(token) < funds // 10:
        data = erc20.encode_abi("mint", args=[vault.address, funds])
        txn.send_and_wait(w3, owner, {"to": token, "data": data})
    native = _units(NATIVE_FUNDS, 18)
    if vault.balance(None) < native // 10:
        txn.send_and_wait(w3, owner, {"to": vault.address, "value": native})
    for asset, decimals, (per_payout, daily) in (
        (token, TOKEN_DECIMALS, TOKEN_CAPS),
        (None, 18, NATIVE_CAPS),
    ):
        caps = (_units(per_payout, decimals), _units(daily, decimals))
        if vault.caps(asset) != caps:
            vault.set_caps(owner, asset, *caps)
