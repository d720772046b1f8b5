"""An evidence bundle with attached files dropped on the /verify page in Debian's Chromium: each
file is checked against the body that lists it, and a changed byte fails the verdict."""

from __future__ import annotations

from playwright.sync_api import expect

from ledger.evidence.bundle import deterministic_zip
from tests.attachments.conftest import PDF, auth, png
from tests.support.browser import drop_bundle
from tests.support.bundles import unzip


def bundle_with_files(client, case) -> tuple[bytes, dict]:
    shot = case.upload(client, png(b"shot"), "image/png", **{"X-Filename": "wallet.png"}).json
    letter = case.upload(client, PDF, "application/pdf", **{"X-Filename": "bank.pdf"}).json
    r = case.step(client, "evidence_added", {"description": "files", "attachments": [shot, letter]})
    assert r.status_code == 201, r.json
    r = client.post(f"/v1/complaints/{case.ref}/bundle", json={}, headers=auth(case.keys["legal"]))
    assert r.status_code == 201, r.json
    return r.data, letter


def commitments(page) -> str:
    return page.locator("li.check[data-check=commitments]").text_content() or ""


def test_attached_files_are_checked_on_the_page(visit, client, case) -> None:
    data, letter = bundle_with_files(client, case)
    v = visit(locale="en-GB")
    v.open()
    drop_bundle(v.page, "with-files.zip", data)
    expect(v.page.locator("#results[data-ready=true]")).to_be_visible()
    assert v.verdict() == "ok"
    assert v.check_status("commitments") == "ok"
    text = commitments(v.page)
    assert "Attached file wallet.png (step 1)" in text and "bank.pdf" in text
    assert f"{len(PDF)} bytes; SHA-256 {letter['sha256']}" in text

    files = unzip(data)
    path = f"attachments/{letter['sha256']}"
    files[path] = files[path].replace(b"Catalog", b"Catalof")  # one byte changed
    drop_bundle(v.page, "tampered.zip", deterministic_zip(files))
    expect(v.page.locator("#verdict[data-verdict=fail]")).to_have_count(1)
    assert v.check_status("commitments") == "fail"
    assert "differs from what the step's body commits to" in commitments(v.page)
    assert v.errors == []
