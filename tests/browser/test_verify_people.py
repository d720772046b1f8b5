"""/verify for the people it is for, not only auditors (issue #16), in Debian's Chromium.

A wrong secret is said next to its field, in view and announced; the verdict and a plain
summary come first, what happened is shown once, in words and in the reader's time zone,
with correct plurals in every language; the checks are folded rows in plain words with the
technical terms inside; a development chain's transactions are never linked to an explorer;
/verify?reference= fills the reference and a secret in the address is never read; the
letters the firm sent are steps in words, their text checked against the record. Each state
of the page (empty, verified, failed, wrong secret) passes axe-core at a desktop and a phone
width; screenshots go to test-artifacts/verify-page/.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import zipfile
from dataclasses import replace
from datetime import datetime
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from ledger.complaints.reference import format_reference
from ledger.complaints.texts import MessageKind
from ledger.log.note import Signer
from tests.support.anchor_records import anchor_latest_checkpoint
from tests.support.axe import assert_accessible
from tests.support.browser import PHONE, Visit, drop_bundle
from tests.support.complaint_api import run_lifecycle
from tests.support.paths import ROOT
from tests.support.proof_scenarios import SCENARIOS

EXPLORER = "https://explorer.example/tx/{tx}"
DESKTOP = {"width": 1280, "height": 800}
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
LANGS = ("en", "ca", "pt", "zh", "lt", "ru")
I18N = ROOT / "api" / "static" / "verify" / "i18n"
# What only an auditor needs to know: kept inside the folded checks.
TERMS = ("checkpoint", "consistency proof", "root hash", "leaf hash", "merkle")
RAW_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # compensation_offered, partially_upheld...


def catalogue(lang: str) -> dict:
    return json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))


EN = catalogue("en")


@pytest.fixture
def settings(settings):
    """The service names an explorer for the dev chain 31337 too: the page must not use it."""
    return replace(settings, explorer_tx_urls={31337: EXPLORER})


@pytest.fixture
def complaint(actors, ledger) -> dict:
    """A closed complaint with a signed decision, offer and payment, anchored (confirmed) on
    the dev chain 31337."""
    ref, secret = run_lifecycle(actors)
    return {"ref": ref, "secret": secret, "anchor": anchor_latest_checkpoint(ledger)}


@pytest.fixture
def filed(actors) -> dict:
    """A complaint just filed (one step), with its secret."""
    body = {"category": "refund_or_claim", "channel": "email",
            "description": "I was charged twice for one card payment."}  # fmt: skip
    filed = actors["anon"].post("/v1/complaints", body)
    return {"ref": filed["reference"], "secret": filed["secret"]}


def open_page(visit, width: str, query: str = "", **kwargs) -> Visit:
    v = visit(viewport=WIDTHS[width], **kwargs)
    v.open(query)
    return v


def submit(v: Visit, reference: str, secret: str | None) -> None:
    """Fill the form and send it, without waiting for a result (the answer may be an error)."""
    v.page.fill("#ref", reference)
    v.page.fill("#secret", secret or "")
    v.page.click("#submit")


def assert_in_viewport(v: Visit, selector: str) -> None:
    """The element is wholly inside the visible part of the page, as it is scrolled now."""
    box = v.page.locator(selector).bounding_box()
    size = v.page.viewport_size
    assert box is not None, selector
    slack = 1  # sub-pixel layout
    left, top = box["x"], box["y"]
    right, bottom = left + box["width"], top + box["height"]
    assert left >= -slack and right <= size["width"] + slack, (selector, box)
    assert top >= -slack and bottom <= size["height"] + slack, (selector, box)


def describedby(v: Visit, selector: str) -> list[str]:
    return (v.page.get_attribute(selector, "aria-describedby") or "").split()


def focused_id(v: Visit) -> str:
    return v.page.evaluate("document.activeElement && document.activeElement.id")


def bundle(proof: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("proof.json", json.dumps(proof))
    return buf.getvalue()


def use_key(v: Visit, key: str) -> None:
    v.page.click("#key-paste-box summary")
    v.page.fill("#key-paste", key)
    v.page.click("#key-use")
    expect(v.page.locator("#key-origin")).to_have_attribute("data-origin", "pasted")


# --- the empty page and the favicon ---------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_the_empty_page_is_accessible(visit, client, width: str) -> None:
    v = open_page(visit, width)
    icon = v.page.locator("link[rel=icon]")
    expect(icon).to_have_attribute("type", "image/svg+xml")
    resp = client.get(icon.get_attribute("href"))
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    assert b"<script" not in resp.get_data()
    assert v.no_horizontal_scroll()
    assert_accessible(v.page, f"verify-empty-{width}")
    v.screenshot(f"people-empty-{width}")
    assert v.errors == []


# --- a wrong secret, an unknown reference ------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_a_wrong_secret_is_said_next_to_the_field(visit, filed, width: str) -> None:
    v = open_page(visit, width, locale="en-GB")
    page = v.page
    submit(v, filed["ref"], "cs_not-the-secret")
    error = page.locator("#secret-error")
    expect(error).to_be_visible()
    expect(error).to_have_text(EN["http"]["401"])
    expect(error).to_have_attribute("role", "alert")
    expect(page.locator("#secret")).to_have_attribute("aria-invalid", "true")
    assert "secret-error" in describedby(v, "#secret")
    assert focused_id(v) == "secret"
    assert_in_viewport(v, "#secret-error")
    assert_in_viewport(v, "#secret")
    expect(page.locator("#results")).to_be_hidden()
    expect(page.locator("#form-status p")).to_have_count(0)  # said once, at the field
    assert v.no_horizontal_scroll()
    assert_accessible(page, f"verify-wrong-secret-{width}")
    v.screenshot(f"people-wrong-secret-{width}")

    # In another language, the message is said again in it.
    page.select_option("#lang", "pt")
    expect(error).to_have_text(catalogue("pt")["http"]["401"])
    page.select_option("#lang", "en")
    # Correcting the field clears the mark; the reference field was never marked.
    page.locator("#secret").press_sequentially("x")
    expect(error).to_be_hidden()
    expect(page.locator("#secret")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#ref")).not_to_have_attribute("aria-invalid", "true")

    # A reference the service does not know is said next to the reference field.
    unknown = format_reference(secrets.token_bytes(32))
    submit(v, unknown, None)
    ref_error = page.locator("#ref-error")
    expect(ref_error).to_have_text(EN["http"]["404"])
    expect(page.locator("#ref")).to_have_attribute("aria-invalid", "true")
    assert "ref-error" in describedby(v, "#ref")
    assert focused_id(v) == "ref"
    assert_in_viewport(v, "#ref-error")
    expect(page.locator("#secret-error")).to_be_hidden()
    assert v.errors == []


# --- the verified complaint --------------------------------------------------------------------

ZONES = {"desktop": "Asia/Tokyo", "phone": "America/New_York"}


@pytest.mark.parametrize("width", WIDTHS)
def test_the_verdict_and_a_plain_summary_come_first(visit, complaint, width: str) -> None:
    zone = ZONES[width]
    v = open_page(visit, width, locale="en-GB", timezone_id=zone)
    page = v.page
    v.check(complaint["ref"], complaint["secret"])
    assert v.verdict() == "ok"
    expect(page.locator("#verdict-summary")).to_have_text(
        "Your complaint's record is intact: 12 steps, all in the firm's signed record. "
        "It is anchored on a blockchain (confirmed, local test chain 31337, 3 confirmations), "
        "so the firm cannot rewrite it unnoticed. Status: closed. Outcome: Partially upheld."
    )
    # The verdict first, what happened next, the checks after it, the details last.
    order = page.eval_on_selector_all("#results > *", "nodes => nodes.map(n => n.id)")
    assert order == ["verdict", "summary", "timeline", "checks", "anchor", "technical"]
    verdict_box = page.locator("#verdict").bounding_box()
    assert verdict_box["y"] < page.locator("#checks").bounding_box()["y"]
    assert_in_viewport(v, "#verdict")  # scrolled to
    assert focused_id(v) == "verdict-title"

    # What happened, once: each step a single time, statuses and codes in words.
    expect(page.locator("#timeline li.event")).to_have_count(12)
    assert page.locator("[data-type=decision]").count() == 1
    assert page.locator("#decision, #compensation").count() == 0
    readable = page.locator("#results").inner_text()
    assert not RAW_CODE.findall(readable), RAW_CODE.findall(readable)
    for part in ("#verdict", "#summary", "#timeline"):
        text = page.locator(part).inner_text().lower()
        assert not [term for term in TERMS if term in text], part
    expect(page.locator("#summary")).to_contain_text("12 steps")

    # Times in the reader's own zone, named.
    expect(page.locator("#time-zone")).to_contain_text(zone)
    first = page.locator("#timeline li.event time").first
    at = datetime.fromisoformat(first.get_attribute("datetime").replace("Z", "+00:00"))
    local = at.astimezone(ZoneInfo(zone))
    offset = int(local.utcoffset().total_seconds() // 3600)
    expect(first).to_contain_text(f"{local:%H:%M:%S}")
    expect(first).to_contain_text(f"GMT{offset:+d}")

    # Every check is a folded row in plain words, with a visible marker; the terms inside.
    rows = page.locator("li.check")
    assert rows.count() >= 10
    for i in range(rows.count()):
        summary = rows.nth(i).locator("details > summary")
        expect(summary).to_be_visible()
        marker = summary.locator(".fold-marker").bounding_box()
        assert marker is not None and marker["width"] > 0 and marker["height"] > 0
        name = summary.evaluate("s => s.innerText.trim()")
        assert name and not [term for term in TERMS if term in name.lower()], name
    inclusion = page.locator("li.check[data-check=inclusion]")
    expect(inclusion.locator(".check-name")).to_have_text(EN["plain"]["inclusion"])
    expect(inclusion.locator("details")).not_to_have_attribute("open", "")
    expect(inclusion.locator(".check-help")).to_be_hidden()
    inclusion.locator("summary").click()
    expect(inclusion.locator("details")).to_have_attribute("open", "")
    expect(inclusion.locator(".check-help")).to_contain_text("leaf hash")
    expect(inclusion.locator(".check-help")).to_contain_text("root hash")
    anchor_row = page.locator("li.check[data-check=anchor]")
    expect(anchor_row.locator(".check-name")).to_have_text(EN["plain"]["anchor"])
    expect(anchor_row.locator(".check-help")).to_contain_text("consistency proof")
    expect(page.locator("li.check[data-check=checkpoint] .check-help")).to_contain_text(
        "checkpoint"
    )
    inclusion.locator("summary").press("Enter")  # by keyboard too
    expect(inclusion.locator("details")).not_to_have_attribute("open", "")

    # A development chain: its transaction as text, never an explorer link.
    expect(page.locator("#results a.explorer")).to_have_count(0)
    expect(page.locator("#anchor")).to_contain_text(complaint["anchor"]["tx_hash"])
    expect(page.locator("#anchor")).to_contain_text("local test chain 31337")
    assert not [r for r in v.requests if "explorer.example" in r.url]

    assert v.no_horizontal_scroll()
    assert_accessible(page, f"verify-verified-{width}")
    v.screenshot(f"people-verified-{width}")
    assert v.errors == []


def _flip_leaf(proof: dict) -> None:
    """One character of step 3's commitment changed: the step is no longer the logged one."""
    leaf = proof["events"][3]["leaf"]
    pos = leaf.index('"commitment":"') + len('"commitment":"') + 10
    proof["events"][3]["leaf"] = leaf[:pos] + ("1" if leaf[pos] == "0" else "0") + leaf[pos + 1 :]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_failed_check_is_said_plainly(visit, complaint, width: str) -> None:
    v = open_page(visit, width, locale="en-GB")
    page = v.page

    def tamper(route) -> None:
        response = route.fetch()
        proof = response.json()
        _flip_leaf(proof)
        route.fulfill(response=response, body=json.dumps(proof))

    page.route("**/v1/complaints/*/proof", tamper)
    v.check(complaint["ref"], complaint["secret"])
    assert v.verdict() == "fail"
    expect(page.locator("#verdict-title")).to_have_text("Verification failed")
    failed = page.locator("li.check[data-status=fail]")
    n = failed.count()
    assert n >= 2  # in the log, and the next step's link to it
    expect(page.locator("#verdict-summary")).to_have_text(
        f"Do not rely on this record. {n} kinds of check failed:"
    )
    names = [failed.nth(i).locator(".check-name").inner_text() for i in range(n)]
    said = page.locator("#verdict .failed-list li")
    expect(said).to_have_text([f"✗Failed {name}" for name in names])
    for i in range(n):
        expect(failed.nth(i).locator("details")).to_have_attribute("open", "")
    step = page.locator("#timeline li.event[data-seq='3']")
    expect(step).to_have_attribute("data-status", "fail")
    expect(step.locator("details.step-checks")).to_have_attribute("open", "")
    assert v.no_horizontal_scroll()
    assert_accessible(page, f"verify-failed-{width}")
    v.screenshot(f"people-failed-{width}")
    assert v.errors == []


