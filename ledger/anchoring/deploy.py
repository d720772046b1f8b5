"""Deploy LogAnchor once per chain and data folder, and authorise the submitter (idempotent).

Shared by scripts/deploy_contract.py and scripts/run.py. The address is recorded per chain id
in the data folder (``anchor_contract.json``); a recorded address without the artifact's code
(a development chain that was reset) is redeployed and the record replaced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, update
from web3 import Web3

from ledger.anchoring.contract import LogAnchorClient, load_artifact
from ledger.anchoring.deployments import read_deployment, write_deployment
from ledger.anchoring.models import AnchorRecord, AnchorState, utcnow
from ledger.errors import LedgerError


class DeployError(LedgerError, RuntimeError):
    """The contract cannot be set up as asked (for example: we do not own it)."""


@dataclass(frozen=True)
class DeployOutcome:
    client: LogAnchorClient
    chain_id: int
    deployed: bool  # a new contract was deployed by this call
    replaced: str | None  # the recorded address that was given up, if any
    authorised: bool  # the submitter was authorised by this call


def _say_nothing(_message: str) -> None:
    pass


def ensure_contract(
    w3: Web3,
    owner: LocalAccount,
    submitter: str,
    data_dir: Path,
    *,
    force_new: bool = False,
    say: Callable[[str], None] = _say_nothing,
) -> DeployOutcome:
    """Find (or deploy) this data folder's LogAnchor on the chain behind ``w3``.

    ``owner`` deploys and owns a new contract; ``submitter`` is authorised to anchor (which
    needs ``owner`` to own the contract if it is not authorised yet). ``force_new`` deploys a
    fresh contract even if the recorded one is there (development chains only).
    """
    chain_id = int(w3.eth.chain_id)
    artifact = load_artifact("LogAnchor")
    record = read_deployment(data_dir, chain_id)
    client = None
    replaced = None
    if record is not None:
        candidate = LogAnchorClient(w3, record["address"])
        if force_new:
            replaced = candidate.address
            say(f"giving up LogAnchor {candidate.address} on chain {chain_id}: deploying anew")
        elif candidate.has_code():
            client = candidate
            say(f"LogAnchor already deployed on chain {chain_id} at {client.address}")
        else:
            replaced = candidate.address
            say(f"recorded address {record['address']} has no LogAnchor code: redeploying")
    deployed = client is None
    if client is None:
        client = LogAnchorClient.deploy(w3, owner)
        write_deployment(
            data_dir,
            chain_id,
            {
                "address": client.address,
                "owner": owner.address,
                "deployedBytecodeSha256": hashlib.sha256(
                    bytes.fromhex(artifact.deployed_bytecode[2:])
                ).hexdigest(),
                "deployedAtBlock": int(w3.eth.block_number),
            },
        )
        say(f"deployed LogAnchor on chain {chain_id} at {client.address}")
    authorised = False
    if not client.is_submitter(submitter):
        if client.owner() != owner.address:
            raise DeployError(f"{submitter} is not a submitter and {owner.address} is not owner")
        client.add_submitter(owner, submitter)
        authorised = True
        say(f"authorised submitter {submitter}")
    return DeployOutcome(client, chain_id, deployed, replaced, authorised)


def retire_records(engine: Engine, chain_id: int, contract: str, reason: str) -> int:
    """Mark the pending and confirmed anchors sent to ``contract`` as dropped (its chain was
    reset or the contract given up); returns how many. They no longer count as coverage, and
    the worker does not wait for their transactions."""
    with engine.begin() as conn:
        result = conn.execute(
            update(AnchorRecord)
            .where(
                AnchorRecord.chain_id == chain_id,
                AnchorRecord.contract_address == Web3.to_checksum_address(contract),
                AnchorRecord.state.in_((AnchorState.PENDING, AnchorState.CONFIRMED)),
            )
            .values(state=AnchorState.DROPPED, last_error=reason, updated_at=utcnow())
        )
        return result.rowcount
