"""A complaint worked from the console end to end, in Chromium: an agent signs in with
password and TOTP, claims the complaint from the queue, acknowledges it (the letter previewed
in the customer's Portuguese) and asks for information; the customer answers through the API;
the agent escalates to a security specialist, who claims it; an officer drafts and signs the
decision in the browser with their key file, then an offer above their dual-control threshold
that a second officer co-signs; the customer accepts; the second officer signs the payment;
the specialist closes the complaint. The customer's proof then verifies every signature and
names who was responsible, in Python and on /verify. No officer's private key is in any
request. Every page is screenshotted (test-artifacts/staff-journey/) and checked by axe-core.
"""

from __future__ import annotations

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from playwright.sync_api import expect

from ledger.verify.complaint import verify_complaint_proof
from tests.support.axe import assert_accessible
from tests.support.browser import Visit
from tests.support.console import StaffLogin, make_staff
from tests.support.paths import ARTIFACTS
from tests.support.signing import (
    JUNIOR_LIMITS,
    SENIOR_LIMITS,
    Officer,
    register_key,
    secret_forms,
)
from tests.support.signing import link_key as link_officer_key

SHOTS = ARTIFACTS / "staff-journey"
COMPLAINT = {
    "category": "hacked_account",
    "channel": "web_form",
    "language": "pt",
    "description": "Alguém entrou na minha conta e levou 50 euros.",
    "contact": {"channel": "email", "email": "ana@example.org", "name": "Ana Silva",
                "consent": True},
}  # fmt: skip
PARAGRAPH = "Lamento muito o sucedido; eu próprio acompanho o seu caso."


class Desk:
    """One staff member's browser: signs in through the form, checks every page it shows."""

    def __init__(self, browser, base: str, login: StaffLogin, name: str) -> None:
        self.visit = Visit(browser, base)
        self.page, self.base, self.login, self.name = self.visit.page, base, login, name
        self.shots = 0

    def check(self, what: str) -> None:
        self.page.wait_for_load_state("load")
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        shot = f"{self.name}-{self.shots:02d}-{what}"
        self.page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        assert_accessible(self.page, f"staff-journey-{shot}")
        assert self.visit.errors == [], self.visit.errors

    def sign_in(self) -> None:
        page = self.page
        page.goto(f"{self.base}/console/sign-in")
        page.locator("#username").fill(self.login.username)
        page.locator("#password").fill(self.login.password)
        page.locator("#code").fill(self.login.code())
        page.get_by_test_id("sign-in-submit").click()
        expect(page.get_by_test_id("signed-in-as")).to_have_text(self.login.display_name)
        self.check("signed-in")

    def open(self, reference: str) -> None:
        self.page.goto(f"{self.base}/console/complaints/{reference}")
        expect(self.page.get_by_test_id("complaint-reference")).to_have_text(reference)

    def submit(self, action: str) -> None:
        self.page.get_by_test_id(f"{action}-submit").click()
        expect(self.page.get_by_test_id("done-notice")).to_be_visible()

    def use_key_file(self, pem: bytes) -> None:
        page = self.page
        expect(page.locator("[data-signing][data-ready=true]")).to_have_count(1)  # script ready
        upload = {"name": "officer.pem", "mimeType": "application/x-pem-file", "buffer": pem}
        page.set_input_files("#key-file", files=[upload])
        expect(page.get_by_test_id("key-check")).to_have_attribute("data-state", "ok")

    def close(self) -> None:
        self.visit.close()


