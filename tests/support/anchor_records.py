"""Anchor records written as the anchor worker would, for pages that show a complaint's anchor
without running a chain."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from ledger.anchoring.models import AnchorRecord, AnchorState, log_id_for_origin
from ledger.anchoring.status import ensure_anchor_table


def anchor_latest_checkpoint(ledger, state: str = "confirmed") -> dict:
    """Record an anchor of the latest checkpoint on the dev chain 31337, as the anchor worker
    would: 3 confirmations when confirmed, else 1."""
    ensure_anchor_table(ledger.engine)
    cp = ledger.store.latest_checkpoint()
    tx = hashlib.sha256(b"anchor tx").digest()
    now = datetime.now(UTC)
    with Session(ledger.engine) as s:
        s.add(
            AnchorRecord(
                log_origin=ledger.store.origin,
                log_id=log_id_for_origin(ledger.store.origin),
                tree_size=cp.size,
                root_hash=cp.root,
                from_size=0,
                note_hash=hashlib.sha256(cp.note.encode()).digest(),
                chain_id=31337,
                contract_address="0x5FbDB2315678afecb367f032d93F642f64180aa3",
                sender="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                nonce=0,
                tx_hash=tx,
                raw_tx=b"raw",
                gas_limit=100_000,
                max_fee_per_gas=1,
                max_priority_fee_per_gas=1,
                state=AnchorState(state),
                block_number=7,
                block_hash=b"\x07" * 32,
                confirmations=3 if state == "confirmed" else 1,
                mined_at=now,
                finalized_at=now if state == "confirmed" else None,
            )
        )
        s.commit()
    return {"tx_hash": "0x" + tx.hex(), "size": cp.size}
