"""Payload validation: public fields are closed and non-personal, bodies carry what they must."""

from __future__ import annotations

import pytest

from ledger.complaints.errors import PayloadError
from ledger.complaints.payloads import (
    Money,
    check_consistency,
    validate_body,
    validate_event,
    validate_public,
)
from ledger.complaints.vocab import COMPLAINT_EVENTS, EventType

SIG = {"key_id": "ab" * 16, "sig": "cd" * 64}
CTX = {"log": "l", "complaint": "c", "prev": "00" * 32, "type": "decision", "nonce": "11" * 32}
H = "ef" * 32


def code_of(fn, *args) -> str:
    with pytest.raises(PayloadError) as exc:
        fn(*args)
    return exc.value.code


def test_every_complaint_event_needs_state():
    for et in COMPLAINT_EVENTS:
        assert code_of(validate_public, et, {}) == "MISSING_FIELD"


@pytest.mark.parametrize(
    "public",
    [
        {"state": "investigating", "level": "agent"},
        {"state": "investigating", "level": "specialist", "specialism": "security"},
        {"state": "received", "level": "agent", "reason": "customer_request"},
    ],
)
def test_escalation_valid(public):
    validate_public("escalated", public)


@pytest.mark.parametrize(
    "public",
    [
        {"state": "investigating", "level": "specialist"},  # which specialism?
        {"state": "investigating", "level": "agent", "specialism": "legal"},
        {"state": "investigating", "level": "bot"},
        {"state": "investigating", "level": "manager"},
    ],
)
def test_escalation_invalid(public):
    with pytest.raises(PayloadError):
        validate_public("escalated", public)


def test_public_refuses_free_text_and_personal_fields():
    assert (
        code_of(validate_public, "note_added", {"state": "investigating", "text": "Bob said"})
        == "UNKNOWN_FIELD"
    )
    rated = {"state": "closed", "csat": 5, "rates": 6, "comment": "great"}
    assert code_of(validate_public, "rated", rated) == "UNKNOWN_FIELD"


@pytest.mark.parametrize("csat", [0, 6, 3.5, True, "5", None])
def test_csat_is_an_integer_1_to_5(csat):
    public = {"state": "closed", "csat": csat, "rates": 6}
    assert code_of(validate_public, "rated", public) == "INVALID_FIELD"


@pytest.mark.parametrize("csat", [1, 2, 3, 4, 5])
def test_csat_valid(csat):
    validate_public("rated", {"state": "closed", "csat": csat, "rates": 6})


def decision_body(**kw):
    body = {
        "context": CTX,
        "outcome": "partially_upheld",
        "finding": "The app showed a wrong fee.",
        "rules": ["PSD2 Art. 73", "T&C 7.2"],
        "evidence": [H],
        "root_cause": "product_defect",
        "remedy": "Refund of the fee.",
    }
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def decision_public(**kw):
    public = {
        "state": "decided",
        "outcome": "partially_upheld",
        "root_cause": "product_defect",
        "rules": ["PSD2 Art. 73", "T&C 7.2"],
        "evidence": [H],
        "signature": SIG,
    }
    public.update(kw)
    return public


def test_decision_valid():
    validate_event("decision", decision_public(), decision_body())


def test_decision_needs_signature_rules_and_context():
    p = decision_public()
    del p["signature"]
    assert code_of(validate_public, "decision", p) == "MISSING_FIELD"
    assert code_of(validate_public, "decision", decision_public(rules=[])) == "INVALID_FIELD"
    assert code_of(validate_body, "decision", decision_body(context=None)) == "MISSING_FIELD"


def test_decision_evidence_are_leaf_hashes():
    assert (
        code_of(validate_public, "decision", decision_public(evidence=["xyz"])) == "INVALID_FIELD"
    )
    assert code_of(validate_public, "decision", decision_public(evidence=[H, H])) == "INVALID_FIELD"
    assert (
        code_of(validate_public, "decision", decision_public(evidence=[H.upper()]))
        == "INVALID_FIELD"
    )


def test_upheld_decision_states_remedy_rejection_need_not():
    assert code_of(validate_body, "decision", decision_body(remedy=None)) == "MISSING_FIELD"
    validate_body("decision", decision_body(remedy=None, outcome="rejected"))


