"""An evidence bundle of format 1 (base64 tree hashes, tests/vectors/bundles-v1/) dropped on
the /verify page in Debian's Chromium: verified, its anchor proven consistent; a bundle of an
unknown format version is refused. Browser and page fixtures: tests/browser/conftest.py.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from playwright.sync_api import expect

from ledger.evidence.bundle import deterministic_zip
from tests.support.browser import drop_bundle

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "bundles-v1"
VKEY = (VECTORS / "verifier-key.txt").read_text().strip()


def _use_vector_key(page) -> None:
    """Paste the vectors' log key (the live server's own log has another one)."""
    page.click("#key-paste-box summary")
    page.fill("#key-paste", VKEY)
    page.click("#key-use")
    expect(page.locator("#key-origin")).to_have_attribute("data-origin", "pasted")


def test_v1_bundles_dropped_on_the_page_verify(visit) -> None:
    v = visit(locale="en-GB")
    v.open()
    page = v.page
    _use_vector_key(page)
    # rated.zip: a rating recorded before ratings named the rated step.
    for name in ("unanchored.zip", "rated.zip", "anchored.zip"):  # anchored last: read below
        drop_bundle(page, name, (VECTORS / name).read_bytes())
        assert v.verdict() == "ok", name
        for check in ("checkpoint", "inclusion", "signatures", "commitments"):
            assert v.check_status(check) == "ok", (name, check)
    # anchored.zip: its base64 consistency proof (6 nodes) leads to the anchored root.
    assert v.check_status("anchor") == "ok"
    with zipfile.ZipFile(VECTORS / "anchored.zip") as zf:
        anchored_size = json.loads(zf.read("manifest.json"))["anchor"]["anchored_size"]
    expect(page.locator("li.check[data-check=anchor]")).to_contain_text(str(anchored_size))
    v.screenshot("bundle-v1-anchored-en")
    assert not [r for r in v.requests if "/v1/complaints/" in r.url]  # read locally only
    assert v.errors == []


def test_bundle_of_an_unknown_format_version_is_refused(visit) -> None:
    with zipfile.ZipFile(io.BytesIO((VECTORS / "unanchored.zip").read_bytes())) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(files["manifest.json"])
    manifest["format_version"] = 3
    data = deterministic_zip({**files, "manifest.json": json.dumps(manifest).encode()})
    v = visit(locale="en-GB")
    v.open()
    page = v.page
    page.set_input_files(
        "#bundle", files=[{"name": "v3.zip", "mimeType": "application/zip", "buffer": data}]
    )
    expect(page.locator("#progress[data-kind=error]")).to_contain_text("format version 3")
    expect(page.locator("#results[data-ready=true]")).to_have_count(0)
    assert v.errors == []
