"""Vault offers in the domain: an offer's payout_terms commit to its on-chain terms, the
customer's acceptance commits to their address and that offer, and only the vault's payout
(recorded by the payout worker, role system) pays it."""

from __future__ import annotations

import pytest

from ledger.complaints.errors import PayloadError, TransitionError
from ledger.complaints.events import Actor
from ledger.complaints.officers import (
    OfficerRegistry,
    build_key_registration,
    officer_key_id,
    signature_field,
)
from ledger.complaints.payloads import validate_event
from ledger.complaints.payouts import (
    ZERO_ADDRESS,
    field_text,
    offset_of,
    payout_commitment,
    terms_commitment,
)
from ledger.complaints.states import allowed_events, replay
from ledger.complaints.vocab import EventType, Role
from ledger.complaints.workflow import append_event, signing_body
from tests.support.complaint_chain import CUSTOMER, LOG, REGISTRATION, Chain, make_key

E = EventType
VAULT = "0x" + "5a" * 20
TOKEN = "0x" + "70" * 20
RECIPIENT = "0x" + "c1" * 20
TERMS = {
    "amount": "25.50",
    "asset": "USDC",
    "method": "on_chain",
    "chain_id": 31337,
    "vault": VAULT,
    "token": TOKEN,
    "amount_base_units": "25500000",
    "decimals": 6,
}
MONEY = {k: TERMS[k] for k in ("amount", "asset", "method")}


# The payout worker's own key, registered by an admin for the role system.
WORKER_KEY = make_key("payout-worker")
WORKER = Actor(Role.SYSTEM, officer_key_id(WORKER_KEY))
REGISTRY = OfficerRegistry.fold(
    [
        REGISTRATION.leaf,
        build_key_registration(
            log=LOG, at="2025-01-01T00:00:00Z", admin_id="admin-1", public_key=WORKER_KEY,
            roles=[Role.SYSTEM], valid_from="2025-01-01T00:00:00Z", valid_until=None,
            name="Payout worker", salt=bytes(32),
        ).leaf,
    ]
)  # fmt: skip


def _decided() -> Chain:
    c = Chain(category="refund_or_claim", registry=REGISTRY)
    return c.run("acknowledged", "evidence_added", "decision")


def _worker_pays(c: Chain, public: dict, body: dict) -> None:
    """The payout worker records the vault's payment, signed with its own key."""
    body = signing_body(c.state, E.COMPENSATION_PAID, body)
    public = {**public, "signature": signature_field(WORKER_KEY, body)}
    built, c.state = append_event(
        c.state, type=E.COMPENSATION_PAID, at=c.clock, actor=WORKER, public=public, body=body,
        registry=c.registry,
    )  # fmt: skip
    c.built.append(built)


def _offer(c: Chain, terms: dict = TERMS) -> str:
    payout_terms = terms_commitment(
        terms["chain_id"], terms["vault"], terms.get("token"), int(terms["amount_base_units"])
    )
    built = c.add("compensation_offered", public={**MONEY, "payout_terms": payout_terms},
                  body=dict(terms))  # fmt: skip
    return built.envelope.leaf_hash_hex


def _accept(c: Chain, offer_hash: str, recipient: str = RECIPIENT) -> str:
    payout = payout_commitment(31337, VAULT, TOKEN, 25_500_000, recipient, offer_hash)
    c.add("compensation_accepted", actor=CUSTOMER, public={"payout": payout},
          body={"recipient": recipient})  # fmt: skip
    return payout


def test_commitments_are_sha256_of_abi_words() -> None:
    # abi.encode of (uint256 31337, address, address(0), uint256 1): four 32-byte words.
    words = (31337).to_bytes(32, "big") + bytes(12) + bytes.fromhex(VAULT[2:]) + bytes(32)
    words += (1).to_bytes(32, "big")
    import hashlib

    assert terms_commitment(31337, VAULT, None, 1) == hashlib.sha256(words).hexdigest()
    assert terms_commitment(31337, VAULT, ZERO_ADDRESS, 1) == terms_commitment(
        31337, VAULT, None, 1
    )
    with pytest.raises(ValueError):
        terms_commitment(31337, "0x12", None, 1)
    with pytest.raises(ValueError):
        payout_commitment(1, VAULT, None, 1, RECIPIENT, b"short")


