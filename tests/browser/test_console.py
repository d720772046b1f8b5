"""The staff console in Chromium, at desktop and phone widths: an agent signs in with the
keyboard alone (password and TOTP code), works a complaint from the worklist (claim, the
acknowledgement's letter previewed in the customer's language, an information request), a
supervisor and an admin open their pages, and a forged form shows the error page. Every page
is screenshotted (test-artifacts/console/), checked by axe-core, and (phone) does not scroll
sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.axe import assert_accessible
from tests.support.browser import DESKTOP, PHONE
from tests.support.console import StaffLogin, make_staff
from tests.support.paths import ARTIFACTS

SHOTS = ARTIFACTS / "console"
COMPLAINT = {
    "category": "stuck_transaction",
    "channel": "web_form",
    "language": "pt",
    "description": "A minha retirada está pendente há 9 horas.",
    "contact": {
        "channel": "email",
        "email": "ana@example.org",
        "name": "Ana Silva",
        "consent": True,
    },
}


class Pages:
    """One staff member's browser on the console, checking every page it shows."""

    def __init__(self, visit, base: str, width: str) -> None:
        self.visit, self.page, self.base, self.width = visit, visit.page, base, width

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def check(self, what: str) -> None:
        self.page.wait_for_load_state("load")
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = f"{what}-{self.width}"
        self.page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        assert_accessible(self.page, f"console-{shot}")
        if self.width == "phone":
            assert self.visit.no_horizontal_scroll(), f"{shot} scrolls sideways at 375 px"
        assert self.visit.errors == [], self.visit.errors

    def sign_in(self, login: StaffLogin) -> None:
        page = self.page
        self.goto("/console/sign-in")
        page.locator("#username").fill(login.username)
        page.locator("#password").fill(login.password)
        page.locator("#code").fill(login.code())
        page.get_by_test_id("sign-in-submit").click()
        expect(page.get_by_test_id("signed-in-as")).to_have_text(login.display_name)

    def sign_out(self) -> None:
        self.page.get_by_test_id("sign-out").click()
        expect(self.page.get_by_test_id("sign-in-notice")).to_be_visible()


def _keyboard_sign_in(p: Pages, login: StaffLogin) -> None:
    """Sign in with the keyboard alone: the skip link, then Tab through the form."""
    page = p.page
    p.goto("/console/sign-in")
    expect(page.locator("h1")).to_have_text("Sign in")
    p.check("sign-in")
    page.locator("#code").fill("000000")  # wrong code: one message, the summary focused
    page.locator("#username").fill(login.username)
    page.locator("#password").fill("not the password")
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("error-summary")).to_be_focused()
    p.check("sign-in-refused")
    page.goto(p.base + "/console/sign-in")
    page.keyboard.press("Tab")  # the skip link
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(login.username)
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(login.password)
    page.keyboard.press("Tab")
    expect(page.locator("#code")).to_be_focused()
    page.keyboard.type(login.code())
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("signed-in-as")).to_have_text(login.display_name)


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_console_page(visit, live_server, ledger, client, width) -> None:
    viewport = DESKTOP if width == "desktop" else PHONE
    agent = make_staff(ledger, "agent", username="rui", languages=["pt", "en"])
    supervisor = make_staff(ledger, "supervisor", username="sara")
    admin = make_staff(ledger, "admin", username="adam")
    resp = client.post("/v1/complaints", json=COMPLAINT)
    assert resp.status_code == 201
    reference = resp.get_json()["reference"]

    p = Pages(visit(viewport=viewport), live_server.url, width)
    page = p.page
    _keyboard_sign_in(p, agent)

    # The worklist: the complaint with its risk, filters and search.
    row = page.locator(f"tr[data-reference='{reference}']")
    expect(row).to_be_visible()
    expect(page.get_by_test_id(f"risk-{reference}")).to_contain_text("% of the time used")
    p.check("worklist")
    page.locator("#filter-language").select_option("pt")
    page.get_by_test_id("filter-submit").click()
    expect(row).to_be_visible()
    page.locator("#q").fill("ana@example.org")
    page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id("worklist-total")).to_contain_text("1 found")
    p.check("worklist-search")

    # The complaint: claim, preview the acknowledgement in Portuguese, send it, ask.
    page.get_by_test_id(f"open-{reference}").click()
    expect(page.get_by_test_id("complaint-reference")).to_have_text(reference)
    expect(page.get_by_test_id("customer-language")).to_have_attribute("data-language", "pt")
    p.check("complaint")
    page.get_by_test_id("claim-submit").click()
    expect(page.get_by_test_id("done-notice")).to_be_focused()
    expect(page.get_by_test_id("owner")).to_have_attribute("data-owner", agent.pseudonym)
    page.locator("#acknowledge-paragraph").fill("Vou tratar pessoalmente do seu caso.")
    page.get_by_test_id("acknowledge-preview").click()
    preview = page.get_by_test_id("letter-preview")
    expect(preview).to_have_attribute("data-language", "pt")
    expect(preview).to_contain_text("Vou tratar pessoalmente do seu caso.")
    expect(preview).to_contain_text(agent.display_name)
    p.check("complaint-acknowledge-preview")
    page.get_by_test_id("acknowledge-submit").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "acknowledged")
    page.locator("#request_info-request").fill("Envie uma captura de ecrã, por favor.")
    page.get_by_test_id("request_info-submit").click()
    expect(page.locator("li[data-type=info_requested]")).to_be_visible()
    page.get_by_test_id("note-submit").click()  # empty: refused, the summary focused
    expect(page.get_by_test_id("error-summary")).to_be_focused()
    p.check("complaint-errors")

    # A forged form: the error page, nothing done.
    page.goto(f"{p.base}/console/complaints/{reference}")
    page.evaluate("""() => { for (const i of document.querySelectorAll('input[name=csrf_token]'))
                               i.value = 'forged'; }""")
    page.locator("#note-text").fill("forged")
    page.get_by_test_id("note-submit").click()
    expect(page.get_by_test_id("error-title")).to_have_text("This form could not be sent")
    p.check("error-csrf")
    p.goto("/console/admin")
    expect(page.get_by_test_id("error-title")).to_have_text("Not for your role")
    p.check("error-role")
    p.sign_out()
    p.check("signed-out")

    p.sign_in(supervisor)
    p.goto("/console/supervisor")
    expect(page.locator(f"tr[data-pseudonym='{agent.pseudonym}']")).to_be_visible()
    p.check("supervisor")
    p.goto(f"/console/complaints/{reference}")
    expect(page.get_by_test_id("reassign-form")).to_be_visible()
    p.check("complaint-supervisor")
    p.sign_out()

    p.sign_in(admin)
    expect(page.locator("h1")).to_have_text("Admin")
    p.check("admin")
    page.locator("#create-username").fill(f"nina-{width}")
    page.locator("#create-display_name").fill("Nina Nunes")
    page.locator("#create-password").fill("a long enough password")
    page.locator("#create-role-agent").check()
    page.get_by_test_id("create-account-submit").click()
    expect(page.get_by_test_id("enrolment-secret")).to_be_visible()
    p.check("admin-enrolment")