def test_public_must_match_signed_body():
    assert (
        code_of(check_consistency, "decision", decision_public(outcome="upheld"), decision_body())
        == "PUBLIC_BODY_MISMATCH"
    )
    assert (
        code_of(check_consistency, "decision", decision_public(evidence=[]), decision_body())
        == "PUBLIC_BODY_MISMATCH"
    )


def money(**kw):
    m = {"amount": "25.00", "currency": "EUR", "method": "bank_transfer"}
    m.update(kw)
    return {k: v for k, v in m.items() if v is not None}


@pytest.mark.parametrize(
    "fields",
    [
        money(),
        money(amount="1000000"),
        money(amount="0.00012345", currency=None, asset="BTC", method="on_chain"),
        money(amount="5", currency=None, asset="USDC", method="account_credit"),
        money(amount="500", currency="JPY", method="card_refund"),
        money(amount="1.234", currency="KWD"),
    ],
)
def test_money_valid(fields):
    validate_public(
        "compensation_offered", {"state": "compensation_offered", **fields, "signature": SIG}
    )


@pytest.mark.parametrize(
    "fields",
    [
        money(amount="0"),
        money(amount="0.00"),
        money(amount="-5"),
        money(amount="1e3"),
        money(amount="01.5"),
        money(amount="1."),
        money(amount=12),
        money(currency="eur"),
        money(asset="BTC"),  # both currency and asset
        money(currency=None),  # neither
        money(amount="1.005"),  # EUR has 2 decimals
        money(amount="1.5", currency="JPY"),
        money(currency=None, asset="BTC", method="bank_transfer"),
        money(method="on_chain"),  # on-chain needs an asset
        money(method="cheque"),
    ],
)
def test_money_invalid(fields):
    with pytest.raises(PayloadError):
        validate_public(
            "compensation_offered", {"state": "compensation_offered", **fields, "signature": SIG}
        )


def test_amount_may_be_withheld_from_public_but_not_from_body():
    validate_public(
        "compensation_offered",
        {"state": "compensation_offered", "method": "bank_transfer", "signature": SIG},
    )
    with pytest.raises(PayloadError):
        validate_body("compensation_offered", {"context": CTX, "method": "bank_transfer"})


def test_payment_needs_reference_or_tx_hash():
    base = {"context": CTX, "amount": "0.5", "asset": "ETH", "method": "on_chain"}
    validate_body("compensation_paid", {**base, "tx_hash": "0x" + "ab" * 32})
    assert code_of(validate_body, "compensation_paid", base) == "MISSING_FIELD"
    assert (
        code_of(validate_body, "compensation_paid", {**base, "tx_hash": "0x" + "ab" * 31})
        == "INVALID_FIELD"
    )
    assert (
        code_of(validate_body, "compensation_paid", {**base, "tx_hash": "ab" * 32})
        == "INVALID_FIELD"
    )
    fiat = {"context": CTX, "amount": "10.00", "currency": "GBP", "method": "bank_transfer"}
    assert code_of(validate_body, "compensation_paid", fiat) == "MISSING_FIELD"
    validate_body("compensation_paid", {**fiat, "payment_reference": "FPS 2026-03-02/77"})


ON_CHAIN = {
    "context": CTX,
    "amount": "0.05",
    "asset": "ETH",
    "method": "on_chain",
    "tx_hash": "0x" + "ab" * 32,
    "recipient": "0x" + "12" * 20,
    "chain_id": 1,
    "amount_base_units": "50000000000000000",
    "decimals": 18,
}


