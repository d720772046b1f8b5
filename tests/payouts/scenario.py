"""A complaint log in memory, anchored in a real LogAnchor and paid from a real vault.

Leaves are envelope-shaped canonical JSON with the public fields the vault reads
(``payout_terms`` on the offer, ``payout`` on the acceptance, ``prev`` on the withdrawal),
hashed and proven with ledger.log.merkle exactly as the ledger does.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from ledger.anchoring import txn
from ledger.anchoring.contract import LogAnchorClient, RevertReason
from ledger.anchoring.devchain import DevChain
from ledger.complaints import payouts
from ledger.log.canonical import canonical_json
from ledger.log.merkle import consistency_proof, in_memory_getter, inclusion_proof, leaf_hash
from ledger.log.merkle import tree_root as merkle_root
from ledger.payouts.claims import Claim, Withdrawal, build_claim, build_withdrawal
from ledger.payouts.vault import CompensationVaultClient
from tests.support.anchoring import FUNDING

NATIVE = payouts.ZERO_ADDRESS
ORIGIN = "example.org/complaints/payout-tests"
DAY = 86_400
FORCED_GAS = 1_000_000  # sent without simulation, so a refused payout really lands on chain
VAULT_FUNDS = 10**19  # of the native coin and of each test token
OWNER_FUNDS = 10**23
PER_PAYOUT_CAP = 10**18
DAILY_CAP = 3 * 10**18
_labels = itertools.count()


@dataclass
class Chain:
    """A chain under test plus the few controls the tests need."""

    name: str
    w3: Web3
    node: DevChain | None = None

    def new_account(self) -> LocalAccount:
        account = Account.create()
        self.fund(account.address, FUNDING)
        return account

    def fund(self, address: str, wei: int) -> None:
        if self.node is not None:
            self.node.set_balance(address, wei)
        else:
            tx = {"from": self.w3.eth.accounts[0], "to": address, "value": wei}
            self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_transaction(tx))

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def travel_to(self, timestamp: int) -> None:
        """Mine a block at ``timestamp`` (later than now)."""
        if self.node is not None:
            self.node.rpc("evm_setNextBlockTimestamp", hex(timestamp))
            self.node.mine()
        else:
            provider = self.w3.provider
            assert isinstance(provider, EthereumTesterProvider)
            provider.ethereum_tester.time_travel(timestamp)

    def start_of_next_day(self, margin: int = 60) -> int:
        """Travel to ``margin`` seconds into the next UTC day; return that day's number."""
        day = self.timestamp() // DAY + 1
        self.travel_to(day * DAY + margin)
        return day


@dataclass
class Base:
    """What every vault of a test module shares: the anchor, its submitter, the test tokens."""

    chain: Chain
    owner: LocalAccount
    submitter: LocalAccount
    anchor: LogAnchorClient
    token: Contract
    quiet_token: Contract  # transfers return no data


def envelope(
    event_type: str,
    seq: int,
    prev: bytes | None,
    public: dict,
    *,
    complaint: str = "CMP-2025-000001",
    role: str = "officer",
    actor: str = "0123456789abcdef0123456789abcdef",
) -> bytes:
    """A leaf as the ledger writes it (RFC 8785 JSON of the envelope fields)."""
    return canonical_json(
        {
            "v": 1,
            "log": ORIGIN,
            "complaint": complaint,
            "seq": seq,
            "prev": None if prev is None else prev.hex(),
            "type": event_type,
            "at": "2025-03-01T10:00:00Z",
            "actor": {"role": role, "id": actor},
            "commitment": hashlib.sha256(b"body %d %s" % (seq, event_type.encode())).hexdigest(),
            "public": public,
        }
    )


def offer_public(terms: str, amount_text: str = "25.00") -> dict:
    return {
        "kind": "money",
        "amount": amount_text,
        "currency": "EUR",
        "method": "on_chain",
        "payout_terms": terms,
        "signature": {"key_id": "ab" * 16, "sig": "cd" * 64},
        "cosignature": {"key_id": "ef" * 16, "sig": "01" * 64},
    }


@dataclass
class Offer:
    index: int
    leaf: bytes
    token: str
    amount: int

    @property
    def hash(self) -> bytes:
        return leaf_hash(self.leaf)


@dataclass
class Acceptance:
    index: int
    leaf: bytes
    offer: Offer
    recipient: str

    @property
    def hash(self) -> bytes:
        return leaf_hash(self.leaf)


