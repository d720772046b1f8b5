"""Files sent with an answer: stored through the attachment service and listed in the step;
a file of the wrong type or size is refused with its reason next to the file field, and
nothing is recorded."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from api import create_app
from ledger.runtime import open_ledger
from tests.portal.helpers import Staff, act, file_complaint, html, tiny_png


def _answer(client, reference: str, files, text: str = "Here is the screenshot."):
    return act(
        client, reference, "answer",
        {"text": text, "files": [(io.BytesIO(data), name, mime) for name, mime, data in files]},
        content_type="multipart/form-data",
    )  # fmt: skip


@pytest.fixture
def asked(browser_client, filed, staff):
    staff.acknowledge(filed.reference)
    staff.request_info(filed.reference)
    return filed


def _refused_next_to_the_field(resp, words: str) -> None:
    assert resp.status_code == 400, html(resp)[:500]
    page = html(resp)
    error = page.split('data-testid="answer-files-error">')[1].split("</p>")[0]
    assert words in error
    assert 'aria-describedby="answer-files-hint answer-files-error" aria-invalid="true"' in page
    assert 'href="#answer-files"' in page  # the error summary links to the field
    assert "Here is the screenshot." in page  # what was typed is kept


def test_an_answer_with_a_png_lists_it(browser_client, asked, staff, ledger) -> None:
    png = tiny_png()
    resp = _answer(browser_client, asked.reference, [("screen shot.png", "image/png", png)])
    assert resp.status_code == 303 and "done=answer" in resp.headers["Location"]
    last = staff.events(asked.reference)[-1]
    assert last["type"] == "info_received"
    [listed] = last["body"]["attachments"]
    assert listed["name"] == "screen shot.png" and listed["media_type"] == "image/png"
    assert listed["size"] == len(png)
    page = html(browser_client.get(resp.headers["Location"]))
    assert "screen shot.png" in page
    # The customer can download what they sent.
    link = f"/portal/complaints/{asked.reference}/attachments/{listed['sha256']}"
    got = browser_client.get(link)
    assert got.status_code == 200 and got.data == png
    assert got.headers["Content-Disposition"].startswith("attachment")


def test_a_file_of_the_wrong_type_is_refused(browser_client, asked, staff) -> None:
    before = staff.events(asked.reference)
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    resp = _answer(browser_client, asked.reference, [("cat.gif", "image/gif", gif)])
    _refused_next_to_the_field(resp, "cat.gif is not a file type we accept")
    # A page pretending to be a PNG: its bytes say otherwise.
    fake = b"<html><script>alert(1)</script></html>"
    resp = _answer(browser_client, asked.reference, [("shot.png", "image/png", fake)])
    _refused_next_to_the_field(resp, "shot.png is not a file type we accept")
    assert staff.events(asked.reference) == before


def test_too_many_files_are_refused(browser_client, asked, staff) -> None:
    before = staff.events(asked.reference)
    files = [(f"{i}.png", "image/png", tiny_png(i + 1, 1)) for i in range(6)]
    resp = _answer(browser_client, asked.reference, files)
    _refused_next_to_the_field(resp, "at most 5 files")
    assert staff.events(asked.reference) == before


def test_a_file_too_large_is_refused(settings) -> None:
    led = open_ledger(dataclasses.replace(settings, attachment_max_bytes=1024))
    try:
        app = create_app(led.settings, led)
        client = app.test_client()
        staff = Staff(app.test_client(), led)
        filed = file_complaint(client)
        staff.acknowledge(filed.reference)
        staff.request_info(filed.reference)
        before = staff.events(filed.reference)
        big = tiny_png(200, 200) + b"\x00" * 2048
        resp = _answer(client, filed.reference, [("big.png", "image/png", big)])
        _refused_next_to_the_field(resp, "big.png is too large")
        assert "0.0009765625" not in html(resp)
        assert staff.events(filed.reference) == before
    finally:
        led.close()


def test_an_empty_answer_is_refused(browser_client, asked, staff) -> None:
    before = staff.events(asked.reference)
    resp = act(browser_client, asked.reference, "answer", {"text": "  "},
               content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 400
    assert 'id="answer-text-error"' in html(resp)
    assert staff.events(asked.reference) == before
    assert json.dumps(before)  # unchanged
