"""Officers sign in Chromium with WebCrypto Ed25519: one imports the key file `ledger-officer
keygen` wrote, links it to their account and signs a decision and (above their key's
dual-control threshold) an offer; a second officer creates a non-extractable key in the
browser, has it registered, links it and co-signs. Every request both browsers make is
captured: none carries the private key (PEM, its DER body, the raw seed in hex or base64).
The complaint's proof then verifies. Screenshots in test-artifacts/console/; axe-core on
every page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from playwright.sync_api import expect

from ledger.access.apikeys import create_api_key
from ledger.casework.drafts import DraftStatus
from ledger.complaints.officers import officer_key_id
from ledger.verify.complaint import verify_complaint_proof
from tests.support.axe import assert_accessible
from tests.support.browser import PHONE, Visit
from tests.support.paths import ARTIFACTS
from tests.support.signing import (
    JUNIOR_LIMITS,
    SENIOR_LIMITS,
    Officer,
    decision_ready,
    register_key,
    secret_forms,
    staff_member,
)

SHOTS = ARTIFACTS / "console"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def signed_in(browser, base_url: str, member: Officer, **kw) -> Visit:
    visit = Visit(browser, base_url, **kw)
    visit.context.add_cookies([{
        "name": "console_session", "value": member.session_id, "domain": "127.0.0.1",
        "path": "/console", "httpOnly": True, "sameSite": "Strict",
    }])  # fmt: skip
    return visit


def check(visit: Visit, name: str) -> None:
    page = visit.page
    page.wait_for_load_state("load")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert_accessible(page, f"console-{name}")
    assert visit.errors == [], visit.errors


def key_file(page, pem: bytes) -> None:
    page.set_input_files("#key-file", files=[
        {"name": "officer.pem", "mimeType": "application/x-pem-file", "buffer": pem}])  # fmt: skip


def test_officers_sign_and_cosign_in_the_browser(browser, live_server, ledger, tmp_path) -> None:
    base = live_server.url
    ref = decision_ready(ledger)
    junior = staff_member(ledger, "Jun Officer", ["officer"])
    junior.key = Ed25519PrivateKey.generate()
    register_key(ledger, junior.key, "Jun Officer", JUNIOR_LIMITS)
    pem = junior.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    senior = staff_member(ledger, "Sen Officer", ["officer"])

    # The junior officer links their key file to their account.
    jv = signed_in(browser, base, junior)
    page = jv.page
    page.goto(f"{base}/console/signing-key")
    expect(page.locator("[data-signing][data-ready=true]")).to_have_count(1)
    check(jv, "sign-key-empty")
    key_file(page, pem)
    expect(page.get_by_test_id("key-id")).to_have_text(junior.key_id)
    expect(page.get_by_test_id("key-check")).to_have_attribute("data-state", "unlinked")
    page.get_by_test_id("link-button").click()
    expect(page.get_by_test_id("done-notice")).to_contain_text(junior.key_id)
    expect(page.get_by_test_id(f"held-key-{junior.key_id}")).to_be_visible()
    check(jv, "sign-key-linked")

    # They draft the decision, with an offer of EUR 50 to follow.
    page.goto(f"{base}/console/complaints/{ref}/draft")
    check(jv, "sign-draft-form")
    page.locator("#outcome-upheld").check()
    page.locator("#finding").fill("Our fee estimator held the withdrawal for 9 hours.")
    page.locator("#rules").fill("PSD2 Art. 89\nWithdrawal SLA 4.2")
    page.locator("#evidence-2").check()
    page.locator("#root_cause").select_option("product_defect")
    page.locator("#remedy").fill("We refund the fee and pay EUR 50 for the delay.")
    page.locator("#offer_amount").fill("50.00")
    page.locator("#offer_unit").select_option("currency:EUR")
    page.locator("#offer_method").select_option("bank_transfer")
    page.get_by_test_id("draft-submit").click()

    # Review and sign: the words, the exact bytes, the key from the key file.
    expect(page.get_by_test_id("draft-status")).to_have_attribute("data-status", "drafted")
    expect(page.locator("[data-signing][data-ready=true]")).to_have_count(1)
    decision = ledger.drafts.for_complaint(ref)[0]
    assert page.get_by_test_id("body-jcs").inner_text() == decision.body_jcs
    check(jv, "sign-review")
    phone = signed_in(browser, base, junior, viewport=PHONE)
    phone.page.goto(page.url)
    check(phone, "sign-review-phone")
    assert phone.no_horizontal_scroll(), "the review page scrolls sideways at 375 px"
    expect(page.get_by_test_id("sign-button")).to_be_disabled()
    key_file(page, pem)
    expect(page.get_by_test_id("key-check")).to_have_attribute("data-state", "ok")
    page.get_by_test_id("sign-button").click()
    expect(page.get_by_test_id("done-notice")).to_have_attribute("data-done", "recorded")
    expect(page.get_by_test_id("draft-status")).to_have_attribute("data-status", "recorded")
    check(jv, "sign-recorded")

    # The offer is above the key's EUR 20 threshold: the signature is held.
    page.goto(f"{base}/console/complaints/{ref}/sign")
    expect(page.get_by_test_id("draft-words")).to_contain_text("50.00 EUR")
    key_file(page, pem)
    page.get_by_test_id("sign-button").click()
    expect(page.get_by_test_id("done-notice")).to_have_attribute("data-done", "signed")
    expect(page.get_by_test_id("dual-control")).to_contain_text("above 20.00 EUR")
    check(jv, "sign-held-for-cosignature")
    offer = ledger.drafts.for_complaint(ref)[1]
    assert offer.status == DraftStatus.SIGNED

    # The senior officer makes a key in their browser; an admin registers its public half.
    sv = signed_in(browser, base, senior)
    page = sv.page
    page.goto(f"{base}/console/signing-key")
    expect(page.locator("[data-signing][data-ready=true]")).to_have_count(1)
    page.get_by_test_id("create-browser-key").click()
    expect(page.get_by_test_id("key-public")).to_have_text(HEX64)
    public_hex = page.get_by_test_id("key-public").inner_text()
    senior_key_id = page.get_by_test_id("key-id").inner_text()
    assert senior_key_id == officer_key_id(bytes.fromhex(public_hex))
    extractable = page.evaluate(
        """() => new Promise((resolve) => {
            const req = indexedDB.open('ledger-console-signing', 1);
            req.onsuccess = () => {
                const get = req.result.transaction('keys').objectStore('keys').get('officer');
                get.onsuccess = () => resolve(get.result.privateKey.extractable);
            };
        })"""
    )
    assert extractable is False
    check(sv, "sign-key-browser")
    ledger.officer_keys.register(
        admin_id="admin-1", public_key=bytes.fromhex(public_hex), roles=["officer"],
        valid_from=datetime.now(UTC) - timedelta(minutes=5), valid_until=None,
        name="Sen Officer", limits=SENIOR_LIMITS,
    )  # fmt: skip
    page.reload()
    expect(page.get_by_test_id("key-id")).to_have_text(senior_key_id)  # kept in IndexedDB
    page.get_by_test_id("link-button").click()
    expect(page.get_by_test_id("done-notice")).to_contain_text(senior_key_id)

    # ... and co-signs the same bytes with the key kept in the browser.
    page.goto(f"{base}/console/complaints/{ref}/cosign")
    expect(page.locator("h1")).to_contain_text("Co-sign")
    expect(page.locator("[data-signing][data-ready=true]")).to_have_count(1)
    page.get_by_test_id("use-browser-key").click()
    expect(page.get_by_test_id("key-check")).to_have_attribute("data-state", "ok")
    check(sv, "sign-cosign")
    page.get_by_test_id("sign-button").click()
    expect(page.get_by_test_id("done-notice")).to_have_attribute("data-done", "recorded")
    check(sv, "sign-cosigned")

    last = ledger.complaints.reads.events(ref)[-1].envelope
    assert last.type == "compensation_offered"
    assert last.public["signature"]["key_id"] == junior.key_id
    assert last.public["cosignature"]["key_id"] == senior_key_id

    # No request of either browser carried the private key, in any spelling.
    leaks = secret_forms(junior.key)
    requests_made = jv.requests + sv.requests + phone.requests
    assert any(r.method == "POST" for r in requests_made)
    for r in requests_made:
        seen = " ".join([r.url, str(r.headers), r.post_data or ""])
        for leak in leaks:
            assert leak not in seen, f"the private key was sent with {r.method} {r.url}"
    signs = [r for r in requests_made if r.method == "POST" and r.url.endswith("sign")]
    assert signs and all(
        set(_fields(r.post_data)) == {"csrf_token", "body_sha256", "key_id", "sig"} for r in signs
    )

    # The customer's proof verifies every signature and co-signature.
    token = create_api_key(ledger.engine, "auditor", "legal")[0]
    proof = requests.get(f"{base}/v1/complaints/{ref}/proof", timeout=30,
                         headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    report = verify_complaint_proof(proof, str(ledger.store.verifier))
    assert report.ok, [c for c in report.checks if not c.ok]
    assert any(c.category == "signatures" and c.status == "ok" for c in report.checks)


def _fields(post_data: str | None) -> list[str]:
    return [pair.split("=", 1)[0] for pair in (post_data or "").split("&") if pair]
