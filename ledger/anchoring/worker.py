"""The anchor worker: puts the log's latest checkpoint on chain, and makes sure it stays there.

Each ``step()`` does one of two things for its log:

* a transaction is pending: look at its receipt. Not mined and its nonce still free: make sure
  the node has it (re-broadcast the *stored* signed bytes). Mined: record block number and
  hash and count confirmations; once the block is ``confirmations`` deep and still canonical,
  mark it confirmed. A receipt that disappears or moves to another block is a reorg: it is
  logged, counted, and the same transaction is broadcast again (or, if its nonce went to
  another transaction, the record is dropped and a fresh anchor follows).
* nothing pending: if the log has grown and an anchor is due (``every_entries`` new entries
  or ``interval_seconds`` since the last one), read the anchored size from the contract,
  build the consistency proof from it, check it locally, sign an EIP-1559 transaction with
  the next nonce, store it, *then* broadcast it.

``run()`` repeats ``step()`` forever; any failure (RPC down, database busy, a refused anchor)
is logged and retried with exponential back-off, so the worker never dies of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from ledger.anchoring import txn
from ledger.anchoring.contract import (
    REVERT_ERRORS,
    LogAnchorClient,
    log_id_for_origin,
    note_hash,
    revert_reason_of,
)
from ledger.anchoring.models import AnchorRecord, AnchorState, as_utc, utcnow
from ledger.anchoring.source import CheckpointSource
from ledger.errors import LedgerError
from ledger.log.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from ledger.log.merkle import ProofError, verify_consistency
from ledger.log.note import Verifier, split_note

log = logging.getLogger(__name__)


class AnchorError(LedgerError, RuntimeError):
    """An anchor that must not be sent (the chain would refuse it, or the inputs disagree)."""


class LogForkError(AnchorError):
    """The chain holds a root that the log does not have at that size: history was rewritten."""


@dataclass(frozen=True)
class WorkerConfig:
    interval_seconds: float = 600.0
    every_entries: int = 1000
    confirmations: int = 6
    poll_seconds: float = 2.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    expected_chain_id: int | None = None
    fees: txn.FeePolicy = field(default_factory=txn.FeePolicy)


# Failures that mean "the node or the network is not answering right now".
TRANSIENT_ERRORS = (requests.exceptions.RequestException, OSError, TimeoutError)


def open_checkpoint_note(
    note: bytes, verifier: Verifier | None = None, origin: str | None = None
) -> Checkpoint:
    """Parse a signed checkpoint note; with ``verifier``, check the log's signature on it."""
    try:
        text = note.decode("utf-8")
        if verifier is not None:
            return open_checkpoint(text, verifier, origin)
        return parse_checkpoint(split_note(text)[0])
    except ValueError as exc:  # NoteError, CheckpointError, UnicodeDecodeError
        raise AnchorError(f"checkpoint note refused: {exc}") from exc


