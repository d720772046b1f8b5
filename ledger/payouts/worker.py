"""The payout worker: pays each accepted vault offer once its acceptance is anchored, waits for
the payout to be final, and records it on the log as ``compensation_paid``.

For every complaint whose state holds an ``accepted_payout`` (a vault offer accepted with the
customer's address), ``step()``:

1. finds the offer and the acceptance (log indexes and leaves) and checks, before anything is
   signed, that the log would accept the payment step (the domain's rules with the worker's
   registered key: an identity still to verify, a key not registered, ... refuse it here);
2. waits until LogAnchor holds a tree containing the acceptance;
3. if the vault already paid the offer (a payout sent, then the worker died before it was
   recorded), takes its ``Paid`` event and goes on at 5, never sending again;
4. builds the claim against the anchored (size, root) with inclusion proofs from the log
   store, checks it as the contract will, simulates it (a refusal raises ``PayoutRefused``
   with the vault's named error and nothing is sent), signs it with the next nonce, **stores
   the signed bytes** (``payout_records``), then broadcasts them. A checkpoint anchored in
   between makes the claim's size stale (``NotAnchoredSize``): the claim is rebuilt;
5. follows the transaction: not mined and its nonce free, the stored bytes are sent again;
   its nonce taken by another transaction, the vault says whether the offer was paid (then
   its event is adopted) or the claim is sent anew; reverted, it is rebuilt (the vault pays
   an offer at most once anyway); mined, it waits for ``confirmations`` blocks on the
   canonical chain;
6. records ``compensation_paid`` as the system actor, signed with the worker's own registered
   key, naming the accepted payout commitment and carrying the transaction, the chain, the
   vault, the token, the recipient, the base units and the ``Paid`` event's log index.

Nothing is recorded for a payout that did not happen: a refusal (paused, over a cap, the log
would refuse the step, the RPC down) marks the row ``failed`` with the reason, logs a warning
and is retried with exponential back-off. ``run()`` never dies of a failed step.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from ledger.anchoring import txn
from ledger.anchoring.contract import (
    REVERT_ERRORS,
    AnchoredHead,
    LogAnchorClient,
    RevertReason,
    log_id_for_origin,
    revert_data_of,
)
from ledger.casework.appends import ChainConflict
from ledger.casework.reads import ComplaintReads, StoredEvent
from ledger.casework.records import ComplaintRecord
from ledger.casework.writes import ComplaintWrites
from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Actor
from ledger.complaints.officers import officer_key_id, signature_field
from ledger.complaints.payouts import ZERO_ADDRESS, accepted_offer, payout_commitment
from ledger.complaints.states import ComplaintState
from ledger.complaints.vocab import EventType, PaymentMethod, Role, Status
from ledger.complaints.workflow import append_event, signing_body
from ledger.errors import LedgerError
from ledger.log.merkle import leaf_hash
from ledger.payouts.claims import Claim, ClaimError, build_claim, verify_claim
from ledger.payouts.models import PayoutRecord, PayoutState, as_utc, utcnow
from ledger.payouts.vault import CompensationVaultClient, PaidEvent, PayoutRefused, vault_revert

log = logging.getLogger(__name__)

E = EventType
# A placeholder for the payment check made before anything is sent (step 1): the real step
# has the transaction's hash and event index, which do not change what the rules allow.
_PLACEHOLDER_TX = "0x" + "00" * 32
WORKER_NAME = "Payout worker"


class PayoutBlocked(LedgerError, RuntimeError):
    """This payout cannot go ahead now (or cannot be recorded); ``code`` says why."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PayoutConfig:
    confirmations: int = 6
    poll_seconds: float = 5.0
    # The run loop's back-off when the chain or the database does not answer.
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    # An offer's back-off after a refusal (paused, cap reached, ...), doubling per attempt.
    retry_initial: float = 5.0
    retry_max: float = 300.0
    expected_chain_id: int | None = None
    fees: txn.FeePolicy = field(default_factory=txn.FeePolicy)
    # Where the vault's Paid events are looked up (its deployment block when known).
    scan_from_block: int = 0
    # Claims rebuilt within one attempt when a checkpoint is anchored meanwhile.
    rebuilds: int = 3


