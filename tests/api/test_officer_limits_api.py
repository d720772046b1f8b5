"""Officer limits and dual control over HTTP: keys registered with limits (with the officer
tool), over-limit and single-signed steps refused with problem+json and nothing written, a
dual-signed offer and payment accepted; and a step over the limit forced into the log by a
writer that skipped the check is flagged by the proof verifier, the bundle verifier and the
monitor."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.cli import officer as officer_tool
from ledger.complaints import officers
from ledger.complaints.officers import officer_key_id, sign_body, signature_field
from ledger.monitor import Monitor, StateFile, http_fetch
from ledger.verify.bundle import verify_bundle
from ledger.verify.complaint import verify_complaint_proof
from tests.support.complaint_api import Client

DECISION = {
    "outcome": "upheld",
    "finding": "The card was charged twice.",
    "rules": ["PSD2 Art. 73"],
    "evidence": [],
    "root_cause": "process_failure",
    "remedy": "We refund the second charge.",
}
DECISION_PUBLIC = {k: DECISION[k] for k in ("outcome", "root_cause", "rules", "evidence")}


def eur(amount: str) -> dict:
    return {"amount": amount, "currency": "EUR", "method": "bank_transfer"}


def run_tool(capsys, monkeypatch, *argv: str, stdin: str = "") -> dict:
    """The officer tool (scripts/officer.py), its JSON output."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert officer_tool.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def keys(actors, tmp_path: Path, capsys, monkeypatch) -> dict:
    """Three officer keys: a junior's registered with the officer tool (EUR 100 in refunds and
    stuck transactions, co-signed above EUR 20), a senior's (EUR 1000) and a key without
    limits (the actors' officer key)."""
    admin = actors["admin"]
    junior_file = tmp_path / "junior.pem"
    officer_tool.write_key(junior_file, Ed25519PrivateKey.generate())
    valid_from = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    request = run_tool(
        capsys, monkeypatch, "register", str(junior_file), "--name", "Jun Officer",
        "--valid-from", valid_from, "--limit", "EUR=100.00", "--category", "stuck_transaction",
        "--category", "refund_or_claim", "--dual-control-above", "EUR=20.00",
    )  # fmt: skip
    assert request["limits"] == {
        "amounts": {"EUR": "100.00"},
        "categories": ["refund_or_claim", "stuck_transaction"],
        "dual_control_above": {"EUR": "20.00"},
    }
    junior = admin.post("/v1/officers/keys", request)["key"]
    assert junior["limits"] == request["limits"]
    senior_key = Ed25519PrivateKey.generate()
    senior_file = tmp_path / "senior.pem"
    officer_tool.write_key(senior_file, senior_key)
    public = run_tool(capsys, monkeypatch, "public", str(senior_file))
    senior = admin.post(
        "/v1/officers/keys",
        {
            "public_key": public["public_key"],
            "roles": ["officer"],
            "valid_from": valid_from,
            "name": "Sen Officer",
            "limits": {"amounts": {"EUR": "1000.00"}},
        },
    )["key"]
    assert senior["key_id"] == public["key_id"]
    return {
        "junior": officer_tool.load_key(junior_file),
        "junior_file": junior_file,
        "senior": senior_key,
        "senior_file": senior_file,
        "free": actors["officer_key"],
    }


def file_complaint(actors, category: str = "refund_or_claim") -> tuple[str, Client]:
    filed = actors["anon"].post(
        "/v1/complaints",
        {"category": category, "channel": "web_form", "language": "en",
         "description": "I was charged twice."},
    )  # fmt: skip
    actors["agent"].post(f"/v1/complaints/{filed['reference']}/events", {"type": "acknowledged"})
    return filed["reference"], Client(actors["url"], filed["secret"])


def signing_body(actors, ref: str, type_: str, content: dict) -> dict:
    return actors["officer"].post(
        f"/v1/complaints/{ref}/signing-body", {"type": type_, "content": content}, expect=200
    )


