"""A vault payout against the log's offer, acceptance and payment, from a proof alone.

For every payment that names a payout commitment (``public.payout``: paid by the compensation
vault, ``ledger/complaints/payouts.py``), four checks in the category ``payout``, the same in
the browser verifier (``api/static/verify/payout.js``, texts in its ``i18n/en.json``):

1. the offer's ``public.payout_terms`` is the commitment of the terms in the offer's text;
2. the acceptance's ``public.payout`` is the commitment of those terms, the receiving address
   in the acceptance's text and that offer's leaf hash;
3. the payment names the acceptance's commitment (public fields alone);
4. the payment's text pays exactly those terms to that address, with a transaction hash.

The texts come only from bodies that open their leaf's commitment and were not erased; what
needs a text that is not disclosed is skipped, saying so. Whether the transaction happened
(the vault's ``Paid`` event in its receipt) is for a chain reader: ``ledger-verify-bundle
--rpc``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.complaints.events import Envelope, verify_commitment
from ledger.complaints.payloads import BASE_UNITS, TX_HASH
from ledger.complaints.payouts import (
    EVM_ADDRESS,
    ZERO_ADDRESS,
    accepted_offer,
    payout_commitment,
    terms_commitment,
)
from ledger.complaints.vocab import EventType
from ledger.log.canonical import CanonicalJSONError, parse_canonical
from ledger.verify.report import Report

CATEGORY = "payout"
_SALT = re.compile(r"^[0-9a-fA-F]{64}$")  # 32 bytes, hex as the browser reads it
_MAX_CHAIN_ID = 2**53 - 1  # a JSON number both verifiers read exactly
# Compared one by one, in this order; the first that differs is reported.
PAID_FIELDS = ("chain_id", "vault", "token", "amount_base_units", "recipient")

# The English texts of the browser's messages (i18n/en.json, same keys): both verifiers
# report the same names and details (tests/verify/test_payout_checks.py compares them).
TEXTS = {
    "item.payout_terms": "Step {seq}: the offer's payout terms",
    "item.payout_commitment": "Step {seq}: the acceptance's payout commitment",
    "item.payout_named": "Step {seq}: the payment names the accepted payout",
    "item.payout_paid": "Step {seq}: the payment pays the accepted terms",
    "detail.payout_terms_token": "Chain {chain}, vault {vault}, token {token}, "
    "{amount} base units.",
    "detail.payout_terms_native": "Chain {chain}, vault {vault}, the chain's native coin, "
    "{amount} base units.",
    "detail.payout_commitment": "The offer of step {offer}, paid to {recipient}.",
    "detail.payout_named": "Payout commitment {payout}.",
    "detail.payout_paid": "Paid to {recipient}, transaction {tx}.",
    "detail.payout_needs_text": "Needs the text of step {seq}, which this proof does not "
    "disclose (the complaint's secret or its evidence bundle does).",
    "detail.payout_terms_unusable": "Not checked: the offer's payout terms are not valid.",
    "detail.payout_recipient_unusable": "Not checked: the acceptance gives no valid "
    "receiving address.",
    "err.payout_terms_missing": "The offer is not paid by the vault: it states no payout_terms.",
    "err.payout_terms_invalid": "The offer's text does not state valid payout terms "
    "(chain, vault, token, amount).",
    "err.payout_terms_mismatch": "The offer's payout_terms are not the commitment of the "
    "terms in its text.",
    "err.payout_recipient_invalid": "The acceptance's text gives no valid receiving address.",
    "err.payout_commitment_mismatch": "The acceptance's payout commitment is not the one of "
    "the offer's terms, the address {recipient} and the offer of step {offer}.",
    "err.payout_no_acceptance": "No acceptance of a vault offer precedes this payment.",
    "err.payout_no_offer": "No offer precedes the acceptance of step {seq}.",
    "err.payout_not_named": "The payment names payout {payout}; the acceptance committed "
    "to {accepted}.",
    "err.payout_field_differs": "The payment's {field} is not the accepted one.",
    "err.payout_no_tx": "The payment records no transaction hash.",
}


def _text(key: str, **params: Any) -> str:
    return TEXTS[key].format(**{k: str(v) for k, v in params.items()})


@dataclass(frozen=True)
class Step:
    """One verified step of the complaint, with its text when it opened its commitment."""

    env: Envelope
    body: Mapping[str, Any] | None


def opened_body(env: Envelope, salt: Any, body: Any) -> dict[str, Any] | None:
    """The step's disclosed text as an object, when ``salt`` (hex) and ``body`` (its JCS text)
    open the leaf's commitment; None otherwise (not disclosed, or not this leaf's text)."""
    if not isinstance(salt, str) or not _SALT.fullmatch(salt) or not isinstance(body, str):
        return None
    try:
        data = body.encode("utf-8")
        if not verify_commitment(env, bytes.fromhex(salt), data):
            return None
        value = parse_canonical(data)
    except (ValueError, CanonicalJSONError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class _Terms:
    chain_id: int
    vault: str
    token: str  # lower case; the zero address for the chain's native coin
    amount: str  # base units, decimal


def _address(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and EVM_ADDRESS.fullmatch(value) else None


def _chain_id(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_CHAIN_ID
    return value if ok else None


def _amount(value: Any) -> str | None:
    ok = isinstance(value, str) and BASE_UNITS.fullmatch(value) and int(value) < 2**256
    return value if ok else None


def _token(body: Mapping[str, Any]) -> str | None:
    token = body.get("token")
    return ZERO_ADDRESS if token is None else _address(token)


def _terms(body: Mapping[str, Any]) -> _Terms | None:
    """The vault terms an offer's (or a payment's) text states; None when not all valid."""
    chain_id = _chain_id(body.get("chain_id"))
    vault = _address(body.get("vault"))
    token = _token(body)
    amount = _amount(body.get("amount_base_units"))
    if chain_id is None or vault is None or token is None or amount is None:
        return None
    return _Terms(chain_id, vault, token, amount)


def check_payouts(report: Report, steps: Sequence[Step]) -> None:
    """The ``payout`` checks of every vault payment among ``steps`` (the complaint's steps in
    chain order, all proven included); nothing for a complaint without one."""
    erased = {s.env.public.get("erases") for s in steps if s.env.type == EventType.ERASED}
    texts = [None if s.env.leaf_hash_hex in erased else s.body for s in steps]
    for i, step in enumerate(steps):
        if step.env.type == EventType.COMPENSATION_PAID and "payout" in step.env.public:
            _check_payment(report, steps, texts, i)


def _check_payment(
    report: Report, steps: Sequence[Step], texts: Sequence[Mapping[str, Any] | None], p: int
) -> None:
    paid = steps[p].env
    o, a = accepted_offer([s.env.type for s in steps], p)
    if a is None or "payout" not in steps[a].env.public:
        report.add(
            _text("item.payout_named", seq=paid.seq),
            False,
            _text("err.payout_no_acceptance"),
            CATEGORY,
        )
        return
    accepted = steps[a].env
    if o is None:
        report.add(
            _text("item.payout_commitment", seq=accepted.seq),
            False,
            _text("err.payout_no_offer", seq=accepted.seq),
            CATEGORY,
        )
        return
    offer = steps[o].env
    offer_text, accepted_text, paid_text = texts[o], texts[a], texts[p]

    # 1. The offer's terms.
    name = _text("item.payout_terms", seq=offer.seq)
    terms = _terms(offer_text) if offer_text is not None else None
    if "payout_terms" not in offer.public:
        report.add(name, False, _text("err.payout_terms_missing"), CATEGORY)
    elif offer_text is None:
        report.skip(name, _text("detail.payout_needs_text", seq=offer.seq), CATEGORY)
    elif terms is None:
        report.add(name, False, _text("err.payout_terms_invalid"), CATEGORY)
    else:
        expected = terms_commitment(terms.chain_id, terms.vault, terms.token, int(terms.amount))
        if offer.public["payout_terms"] == expected:
            report.add(name, True, _terms_detail(terms), CATEGORY)
        else:
            report.add(name, False, _text("err.payout_terms_mismatch"), CATEGORY)

    # 2. The acceptance's commitment: those terms, the customer's address, that offer.
    name = _text("item.payout_commitment", seq=accepted.seq)
    recipient = _address(accepted_text.get("recipient")) if accepted_text is not None else None
    missing = _needs_text(((offer, offer_text), (accepted, accepted_text)))
    if missing is not None:
        report.skip(name, missing, CATEGORY)
    elif terms is None:
        report.skip(name, _text("detail.payout_terms_unusable"), CATEGORY)
    elif recipient is None:
        report.add(name, False, _text("err.payout_recipient_invalid"), CATEGORY)
    else:
        expected = payout_commitment(
            terms.chain_id, terms.vault, terms.token, int(terms.amount), recipient, offer.leaf_hash
        )
        params = {"offer": offer.seq, "recipient": recipient}
        if accepted.public["payout"] == expected:
            report.add(name, True, _text("detail.payout_commitment", **params), CATEGORY)
        else:
            report.add(name, False, _text("err.payout_commitment_mismatch", **params), CATEGORY)

    # 3. The payment names that commitment (public fields alone) ...
    name = _text("item.payout_named", seq=paid.seq)
    if paid.public["payout"] == accepted.public["payout"]:
        report.add(name, True, _text("detail.payout_named", payout=paid.public["payout"]), CATEGORY)
    else:
        detail = _text(
            "err.payout_not_named", payout=paid.public["payout"], accepted=accepted.public["payout"]
        )
        report.add(name, False, detail, CATEGORY)

    # ... and its text pays exactly those terms to that address, in a transaction.
    name = _text("item.payout_paid", seq=paid.seq)
    missing = _needs_text(((offer, offer_text), (accepted, accepted_text), (paid, paid_text)))
    if missing is not None:
        report.skip(name, missing, CATEGORY)
    elif terms is None:
        report.skip(name, _text("detail.payout_terms_unusable"), CATEGORY)
    elif recipient is None:
        report.skip(name, _text("detail.payout_recipient_unusable"), CATEGORY)
    elif paid_text is not None:  # always, once _needs_text found every text
        _check_paid_text(report, name, paid_text, terms, recipient)


def _check_paid_text(
    report: Report, name: str, body: Mapping[str, Any], terms: _Terms, recipient: str
) -> None:
    accepted = {
        "chain_id": terms.chain_id,
        "vault": terms.vault,
        "token": terms.token,
        "amount_base_units": terms.amount,
        "recipient": recipient,
    }
    given = {
        "chain_id": _chain_id(body.get("chain_id")),
        "vault": _address(body.get("vault")),
        "token": _token(body),
        "amount_base_units": _amount(body.get("amount_base_units")),
        "recipient": _address(body.get("recipient")),
    }
    for field in PAID_FIELDS:
        if given[field] is None or given[field] != accepted[field]:
            report.add(name, False, _text("err.payout_field_differs", field=field), CATEGORY)
            return
    tx = body.get("tx_hash")
    if not isinstance(tx, str) or not TX_HASH.fullmatch(tx):
        report.add(name, False, _text("err.payout_no_tx"), CATEGORY)
        return
    report.add(name, True, _text("detail.payout_paid", recipient=recipient, tx=tx), CATEGORY)


def _needs_text(pairs: Sequence[tuple[Envelope, Mapping[str, Any] | None]]) -> str | None:
    """Why a check cannot be made: the first step whose text is not at hand."""
    for env, text in pairs:
        if text is None:
            return _text("detail.payout_needs_text", seq=env.seq)
    return None


def _terms_detail(terms: _Terms) -> str:
    params = {"chain": terms.chain_id, "vault": terms.vault, "amount": terms.amount}
    if terms.token == ZERO_ADDRESS:
        return _text("detail.payout_terms_native", **params)
    return _text("detail.payout_terms_token", token=terms.token, **params)
