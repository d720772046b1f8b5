"""Passkeys in Chromium with a CDP virtual authenticator: a member signs in with the TOTP code,
adds a passkey on "Your passkeys", signs out, then signs in with the password and the passkey
instead of a code. Pages screenshotted (test-artifacts/console/passkeys-*.png) and checked by
axe-core.

WebAuthn needs a secure context whose host is a valid relying party id: the live server is
reached as http://localhost:<port> (it listens on 127.0.0.1)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.axe import assert_accessible
from tests.support.console import make_staff
from tests.support.paths import ARTIFACTS

SHOTS = ARTIFACTS / "console"


def _check(page, name: str) -> None:
    page.wait_for_load_state("load")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"passkeys-{name}.png"), full_page=True)
    assert_accessible(page, f"console-passkeys-{name}")


def test_sign_in_with_a_passkey_instead_of_a_code(visit, live_server, ledger) -> None:
    login = make_staff(ledger, "agent", username="rui")
    base = live_server.url.replace("127.0.0.1", "localhost")
    v = visit()
    page = v.page
    cdp = v.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]

    # Sign in with the code, then add a passkey.
    page.goto(base + "/console/sign-in")
    expect(page.get_by_test_id("passkey-sign-in")).to_be_visible()
    _check(page, "sign-in")
    page.locator("#username").fill(login.username)
    page.locator("#password").fill(login.password)
    page.locator("#code").fill(login.code())
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(login.display_name)
    page.get_by_test_id("your-passkeys").click()
    expect(page.locator("h1")).to_have_text("Your passkeys")
    expect(page.get_by_test_id("no-passkeys")).to_be_visible()
    _check(page, "none")
    page.get_by_test_id("passkey-add").click()  # no name yet: said, nothing made
    expect(page.get_by_test_id("passkey-message")).to_have_text("Enter a name for the passkey.")
    page.locator("#name").fill("Work laptop")
    page.get_by_test_id("passkey-add").click()
    expect(page.get_by_test_id("done-notice")).to_have_text("Passkey added.")
    expect(page.get_by_test_id("passkey-Work laptop")).to_be_visible()
    _check(page, "added")
    creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(creds) == 1
    [key] = ledger.staff_passkeys.of(login.account_id)
    assert key.name == "Work laptop"

    # Sign out; the passkey without the password is refused; then password + passkey.
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in-notice")).to_be_visible()
    page.get_by_test_id("passkey-sign-in-button").click()
    expect(page.get_by_test_id("passkey-message")).to_contain_text(
        "Enter your username and password"
    )
    page.locator("#username").fill(login.username)
    # A wrong password is found with the passkey's answer, never before it: one refusal.
    page.locator("#password").fill("not the password at all")
    page.get_by_test_id("passkey-sign-in-button").click()
    expect(page.get_by_test_id("error-summary")).to_contain_text(
        "The username, password or code is not right."
    )
    _check(page, "refused")
    page.locator("#username").fill(login.username)
    page.locator("#password").fill(login.password)
    page.get_by_test_id("passkey-sign-in-button").click()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(login.display_name)
    _check(page, "signed-in")
    signed_in = ledger.staff.events(account_id=login.account_id, kind="signed_in")[1]
    assert [e.reason for e in signed_in] == ["passkey", None]
    assert ledger.staff_passkeys.of(login.account_id)[0].last_used_at is not None
    assert v.errors == [], v.errors
