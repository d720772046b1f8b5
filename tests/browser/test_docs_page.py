"""/docs in Debian's Chromium: Swagger UI renders the API's operations from our own origin,
under the strict CSP of /verify, with no console error and no CSP violation. A screenshot
goes to test-artifacts/docs-page/."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.browser import WAIT_MS
from tests.support.paths import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "docs-page"


def test_docs_render_same_origin_without_csp_violations(browser, live_server) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    console: list[str] = []
    errors: list[str] = []
    urls: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: urls.append(request.url))
    violations = []
    page.expose_function("reportViolation", lambda v: violations.append(v))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " window.reportViolation(`${e.violatedDirective} ${e.blockedURI}`));"
    )
    try:
        page.goto(f"{live_server.url}/docs")
        expect(page.locator(".opblock").first).to_be_visible()
        expect(page.locator(".opblock-summary-path", has_text="/v1/log/keys")).to_have_count(1)
        expect(page.locator(".opblock-summary-path", has_text="/proof")).not_to_have_count(0)
        # An operation opens (React renders parameters and responses without inline code).
        page.locator(".opblock-summary-path", has_text="/v1/log/keys").first.click()
        expect(page.locator(".opblock.is-open .responses-wrapper")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "docs-desktop.png"), full_page=False)
    finally:
        context.close()
    assert not violations, violations
    assert not errors, errors
    assert not [c for c in console if c.startswith("error")], console
    assert urls and all(u.startswith(live_server.url) or u.startswith("data:") for u in urls), [
        u for u in urls if not u.startswith(live_server.url)
    ]
