"""What the anchor records say about the log: coverage of a checkpoint, lists, the latest anchor.

Pure reads of the ``anchor_records`` table (written by the worker) and of the log store for
proofs; no RPC. The worker keeps the records current: a record is ``pending`` until its
transaction is mined ``LEDGER_ANCHOR_CONFIRMATIONS`` deep, then ``confirmed``; its
``confirmations`` is the count the worker last saw (for a confirmed anchor: when it became
final). Hashes and addresses are 0x-hex (as on chain); tree roots and proofs are plain lowercase
hex (as in the rest of the log API, see ``ledger.log.encoding``).

A scope (chain id and contract) restricts everything to one deployment, so records of a reset
development chain or a retired contract do not count; without one, every record counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Select, case, func, select
from sqlalchemy.orm import Session

from ledger.anchoring.deployments import read_deployment
from ledger.anchoring.models import AnchorRecord, AnchorState, as_utc, log_id_for_origin
from ledger.db import Base
from ledger.log.encoding import hashes_hex
from ledger.logstore.store import LogStore, NotFound

if TYPE_CHECKING:
    from ledger.config import Settings

# States in which an anchor counts: on chain or on its way there.
LIVE_STATES = (AnchorState.PENDING, AnchorState.CONFIRMED)
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class AnchorScope:
    """Which deployment counts; None fields do not filter."""

    chain_id: int | None = None
    contract: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AnchorScope:
        """``LEDGER_CHAIN_ID`` and ``LEDGER_ANCHOR_CONTRACT``; without the contract, the one
        recorded for the chain id in the data folder (by scripts/deploy_contract.py or run.py).
        Raises ValueError for a malformed value."""
        env, data_dir = settings.anchor_env, settings.data_dir
        raw_chain = env.get("LEDGER_CHAIN_ID", "").strip()
        try:
            chain_id = int(raw_chain) if raw_chain else None
        except ValueError as exc:
            raise ValueError(f"LEDGER_CHAIN_ID={raw_chain!r} is not a valid int") from exc
        contract = env.get("LEDGER_ANCHOR_CONTRACT", "").strip() or None
        if contract is None and chain_id is not None:
            record = read_deployment(data_dir, chain_id)
            contract = record["address"] if record else None
        if contract is not None:
            from eth_utils import to_checksum_address  # only here: keeps the API free of web3

            try:
                contract = to_checksum_address(contract)
            except ValueError as exc:
                raise ValueError(f"LEDGER_ANCHOR_CONTRACT={contract!r} is not an address") from exc
        return cls(chain_id, contract)


def ensure_anchor_table(engine: Engine) -> None:
    """Create ``anchor_records`` if missing (embedded default; production runs migrations)."""
    Base.metadata.create_all(engine, tables=[AnchorRecord.__table__])


def _records(origin: str, scope: AnchorScope | None) -> Select[tuple[AnchorRecord]]:
    query = select(AnchorRecord).where(AnchorRecord.log_id == log_id_for_origin(origin))
    if scope is not None and scope.chain_id is not None:
        query = query.where(AnchorRecord.chain_id == scope.chain_id)
    if scope is not None and scope.contract is not None:
        query = query.where(AnchorRecord.contract_address == scope.contract)
    return query


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def _time(value) -> str | None:
    return None if value is None else as_utc(value).isoformat()


def anchor_to_dict(rec: AnchorRecord) -> dict[str, Any]:
    """The public face of one anchor record (no raw transaction, no error text)."""
    return {
        "id": rec.id,
        "log_origin": rec.log_origin,
        "log_id": _hex(rec.log_id),
        "tree_size": rec.tree_size,
        "root": rec.root_hash.hex(),
        "from_size": rec.from_size,
        "note_hash": _hex(rec.note_hash),
        "state": str(rec.state),
        "confirmations": rec.confirmations,
        "chain_id": rec.chain_id,
        "contract": rec.contract_address,
        "sender": rec.sender,
        "nonce": rec.nonce,
        "tx_hash": _hex(rec.tx_hash),
        "block_number": rec.block_number,
        "block_hash": _hex(rec.block_hash),
        "gas_used": rec.gas_used,
        "broadcasts": rec.broadcasts,
        "reorgs": rec.reorgs,
        "created_at": _time(rec.created_at),
        "mined_at": _time(rec.mined_at),
        "confirmed_at": _time(rec.finalized_at),
    }


def anchor_coverage(
    engine: Engine, store: LogStore, size: int, scope: AnchorScope | None = None
) -> dict[str, Any] | None:
    """The anchor covering the checkpoint of ``size`` entries, or None if none does yet.

    Covering: a pending or confirmed anchor of this log at ``size`` or later, confirmed ones
    first, then the smallest such size. With it comes the RFC 9162 consistency proof from
    ``size`` to the anchored size (empty when equal), so whoever holds the checkpoint of
    ``size`` can check it is a prefix of the tree whose root is on chain. An empty tree
    (``size`` 0) commits to nothing and is never covered.
    """
    if size <= 0:
        return None
    query = (
        _records(store.origin, scope)
        .where(AnchorRecord.state.in_(LIVE_STATES), AnchorRecord.tree_size >= size)
        .order_by(
            case((AnchorRecord.state == AnchorState.CONFIRMED, 0), else_=1),
            AnchorRecord.tree_size,
            AnchorRecord.id,
        )
        .limit(1)
    )
    with Session(engine) as session:
        rec = session.scalars(query).first()
    if rec is None:
        return None
    proof = [] if rec.tree_size == size else store.consistency_proof(size, rec.tree_size)
    try:
        anchored_note: str | None = store.checkpoint(rec.tree_size).note
    except NotFound:
        anchored_note = None
    return {
        "checkpoint_size": size,
        "state": str(rec.state),
        "confirmations": rec.confirmations,
        "chain_id": rec.chain_id,
        "contract": rec.contract_address,
        "tx_hash": _hex(rec.tx_hash),
        "block_number": rec.block_number,
        "block_hash": _hex(rec.block_hash),
        "anchored_size": rec.tree_size,
        "anchored_root": rec.root_hash.hex(),
        "anchored_checkpoint": anchored_note,
        "note_hash": _hex(rec.note_hash),
        "consistency_proof": hashes_hex(proof),
        "anchor_id": rec.id,
        "confirmed_at": _time(rec.finalized_at),
    }


def list_anchors(
    engine: Engine,
    origin: str,
    page: int = 1,
    page_size: int = 20,
    state: AnchorState | str | None = None,
    scope: AnchorScope | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of this log's anchor records, newest first, and the total count."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page must be >= 1 and page_size in 1..{MAX_PAGE_SIZE}")
    query = _records(origin, scope)
    if state is not None:
        query = query.where(AnchorRecord.state == AnchorState(state))
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(AnchorRecord.id.desc()).offset((page - 1) * page_size).limit(page_size)
        ).all()
        return [anchor_to_dict(r) for r in rows], total


def latest_anchor(
    engine: Engine,
    origin: str,
    state: AnchorState | str | None = None,
    scope: AnchorScope | None = None,
) -> dict[str, Any] | None:
    """The anchor of the largest tree size that is pending or confirmed (or in ``state``)."""
    states = (AnchorState(state),) if state is not None else LIVE_STATES
    query = (
        _records(origin, scope)
        .where(AnchorRecord.state.in_(states))
        .order_by(AnchorRecord.tree_size.desc(), AnchorRecord.id.desc())
        .limit(1)
    )
    with Session(engine) as session:
        rec = session.scalars(query).first()
        return None if rec is None else anchor_to_dict(rec)