@dataclass
class PayoutEnv:
    """One log (its own log id) and the vault paying it."""

    base: Base
    log_id: bytes
    vault: CompensationVaultClient
    leaves: list[bytes] = field(default_factory=list)
    anchored: int = 0
    _complaints: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __repr__(self) -> str:  # short: hypothesis prints it with every failing example
        return (
            f"PayoutEnv({self.chain.name}, {len(self.leaves)} leaves, vault {self.vault.address})"
        )

    @property
    def chain(self) -> Chain:
        return self.base.chain

    @property
    def w3(self) -> Web3:
        return self.base.chain.w3

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    # --- the log ----------------------------------------------------------------------

    def append(self, leaf: bytes) -> int:
        self.leaves.append(leaf)
        return len(self.leaves) - 1

    def filler(self, count: int) -> None:
        """Steps of other complaints between ours."""
        for _ in range(count):
            n = len(self.leaves)
            self.append(envelope("note_added", 3, leaf_hash(b"%d" % n), {}, complaint=f"X-{n}"))

    def _getter(self, size: int):
        return in_memory_getter([leaf_hash(x) for x in self.leaves[:size]])

    def root(self, size: int | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        return merkle_root(size, self._getter(size))

    def proof(self, index: int, size: int) -> list[bytes]:
        return inclusion_proof(index, size, self._getter(size))

    def anchor(self) -> int:
        """Anchor the log as it is now; return the anchored size."""
        size = len(self.leaves)
        get = self._getter(size)
        proof = consistency_proof(self.anchored, size, get) if self.anchored else []
        receipt = self.base.anchor.anchor(
            self.base.submitter, self.log_id, size, merkle_root(size, get), b"\x11" * 32, proof
        )
        assert receipt["status"] == 1
        self.anchored = size
        return size

    # --- complaint steps --------------------------------------------------------------------

    def offer(
        self, token: str, amount: int, *, vault: str | None = None, chain_id: int | None = None
    ) -> Offer:
        """An officers' offer whose terms name ``vault`` (default: ours) on ``chain_id``."""
        terms = payouts.terms_commitment(
            self.chain_id if chain_id is None else chain_id,
            vault or self.vault.address,
            token,
            amount,
        )
        complaint = f"CMP-2025-{next(self._complaints):06d}"
        prev = leaf_hash(b"decision of " + complaint.encode())
        leaf = envelope("compensation_offered", 4, prev, offer_public(terms), complaint=complaint)
        return Offer(self.append(leaf), leaf, token, amount)

    def accept(
        self,
        offer: Offer,
        recipient: str,
        *,
        token: str | None = None,
        amount: int | None = None,
        offer_hash: bytes | None = None,
        event_type: str = "compensation_accepted",
    ) -> Acceptance:
        """The customer's acceptance of ``offer``, committing by default to its own terms."""
        payout = payouts.payout_commitment(
            self.chain_id,
            self.vault.address,
            offer.token if token is None else token,
            offer.amount if amount is None else amount,
            recipient,
            offer.hash if offer_hash is None else offer_hash,
        )
        complaint = json.loads(offer.leaf)["complaint"]
        leaf = envelope(
            event_type,
            5,
            offer.hash,
            {"payout": payout},
            complaint=complaint,
            role="customer",
            actor="customer",
        )
        return Acceptance(self.append(leaf), leaf, offer, recipient)

    def withdraw(self, after: Acceptance, *, prev: bytes | None = None) -> int:
        """The customer's withdrawal right after ``after`` (or after the leaf hash ``prev``)."""
        leaf = envelope(
            "withdrawn",
            6,
            after.hash if prev is None else prev,
            {},
            complaint=json.loads(after.leaf)["complaint"],
            role="customer",
            actor="customer",
        )
        return self.append(leaf)

    # --- claims ---------------------------------------------------------------------------

    def claim(
        self,
        acceptance: Acceptance,
        *,
        offer: Offer | None = None,
        token: str | None = None,
        recipient: str | None = None,
        amount: int | None = None,
        size: int | None = None,
    ) -> Claim:
        """The claim for ``acceptance`` at the anchored size, any field overridable."""
        offer = offer or acceptance.offer
        size = self.anchored if size is None else size
        return build_claim(
            offer.leaf,
            offer.index,
            self.proof(offer.index, size) if offer.index < size else [],
            acceptance.leaf,
            acceptance.index,
            self.proof(acceptance.index, size) if acceptance.index < size else [],
            size,
            offer.token if token is None else token,
            acceptance.recipient if recipient is None else recipient,
            offer.amount if amount is None else amount,
        )

    def withdrawal(self, acceptance: Acceptance, withdrawn_index: int) -> Withdrawal:
        size = self.anchored
        return build_withdrawal(
            acceptance.offer.hash,
            acceptance.leaf,
            acceptance.index,
            self.proof(acceptance.index, size),
            self.leaves[withdrawn_index],
            withdrawn_index,
            self.proof(withdrawn_index, size),
            size,
            acceptance.offer.token,
            acceptance.recipient,
            acceptance.offer.amount,
        )

    # --- paying ---------------------------------------------------------------------------

    def balance_of(self, token: str, account: str) -> int:
        if token == NATIVE:
            return int(self.w3.eth.get_balance(Web3.to_checksum_address(account)))
        if not self.w3.eth.get_code(Web3.to_checksum_address(token)):
            return 0  # no token there: nothing can move
        erc20 = self.token_contract(token)
        return int(erc20.functions.balanceOf(Web3.to_checksum_address(account)).call())

    def token_contract(self, token: str) -> Contract:
        for c in (self.base.token, self.base.quiet_token):
            if c.address.lower() == token.lower():
                return c
        raise LookupError(token)

    def attempt(self, claim: Claim, sender: LocalAccount | None = None) -> RevertReason | None:
        """Try a payout for real: simulate for the refusal, then send it on chain.

        Returns None when paid, else the vault's error (name and arguments). Checks that the
        simulation and the mined transaction agree, and that exactly the amount moved, or
        nothing at all.
        """
        sender = sender or self.base.submitter
        data = self.vault.payout_calldata(claim)
        reason = self.vault.simulate(sender.address, data)
        token = claim.token
        vault_before = self.balance_of(token, self.vault.address)
        recipient_before = self.balance_of(token, claim.recipient)
        paid_before = self.vault.paid(claim.offer_leaf_hash)
        tx = {"to": self.vault.address, "data": data, "gas": FORCED_GAS}
        receipt = txn.send_and_wait(self.w3, sender, tx)
        moved = vault_before - self.balance_of(token, self.vault.address)
        received = self.balance_of(token, claim.recipient) - recipient_before
        if int(claim.recipient, 16) == 0 and token == NATIVE:
            received = moved  # the zero address is the test chains' coinbase: it earns fees
        if reason is None:
            assert receipt["status"] == 1, "simulation succeeded but the payout reverted"
            assert moved == received == claim.amount
            assert self.vault.paid(claim.offer_leaf_hash)
            (event,) = self.vault.paid_events_in(receipt)
            assert event.offer_leaf_hash == claim.offer_leaf_hash
            assert event.accept_leaf_hash == claim.accept_leaf_hash
            assert event.recipient.lower() == claim.recipient.lower()
            assert event.token.lower() == token.lower()
            assert (event.amount, event.tree_size) == (claim.amount, claim.size)
            return None
        assert receipt["status"] == 0, f"simulation refused ({reason}) but the payout succeeded"
        assert moved == received == 0
        assert self.vault.paid(claim.offer_leaf_hash) == paid_before
        assert not self.vault.paid_events_in(receipt)
        return reason


def new_env(base: Base, *, fund: bool = True, caps: bool = True) -> PayoutEnv:
    """A fresh log id, a vault for it owned by ``base.owner``, funded and capped."""
    log_id = hashlib.sha256(f"{base.chain.name}/payout/{next(_labels)}".encode()).digest()
    vault = CompensationVaultClient.deploy(
        base.chain.w3, base.owner, base.anchor.address, log_id, base.owner.address
    )
    env = PayoutEnv(base, log_id, vault)
    if fund:
        # Real transfers: the native coin goes through the vault's receive().
        send = {"to": vault.address, "value": VAULT_FUNDS}
        assert txn.send_and_wait(base.chain.w3, base.owner, send)["status"] == 1
        for token in (base.token, base.quiet_token):
            mint(base, token, vault.address, VAULT_FUNDS)
    if caps:
        for token in (NATIVE, base.token.address, base.quiet_token.address):
            vault.set_caps(base.owner, token, PER_PAYOUT_CAP, DAILY_CAP)
    return env


def mint(base: Base, token: Contract, to: str, amount: int) -> None:
    data = token.encode_abi("mint", args=[Web3.to_checksum_address(to), amount])
    receipt = txn.send_and_wait(base.chain.w3, base.owner, {"to": token.address, "data": data})
    assert receipt["status"] == 1
