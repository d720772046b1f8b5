"""A transaction of a contract other than the vault, on a test node: a test token deployed,
minted and transferred (its receipt holds one ERC-20 Transfer log)."""

from __future__ import annotations

from web3 import Web3

from ledger.anchoring.contract import load_artifact

TRANSFERRED = 12_345  # base units the transfer moves


def token_transfer(url: str) -> tuple[Web3, str]:
    """Deploy a test token on the node at ``url`` (an unlocked dev account pays) and transfer
    ``TRANSFERRED`` of it to another account; returns the connection and the transfer's hash."""
    w3 = Web3(Web3.HTTPProvider(url))
    sender, recipient = w3.eth.accounts[0], w3.eth.accounts[1]
    artifact = load_artifact("TestToken")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    deployed = w3.eth.wait_for_transaction_receipt(
        factory.constructor("Test", "TST", 6, False).transact({"from": sender})
    )
    token = w3.eth.contract(address=deployed["contractAddress"], abi=artifact.abi)
    minted = token.functions.mint(sender, 10**9).transact({"from": sender})
    w3.eth.wait_for_transaction_receipt(minted)
    tx = token.functions.transfer(recipient, TRANSFERRED).transact({"from": sender})
    w3.eth.wait_for_transaction_receipt(tx)
    return w3, "0x" + bytes(tx).hex()