# --- plurals ---------------------------------------------------------------------------------


@pytest.fixture
def pending(actors, ledger) -> dict:
    """The lifecycle's complaint, anchored but waiting for confirmations (1 so far)."""
    ref, secret = run_lifecycle(actors)
    anchor_latest_checkpoint(ledger, state="pending")
    return {"ref": ref, "secret": secret}


# (language, the steps, the confirmations) as the summary says them.
PLURALS = [
    ("en", "12 steps", "1 confirmation"),
    ("ca", "12 passos", "1 confirmació"),
    ("pt", "12 passos", "1 confirmação"),
    ("zh", "12 个步骤", "1 次确认"),
    ("lt", "12 žingsnių", "1 patvirtinimas"),
    ("ru", "12 шагов", "1 подтверждение"),
]


def test_counts_are_said_with_each_languages_plural_rules(visit, pending) -> None:
    v = open_page(visit, "desktop", locale="en-GB")
    page = v.page
    v.check(pending["ref"], pending["secret"])
    summary = page.locator("#summary")
    for lang, steps, confirmations in PLURALS:
        page.select_option("#lang", lang)
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans" if lang == "zh" else lang)
        expect(summary).to_contain_text(steps)
        expect(summary).to_contain_text(confirmations)
    # Every plural form each language uses (CLDR, as Intl.PluralRules has it) is written.
    used = page.evaluate(
        """langs => Object.fromEntries(langs.map(l => [l, new Intl.PluralRules(
            l === "zh" ? "zh-Hans" : l).resolvedOptions().pluralCategories]))""",
        list(LANGS),
    )
    for lang in LANGS:
        forms = catalogue(lang)["plural"]
        for key, texts in forms.items():
            for category in used[lang]:
                assert "{n}" in texts[category], (lang, key, category)
    assert set(used["ru"]) >= {"one", "few", "many"} and used["zh"] == ["other"]
    assert v.errors == []


