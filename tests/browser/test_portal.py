"""The customer portal in Chromium: a customer files a complaint, signs out and in again,
answers a request with a screenshot, accepts an offer, rates a reply, gives a score after the
closure, downloads the evidence bundle and opens /verify; in English and in Portuguese, on a
desktop and on a phone. Every page is screenshotted (test-artifacts/portal/) and checked by
axe-core; filing works with the keyboard alone."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from api.portal.i18n import catalogue
from ledger.complaints.texts import locale
from tests.portal.helpers import Staff, tiny_png
from tests.support.axe import assert_accessible
from tests.support.browser import DESKTOP, PHONE
from tests.support.paths import ARTIFACTS

SHOTS = ARTIFACTS / "portal"
# Each journey shows every page: English on a desktop and Portuguese on a phone cover both
# languages and both widths (tests/test_customer_journey.py adds Portuguese on a desktop).
JOURNEYS = {
    "en-desktop": ("en-GB", "en", DESKTOP),
    "pt-phone": ("pt-PT", "pt", PHONE),
}


class Pages:
    """One customer's browser on the portal, checking every page it shows."""

    def __init__(self, visit, base_url: str, name: str, lang: str, phone: bool) -> None:
        self.visit, self.page, self.base = visit, visit.page, base_url
        self.name, self.words, self.phone = name, catalogue(lang), phone
        self.seen: list[str] = []

    def t(self, key: str) -> str:
        return self.words[key]

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def check(self, what: str) -> None:
        """Screenshot this page, check it with axe-core, and (phone) that nothing scrolls
        sideways; no script error so far."""
        self.page.wait_for_load_state("load")
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = f"{what}-{self.name}"
        self.page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        assert_accessible(self.page, f"portal-{shot}")
        if self.phone:
            assert self.visit.no_horizontal_scroll(), f"{shot} scrolls sideways at 375 px"
        assert self.visit.errors == [], self.visit.errors
        self.seen.append(what)

    def done(self, action: str) -> None:
        expect(self.page.get_by_test_id("done-notice")).to_have_text(self.t(f"done.{action}"))


@pytest.fixture
def staff(app, ledger) -> Staff:
    return Staff(app.test_client(), ledger)


def _file(p: Pages) -> tuple[str, str]:
    page = p.page
    p.goto("/portal/")
    expect(page.locator("h1")).to_have_text(p.t("start.title"))
    p.check("start")
    page.get_by_test_id("start-sign-in").click()
    expect(page.locator("h1")).to_have_text(p.t("sign_in.title"))
    p.check("sign-in")
    page.get_by_test_id("portal-home").click()
    page.get_by_test_id("start-file").click()
    expect(page.locator("h1")).to_have_text(p.t("file.title"))
    p.check("file")
    page.get_by_test_id("file-submit").click()  # nothing filled in
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator("#description")).to_have_attribute("aria-invalid", "true")
    p.check("file-errors")
    page.locator("#category-stuck_transaction").check()
    page.locator("#description").fill("A minha retirada está pendente há 9 horas.")
    page.locator("#name").fill("Ana Silva")
    page.locator("#email").fill("ana@example.org")
    page.locator("#consent").check()
    page.get_by_test_id("file-submit").click()
    expect(page.locator("h1")).to_have_text(p.t("filed.title"))
    reference = page.get_by_test_id("filed-reference").inner_text().strip()
    secret = page.get_by_test_id("filed-secret").inner_text().strip()
    assert reference.startswith("CMP-") and secret.startswith("cs_")
    assert secret not in page.url
    p.check("filed")
    page.get_by_test_id("filed-continue").click()
    expect(page.get_by_test_id("complaint-reference")).to_have_text(reference)
    expect(page.get_by_test_id("status-text")).to_have_attribute("data-status", "received")
    p.check("complaint-received")
    return reference, secret


def _sign_out_and_in(p: Pages, reference: str, secret: str) -> None:
    page = p.page
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in-notice")).to_have_text(p.t("notice.signed_out"))
    p.check("signed-out")
    page.locator("#reference").fill(reference)
    page.locator("#secret").fill(secret + "x")
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("error-summary")).to_be_focused()
    assert secret not in page.content()
    p.check("sign-in-errors")
    page.locator("#secret").fill(secret)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("complaint-reference")).to_have_text(reference)


def _answer_with_a_screenshot(p: Pages, staff: Staff, reference: str) -> None:
    page = p.page
    staff.acknowledge(reference)
    staff.request_info(reference, "Please send a screenshot of the pending withdrawal.")
    page.reload()
    expect(page.get_by_test_id("pending-request")).to_contain_text("screenshot")
    p.check("complaint-info-requested")
    page.locator("#answer-text").fill("Segue a captura de ecrã.")
    page.locator("#answer-files").set_input_files(
        files=[{"name": "captura.png", "mimeType": "image/png", "buffer": tiny_png(40, 20)}]
    )
    page.get_by_test_id("answer-submit").click()
    p.done("answer")
    expect(page.locator("li[data-type=info_received]")).to_contain_text("captura.png")
    p.check("complaint-answered")