def post_signed(
    actors,
    ref: str,
    type_: str,
    content: dict,
    public: dict,
    key: Ed25519PrivateKey,
    cosign: Ed25519PrivateKey | None = None,
) -> requests.Response:
    """A signed step, signed by ``key`` (and co-signed), as the raw HTTP response."""
    to_sign = signing_body(actors, ref, type_, content)
    body_jcs = to_sign["body_jcs"].encode("utf-8")
    public = {**public, "signature": {"key_id": officer_key_id(key),
                                      "sig": sign_body(key, body_jcs).hex()}}  # fmt: skip
    if cosign is not None:
        public["cosignature"] = {"key_id": officer_key_id(cosign),
                                 "sig": sign_body(cosign, body_jcs).hex()}  # fmt: skip
    return actors["officer"].session.post(
        f"{actors['url']}/v1/complaints/{ref}/events",
        json={"type": type_, "public": public, "body": to_sign["body"]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )


def assert_refused(resp: requests.Response, code: str, ledger, size: int) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["type"] == "/problems/officer-not-authorised" and problem["status"] == 403
    assert problem["code"] == code, problem
    assert ledger.store.size() == size  # nothing written


def decided(actors, keys, category: str = "refund_or_claim") -> tuple[str, Client]:
    ref, customer = file_complaint(actors, category)
    r = post_signed(actors, ref, "decision", DECISION, DECISION_PUBLIC, keys["junior"])
    assert r.status_code == 201, r.text
    return ref, customer


# --- registration -----------------------------------------------------------------------------


def test_keys_are_listed_with_their_limits(actors, keys) -> None:
    listed = {k["key_id"]: k for k in actors["anon"].get("/v1/officers/keys")["keys"]}
    assert listed[officer_key_id(keys["junior"])]["limits"]["dual_control_above"] == {
        "EUR": "20.00"
    }
    assert listed[officer_key_id(keys["senior"])]["limits"] == {"amounts": {"EUR": "1000.00"}}
    assert listed[actors["key_id"]]["limits"] is None  # registered without limits


@pytest.mark.parametrize(
    ("limits", "code", "field"),
    [
        ({"amounts": {"EUR": "0"}}, "INVALID_FIELD", "public.limits.amounts.EUR"),
        ({"amounts": {"eur": "5.00"}}, "INVALID_FIELD", "public.limits.amounts.eur"),
        ({"amounts": {"EUR": "5"}, "dual_control_above": {"USD": "1"}}, "BAD_LIMITS",
         "public.limits.dual_control_above.USD"),
    ],
)  # fmt: skip
def test_bad_limits_are_refused_and_nothing_is_written(actors, ledger, limits, code, field) -> None:
    size = ledger.store.size()
    request = {
        "public_key": Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex(),
        "roles": ["officer"],
        "valid_from": datetime.now(UTC).isoformat(),
        "name": "Bad Limits",
        "limits": limits,
    }
    r = actors["admin"].session.post(f"{actors['url']}/v1/officers/keys", json=request, timeout=30)
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["type"] == "/problems/invalid-payload" and problem["code"] == code
    assert field in problem["errors"]["json"]
    # The request's shape is the schema's: unknown fields and a category that is none.
    for shape in ({"amounts": {}, "max": "1"}, {"amounts": {}, "categories": ["nope"]}):
        r = actors["admin"].session.post(
            f"{actors['url']}/v1/officers/keys", json={**request, "limits": shape}, timeout=30
        )
        assert r.status_code == 422 and r.json()["type"] == "/problems/validation-error"
    assert ledger.store.size() == size


# --- refusals ---------------------------------------------------------------------------------


def test_over_the_limit_is_refused(actors, keys, ledger) -> None:
    ref, _ = decided(actors, keys)
    size = ledger.store.size()
    offer = eur("150.00")
    r = post_signed(actors, ref, "compensation_offered", offer, offer, keys["junior"],
                    cosign=keys["senior"])  # fmt: skip
    assert_refused(r, "OVER_LIMIT", ledger, size)
    assert "150.00 EUR" in r.json()["detail"]


def test_a_category_outside_the_keys_is_refused(actors, keys, ledger) -> None:
    ref, _ = file_complaint(actors, "hacked_account")
    size = ledger.store.size()
    r = post_signed(actors, ref, "decision", DECISION, DECISION_PUBLIC, keys["junior"])
    assert_refused(r, "CATEGORY_NOT_ALLOWED", ledger, size)


def test_a_single_signature_above_the_threshold_is_refused(actors, keys, ledger) -> None:
    ref, _ = decided(actors, keys)
    size = ledger.store.size()
    offer = eur("50.00")
    r = post_signed(actors, ref, "compensation_offered", offer, offer, keys["junior"])
    assert_refused(r, "COSIGNATURE_REQUIRED", ledger, size)
    assert list(r.json()["errors"]["json"]) == ["public.cosignature"]
    r = post_signed(actors, ref, "compensation_offered", offer, offer, keys["junior"],
                    cosign=keys["junior"])  # fmt: skip
    assert_refused(r, "COSIGNER_SAME_KEY", ledger, size)
    # A co-signature over another body: its bytes are checked on the write path.
    to_sign = signing_body(actors, ref, "compensation_offered", offer)
    body_jcs = to_sign["body_jcs"].encode()
    public = {
        **offer,
        "signature": {"key_id": officer_key_id(keys["junior"]),
                      "sig": sign_body(keys["junior"], body_jcs).hex()},
        "cosignature": signature_field(keys["senior"], {**to_sign["body"], "amount": "49.00"}),
    }  # fmt: skip
    r = actors["officer"].session.post(
        f"{actors['url']}/v1/complaints/{ref}/events",
        json={"type": "compensation_offered", "public": public, "body": to_sign["body"]},
        timeout=30,
    )
    assert_refused(r, "COSIGNATURE_INVALID", ledger, size)
    # At the threshold one signature is enough.
    offer = eur("20.00")
    r = post_signed(actors, ref, "compensation_offered", offer, offer, keys["junior"])
    assert r.status_code == 201, r.text


def test_dual_signed_offer_and_payment_are_recorded_and_verify(
    actors, keys, ledger, capsys, monkeypatch
) -> None:
    """The second officer co-signs with the officer tool (``cosign``), the first signs with
    it and sends the step; the proof verifies offline with both keys' authority."""
    ref, customer = decided(actors, keys)
    for type_, content, public in [
        ("compensation_offered", eur("80.00"), eur("80.00")),
        ("compensation_paid", {**eur("80.00"), "payment_reference": "SEPA-80"}, eur("80.00")),
    ]:
        answer = json.dumps(signing_body(actors, ref, type_, content))
        cosigned = run_tool(capsys, monkeypatch, "cosign", str(keys["senior_file"]), stdin=answer)
        assert cosigned["cosignature"]["key_id"] == officer_key_id(keys["senior"])
        step = run_tool(capsys, monkeypatch, "sign", str(keys["junior_file"]),
                        "--public", json.dumps({**public, **cosigned}), stdin=answer)  # fmt: skip
        recorded = actors["officer"].post(f"/v1/complaints/{ref}/events", step)
        assert recorded["event"]["public"]["cosignature"] == cosigned["cosignature"]
        if type_ == "compensation_offered":
            customer.post(f"/v1/complaints/{ref}/events", {"type": "compensation_accepted"})
    assert recorded["status"] == "compensation_paid"
    proof = customer.get(f"/v1/complaints/{ref}/proof")
    assert {k["key_id"] for k in proof["officer_keys"]} == {
        officer_key_id(keys["junior"]),
        officer_key_id(keys["senior"]),
    }
    report = verify_complaint_proof(proof, str(ledger.store.verifier))
    assert report.ok, [c for c in report.checks if not c.ok]


# --- a step over the limit forced into the log ------------------------------------------------


def test_a_forced_over_limit_step_is_flagged_by_every_verifier(
    actors, keys, ledger, monkeypatch, tmp_path
) -> None:
    """A writer that skipped the limit check (here: the service with it switched off) logs
    an offer over the junior's limit; the service's own bundle export is just as blind. The
    proof verifier, the bundle verifier and the monitor, which check limits from the leaves,
    each flag it."""
    ref, customer = decided(actors, keys)
    with monkeypatch.context() as m:
        m.setattr(officers, "check_signed_step", lambda *a, **k: None)
        offer = eur("150.00")
        r = post_signed(actors, ref, "compensation_offered", offer, offer, keys["junior"])
        assert r.status_code == 201, r.text
        legal = Client(actors["url"], actors["tokens"]["legal"])
        export = legal.session.post(f"{actors['url']}/v1/complaints/{ref}/bundle", json={},
                                    timeout=60)  # fmt: skip
        assert export.status_code == 201, export.text
    vkey = str(ledger.store.verifier)

    proof = customer.get(f"/v1/complaints/{ref}/proof")
    report = verify_complaint_proof(proof, vkey)
    failed = [c for c in report.checks if not c.ok]
    assert not report.ok and [c.category for c in failed] == ["authority"]
    assert failed[0].detail.startswith("OVER_LIMIT at event 3:")

    bundle = verify_bundle(export.content, log_key=vkey)
    assert not bundle.ok
    assert any(c.detail.startswith("OVER_LIMIT at event 3:") for c in bundle.checks if not c.ok)

    state = StateFile(tmp_path / "monitor.sqlite3")
    try:
        monitor = Monitor(http_fetch(actors["url"]), state, vkey, None).run()
    finally:
        state.close()
    assert not monitor.ok
    assert any("OVER_LIMIT" in p and ref in p for p in monitor.problems), monitor.lines()
