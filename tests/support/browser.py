"""Pages in Debian's Chromium (Playwright without its own browser download): the launch
options, one browser context per visit of /verify, and dropping a bundle on the page."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.paths import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 15_000  # upper bound for any single wait; nothing asserts on timing
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


class Visit:
    """One browser context: a page with the language, viewport and time zone given."""

    def __init__(
        self, browser, base_url: str, locale: str = "en-GB", viewport=DESKTOP, timezone_id="UTC"
    ):
        self.context = browser.new_context(
            locale=locale,
            timezone_id=timezone_id,
            viewport=viewport,
            is_mobile=viewport is PHONE,
            has_touch=viewport is PHONE,
            service_workers="block",
        )
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.base_url = base_url
        self.errors: list[str] = []
        self.requests: list = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", lambda request: self.requests.append(request))

    def open(self, query: str = "") -> None:
        self.page.goto(f"{self.base_url}/verify{query}")
        expect(self.page.locator("body[data-ready=true]")).to_have_count(1)

    def check(self, reference: str, secret: str | None) -> None:
        page = self.page
        page.fill("#ref", reference)
        page.fill("#secret", secret or "")
        page.click("#submit")
        expect(page.locator("#results[data-ready=true]")).to_be_visible()

    def verdict(self) -> str:
        return self.page.locator("#verdict").get_attribute("data-verdict")

    def check_status(self, name: str) -> str:
        return self.page.locator(f"li.check[data-check={name}]").get_attribute("data-status")

    def item_status(self, check: str, event: int) -> str:
        item = self.page.locator(f"li.check[data-check={check}] li[data-event='{event}']")
        return item.get_attribute("data-status")

    def screenshot(self, name: str) -> None:
        folder = ARTIFACTS / "verify-page"
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def no_horizontal_scroll(self) -> bool:
        return self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    def close(self) -> None:
        self.context.close()


def drop_bundle(page, name: str, data: bytes) -> None:
    """Drop a ZIP file named ``name`` on the page's bundle input; wait until it is read."""
    files = [{"name": name, "mimeType": "application/zip", "buffer": data}]
    page.set_input_files("#bundle", files=files)
    expect(page.locator("#summary")).to_contain_text(name)