def _accept_rate(p: Pages, staff: Staff, reference: str) -> None:
    page = p.page
    staff.decide(reference)
    staff.offer(reference)
    page.reload()
    expect(page.get_by_test_id("offer")).to_be_visible()
    p.check("complaint-offer")
    page.get_by_test_id("accept-submit").click()
    p.done("accept")
    expect(page.get_by_test_id("status-text")).to_have_attribute(
        "data-status", "compensation_accepted"
    )
    page.get_by_test_id("rate-open-1").click()  # rate the acknowledgement
    form = page.get_by_test_id("rate-form-1")
    form.locator("#csat-1-4").check()
    form.get_by_test_id("rate-submit-1").click()
    p.done("rate")
    expect(page.locator("#step-1")).to_contain_text(p.t("rate.given").replace("{csat}", "4"))


def _nps_after_closure(p: Pages, staff: Staff, reference: str) -> None:
    page = p.page
    staff.pay(reference, "0x" + "ab" * 32)
    staff.close(reference)
    page.reload()
    expect(page.get_by_test_id("status-text")).to_have_attribute("data-status", "closed")
    p.check("complaint-closed")
    page.locator("#nps-9").check()
    page.get_by_test_id("nps-submit").click()
    p.done("nps")
    expect(page.get_by_test_id("nps-form")).to_have_count(0)
    p.check("complaint-scored")


def _bundle_and_verify(p: Pages, reference: str) -> None:
    page = p.page
    with page.expect_download() as download:
        page.get_by_test_id("bundle-submit").click()
    data = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        proof = json.loads(zf.read("proof.json"))
    assert proof["reference"] == reference
    page.get_by_test_id("verify-link").click()
    page.wait_for_url(f"{p.base}/verify?*")
    assert parse_qs(urlsplit(page.url).query) == {"reference": [reference]}  # never the secret
    expect(page.locator("#ref")).to_have_value(reference)


def _error_pages(p: Pages, other_reference: str, reference: str) -> None:
    page = p.page
    # A form whose token was tampered with: refused, nothing done.
    p.goto(f"/portal/complaints/{reference}")
    page.evaluate(
        """() => { for (const i of document.querySelectorAll('input[name=csrf_token]'))
                     i.value = 'forged'; }"""
    )
    page.get_by_test_id("bundle-submit").click()
    expect(page.get_by_test_id("error-title")).to_have_text(p.t("csrf.title"))
    p.check("error-csrf")
    p.goto(f"/portal/complaints/{other_reference}")
    expect(page.get_by_test_id("error-title")).to_have_text(p.t("other.title"))
    p.check("error-other-complaint")
    p.goto("/portal/complaints/CMP-00000-00000")
    expect(page.get_by_test_id("error-title")).to_have_text(p.t("not_found.title"))
    p.check("error-not-found")


@pytest.mark.parametrize("journey", sorted(JOURNEYS))
def test_a_customer_follows_a_complaint_in_the_portal(visit, live_server, staff, journey) -> None:
    locale, lang, viewport = JOURNEYS[journey]
    v = visit(locale=locale, viewport=viewport)
    p = Pages(v, live_server.url, journey, lang, viewport is PHONE)
    other = visit(locale=locale, viewport=viewport)  # someone else's complaint
    other_pages = Pages(other, live_server.url, f"{journey}-other", lang, viewport is PHONE)
    other_reference, _ = _file_quietly(other_pages)

    reference, secret = _file(p)
    _sign_out_and_in(p, reference, secret)
    _answer_with_a_screenshot(p, staff, reference)
    _accept_rate(p, staff, reference)
    _nps_after_closure(p, staff, reference)
    _error_pages(p, other_reference, reference)
    p.goto(f"/portal/complaints/{reference}")
    _bundle_and_verify(p, reference)
    for request in v.requests:  # same origin only, and the secret in no URL
        assert request.url.startswith(live_server.url), request.url
        assert secret not in request.url


def _file_quietly(p: Pages) -> tuple[str, str]:
    page = p.page
    p.goto("/portal/file")
    page.locator("#category-sync_fault").check()
    page.locator("#description").fill("My balance shows zero.")
    page.get_by_test_id("file-submit").click()
    return (
        page.get_by_test_id("filed-reference").inner_text().strip(),
        page.get_by_test_id("filed-secret").inner_text().strip(),
    )


def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus (it must be reachable by keyboard), and
    check the focus is visible there."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"no visible focus on {selector}"
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_filing_with_the_keyboard_alone(visit, live_server) -> None:
    v = visit(locale="en-GB", viewport=DESKTOP)
    page = v.page
    page.goto(f"{live_server.url}/portal/file")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('skip-link')")
    page.keyboard.press("Enter")  # skip to the content
    _tab_to(page, "input[name=category]")
    page.keyboard.press("ArrowDown")  # the second category, chosen with the arrow keys
    assert page.evaluate("() => document.activeElement.checked")
    chosen = page.evaluate("() => document.activeElement.value")
    _tab_to(page, "#description")
    page.keyboard.type("The app crashes when I open the history tab.")
    _tab_to(page, "#email")
    page.keyboard.type("kim@example.org")
    _tab_to(page, "#consent")
    page.keyboard.press("Space")
    _tab_to(page, "#file-submit")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("filed-reference")).to_be_visible()
    _tab_to(page, "#filed-continue")
    page.keyboard.press("Enter")
    name = locale("en")["categories"][chosen]["name"]  # the category chosen by keyboard
    expect(page.get_by_test_id("complaint-category")).to_have_text(name)
    assert v.errors == []