# Failures that mean "the node or the network is not answering right now".
TRANSIENT_ERRORS = (requests.exceptions.RequestException, OSError, TimeoutError)


@dataclass(frozen=True)
class Accepted:
    """An accepted vault offer, as the log holds it."""

    reference: str
    state: ComplaintState
    offer: StoredEvent
    accept: StoredEvent
    terms: dict[str, Any]  # the offer's body
    recipient: str

    @property
    def offer_hash(self) -> str:
        return self.offer.envelope.leaf_hash_hex

    @property
    def accept_hash(self) -> str:
        return self.accept.envelope.leaf_hash_hex

    @property
    def token(self) -> str:
        return str(self.terms.get("token") or ZERO_ADDRESS)

    @property
    def amount(self) -> int:
        return int(self.terms["amount_base_units"])


def _hex_tx(tx_hash: bytes) -> str:
    return "0x" + bytes(tx_hash).hex()


def _same_address(a: str, b: str) -> bool:
    return a.lower() == b.lower()


class PayoutWorker:
    def __init__(
        self,
        *,
        w3: Web3,
        vault: CompensationVaultClient,
        account: LocalAccount,
        signing_key: Ed25519PrivateKey,
        reads: ComplaintReads,
        writes: ComplaintWrites,
        engine: Engine,
        config: PayoutConfig | None = None,
        now: Callable[[], datetime] = utcnow,
        register_as: str | None = None,
    ) -> None:
        """``register_as``: on a development chain, the admin id under which the worker
        registers its signing key (role system) the first time it needs it; None (production):
        an admin registers it beforehand, and payouts wait until then."""
        self.w3 = w3
        self.vault = vault
        self.account = account
        self.signing_key = signing_key
        self.reads = reads
        self.writes = writes
        self.store = reads.store
        self.config = config or PayoutConfig()
        self.now = now
        self.register_as = register_as
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._engine = engine
        raw = signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = raw
        self.key_id = officer_key_id(raw)
        self.actor = Actor(Role.SYSTEM, self.key_id)
        self.log_id = log_id_for_origin(self.store.origin)
        self._anchor: LogAnchorClient | None = None
        self._chain_id: int | None = None
        self._warned: dict[str, str] = {}  # reference -> the last reason logged for it
        # Health figures for monitoring and tests.
        self.consecutive_failures = 0
        self.total_failures = 0
        self.refusals = 0
        self.sent = 0
        self.recorded = 0

    # --- identity ---------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            chain_id = int(self.w3.eth.chain_id)
            expected = self.config.expected_chain_id
            if expected is not None and chain_id != expected:
                raise PayoutBlocked(
                    f"RPC serves chain {chain_id}, configured for {expected}", "WRONG_CHAIN"
                )
            self._chain_id = chain_id
        return self._chain_id

    @property
    def anchor(self) -> LogAnchorClient:
        """The LogAnchor the vault reads (its immutable), after checking it pays this log."""
        if self._anchor is None:
            if self.vault.log_id() != self.log_id:
                raise PayoutBlocked(
                    f"vault {self.vault.address} pays another log than {self.store.origin}",
                    "WRONG_LOG",
                )
            self._anchor = LogAnchorClient(self.w3, self.vault.anchor())
        return self._anchor

    def check_key(self) -> bool:
        """Whether the signing key is registered with the role system (now)."""
        key = self.writes.officer_keys.registry().get(self.key_id)
        return key is not None and Role.SYSTEM in key.roles and key.revoked_at is None

    # --- the records ---------------------------------------------------------------------------

    def _load(self, offer_hash: str) -> PayoutRecord | None:
        """The payout's row, detached: no transaction stays open during chain calls."""
        with self._sessions() as session:
            return session.get(PayoutRecord, offer_hash)

    def _save(self, rec: PayoutRecord) -> None:
        """Write the row in a short transaction (on SQLite ``BEGIN IMMEDIATE``: it takes the
        write lock first, so it never fails to upgrade a read under another writer)."""
        with self._engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.info["sqlite_begin"] = "IMMEDIATE"
            with Session(bind=conn, expire_on_commit=False) as session:
                session.merge(rec)
                session.commit()

    # --- one iteration ----------------------------------------------------------------------------

    def step(self) -> dict[str, str]:
        """Advance every payout by one decision; returns what happened per complaint.

        Outcomes: "sent", "rebroadcast", "waiting" (not mined yet), "mined" (confirmations
        pending), "recorded", "waiting_anchor", "backoff", "failed", "not_vault",
        "unrecordable", "conflict".
        """
        outcomes: dict[str, str] = {}
        for offer_hash, reference in self._unfinished():
            outcomes[reference] = self._guarded(reference, offer_hash, self._advance, offer_hash)
        for reference in self._accepted_references():
            if reference not in outcomes:
                outcomes[reference] = self._guarded(reference, None, self._consider, reference)
        return outcomes

    def prepare(self, reference: str) -> str:
        """Steps 1-4 for one complaint without broadcasting: the signed payout is stored but
        not sent. Exposed so a crash between storing and sending can be reproduced exactly;
        ``step()`` on any later worker then sends it."""
        return self._guarded(reference, None, self._consider, reference, False)

    def _unfinished(self) -> list[tuple[str, str]]:
        with self._sessions() as session:
            rows = session.execute(
                select(PayoutRecord.offer_hash, PayoutRecord.reference)
                .where(
                    PayoutRecord.state.in_((PayoutState.SENT, PayoutState.CONFIRMED)),
                    PayoutRecord.chain_id == self.chain_id,
                    PayoutRecord.vault == self.vault.address,
                )
                .order_by(PayoutRecord.created_at)
            ).all()
        return [(r[0], r[1]) for r in rows]

    def _accepted_references(self) -> list[str]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(ComplaintRecord.reference)
                .where(ComplaintRecord.status == str(Status.COMPENSATION_ACCEPTED))
                .order_by(ComplaintRecord.updated_at)
            ).all()
        return [r[0] for r in rows]

    def _guarded(
        self, reference: str, offer_hash: str | None, fn: Callable[..., str], *args: Any
    ) -> str:
        """Run one payout's decision; a refusal is recorded on its row, never raised."""
        try:
            return fn(*args)
        except ChainConflict:
            return "conflict"  # another writer moved the complaint on: next step
        except (PayoutRefused, PayoutBlocked, ClaimError) as exc:
            return self._refused(reference, offer_hash, exc)

    def _refused(self, reference: str, offer_hash: str | None, exc: Exception) -> str:
        name = _error_name(exc)
        self.refusals += 1
        message = str(exc)
        if self._warned.get(reference) != message:
            log.warning("payout of %s not made: %s", reference, message)
            self._warned[reference] = message
        if offer_hash is None:
            offer_hash = self._offer_hash_of(reference)
        if offer_hash is None:
            return "failed"
        rec = self._load(offer_hash)
        if rec is None:
            acc = self._accepted(reference)
            if acc is None:
                return "failed"
            rec = self._new_record(acc)
        rec.error_name = name
        rec.last_error = message[:2000]
        if rec.state in (PayoutState.SENT, PayoutState.CONFIRMED):
            # A payout that may have happened: kept as it is, followed again next step.
            self._save(rec)
            return "unrecordable" if rec.state == PayoutState.CONFIRMED else "failed"
        rec.state = PayoutState.FAILED
        rec.attempts += 1
        delay = min(
            self.config.retry_initial * 2 ** max(0, rec.attempts - 1), self.config.retry_max
        )
        rec.next_attempt_at = self.now() + timedelta(seconds=delay)
        self._save(rec)
        return "failed"

    def _offer_hash_of(self, reference: str) -> str | None:
        try:
            acc = self._accepted(reference)
        except (PayoutBlocked, ComplaintError, LookupError):
            return None
        return acc.offer_hash if acc is not None else None

    # --- the complaint's side ---------------------------------------------------------------------

    def _accepted(self, reference: str) -> Accepted | None:
        """The complaint's accepted vault offer; None when it has none (paid by an officer)."""
        state = self.reads.state(reference)
        if state.accepted_payout is None:
            return None
        events = self.reads.events(reference)
        o, a = accepted_offer([e.envelope.type for e in events], len(events))
        if a is None or o is None:
            raise PayoutBlocked(f"{reference}: no accepted offer on the log", "NO_OFFER")
        offer, accept = events[o], events[a]
        if offer.body_jcs is None or accept.body_jcs is None:
            raise PayoutBlocked(
                f"{reference}: the offer's or the acceptance's text was erased", "ERASED"
            )
        terms = json.loads(offer.body_jcs)
        recipient = json.loads(accept.body_jcs).get("recipient")
        if "vault" not in terms or not isinstance(recipient, str):
            raise PayoutBlocked(f"{reference}: not a vault offer with an address", "NOT_VAULT")
        return Accepted(reference, state, offer, accept, terms, recipient)

    def _check_ours(self, acc: Accepted) -> None:
        terms = acc.terms
        if terms.get("chain_id") != self.chain_id or not _same_address(
            str(terms.get("vault")), self.vault.address
        ):
            raise PayoutBlocked(
                f"{acc.reference}: the offer is for vault {terms.get('vault')} on chain "
                f"{terms.get('chain_id')}, this worker pays from {self.vault.address} on "
                f"chain {self.chain_id}",
                "OTHER_VAULT",
            )
        expected = payout_commitment(
            self.chain_id,
            self.vault.address,
            acc.token,
            acc.amount,
            acc.recipient,
            acc.offer.envelope.leaf_hash,
        )
        if acc.accept.envelope.public.get("payout") != expected:
            raise PayoutBlocked(
                f"{acc.reference}: the acceptance does not commit to this payout", "COMMITMENT"
            )

    def _paid_content(self, acc: Accepted, tx_hash: str, event_index: int) -> dict[str, Any]:
        """The payment's body content: what was paid, where, to whom, in which transaction."""
        terms = acc.terms
        content: dict[str, Any] = {
            "amount": terms["amount"],
            "asset": terms["asset"],
            "method": str(PaymentMethod.ON_CHAIN),
            "tx_hash": tx_hash,
            "chain_id": terms["chain_id"],
            "vault": terms["vault"],
            "recipient": acc.recipient,
            "amount_base_units": terms["amount_base_units"],
            "decimals": terms["decimals"],
            "paid_event_log_index": event_index,
        }
        if "kind" in terms:
            content["kind"] = terms["kind"]
        if terms.get("token") is not None:
            content["token"] = terms["token"]
        return content

    def _paid_public(self, acc: Accepted) -> dict[str, Any]:
        terms = acc.terms
        public: dict[str, Any] = {
            "amount": terms["amount"],
            "asset": terms["asset"],
            "method": str(PaymentMethod.ON_CHAIN),
            "payout": acc.state.accepted_payout,
        }
        if terms.get("kind", "money") != "money":
            public["kind"] = terms["kind"]
        return public

    def _signed_step(
        self, acc: Accepted, state: ComplaintState, tx_hash: str, event_index: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        content = self._paid_content(acc, tx_hash, event_index)
        # The customer's letter, signed with the payment: the transaction and its link on the
        # chain's block explorer. A letter that cannot be rendered blocks the payout in
        # _check_recordable, before anything is sent.
        content = self.writes.with_letter(
            acc.reference, E.COMPENSATION_PAID, self._paid_public(acc), content
        )
        body = signing_body(state, E.COMPENSATION_PAID, content)
        public = {**self._paid_public(acc), "signature": signature_field(self.signing_key, body)}
        return public, body

    def _ensure_registered(self) -> None:
        if self.check_key() or self.register_as is None:
            return
        self.writes.officer_keys.register(
            admin_id=self.register_as,
            public_key=self.public_key,
            roles=[str(Role.SYSTEM)],
            valid_from=self.writes.clock(),
            valid_until=None,
            name=WORKER_NAME,
        )
        log.info("registered the payout signing key %s (role system)", self.key_id)

    def _check_recordable(self, acc: Accepted) -> None:
        """Would the log accept the payment step now? Checked before anything is sent."""
        self._ensure_registered()
        public, body = self._signed_step(acc, acc.state, _PLACEHOLDER_TX, 0)
        try:
            append_event(
                acc.state,
                type=E.COMPENSATION_PAID,
                at=self.writes.clock(),
                actor=self.actor,
                public=public,
                body=body,
                registry=self.writes.officer_keys.registry(),
            )
        except ComplaintError as exc:
            hint = ""
            if getattr(exc, "code", None) == "KEY_UNKNOWN":
                hint = (
                    f"; register the payout signing key ({self.key_id}) with the role system "
                    "(scripts/officer.py register KEY_FILE --roles system)"
                )
            raise PayoutBlocked(
                f"{acc.reference}: the log would refuse the payment: {exc}{hint}",
                str(getattr(exc, "code", "REFUSED")),
            ) from exc

    # --- deciding on a complaint ------------------------------------------------------------------

    def _consider(self, reference: str, broadcast: bool = True) -> str:
        acc = self._accepted(reference)
        if acc is None:
            return "not_vault"
        rec = self._load(acc.offer_hash)
        if rec is not None and rec.state in (PayoutState.SENT, PayoutState.CONFIRMED):
            return self._advance(acc.offer_hash)
        if rec is not None and rec.state == PayoutState.RECORDED:
            return self._record(acc.offer_hash)
        if (
            rec is not None
            and rec.next_attempt_at is not None
            and as_utc(rec.next_attempt_at) > self.now()
        ):
            return "backoff"
        self._check_ours(acc)
        self._check_recordable(acc)
        head = self.anchor.latest(self.log_id)
        if head.size <= acc.accept.log_index:
            return "waiting_anchor"
        if self.vault.paid(bytes.fromhex(acc.offer_hash)):
            return self._adopt(acc)
        return self._pay(acc, broadcast)

    def _new_record(self, acc: Accepted) -> PayoutRecord:
        return PayoutRecord(
            offer_hash=acc.offer_hash,
            reference=acc.reference,
            accept_hash=acc.accept_hash,
            chain_id=self.chain_id,
            vault=self.vault.address,
            token=Web3.to_checksum_address(acc.token),
            recipient=Web3.to_checksum_address(acc.recipient),
            amount=str(acc.amount),
            state=PayoutState.FAILED,
            attempts=0,
            broadcasts=0,
            confirmations=0,
            created_at=self.now(),
        )

    def _claim(self, acc: Accepted, head: AnchoredHead) -> Claim:
        """The claim against what LogAnchor holds, checked as the contract will check it."""
        if head.size > self.store.size() or self.store.root_at(head.size) != head.root:
            raise PayoutBlocked(
                f"LogAnchor holds a root for size {head.size} that this log does not have",
                "LOG_FORK",
            )
        indexes = (acc.offer.log_index, acc.accept.log_index)
        leaves = self.store.entries_at(list(indexes))
        offer_leaf, accept_leaf = leaves[indexes[0]], leaves[indexes[1]]
        if leaf_hash(offer_leaf).hex() != acc.offer_hash or (
            leaf_hash(accept_leaf).hex() != acc.accept_hash
        ):
            raise PayoutBlocked("the log's leaves differ from the complaint's index", "LOG_INDEX")
        claim = build_claim(
            offer_leaf,
            indexes[0],
            self.store.inclusion_proof(indexes[0], head.size),
            accept_leaf,
            indexes[1],
            self.store.inclusion_proof(indexes[1], head.size),
            head.size,
            acc.token,
            acc.recipient,
            acc.amount,
        )
        verify_claim(claim, head.size, head.root, self.chain_id, self.vault.address)
        return claim

    def _pay(self, acc: Accepted, broadcast: bool) -> str:
        """Build, simulate, sign and store the payout, then broadcast it."""
        for _ in range(self.config.rebuilds):
            head = self.anchor.latest(self.log_id)
            claim = self._claim(acc, head)
            calldata = self.vault.payout_calldata(claim)
            nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
            try:
                tx = txn.prepare(
                    self.w3,
                    self.account,
                    {"to": self.vault.address, "data": calldata},
                    nonce=nonce,
                    chain_id=self.chain_id,
                    policy=self.config.fees,
                )
            except REVERT_ERRORS as exc:
                reason = vault_revert(revert_data_of(exc), self.w3)
                if reason is not None and reason.name == "NotAnchoredSize":
                    # A checkpoint was anchored since the claim was built: build it again.
                    log.debug("payout of %s: %s; rebuilding the claim", acc.reference, reason)
                    continue
                if reason is not None and reason.name == "AlreadyPaid":
                    return self._adopt(acc)
                message = f"the vault refuses the payout: {reason or exc}"
                raise PayoutRefused(message, reason) from exc
            self._check_funds(tx)
            signed = txn.sign(self.account, tx)
            rec = self._load(acc.offer_hash) or self._new_record(acc)
            rec.state = PayoutState.SENT
            rec.tree_size = claim.size
            rec.sender = self.account.address
            rec.nonce = nonce
            rec.tx_hash = bytes(signed.hash)
            rec.raw_tx = bytes(signed.raw_transaction)
            rec.attempts += 1
            rec.error_name = rec.last_error = rec.next_attempt_at = None
            rec.block_number = rec.block_hash = rec.paid_log_index = None
            rec.confirmations = 0
            rec.sent_at = self.now()
            # Stored before it is broadcast: a crash from here on resends these bytes.
            self._save(rec)
            self.sent += 1
            self._warned.pop(acc.reference, None)
            log.info(
                "signed payout of %s: %s base units of %s to %s (tree size %d), nonce %d, tx %s",
                acc.reference,
                acc.amount,
                acc.token,
                acc.recipient,
                claim.size,
                nonce,
                _hex_tx(signed.hash),
            )
            if broadcast:
                self.broadcast(acc.offer_hash)
            return "sent"
        raise PayoutRefused(
            "checkpoints kept being anchored while the claim was built; trying again later",
            RevertReason("NotAnchoredSize", ()),
        )

    def _check_funds(self, tx: dict[str, Any]) -> None:
        need = int(tx["gas"]) * int(tx["maxFeePerGas"])
        have = int(self.w3.eth.get_balance(self.account.address))
        if have < need:
            raise PayoutBlocked(
                f"the payout sender {self.account.address} holds {have} wei, the payout may "
                f"cost up to {need} in gas",
                "SENDER_FUNDS",
            )

    def _paid_event(self, acc: Accepted) -> PaidEvent:
        """The vault's Paid event for this offer (it pays an offer at most once)."""
        offer = bytes.fromhex(acc.offer_hash)
        found = [
            e
            for e in self.vault.paid_events(from_block=self.config.scan_from_block)
            if e.offer_leaf_hash == offer
        ]
        if not found:
            raise PayoutBlocked(
                f"{acc.reference}: the vault marks the offer paid but shows no Paid event",
                "NO_EVENT",
            )
        return found[-1]

    def _adopt(self, acc: Accepted) -> str:
        """The vault already paid this offer (a payout sent before a crash, or by someone
        else): follow that transaction and record it; never send another."""
        event = self._paid_event(acc)
        self._check_event(acc, event)
        rec = self._load(acc.offer_hash) or self._new_record(acc)
        if rec.tx_hash != event.tx_hash:
            log.warning(
                "the vault already paid %s in tx %s: recording that payout",
                acc.reference,
                _hex_tx(event.tx_hash),
            )
            rec.tx_hash, rec.raw_tx, rec.nonce = event.tx_hash, None, None
        rec.state = PayoutState.SENT
        rec.error_name = rec.last_error = rec.next_attempt_at = None
        self._save(rec)
        return self._advance(acc.offer_hash)

    def _check_event(self, acc: Accepted, event: PaidEvent) -> None:
        same = (
            event.accept_leaf_hash.hex() == acc.accept_hash
            and _same_address(event.recipient, acc.recipient)
            and _same_address(event.token, acc.token)
            and event.amount == acc.amount
        )
        if not same:
            raise PayoutBlocked(
                f"{acc.reference}: the vault's Paid event (tx {_hex_tx(event.tx_hash)}) is not "
                "the payout of this acceptance",
                "EVENT_MISMATCH",
            )

    # --- following a transaction ------------------------------------------------------------------

    def _receipt(self, tx_hash: bytes) -> Any:
        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def _advance(self, offer_hash: str) -> str:
        rec = self._load(offer_hash)
        if rec is None:
            return "failed"
        if rec.state == PayoutState.CONFIRMED:
            return self._record(offer_hash)
        if rec.state != PayoutState.SENT or rec.tx_hash is None:
            return str(rec.state)
        outcome = self._follow(rec)
        self._save(rec)
        if outcome == "confirmed":
            return self._record(offer_hash)
        if outcome == "resend":
            return self._consider(rec.reference)
        return outcome

    def _follow(self, rec: PayoutRecord) -> str:
        assert rec.tx_hash is not None
        receipt = self._receipt(rec.tx_hash)
        if receipt is None:
            return self._not_mined(rec)
        block_hash, block_number = bytes(receipt["blockHash"]), int(receipt["blockNumber"])
        if rec.block_hash is not None and rec.block_hash != block_hash:
            log.warning("reorg moved payout tx %s to block %d", _hex_tx(rec.tx_hash), block_number)
        rec.block_number, rec.block_hash = block_number, block_hash
        if int(receipt["status"]) != 1:
            return self._reverted(rec)
        canonical = bytes(self.w3.eth.get_block(block_number)["hash"]) == block_hash
        rec.confirmations = (
            max(0, int(self.w3.eth.block_number) - block_number + 1) if canonical else 0
        )
        if rec.confirmations < self.config.confirmations:
            return "mined"
        offer = bytes.fromhex(rec.offer_hash)
        events = [e for e in self.vault.paid_events_in(receipt) if e.offer_leaf_hash == offer]
        if not events:
            raise PayoutBlocked(
                f"tx {_hex_tx(rec.tx_hash)} succeeded without a Paid event for this offer",
                "NO_EVENT",
            )
        rec.paid_log_index = events[0].log_index
        rec.state = PayoutState.CONFIRMED
        rec.confirmed_at = self.now()
        log.info(
            "payout of %s final: tx %s in block %d, %d confirmations",
            rec.reference,
            _hex_tx(rec.tx_hash),
            block_number,
            rec.confirmations,
        )
        return "confirmed"

    def _reverted(self, rec: PayoutRecord) -> str:
        """Mined but reverted: the offer was paid meanwhile, or the claim went stale (a
        checkpoint anchored before it was mined): either way the next decision says."""
        if self.vault.paid(bytes.fromhex(rec.offer_hash)):
            log.info("payout tx %s reverted; the offer is paid", _hex_tx(rec.tx_hash or b""))
        else:
            log.info("payout tx %s reverted; building the claim again", _hex_tx(rec.tx_hash or b""))
        rec.state = PayoutState.FAILED
        rec.last_error = f"tx {_hex_tx(rec.tx_hash or b'')} reverted on chain"
        rec.next_attempt_at = None
        return "resend"

    def _not_mined(self, rec: PayoutRecord) -> str:
        if rec.block_hash is not None:
            log.warning("reorg dropped payout tx %s; following it", _hex_tx(rec.tx_hash or b""))
            rec.block_number = rec.block_hash = None
            rec.confirmations = 0
        if rec.raw_tx is None or rec.nonce is None or rec.sender is None:
            # An adopted transaction (not ours to resend) that left the chain.
            if self.vault.paid(bytes.fromhex(rec.offer_hash)):
                return "waiting"
            rec.state = PayoutState.FAILED
            rec.last_error = "the adopted payout left the chain"
            return "resend"
        if self.w3.eth.get_transaction_count(rec.sender, "latest") > rec.nonce:
            assert rec.tx_hash is not None
            if self._receipt(rec.tx_hash) is not None:
                return "waiting"  # mined between the two calls
            # Another transaction took our nonce: ours can never be mined.
            rec.state = PayoutState.FAILED
            rec.last_error = f"nonce {rec.nonce} was used by another transaction"
            log.warning("payout tx %s dropped: %s", _hex_tx(rec.tx_hash), rec.last_error)
            return "resend"
        try:
            self.w3.eth.get_transaction(HexBytes(rec.tx_hash or b""))
            return "waiting"
        except TransactionNotFound:
            # Lost from the pool (node restart, eviction) or never sent: the very same bytes.
            self._send_raw(rec)
            return "rebroadcast"

    def broadcast(self, offer_hash: str) -> None:
        """Send a stored payout; failures leave it for the next step to retry."""
        rec = self._load(offer_hash)
        if rec is None or rec.state != PayoutState.SENT or rec.raw_tx is None:
            return
        self._send_raw(rec)
        self._save(rec)

    def _send_raw(self, rec: PayoutRecord) -> None:
        assert rec.raw_tx is not None and rec.tx_hash is not None
        rec.broadcasts += 1
        try:
            sent = self.w3.eth.send_raw_transaction(HexBytes(rec.raw_tx))
        except Web3RPCError as exc:
            # "already known", "nonce too low", ...: the next step sorts it out from the
            # receipt and the account's nonce.
            rec.last_error = f"broadcast: {exc}"
            log.warning("broadcast of payout tx %s answered: %s", _hex_tx(rec.tx_hash), exc)
            return
        if bytes(sent) != rec.tx_hash:
            raise PayoutBlocked("the node returned another hash for our payout", "TX_HASH")

    # --- recording on the log ---------------------------------------------------------------------

    def _record(self, offer_hash: str) -> str:
        # No session is held while the log is written: on SQLite a reader's open transaction
        # would block the append's commit.
        rec = self._load(offer_hash)
        if rec is None or rec.tx_hash is None:
            return "failed"
        reference, tx_hash = rec.reference, _hex_tx(rec.tx_hash)
        events = self.reads.events(reference)
        accept = next((e for e in events if e.envelope.leaf_hash_hex == rec.accept_hash), None)
        payout = accept.envelope.public.get("payout") if accept is not None else None
        done = next(
            (
                e
                for e in events
                if e.envelope.type == E.COMPENSATION_PAID
                and payout is not None
                and e.envelope.public.get("payout") == payout
            ),
            None,
        )
        if done is not None:
            # Recorded before (the worker stopped before it could mark the row).
            self._mark_recorded(offer_hash, done.log_index)
            return "recorded"
        acc = self._accepted(reference)
        if acc is None or acc.offer_hash != offer_hash:
            state = self.reads.state(reference)
            raise PayoutBlocked(
                f"{reference} was paid on chain (tx {tx_hash}) but is now {state.status}: "
                "the payment cannot be recorded",
                "UNRECORDABLE",
            )
        self._ensure_registered()
        public, body = self._signed_step(acc, acc.state, tx_hash, rec.paid_log_index or 0)
        try:
            recorded = self.writes.record(
                reference, type=E.COMPENSATION_PAID, public=public, body=body, actor=self.actor
            )
        except ChainConflict:
            raise
        except ComplaintError as exc:
            raise PayoutBlocked(
                f"{reference} was paid on chain (tx {tx_hash}) but the log refuses the payment "
                f"step: {exc}",
                str(getattr(exc, "code", "REFUSED")),
            ) from exc
        self._mark_recorded(offer_hash, recorded.receipt.index)
        self.recorded += 1
        self._warned.pop(reference, None)
        log.info(
            "recorded the payout of %s (tx %s) at log index %d",
            reference,
            tx_hash,
            recorded.receipt.index,
        )
        return "recorded"

    def _mark_recorded(self, offer_hash: str, index: int) -> None:
        rec = self._load(offer_hash)
        if rec is None:
            return
        rec.state = PayoutState.RECORDED
        rec.recorded_index = index
        rec.recorded_at = rec.recorded_at or self.now()
        rec.error_name = rec.last_error = None
        self._save(rec)

    # --- running ----------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Step until ``stop`` is set; never raises on a failed step."""
        stop = stop or threading.Event()
        delay = self.config.backoff_initial
        while not stop.is_set():
            try:
                outcomes = self.step()
            except TRANSIENT_ERRORS as exc:
                log.warning("chain or database unavailable (%s); retrying in %.1fs", exc, delay)
            except PayoutBlocked as exc:
                log.error("payouts stopped: %s; retrying in %.1fs", exc, delay)
            except Exception:
                log.exception("payout step failed; retrying in %.1fs", delay)
            else:
                self.consecutive_failures = 0
                busy = {o for o in outcomes.values()} - {"waiting_anchor", "backoff", "not_vault"}
                if busy:
                    log.debug("payout step: %s", outcomes)
                delay = self.config.backoff_initial
                stop.wait(self.config.poll_seconds)
                continue
            self.consecutive_failures += 1
            self.total_failures += 1
            stop.wait(delay)
            delay = min(delay * 2, self.config.backoff_max)


def _error_name(exc: Exception) -> str:
    if isinstance(exc, PayoutRefused) and exc.reason is not None:
        return exc.reason.name
    if isinstance(exc, PayoutBlocked):
        return exc.code
    return type(exc).__name__