# --- the address: a reference, never a secret ---------------------------------------------------


def test_the_address_gives_the_reference_and_never_a_secret(visit, filed) -> None:
    leaked = "cs_from-the-address"
    v = visit(locale="en-GB")
    v.open(f"?reference={quote(filed['ref'])}&secret={leaked}&lang=en")
    page = v.page
    assert page.input_value("#ref") == filed["ref"]
    assert page.input_value("#secret") == ""
    assert "secret" not in page.url and leaked not in page.url
    assert parse_qs(urlsplit(page.url).query) == {"reference": [filed["ref"]], "lang": ["en"]}
    assert leaked not in page.evaluate("location.href + JSON.stringify(history.state)")
    page.click("#submit")
    expect(page.locator("#results[data-ready=true]")).to_be_visible()
    assert v.verdict() == "ok"
    proof = [r for r in v.requests if r.url.endswith("/proof")]
    assert len(proof) == 1 and "authorization" not in proof[0].headers
    # Only the address the reader opened held it; nothing the page sent afterwards does.
    sent = [r for r in v.requests if not r.is_navigation_request()]
    assert sent and not [r for r in sent if leaked in r.url or leaked in str(r.headers)]
    v.close()

    short = visit(locale="en-GB")
    short.open(f"?ref={quote(filed['ref'])}")
    assert short.page.input_value("#ref") == filed["ref"]
    assert short.errors == []