def test_on_chain_payment_details_are_checked():
    validate_body("compensation_paid", ON_CHAIN)
    token = {**ON_CHAIN, "asset": "USDC", "amount": "25.5", "token": "0x" + "Ab" * 20}
    validate_body("compensation_paid", {**token, "amount_base_units": "25500000", "decimals": 6})
    wrong = [
        ({"amount_base_units": "5000000000000000"}, "PAYMENT_UNITS_MISMATCH"),
        ({"decimals": 17}, "PAYMENT_UNITS_MISMATCH"),
        ({"amount_base_units": "05"}, "INVALID_FIELD"),
        ({"amount_base_units": 5}, "INVALID_FIELD"),
        ({"decimals": 37}, "INVALID_FIELD"),
        ({"recipient": "0x1234"}, "INVALID_FIELD"),
        ({"token": "12" * 20}, "INVALID_FIELD"),
        ({"chain_id": 0}, "INVALID_FIELD"),
        ({"chain_id": True}, "INVALID_FIELD"),
    ]
    for change, code in wrong:
        assert code_of(validate_body, "compensation_paid", {**ON_CHAIN, **change}) == code, change
    no_decimals = {k: v for k, v in ON_CHAIN.items() if k != "decimals"}
    assert code_of(validate_body, "compensation_paid", no_decimals) == "MISSING_FIELD"
    credit = {"context": CTX, "amount": "0.05", "asset": "ETH", "method": "account_credit"}
    credit = {**credit, "payment_reference": "CR-1", "recipient": ON_CHAIN["recipient"]}
    assert code_of(validate_body, "compensation_paid", credit) == "BAD_MONEY"


def test_bundle_export_public():
    public = {"state": "closed", "bundle_sha256": H, "format_version": 1, "tree_size": 7}
    validate_public("bundle_exported", public)
    for change in (
        {"bundle_sha256": H.upper()},
        {"format_version": 0},
        {"format_version": "1"},
        {"tree_size": 0},
        {"exported_by": "Ann Lawyer"},
    ):
        with pytest.raises(PayloadError):
            validate_public("bundle_exported", {**public, **change})
    without = {k: v for k, v in public.items() if k != "tree_size"}
    assert code_of(validate_public, "bundle_exported", without) == "MISSING_FIELD"


def test_public_unit_must_match_body_unit():
    public = {"state": "compensation_paid", **money(), "signature": SIG}
    body = {"context": CTX, **money(currency="GBP"), "payment_reference": "X1"}
    assert code_of(check_consistency, "compensation_paid", public, body) == "PUBLIC_BODY_MISMATCH"


def test_bodies_require_their_core_fields():
    assert code_of(validate_body, "received", {}) == "MISSING_FIELD"
    assert code_of(validate_body, "received", {"description": "   "}) == "INVALID_FIELD"
    assert code_of(validate_body, "info_received", {}) == "MISSING_FIELD"
    validate_body("info_received", {"attachments": [{"name": "a.png", "sha256": H}]})
    assert (
        code_of(validate_body, "info_received", {"attachments": [{"name": "a.png", "sha256": "x"}]})
        == "INVALID_FIELD"
    )
    assert code_of(validate_body, "holding_reply", {}) == "MISSING_FIELD"
    assert code_of(validate_body, "note_added", {"text": ""}) == "INVALID_FIELD"
    validate_body("acknowledged", {"anything": "goes in a body"})


def test_officer_key_public():
    public = {
        "key_id": "ab" * 16,
        "public_key": "cd" * 32,
        "roles": ["officer", "supervisor"],
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": None,
    }
    validate_public("officer_key_registered", public)
    assert (
        code_of(
            validate_public,
            "officer_key_registered",
            {**public, "roles": ["supervisor", "officer"]},
        )
        == "INVALID_FIELD"
    )
    assert (
        code_of(validate_public, "officer_key_registered", {**public, "roles": []})
        == "INVALID_FIELD"
    )
    assert (
        code_of(validate_public, "officer_key_registered", {**public, "name": "Jane"})
        == "UNKNOWN_FIELD"
    )


def test_unknown_event_type():
    assert code_of(validate_public, "bought_lunch", {}) == "UNKNOWN_EVENT_TYPE"


def test_money_compares_by_value():
    a = Money.from_fields({"amount": "10.0", "currency": "EUR"})
    b = Money.from_fields({"amount": "10.00", "currency": "EUR"})
    c = Money.from_fields({"amount": "10.00", "asset": "EUR"})
    assert a == b and a != c
    assert Money.from_fields({"method": "bank_transfer"}) is None


def test_all_event_types_have_specs():
    for et in EventType:
        with pytest.raises(PayloadError):
            validate_public(et, "not an object")