def pem_of(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def officer_login(ledger, name: str, limits: dict) -> tuple[StaffLogin, Ed25519PrivateKey]:
    """An officer account with a registered key (with ``limits``) linked to it."""
    username = name.split()[0].lower().replace("ê", "e")
    login = make_staff(ledger, "officer", username=username, display_name=name)
    key = Ed25519PrivateKey.generate()
    register_key(ledger, key, name, limits)
    link_officer_key(ledger, Officer(login.account_id, login.pseudonym, "", "", key))
    return login, key


@pytest.mark.slow
def test_a_complaint_worked_from_the_console_to_closure_verifies(
    browser, live_server, ledger, visit
) -> None:
    base = live_server.url
    agent = make_staff(ledger, "agent", username="rui", display_name="Rui Costa",
                       languages=["pt", "en"])  # fmt: skip
    specialist = make_staff(ledger, "agent", username="marta", display_name="Marta Soler",
                            specialisms=["security"])  # fmt: skip
    junior, junior_key = officer_login(ledger, "Inês Duarte", JUNIOR_LIMITS)
    senior, senior_key = officer_login(ledger, "Tomas Jonaitis", SENIOR_LIMITS)

    # The customer files through the API; the complaint waits, unowned, in its queue.
    filed = requests.post(f"{base}/v1/complaints", json=COMPLAINT, timeout=30)
    assert filed.status_code == 201, filed.text
    ref, secret = filed.json()["reference"], filed.json()["secret"]
    customer = {"Authorization": f"Bearer {secret}"}

    # The agent signs in with password and TOTP and claims it from the worklist.
    desk = Desk(browser, base, agent, "agent")
    desk.sign_in()
    page = desk.page
    page.locator("#filter-queue").select_option("hacked_account.pt")
    page.get_by_test_id("filter-submit").click()
    row = page.locator(f"[data-testid=work-item][data-reference='{ref}']")
    expect(row).to_be_visible()
    desk.check("worklist-queue")
    page.get_by_test_id(f"open-{ref}").click()
    desk.check("complaint")
    desk.submit("claim")
    expect(page.get_by_test_id("owner")).to_contain_text("Rui Costa")

    # The acknowledgement: the letter is previewed in Portuguese with the personal
    # paragraph and the agent's name, then sent.
    page.locator("#acknowledge-paragraph").fill(PARAGRAPH)
    page.get_by_test_id("acknowledge-preview").click()
    preview = page.get_by_test_id("letter-preview")
    expect(preview).to_have_attribute("data-language", "pt")
    expect(preview).to_contain_text(PARAGRAPH)
    expect(preview).to_contain_text("Rui Costa")
    desk.check("acknowledge-preview")
    page.get_by_test_id("acknowledge-submit").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "acknowledged")

    page.locator("#request_info-request").fill("Que dispositivo usou pela última vez?")
    desk.submit("request_info")
    desk.check("info-requested")

    # The customer answers through the API.
    answered = requests.post(f"{base}/v1/complaints/{ref}/events", headers=customer,
                             json={"type": "info_received", "body": {"text": "Um Android."}},
                             timeout=30)  # fmt: skip
    assert answered.status_code == 201, answered.text

    # The agent escalates to a security specialist: the owner is cleared.
    desk.open(ref)
    page.locator("#escalate-level").select_option("specialist")
    page.locator("#escalate-specialism").select_option("security")
    page.locator("#escalate-reason").select_option("security_risk")
    desk.submit("escalate")
    expect(page.get_by_test_id("owner")).to_have_text("Unowned")
    desk.check("escalated")

    # The specialist claims it from the security queue.
    expert = Desk(browser, base, specialist, "specialist")
    expert.sign_in()
    expert.page.locator("#filter-queue").select_option("specialist-security.pt")
    expert.page.get_by_test_id("filter-submit").click()
    expert.page.get_by_test_id(f"open-{ref}").click()
    expert.submit("claim")
    expect(expert.page.get_by_test_id("owner")).to_contain_text("Marta Soler")

    # The first officer drafts the decision and signs it with their key file.
    first = Desk(browser, base, junior, "officer")
    first.sign_in()
    page = first.page
    page.goto(f"{base}/console/complaints/{ref}/draft")
    page.locator("#outcome-upheld").check()
    page.locator("#finding").fill("A session token was reused from a phishing page.")
    page.locator("#rules").fill("PSD2 Art. 73")
    page.locator("#root_cause").select_option("fraud")
    page.locator("#remedy").fill("We refund the 50 euros taken.")
    first.check("decision-draft")
    page.get_by_test_id("draft-submit").click()
    expect(page.get_by_test_id("draft-status")).to_have_attribute("data-status", "drafted")
    first.use_key_file(pem_of(junior_key))
    first.check("decision-review")
    page.get_by_test_id("sign-button").click()
    expect(page.get_by_test_id("done-notice")).to_have_attribute("data-done", "recorded")

    # The offer of EUR 50 is above the first officer's EUR 20 threshold: held for a
    # second officer, who co-signs the same bytes.
    page.goto(f"{base}/console/complaints/{ref}/offer")
    page.locator("#amount").fill("50.00")
    page.locator("#unit").select_option("currency:EUR")
    page.locator("#method").select_option("bank_transfer")
    page.get_by_test_id("draft-submit").click()
    first.use_key_file(pem_of(junior_key))
    page.get_by_test_id("sign-button").click()
    expect(page.get_by_test_id("done-notice")).to_have_attribute("data-done", "signed")
    expect(page.get_by_test_id("dual-control")).to_contain_text("above 20.00 EUR")
    first.check("offer-held")

    second = Desk(browser, base, senior, "second-officer")
    second.sign_in()
    page = second.page
    page.goto(f"{base}/console/complaints/{ref}/cosign")
    expect(page.locator("h1")).to_contain_text("Co-sign")
    second.use_key_file(pem_of(senior_key))
    second.check("cosign")
    page.get_by_test_id("sign-button").click()
    expect(page.get_by_test_id("done-notice")).to_have_attribute("data-done", "recorded")

    # The customer accepts; the second officer signs the payment.
    accepted = requests.post(f"{base}/v1/complaints/{ref}/events", headers=customer,
                             json={"type": "compensation_accepted"}, timeout=30)  # fmt: skip
    assert accepted.status_code == 201, accepted.text
    page.goto(f"{base}/console/complaints/{ref}/payment")
    page.locator("#amount").fill("50.00")
    page.locator("#unit").select_option("currency:EUR")
    page.locator("#method").select_option("bank_transfer")
    page.locator("#payment_reference").fill("SEPA-2026-000123")
    page.get_by_test_id("draft-submit").click()
    second.use_key_file(pem_of(senior_key))
    page.get_by_test_id("sign-button").click()
    expect(page.get_by_test_id("done-notice")).to_have_attribute("data-done", "recorded")
    second.check("payment-recorded")

    # The specialist closes the complaint.
    expert.open(ref)
    expert.page.locator("#close-reason").select_option("resolved")
    expert.submit("close")
    expect(expert.page.get_by_test_id("status")).to_have_attribute("data-status", "closed")
    expert.check("closed")

    # No officer's private key went out in any request of any browser.
    officers = first.visit.requests + second.visit.requests
    assert any(r.method == "POST" and r.url.endswith("/sign") for r in officers)
    for r in officers:
        seen = " ".join([r.url, str(r.headers), r.post_data or ""])
        for leak in secret_forms(junior_key) + secret_forms(senior_key):
            assert leak not in seen, f"a private key was sent with {r.method} {r.url}"

    # The customer's proof verifies every signature and says who was responsible, when.
    proof = requests.get(f"{base}/v1/complaints/{ref}/proof", headers=customer, timeout=30)
    assert proof.status_code == 200, proof.text
    report = verify_complaint_proof(proof.json(), str(ledger.store.verifier))
    assert report.ok, [c for c in report.checks if not c.ok]
    signatures = [c for c in report.checks if c.category == "signatures"]
    assert signatures and all(c.status == "ok" for c in signatures)
    owners = next(c for c in report.checks if c.name == "who was responsible, step by step")
    assert "Rui Costa" in owners.detail and "Marta Soler" in owners.detail
    events = proof.json()["events"]
    types = [e["type"] for e in events]
    assert types.count("assigned") == 2 and "escalated" in types
    # The leaves name owners by pseudonym only; their names are in the (erasable) bodies.
    leaves = " ".join(e["leaf"] for e in events)
    for login in (agent, specialist):
        assert login.pseudonym in leaves and login.display_name not in leaves

    # ... and /verify shows the same to the customer, naming the person responsible.
    v = visit(locale="pt-PT", timezone_id="Europe/Lisbon")
    v.open()
    v.check(ref, secret)
    assert v.verdict() == "ok"
    expect(v.page.locator("#summary")).to_contain_text("Marta Soler")
    v.page.screenshot(path=str(SHOTS / "customer-verify.png"), full_page=True)
    assert_accessible(v.page, "staff-journey-customer-verify")

    for desk_ in (desk, expert, first, second):
        desk_.close()