# --- the letters the firm sent -------------------------------------------------------------------


def test_sent_letters_are_steps_in_words_with_their_text_checked(visit) -> None:
    signer = Signer.generate("scenarios.ledger.example/log")
    v = visit(locale="en-GB")
    v.open()
    page = v.page
    proof = SCENARIOS["messages_and_nps"](signer)
    use_key(v, proof["verifier_key"])
    drop_bundle(page, "messages.zip", bundle(proof))
    assert v.verdict() == "ok"
    sent = page.locator("#timeline li.event[data-type=message_sent]")
    expect(sent).to_have_count(3)
    expect(sent.locator(".event-title")).to_have_text(
        ["7. Letter sent", "8. Letter sent", "9. Letter sent"]
    )
    expect(sent.locator(".event-lead")).to_have_text(
        [
            "Letter sent by email: closure letter (English), delivered.",
            "Letter sent by email: acknowledgement (English), delivered.",
            "Letter by webhook not delivered: closure letter (English), after 8 attempts.",
        ]
    )
    closure = sent.nth(0)
    about = closure.locator(".fact").filter(has_text=EN["field"]["for_step"])
    expect(about.locator("dd")).to_have_text("step 6 (Closed)")
    expect(closure.locator("a[href='#step-6']")).to_have_count(1)
    expect(closure).to_contain_text("ana@example.org")
    check = closure.locator("[data-mark]").filter(has_text="signed record")
    expect(check).to_have_attribute("data-mark", "ok")
    expect(check).to_have_text("✓" + EN["ui"]["message_text_ok"])
    closure.locator("details.letter summary").click()
    expect(closure.locator(".letter-text")).to_contain_text("We have closed your complaint.")
    expect(closure.locator(".letter-text")).to_have_attribute("lang", "en")
    nps = page.locator("#timeline li.event[data-type=nps_given]")
    expect(nps).to_contain_text("Recommendation score")
    expect(nps).to_contain_text("9 / 10")
    readable = page.locator("#timeline").inner_text()
    assert not RAW_CODE.findall(readable), RAW_CODE.findall(readable)
    assert_accessible(page, "verify-messages-desktop")
    v.screenshot("people-messages-en-desktop")

    page.select_option("#lang", "pt")
    expect(sent.nth(0).locator(".event-lead")).to_have_text(
        "Carta enviada por e-mail: carta de encerramento (inglês), entregue."
    )
    page.select_option("#lang", "en")

    # A letter whose text is not the one its step committed: that step fails, saying so.
    broken = SCENARIOS["message_text_differs_from_its_hash"](signer)
    drop_bundle(page, "text-differs.zip", bundle(broken))
    assert v.verdict() == "fail"
    assert v.check_status("commitments") == "fail"
    letter = page.locator("#timeline li.event[data-type=message_sent]")
    expect(letter).to_have_attribute("data-status", "fail")
    expect(letter.locator("[data-mark=fail]").filter(has_text="signed record")).to_have_text(
        "✗" + EN["ui"]["message_text_fail"]
    )
    v.screenshot("people-message-text-differs-en-desktop")

    # On a phone, the same letters fit the screen.
    phone = visit(locale="en-GB", viewport=PHONE)
    phone.open()
    use_key(phone, proof["verifier_key"])
    drop_bundle(phone.page, "messages.zip", bundle(proof))
    assert phone.verdict() == "ok"
    assert phone.no_horizontal_scroll()
    assert_accessible(phone.page, "verify-messages-phone")
    phone.screenshot("people-messages-en-phone")
    assert phone.errors == []

    # Without the texts, the page says what would check it.
    public = SCENARIOS["messages_and_nps_without_bodies"](signer)
    drop_bundle(page, "public.zip", bundle(public))
    assert v.verdict() == "ok"
    needs = sent.nth(0).locator("[data-mark=skip]").filter(has_text="secret")
    expect(needs).to_have_text("–" + EN["ui"]["message_text_needs_secret"])
    assert v.errors == []


# --- the texts ----------------------------------------------------------------------------------


def test_every_check_letter_and_channel_has_words() -> None:
    """The plain name of each report category, the name of each kind of letter and of each
    delivery channel, in every language."""
    report_js = (ROOT / "api/static/verify/report.js").read_text(encoding="utf-8")
    block = report_js[report_js.index("CATEGORIES = [") : report_js.index("];")]
    categories = re.findall(r'"([a-z_]+)"', block)
    assert "inclusion" in categories and "anchor" in categories
    for lang in LANGS:
        texts = catalogue(lang)
        assert set(texts["plain"]) == set(categories), lang
        assert set(texts["letter_kind"]) >= {k.value for k in MessageKind}, lang
        assert set(texts["delivery_channel"]) == {"email", "webhook"}, lang
        assert texts["type"]["message_sent"] and texts["type"]["nps_given"], lang