def test_a_vault_offer_accepted_and_paid_by_the_worker_replays() -> None:
    c = _decided()
    offer_hash = _offer(c)
    assert c.state.offer_terms is not None
    payout = _accept(c, offer_hash)
    assert c.state.accepted_payout == payout
    # The offer leaf holds its terms exactly once, where the vault looks for them.
    leaf = c.built[-2].leaf
    assert offset_of(leaf, field_text("payout_terms", c.built[-2].envelope.public["payout_terms"]))
    # Only the vault's payout pays it: the worker (system) records it, naming the payout.
    assert E.COMPENSATION_PAID in allowed_events(c.state, Role.SYSTEM)
    paid = {**TERMS, "recipient": RECIPIENT, "tx_hash": "0x" + "ab" * 32}
    _worker_pays(c, {**MONEY, "payout": payout}, paid)
    assert replay(c.leaves, registry=c.registry) == c.state


def test_a_vault_offer_needs_the_customers_address() -> None:
    c = _decided()
    _offer(c)
    with pytest.raises(TransitionError) as exc:
        c.add("compensation_accepted", actor=CUSTOMER, public={}, body={})
    assert exc.value.code == "PAYOUT_ADDRESS_REQUIRED"


def test_an_address_for_an_offer_the_vault_does_not_pay_is_refused() -> None:
    c = _decided()
    c.add("compensation_offered")
    with pytest.raises(TransitionError) as exc:
        c.add("compensation_accepted", actor=CUSTOMER, public={"payout": "ab" * 32},
              body={"recipient": RECIPIENT})  # fmt: skip
    assert exc.value.code == "PAYOUT_NOT_OFFERED"


def test_a_payment_must_name_the_accepted_payout() -> None:
    c = _decided()
    _accept(c, _offer(c))
    paid = {**TERMS, "recipient": RECIPIENT, "tx_hash": "0x" + "ab" * 32}
    with pytest.raises(TransitionError) as exc:
        c.add("compensation_paid", public={**MONEY, "payout": "cd" * 32}, body=paid)
    assert exc.value.code == "PAYOUT_MISMATCH"
    with pytest.raises(TransitionError) as exc:
        c.add("compensation_paid", public=dict(MONEY), body=paid)  # not by the vault
    assert exc.value.code == "PAYOUT_MISMATCH"


def test_the_system_records_no_other_payment() -> None:
    c = _decided().run("compensation_offered", "compensation_accepted")
    assert E.COMPENSATION_PAID not in allowed_events(c.state, Role.SYSTEM)
    body = {"amount": "10.00", "currency": "EUR", "method": "account_credit",
            "payment_reference": "CR-1"}  # fmt: skip
    with pytest.raises(TransitionError) as exc:
        _worker_pays(c, {k: body[k] for k in ("amount", "currency", "method")}, body)
    assert exc.value.code == "ROLE_NOT_ALLOWED"


def test_terms_and_payout_must_match_their_bodies() -> None:
    context = {"log": "l", "complaint": "c", "prev": "00" * 32, "type": "compensation_offered",
               "nonce": "11" * 32}  # fmt: skip
    body = {**TERMS, "context": context}
    good = terms_commitment(31337, VAULT, TOKEN, 25_500_000)
    sig = {"key_id": "ab" * 16, "sig": "cd" * 64}
    validate_event("compensation_offered", {**MONEY, "payout_terms": good, "state":
                   "compensation_offered", "signature": sig}, body)  # fmt: skip
    for public, code in (
        ({**MONEY, "payout_terms": "ee" * 32}, "PUBLIC_BODY_MISMATCH"),  # other terms
        (dict(MONEY), "PUBLIC_BODY_MISMATCH"),  # a vault offer that does not say so
    ):
        with pytest.raises(PayloadError) as exc:
            validate_event(
                "compensation_offered",
                {**public, "state": "compensation_offered", "signature": sig},
                body,
            )
        assert exc.value.code == code
    partial = {k: v for k, v in body.items() if k != "chain_id"}
    with pytest.raises(PayloadError) as exc:
        validate_event("compensation_offered", {**MONEY, "payout_terms": good,
                       "state": "compensation_offered", "signature": sig}, partial)  # fmt: skip
    assert exc.value.code == "MISSING_FIELD"
    with pytest.raises(PayloadError) as exc:
        validate_event("compensation_accepted", {"state": "compensation_accepted",
                       "payout": "ab" * 32}, {})  # fmt: skip
    assert exc.value.code == "PUBLIC_BODY_MISMATCH"
