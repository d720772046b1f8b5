"""A wronged customer's whole journey in Portuguese, as users run the system: the run command
(anvil with the anchor and the vault, gunicorn, the anchor and payout workers, the local SMTP
server and the message dispatcher), the customer in Debian's Chromium on the portal, the staff
over the HTTP API.

The customer files through the portal and receives the acknowledgement by email over SMTP
(reference, time frame, the named person responsible); answers an information request with a
screenshot; accepts a vault offer with their address; sees the payment with its explorer link;
rates a reply; gives NPS after the closure; downloads the evidence bundle, which
``scripts/verify_bundle.py`` verifies offline with the screenshot in it; and /verify checks
every step in the browser, the letters sent among them. Every letter the dispatcher recorded
was received once, with the text its message_sent step commits to. Screenshots of every page
in test-artifacts/journey/, and axe-core on every portal page."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from eth_account import Account
from playwright.sync_api import expect, sync_playwright

from api.portal.i18n import catalogue
from ledger.access.apikeys import create_api_key
from ledger.db import make_engine
from ledger.messages.mailserver import MailFolder, mail_folder
from ledger.processes import free_port
from tests.payouts.vault_complaint import register_officer, signed, vault_terms
from tests.portal.helpers import tiny_png
from tests.support.axe import assert_accessible
from tests.support.browser import CHROMIUM_ARGS, PHONE
from tests.support.complaint_api import Client
from tests.support.paths import ARTIFACTS, ROOT
from tests.support.run_command import START_TIMEOUT, Run, serving

pytestmark = [pytest.mark.evm, pytest.mark.slow]  # run.py starts anvil, gunicorn, the workers

ORIGIN = "journey.ledger.example/log"
CHAIN_ID = 31337
EXPLORER = "https://explorer.example/tx/{tx}"
TIMEOUT = 90
SHOTS = ARTIFACTS / "journey"
HANDLER = "Rui Costa"  # the agent's name on their API key: the acknowledgement names them
CUSTOMER = {"name": "Joana Ferreira", "email": "joana.ferreira@example.pt"}
# Every letter of this journey, in the order the steps that carry them are recorded.
LETTERS = (
    "acknowledgement",
    "info_request",
    "decision",
    "compensation_offer",
    "payment_confirmation",
    "closure",
)


class Desk:
    """The firm's staff over HTTP, and its log's letters as the customer's mailbox has them."""

    def __init__(self, data: Path, api: str) -> None:
        self.api, self.data = api, data
        engine = make_engine(f"sqlite:///{data / 'ledger.sqlite3'}")
        keys = {
            "agent": create_api_key(engine, HANDLER, "agent")[0],
            "officer": create_api_key(engine, "Olga Oliveira", "officer")[0],
            "admin": create_api_key(engine, "Admin", "admin")[0],
        }
        engine.dispose()
        self.agent, self.officer, self.admin = (Client(api, keys[r]) for r in keys)
        self.signer = register_officer(self.admin, "Olga Oliveira", {"amounts": {"TEUR": "100"}})
        self.mailbox = MailFolder(mail_folder(data))

    def step(self, ref: str, type_: str, public: dict | None = None, body: dict | None = None):
        event = {"type": type_, "public": public or {}, "body": body or {}}
        return self.agent.post(f"/v1/complaints/{ref}/events", event)

    def signed(self, ref: str, type_: str, content: dict, public: dict) -> dict:
        """A signed step: letters the dispatcher records meanwhile do not void the signature
        (its context may name the head before them)."""
        return signed(self.officer, ref, type_, content, public, self.signer)

    def events(self, ref: str) -> list[dict]:
        return self.agent.get(f"/v1/complaints/{ref}/timeline")["events"]

    def status(self, ref: str) -> str:
        return self.agent.get(f"/v1/complaints/{ref}")["status"]

    def sent(self, ref: str) -> dict[str, dict]:
        """The message_sent steps by the template they sent."""
        return {e["public"]["template"]: e for e in self.events(ref) if e["type"] == "message_sent"}

    def letter(self, run: Run, ref: str, template: str):
        """Wait for the template's letter to be delivered and recorded; returns the step and
        the email the local SMTP server received."""
        step = run.wait(f"the {template} letter", lambda: self.sent(ref).get(template), TIMEOUT)
        assert step["public"]["outcome"] == "delivered"
        mail = self.mailbox.read(step["public"]["message_id"])
        return step, mail


