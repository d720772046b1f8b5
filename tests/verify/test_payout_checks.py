"""The payout checks of the Python verifier (ledger/verify/payouts.py): a vault payout against
the log's offer, acceptance and payment, from a proof alone. The browser verifier's are
compared with these in tests/browser/test_verify_page.py."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from ledger.complaints.events import parse_envelope
from ledger.complaints.vocab import EventType
from ledger.log.note import Signer
from ledger.verify.complaint import verify_complaint_proof
from ledger.verify.payouts import TEXTS, Step, check_payouts, opened_body
from ledger.verify.report import Report
from tests.support.paths import ROOT
from tests.support.payout_scenarios import (
    PAYOUT_BREAKS,
    PAYOUT_FAILED_CATEGORIES,
    PAYOUT_SCENARIOS,
    PAYOUT_TX,
    PAYOUT_VALID,
)
from tests.support.proof_scenarios import ORIGIN, RECIPIENT, SCENARIOS, TOKEN, VAULT

SIGNER = Signer.generate(ORIGIN)
VKEY = str(SIGNER.verifier())
PROOFS = {name: build(SIGNER) for name, build in PAYOUT_SCENARIOS.items()}


def _payout_checks(report: Report) -> list[tuple[str, str, str]]:
    return [(c.name, c.status, c.detail) for c in report.checks if c.category == "payout"]


def _verify(name: str) -> Report:
    return verify_complaint_proof(PROOFS[name], VKEY)


def test_the_texts_are_the_browser_verifiers_english_messages() -> None:
    english = json.loads((ROOT / "api/static/verify/i18n/en.json").read_text("utf-8"))
    for key, text in TEXTS.items():
        section, name = key.split(".", 1)
        assert english[section][name] == text, key
    assert english["cat"]["payout"]["name"] == "Vault payout"


def _public(name: str, seq: int) -> dict[str, Any]:
    return json.loads(PROOFS[name]["events"][seq]["leaf"])["public"]


def test_a_vault_payout_in_a_token_verifies() -> None:
    report = _verify("payout_in_a_token")
    assert report.ok
    payout = _public("payout_in_a_token", 5)["payout"]
    assert _payout_checks(report) == [
        (
            "Step 3: the offer's payout terms",
            "ok",
            f"Chain 31337, vault {VAULT}, token {TOKEN}, 25500000 base units.",
        ),
        (
            "Step 4: the acceptance's payout commitment",
            "ok",
            f"The offer of step 3, paid to {RECIPIENT}.",
        ),
        (
            "Step 5: the payment names the accepted payout",
            "ok",
            f"Payout commitment {payout}.",
        ),
        (
            "Step 5: the payment pays the accepted terms",
            "ok",
            f"Paid to {RECIPIENT}, transaction {PAYOUT_TX}.",
        ),
    ]


def test_a_vault_payout_in_the_native_coin_verifies() -> None:
    report = _verify("payout_in_the_native_coin")
    assert report.ok
    checks = _payout_checks(report)
    assert [status for _, status, _ in checks] == ["ok"] * 4
    assert checks[0][2] == (
        f"Chain 31337, vault {VAULT}, the chain's native coin, 15000000000000000 base units."
    )


def test_without_the_texts_only_the_public_commitment_is_checked() -> None:
    report = _verify("payout_without_bodies")
    assert report.ok
    needs = (
        "Needs the text of step 3, which this proof does not disclose (the complaint's "
        "secret or its evidence bundle does)."
    )
    payout = _public("payout_without_bodies", 5)["payout"]
    assert _payout_checks(report) == [
        ("Step 3: the offer's payout terms", "skip", needs),
        ("Step 4: the acceptance's payout commitment", "skip", needs),
        ("Step 5: the payment names the accepted payout", "ok", f"Payout commitment {payout}."),
        ("Step 5: the payment pays the accepted terms", "skip", needs),
    ]


@pytest.mark.parametrize("name", sorted(PAYOUT_BREAKS))
def test_texts_that_disagree_fail_the_payout_check(name: str) -> None:
    report = _verify(name)
    assert not report.ok
    assert {c.category for c in report.failures} == PAYOUT_FAILED_CATEGORIES[name]
    failed = [(n, d) for n, status, d in _payout_checks(report) if status == "fail"]
    assert failed == [PAYOUT_BREAKS[name]]


def test_the_scenarios_are_what_both_verifiers_are_compared_on() -> None:
    assert {n for n in PROOFS if _verify(n).ok} == PAYOUT_VALID
    assert set(PAYOUT_FAILED_CATEGORIES) == set(PROOFS) - PAYOUT_VALID


def test_a_complaint_without_a_vault_payout_has_no_payout_checks() -> None:
    for name in ("valid", "valid_without_bodies", "vault_paid_without_payout"):
        report = verify_complaint_proof(SCENARIOS[name](SIGNER), VKEY)
        assert _payout_checks(report) == [], name


# --- the checks on texts the log would refuse: a verifier reports, never raises --------------


def _steps(name: str = "payout_in_a_token") -> list[Step]:
    return [
        Step(env, opened_body(env, item.get("salt"), item.get("body")))
        for item in PROOFS[name]["events"]
        for env in [parse_envelope(item["leaf"].encode())]
    ]


def _with(steps: list[Step], seq: int, **changes: Any) -> list[Step]:
    body = {**(steps[seq].body or {}), **changes}
    body = {k: v for k, v in body.items() if v is not _DROP}
    return [*steps[:seq], Step(steps[seq].env, body), *steps[seq + 1 :]]


_DROP = object()


def _run(steps: list[Step]) -> list[tuple[str, str, str]]:
    report = Report()
    check_payouts(report, steps)
    return _payout_checks(report)


@pytest.mark.parametrize(
    ("seq", "changes", "expected"),
    [
        # The offer's text: its terms, of any type.
        (3, {"chain_id": "31337"}, ["fail", "skip", "ok", "skip"]),
        (3, {"chain_id": True}, ["fail", "skip", "ok", "skip"]),
        (3, {"chain_id": 2**53}, ["fail", "skip", "ok", "skip"]),
        (3, {"vault": "0x12"}, ["fail", "skip", "ok", "skip"]),
        (3, {"token": 7}, ["fail", "skip", "ok", "skip"]),
        (3, {"amount_base_units": "025500000"}, ["fail", "skip", "ok", "skip"]),
        (3, {"amount_base_units": str(2**256)}, ["fail", "skip", "ok", "skip"]),
        (3, {"amount_base_units": 25500000}, ["fail", "skip", "ok", "skip"]),
        (3, {"vault": _DROP}, ["fail", "skip", "ok", "skip"]),
        # The same terms spelled in upper case still commit to the same words.
        (3, {"vault": VAULT.upper().replace("0X", "0x")}, ["ok", "ok", "ok", "ok"]),
        # The acceptance's address.
        (4, {"recipient": "not an address"}, ["ok", "fail", "ok", "skip"]),
        (4, {"recipient": _DROP}, ["ok", "fail", "ok", "skip"]),
        (4, {"recipient": ["0x" + "c1" * 20]}, ["ok", "fail", "ok", "skip"]),
        # The payment's text.
        (5, {"tx_hash": _DROP}, ["ok", "ok", "ok", "fail"]),
        (5, {"tx_hash": "0x" + "ab" * 31}, ["ok", "ok", "ok", "fail"]),
        (5, {"amount_base_units": "25500001"}, ["ok", "ok", "ok", "fail"]),
        (5, {"token": None}, ["ok", "ok", "ok", "fail"]),
        (5, {"recipient": RECIPIENT.upper().replace("0X", "0x")}, ["ok", "ok", "ok", "ok"]),
    ],
)
def test_texts_of_any_shape_are_checked_not_raised(
    seq: int, changes: dict[str, Any], expected: list[str]
) -> None:
    checks = _run(_with(_steps(), seq, **changes))
    assert [status for _, status, _ in checks] == expected, checks


def test_an_erased_text_is_not_used() -> None:
    steps = _steps()
    erased = steps[4].env.leaf_hash_hex
    erasure = replace(steps[6].env, type=EventType.ERASED, public={"erases": erased})
    checks = _run([*steps[:6], Step(erasure, None)])
    assert [status for _, status, _ in checks] == ["ok", "skip", "ok", "skip"]
    assert checks[1][2].startswith("Needs the text of step 4,")


def test_a_payment_without_an_accepted_vault_offer_fails() -> None:
    steps = _steps()
    without_acceptance = [*steps[:4], steps[5]]
    assert _run(without_acceptance) == [
        (
            "Step 5: the payment names the accepted payout",
            "fail",
            "No acceptance of a vault offer precedes this payment.",
        )
    ]
    without_offer = [*steps[:3], *steps[4:6]]
    assert _run(without_offer) == [
        (
            "Step 4: the acceptance's payout commitment",
            "fail",
            "No offer precedes the acceptance of step 4.",
        )
    ]


def test_a_body_that_does_not_open_its_commitment_is_not_used() -> None:
    item = PROOFS["payout_in_a_token"]["events"][3]
    env = parse_envelope(item["leaf"].encode())
    assert opened_body(env, item["salt"], item["body"]) is not None
    assert opened_body(env, item["salt"], item["body"].replace("25500000", "25500001")) is None
    assert opened_body(env, "zz", item["body"]) is None
    spaced = " ".join(item["salt"][i : i + 2] for i in range(0, 64, 2))  # bytes.fromhex reads it
    assert opened_body(env, spaced, item["body"]) is None
    assert opened_body(env, item["salt"].upper(), item["body"]) is not None  # as hexdecode does
    assert opened_body(env, item["salt"], None) is None
    assert opened_body(env, None, item["body"]) is None
