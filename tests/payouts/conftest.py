"""Chains for the vault tests: in-process py-evm (eth-tester) and a real anvil process.

As in tests/anchoring: one chain per backend for a whole module, anvil from node_modules
(missing anvil fails loudly). Each test gets its own log id and its own vault.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import EthereumTesterProvider, Web3

from ledger.anchoring.contract import LogAnchorClient
from ledger.payouts.vault import deploy_test_token
from tests.payouts.scenario import OWNER_FUNDS, Base, Chain, PayoutEnv, new_env
from tests.support.anchoring import anvil_chain


@pytest.fixture(scope="module", params=["py-evm", "anvil"])
def chain(request, tmp_path_factory) -> Iterator[Chain]:
    if request.param == "py-evm":
        yield Chain("py-evm", Web3(EthereumTesterProvider()))
        return
    node = anvil_chain(tmp_path_factory.mktemp("anvil"))
    try:
        yield Chain("anvil", Web3(Web3.HTTPProvider(node.url)), node)
    finally:
        node.stop()


@pytest.fixture(scope="module")
def base(chain: Chain) -> Base:
    owner = chain.new_account()
    chain.fund(owner.address, OWNER_FUNDS)
    submitter = chain.new_account()
    anchor = LogAnchorClient.deploy(chain.w3, owner)
    anchor.add_submitter(owner, submitter.address)
    token = deploy_test_token(chain.w3, owner)
    quiet = deploy_test_token(chain.w3, owner, "Quiet Euro", "QEUR", 6, quiet=True)
    return Base(chain, owner, submitter, anchor, token, quiet)


@pytest.fixture
def env(base: Base) -> PayoutEnv:
    """A funded, capped vault over a fresh log."""
    return new_env(base)