class Portal:
    """The customer's browser on the portal: every page screenshotted and checked."""

    def __init__(self, browser, api: str, name: str, viewport: dict | None = None) -> None:
        options = {"locale": "pt-PT", "timezone_id": "Europe/Lisbon"}
        if viewport is not None:
            options["viewport"] = viewport
        self.context = browser.new_context(**options, accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", lambda request: self.urls.append(request.url))
        self.api, self.name, self.words = api, name, catalogue("pt")

    def check(self, what: str, axe: bool = True) -> None:
        self.page.wait_for_load_state("load")
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{what}-{self.name}.png"), full_page=True)
        if axe:
            assert_accessible(self.page, f"journey-{what}-{self.name}")
        assert self.errors == [], self.errors

    def done(self, action: str) -> None:
        expect(self.page.get_by_test_id("done-notice")).to_have_text(self.words[f"done.{action}"])

    def close(self) -> None:
        self.context.close()


def _file(p: Portal) -> tuple[str, str]:
    page = p.page
    page.goto(f"{p.api}/portal/?lang=pt")
    expect(page.locator("html")).to_have_attribute("lang", "pt")
    p.check("start")
    page.get_by_test_id("start-file").click()
    expect(page.locator("h1")).to_have_text(p.words["file.title"])
    p.check("file")
    page.locator("#category-stuck_transaction").check()
    page.locator("#description").fill(
        "O meu levantamento de 25,50 TEUR está pendente há 9 horas e o saldo já foi debitado."
    )
    page.locator("#name").fill(CUSTOMER["name"])
    page.locator("#email").fill(CUSTOMER["email"])
    page.locator("#consent").check()
    page.get_by_test_id("file-submit").click()
    expect(page.locator("h1")).to_have_text(p.words["filed.title"])
    reference = page.get_by_test_id("filed-reference").inner_text().strip()
    secret = page.get_by_test_id("filed-secret").inner_text().strip()
    p.check("filed")
    page.get_by_test_id("filed-continue").click()
    expect(page.get_by_test_id("complaint-reference")).to_have_text(reference)
    p.check("complaint-received")
    return reference, secret


def _acknowledgement_by_email(run: Run, desk: Desk, ref: str) -> None:
    desk.step(ref, "acknowledged")  # the letter names the agent: their key's name
    step, mail = desk.letter(run, ref, "acknowledgement")
    assert step["public"]["language"] == "pt"
    assert mail["To"] == CUSTOMER["email"]
    text = mail.get_content().replace("\r\n", "\n")  # SMTP carries lines ending in CRLF
    for fact in (ref, CUSTOMER["name"], HANDLER, "4 a 12 horas"):
        assert fact in text, f"{fact!r} is not in the acknowledgement:\n{text}"
    assert hashlib.sha256(text.encode()).hexdigest() == step["public"]["text_sha256"]


def _answer_with_a_screenshot(run: Run, p: Portal, desk: Desk, ref: str) -> bytes:
    page = p.page
    desk.step(ref, "info_requested", body={"request": "Envie uma captura de ecrã do levantamento."})
    desk.letter(run, ref, "info_request")
    page.reload()
    expect(page.get_by_test_id("pending-request")).to_contain_text("captura de ecrã")
    p.check("complaint-info-requested")
    screenshot = tiny_png(64, 32)
    page.locator("#answer-text").fill("Segue a captura de ecrã do levantamento pendente.")
    page.locator("#answer-files").set_input_files(
        files=[{"name": "levantamento.png", "mimeType": "image/png", "buffer": screenshot}]
    )
    page.get_by_test_id("answer-submit").click()
    p.done("answer")
    expect(page.locator("li[data-type=info_received]")).to_contain_text("levantamento.png")
    p.check("complaint-answered")
    return screenshot


def _decide_and_offer(desk: Desk, ref: str, terms: dict) -> None:
    found = {"description": "O levantamento ficou retido por um erro de taxa."}
    evidence = desk.step(ref, "evidence_added", {"kind": "transaction"}, found)
    decision = {
        "outcome": "upheld",
        "finding": "O levantamento ficou retido por um erro no cálculo da taxa de rede.",
        "rules": ["PSD2 Art. 73"],
        "evidence": [evidence["event"]["leaf_hash"]],
        "root_cause": "product_defect",
        "remedy": "Devolvemos o valor na cadeia, pago pelo cofre de compensações.",
    }
    public = {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")}
    desk.signed(ref, "decision", decision, public)
    money = {k: terms[k] for k in ("kind", "amount", "asset", "method")}
    offered = desk.signed(ref, "compensation_offered", terms, money)
    assert "payout_terms" in offered["event"]["public"]


def _accept_with_an_address(p: Portal, recipient: str) -> None:
    page = p.page
    page.reload()
    expect(page.get_by_test_id("offer")).to_be_visible()
    expect(page.get_by_test_id("offer-amount")).to_contain_text("25,50 TEUR")
    expect(page.get_by_test_id("complaint-responsible")).to_have_text(HANDLER)
    p.check("complaint-offer")
    page.locator("#recipient").fill(recipient)
    page.locator("#recipient-confirm").fill(recipient)
    page.get_by_test_id("accept-submit").click()
    p.done("accept")
    p.check("complaint-accepted")


def _payment_with_its_explorer_link(run: Run, p: Portal, desk: Desk, ref: str) -> str:
    run.wait("the payout on the log", lambda: desk.status(ref) == "compensation_paid", TIMEOUT)
    _, mail = desk.letter(run, ref, "payment_confirmation")
    paid = next(e for e in desk.events(ref) if e["type"] == "compensation_paid")
    tx_hash = paid["body"]["tx_hash"]
    link = EXPLORER.replace("{tx}", tx_hash)
    assert tx_hash in mail.get_content() and link in mail.get_content()
    page = p.page
    page.reload()
    tx_link = page.get_by_test_id("tx-link")
    expect(tx_link).to_have_text(tx_hash)
    expect(tx_link).to_have_attribute("href", link)
    p.check("complaint-paid")
    return tx_hash


def _rate(p: Portal, desk: Desk, ref: str) -> None:
    page = p.page
    ack = next(e for e in desk.events(ref) if e["type"] == "acknowledged")
    seq = ack["seq"]
    page.get_by_test_id(f"rate-open-{seq}").click()
    form = page.get_by_test_id(f"rate-form-{seq}")
    form.locator(f"#csat-{seq}-5").check()
    form.get_by_test_id(f"rate-submit-{seq}").click()
    p.done("rate")
    p.check("complaint-rated")


def _nps_after_closure(run: Run, p: Portal, desk: Desk, ref: str) -> None:
    desk.step(ref, "closed", {"reason": "resolved"})
    _, mail = desk.letter(run, ref, "closure")
    assert "/portal" in mail.get_content()  # the invitation to rate and score
    page = p.page
    page.reload()
    expect(page.get_by_test_id("status-text")).to_have_attribute("data-status", "closed")
    page.locator("#nps-10").check()
    page.get_by_test_id("nps-submit").click()
    p.done("nps")
    p.check("complaint-scored")


def _bundle_verifies_offline(p: Portal, tmp_path: Path, vkey: str, screenshot: bytes) -> None:
    with p.page.expect_download() as download:
        p.page.get_by_test_id("bundle-submit").click()
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(Path(download.value.path()).read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        name = f"attachments/{hashlib.sha256(screenshot).hexdigest()}"
        assert zf.read(name) == screenshot
    verified = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify_bundle.py"), str(bundle),
         "--log-key", vkey, "--json"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    checks = json.loads(verified.stdout)["checks"]
    files = [c for c in checks if c.get("category") == "attachments"]
    assert files and all(c["status"] == "ok" for c in files), files


def _sign_in(p: Portal, ref: str, secret: str) -> None:
    page = p.page
    page.goto(f"{p.api}/portal/?lang=pt")
    page.get_by_test_id("start-sign-in").click()
    page.locator("#reference").fill(ref)
    page.locator("#secret").fill(secret)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("complaint-reference")).to_have_text(ref)
    p.check("complaint-closed")


def _verify_page(p: Portal, ref: str, secret: str, shot: str) -> None:
    page = p.page
    page.goto(f"{p.api}/portal/complaints/{ref}")
    page.get_by_test_id("verify-link").click()
    page.wait_for_url(f"{p.api}/verify?*")
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    expect(page.locator("#ref")).to_have_value(ref)
    page.locator("#secret").fill(secret)
    page.click("#submit")
    expect(page.locator("#results[data-ready=true]")).to_be_visible(timeout=60_000)
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "ok")
    letters = page.locator("#timeline li.event[data-type=message_sent]")
    expect(letters).to_have_count(len(LETTERS))
    for i in range(len(LETTERS)):
        expect(letters.nth(i)).to_have_attribute("data-status", "ok")
    p.check(shot)


def test_a_customer_in_portuguese_from_filing_to_payment_score_and_proof(
    tmp_path, chromium_path
) -> None:
    data = tmp_path / "data"
    api_port, chain_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {
        "LEDGER_DATA_DIR": str(data),
        "LEDGER_LOG_ORIGIN": ORIGIN,
        "LEDGER_PORT": str(api_port),
        "LEDGER_DEV_CHAIN_PORT": str(chain_port),
        "LEDGER_WORKERS": "1",
        "LEDGER_ANCHOR_POLL_SECONDS": "0.2",
        "LEDGER_PAYOUT_POLL_SECONDS": "0.2",
        "LEDGER_OUTBOX_POLL_SECONDS": "0.2",
        "LEDGER_EXPLORER_TX_URLS": json.dumps({str(CHAIN_ID): EXPLORER}),
        "LEDGER_PUBLIC_URL": api,
        "LEDGER_DEMO": "0",
    }
    run = Run(env, tmp_path / "run.log")
    try:
        run.wait("the API", serving(api), START_TIMEOUT)
        desk = Desk(data, api)
        vault = json.loads((data / "payout_vault.json").read_text())["chains"][str(CHAIN_ID)]
        terms = vault_terms(CHAIN_ID, vault["vault"], vault["token"], "25.50")
        vkey = (data / "log.vkey").read_text().strip()
        recipient = Account.create().address

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                p = Portal(browser, api, "pt-desktop")
                ref, secret = _file(p)
                _acknowledgement_by_email(run, desk, ref)
                screenshot = _answer_with_a_screenshot(run, p, desk, ref)
                _decide_and_offer(desk, ref, terms)
                desk.letter(run, ref, "decision")
                desk.letter(run, ref, "compensation_offer")
                _accept_with_an_address(p, recipient)
                _payment_with_its_explorer_link(run, p, desk, ref)
                _rate(p, desk, ref)
                _nps_after_closure(run, p, desk, ref)
                _bundle_verifies_offline(p, tmp_path, vkey, screenshot)
                _verify_page(p, ref, secret, "verify-desktop")
                for url in p.urls:  # same origin only, and the secret in no URL
                    assert url.startswith(api), url
                    assert secret not in url
                p.close()
                phone = Portal(browser, api, "pt-phone", PHONE)
                _sign_in(phone, ref, secret)
                _verify_page(phone, ref, secret, "verify-phone")
                phone.close()
            finally:
                browser.close()

        # Every letter was received once, and is the text its message_sent step commits to.
        sent = desk.sent(ref)
        assert sorted(sent) == sorted(LETTERS)
        for template, step in sent.items():
            mail = desk.mailbox.read(step["public"]["message_id"])
            text = mail.get_content().replace("\r\n", "\n")
            assert hashlib.sha256(text.encode()).hexdigest() == step["public"]["text_sha256"]
            assert step["body"]["text"] == text, template
        ids = [s["public"]["message_id"] for s in sent.values()]
        assert sorted(desk.mailbox.names()) == sorted(ids)
        assert run.stop() == 0
    finally:
        run.kill_leftovers()