class AnchorWorker:
    def __init__(
        self,
        *,
        w3: Web3,
        client: LogAnchorClient,
        account: LocalAccount,
        source: CheckpointSource,
        engine: Engine,
        config: WorkerConfig | None = None,
        now: Callable[[], datetime] = utcnow,
        log_verifier: Verifier | None = None,
    ) -> None:
        """``log_verifier`` (default: the source's ``verifier`` attribute, if it has one) is
        the log's note key: each checkpoint's signature is checked before it is anchored."""
        self.w3 = w3
        self.client = client
        self.account = account
        self.source = source
        self.log_verifier = log_verifier or getattr(source, "verifier", None)
        self.config = config or WorkerConfig()
        self.now = now
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._chain_id: int | None = None
        self._origin: str | None = None
        # Health figures for monitoring (and tests): failed steps in a row, and in total.
        self.consecutive_failures = 0
        self.total_failures = 0

    # --- identity --------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            chain_id = int(self.w3.eth.chain_id)
            expected = self.config.expected_chain_id
            if expected is not None and chain_id != expected:
                raise AnchorError(f"RPC serves chain {chain_id}, configured for {expected}")
            self._chain_id = chain_id
        return self._chain_id

    def _log_identity(self, note: bytes) -> tuple[str, bytes]:
        if self._origin is None:
            self._origin = open_checkpoint_note(note).origin
        return self._origin, log_id_for_origin(self._origin)

    def _records(self, log_id: bytes) -> Select[tuple[AnchorRecord]]:
        """Records of this log on this chain and contract."""
        return select(AnchorRecord).where(
            AnchorRecord.chain_id == self.chain_id,
            AnchorRecord.contract_address == self.client.address,
            AnchorRecord.log_id == log_id,
        )

    # --- one iteration ---------------------------------------------------------------------

    def step(self) -> str:
        """Advance by one decision; returns what happened (for logs and tests).

        "sent" (new anchor signed, stored, broadcast), "idle" (nothing due), or for a pending
        transaction: "waiting", "rebroadcast", "mined", "reorged", "confirmed", "dropped",
        "superseded", "reverted".
        """
        outcome, record_id = self._decide()
        if record_id is not None:
            self.broadcast(record_id)
        return outcome

    def prepare_next(self) -> int | None:
        """First half of a "sent" step: sign and store the next anchor, do not broadcast.

        Returns the stored record's id. Exposed so a crash between storing and broadcasting
        can be reproduced exactly; ``step()`` on any later worker then broadcasts it.
        """
        return self._decide()[1]

    def _decide(self) -> tuple[str, int | None]:
        size, root, note = self.source.latest_checkpoint()
        origin, log_id = self._log_identity(note)
        with self._sessions() as session:
            pending = session.scalars(
                self._records(log_id)
                .where(AnchorRecord.state == AnchorState.PENDING)
                .order_by(AnchorRecord.id)
            ).first()
            if pending is not None:
                outcome = self._follow(session, pending)
                session.commit()
                return outcome, None
            record = self._prepare(session, origin, log_id, size, root, note)
            session.commit()
            return ("idle", None) if record is None else ("sent", record.id)

    # --- following a pending transaction -------------------------------------------------------

    def _receipt(self, tx_hash: bytes):
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    def _follow(self, session: Session, rec: AnchorRecord) -> str:
        receipt = self._receipt(rec.tx_hash)
        if receipt is None:
            return self._not_mined(session, rec)
        block_hash = bytes(receipt["blockHash"])
        block_number = int(receipt["blockNumber"])
        outcome = "mined"
        if rec.block_hash is not None and rec.block_hash != block_hash:
            rec.reorgs += 1
            outcome = "reorged"
            log.warning(
                "reorg moved anchor tx 0x%s from block %s to %s",
                rec.tx_hash.hex(),
                rec.block_number,
                block_number,
            )
        if rec.block_hash != block_hash:
            rec.mined_at = self.now()
        rec.block_number, rec.block_hash = block_number, block_hash
        rec.gas_used = int(receipt["gasUsed"])
        canonical = bytes(self.w3.eth.get_block(block_number)["hash"]) == block_hash
        if not canonical:
            # A node may still serve the receipt of a block that lost its place.
            rec.confirmations = 0
            return "waiting"
        rec.confirmations = max(0, int(self.w3.eth.block_number) - block_number + 1)
        if rec.confirmations < self.config.confirmations:
            return outcome
        if int(receipt["status"]) != 1:
            return self._reverted(rec)
        rec.state = AnchorState.CONFIRMED
        rec.finalized_at = self.now()
        log.info(
            "anchored size %d of %s in block %d (0x%s), %d confirmations",
            rec.tree_size,
            rec.log_origin,
            block_number,
            block_hash.hex(),
            rec.confirmations,
        )
        return "confirmed"

    def _reverted(self, rec: AnchorRecord) -> str:
        head = self.client.latest(rec.log_id)
        if head.size >= rec.tree_size:
            rec.state = AnchorState.SUPERSEDED
            rec.last_error = f"reverted: the chain already holds size {head.size}"
            log.info("anchor of size %d superseded by size %d", rec.tree_size, head.size)
            return "superseded"
        rec.state = AnchorState.REVERTED
        rec.last_error = f"reverted on chain; the contract holds size {head.size}"
        log.error("anchor tx 0x%s reverted: %s", rec.tx_hash.hex(), rec.last_error)
        return "reverted"

    def _not_mined(self, session: Session, rec: AnchorRecord) -> str:
        outcome = "waiting"
        if rec.block_hash is not None:
            log.warning(
                "reorg dropped anchor tx 0x%s (was in block %s); anchoring again",
                rec.tx_hash.hex(),
                rec.block_number,
            )
            rec.reorgs += 1
            rec.block_number = rec.block_hash = rec.mined_at = None
            rec.confirmations = 0
            outcome = "reorged"
        if self.w3.eth.get_transaction_count(rec.sender, "latest") > rec.nonce:
            # Our nonce is used up. Either our transaction was mined between the two calls, or
            # another transaction took the nonce and ours can never be mined.
            if self._receipt(rec.tx_hash) is not None:
                return outcome
            rec.state = AnchorState.DROPPED
            rec.last_error = f"nonce {rec.nonce} was used by another transaction"
            log.warning("anchor tx 0x%s dropped: %s", rec.tx_hash.hex(), rec.last_error)
            return "dropped"
        try:
            self.w3.eth.get_transaction(rec.tx_hash)
            known = True
        except TransactionNotFound:
            known = False
        if not known:
            # Lost from the pool (node restart, eviction, reorg): send the very same bytes.
            self._send(rec)
            outcome = "rebroadcast" if outcome == "waiting" else outcome
        return outcome

    # --- starting a new anchor -----------------------------------------------------------------

    def _due(self, session: Session, log_id: bytes, new_entries: int) -> bool:
        if new_entries >= self.config.every_entries:
            return True
        last = session.scalars(self._records(log_id).order_by(AnchorRecord.id.desc())).first()
        if last is None:
            return True
        elapsed = self.now() - as_utc(last.created_at)
        return elapsed >= timedelta(seconds=self.config.interval_seconds)

    def _lost_confirmed(self, session: Session, log_id: bytes, chain_size: int) -> bool:
        """Mark confirmed anchors the chain no longer holds (a reorg deeper than the wait)."""
        lost = session.scalars(
            self._records(log_id).where(
                AnchorRecord.state == AnchorState.CONFIRMED,
                AnchorRecord.tree_size > chain_size,
            )
        ).all()
        for rec in lost:
            rec.state = AnchorState.DROPPED
            rec.last_error = "confirmed anchor no longer on chain (deep reorg)"
            log.error("anchor of size %d vanished from the chain; re-anchoring", rec.tree_size)
        return bool(lost)

    def _prepare(
        self,
        session: Session,
        origin: str,
        log_id: bytes,
        size: int,
        root: bytes,
        note: bytes,
    ) -> AnchorRecord | None:
        """Decide, build, sign and store a new anchor transaction (not yet broadcast)."""
        cp = open_checkpoint_note(note, self.log_verifier, origin)
        if (cp.size, cp.root) != (size, root):
            raise AnchorError("checkpoint note does not match the checkpoint size and root")
        if size == 0:
            return None  # an empty log commits to nothing: nothing to anchor
        head = self.client.latest(log_id)
        lost = self._lost_confirmed(session, log_id, head.size)
        if size <= head.size:
            if size == head.size and root != head.root:
                raise LogForkError(f"chain holds another root for size {size}")
            if size < head.size:
                log.warning("chain holds size %d, ahead of the log's %d", head.size, size)
            return None
        if not lost and not self._due(session, log_id, size - head.size):
            return None
        proof: list[bytes] = []
        if head.size > 0:
            if self.source.root_at(head.size) != head.root:
                raise LogForkError(
                    f"the log's root at size {head.size} differs from the anchored one"
                )
            proof = self.source.consistency_proof(head.size, size)
            try:
                verify_consistency(head.size, size, head.root, root, proof)
            except ProofError as exc:
                raise AnchorError(f"source gave a bad consistency proof: {exc}") from exc
        calldata = self.client.anchor_calldata(log_id, size, root, note_hash(note), proof)
        nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        try:
            tx = txn.prepare(
                self.w3,
                self.account,
                {"to": self.client.address, "data": calldata},
                nonce=nonce,
                chain_id=self.chain_id,
                policy=self.config.fees,
            )
        except REVERT_ERRORS as exc:
            raise AnchorError(
                f"the contract would refuse the anchor: {revert_reason_of(exc)}"
            ) from exc
        signed = txn.sign(self.account, tx)
        again = session.scalars(
            select(AnchorRecord).where(AnchorRecord.tx_hash == bytes(signed.hash))
        ).first()
        if again is not None:
            return self._revive(session, again)
        record = AnchorRecord(
            log_origin=origin,
            log_id=log_id,
            tree_size=size,
            root_hash=root,
            from_size=head.size,
            note_hash=note_hash(note),
            chain_id=self.chain_id,
            contract_address=self.client.address,
            sender=self.account.address,
            nonce=nonce,
            tx_hash=bytes(signed.hash),
            raw_tx=bytes(signed.raw_transaction),
            gas_limit=tx["gas"],
            max_fee_per_gas=tx["maxFeePerGas"],
            max_priority_fee_per_gas=tx["maxPriorityFeePerGas"],
            state=AnchorState.PENDING,
            created_at=self.now(),
        )
        session.add(record)
        # Stored before it is broadcast: a crash from here on resends these exact bytes.
        session.commit()
        log.info(
            "signed anchor of size %d (from %d, %d proof nodes), nonce %d, tx 0x%s",
            size,
            head.size,
            len(proof),
            nonce,
            record.tx_hash.hex(),
        )
        return record

    def _revive(self, session: Session, rec: AnchorRecord) -> AnchorRecord:
        """Signing gave a transaction already on record, given up earlier (its block was lost
        in a reorg deeper than the confirmation wait, or a dev chain was reset): same nonce,
        same anchor, byte for byte. Follow that record again rather than store a duplicate."""
        log.warning(
            "anchor tx 0x%s (size %d) is needed again after being %s; following it again",
            rec.tx_hash.hex(),
            rec.tree_size,
            rec.state,
        )
        rec.last_error = f"{rec.state} earlier ({rec.last_error}); sent again"
        rec.state = AnchorState.PENDING
        rec.block_number = rec.block_hash = rec.mined_at = rec.finalized_at = None
        rec.confirmations = 0
        session.commit()
        return rec

    # --- broadcasting --------------------------------------------------------------------------

    def broadcast(self, record_id: int) -> None:
        """Send a stored transaction; failures leave it pending for the next step to retry."""
        with self._sessions() as session:
            rec = session.get(AnchorRecord, record_id)
            if rec is None or rec.state != AnchorState.PENDING:
                return
            self._send(rec)
            session.commit()

    def _send(self, rec: AnchorRecord) -> None:
        rec.broadcasts += 1
        rec.last_broadcast_at = self.now()
        try:
            sent = self.w3.eth.send_raw_transaction(HexBytes(rec.raw_tx))
        except Web3RPCError as exc:
            # "already known", "nonce too low", ...: the next step sorts it out from the
            # receipt and the account nonce.
            rec.last_error = f"broadcast: {exc}"
            log.warning("broadcast of tx 0x%s answered: %s", rec.tx_hash.hex(), exc)
            return
        if bytes(sent) != rec.tx_hash:
            raise AnchorError("node returned another hash for our signed transaction")

    # --- running ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Step until ``stop`` is set; never raises on a failed step."""
        stop = stop or threading.Event()
        delay = self.config.backoff_initial
        while not stop.is_set():
            try:
                outcome = self.step()
            except TRANSIENT_ERRORS as exc:
                log.warning("chain or database unavailable (%s); retrying in %.1fs", exc, delay)
            except AnchorError as exc:
                log.error("anchor refused: %s; retrying in %.1fs", exc, delay)
            except Exception:
                log.exception("anchor step failed; retrying in %.1fs", delay)
            else:
                self.consecutive_failures = 0
                if outcome not in ("idle", "waiting"):
                    log.debug("anchor step: %s", outcome)
                delay = self.config.backoff_initial
                stop.wait(self.config.poll_seconds)
                continue
            self.consecutive_failures += 1
            self.total_failures += 1
            stop.wait(delay)
            delay = min(delay * 2, self.config.backoff_max)
