"""Chains for the anchoring tests: in-process py-evm (eth-tester) and a real anvil process.

anvil comes from node_modules (``npm ci``). If it is missing, the fixtures raise
DevChainError: the anvil tests fail loudly instead of being skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from web3 import EthereumTesterProvider, Web3

from ledger.anchoring import models  # noqa: F401  (registers the tables on Base)
from ledger.anchoring.contract import LogAnchorClient
from ledger.anchoring.devchain import DevChain
from ledger.db import Base, make_engine
from tests.support.anchoring import FUNDING, anvil_chain


@dataclass
class Chain:
    """A chain under test plus the few controls the tests need."""

    name: str
    w3: Web3
    node: DevChain | None = None
    accounts: list[LocalAccount] = field(default_factory=list)

    def new_account(self) -> LocalAccount:
        account = Account.create()
        if self.node is not None:
            self.node.set_balance(account.address, FUNDING)
        else:
            tx = {"from": self.w3.eth.accounts[0], "to": account.address, "value": FUNDING}
            self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_transaction(tx))
        self.accounts.append(account)
        return account


@pytest.fixture(scope="module", params=["py-evm", "anvil"])
def chain(request, tmp_path_factory) -> Iterator[Chain]:
    """One chain per backend for a whole test module; tests isolate themselves by log id."""
    if request.param == "py-evm":
        yield Chain("py-evm", Web3(EthereumTesterProvider()))
        return
    node = anvil_chain(tmp_path_factory.mktemp("anvil"))
    try:
        yield Chain("anvil", Web3(Web3.HTTPProvider(node.url)), node)
    finally:
        node.stop()


@dataclass
class Deployment:
    chain: Chain
    client: LogAnchorClient
    owner: LocalAccount
    submitter: LocalAccount


@pytest.fixture(scope="module")
def deployment(chain: Chain) -> Deployment:
    owner = chain.new_account()
    submitter = chain.new_account()
    client = LogAnchorClient.deploy(chain.w3, owner)
    client.add_submitter(owner, submitter.address)
    return Deployment(chain, client, owner, submitter)


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[DevChain]:
    """A fresh anvil for one test (worker tests change mining and snapshots)."""
    node = anvil_chain(tmp_path)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def db_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'anchors.sqlite3'}")
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()
