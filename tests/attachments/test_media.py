"""File types recognised from their bytes, against the type the upload declares."""

from __future__ import annotations

import pytest

from ledger.attachments.errors import AttachmentTypeRefused
from ledger.attachments.media import checked_type, declared_type, sniff
from tests.attachments.conftest import JPEG, PDF, TEXT, WEBP, png


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(), "image/png"),
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (PDF, "application/pdf"),
        (TEXT, "text/plain"),
        ("\ufeffBOM first, then text\r\n\tindented\f".encode(), "text/plain"),
        (b"", "text/plain"),  # (empty files are refused before: ATTACHMENT_EMPTY)
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),  # RIFF, but a sound, not WebP
        (b"\x00\x00\x01\x00icon", None),
        (b"text with a bell \x07", None),
        (b"\xc3\x28 invalid UTF-8", None),
    ],
)
def test_sniffed_from_the_magic_numbers(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


def test_a_gif_is_not_an_image_we_take() -> None:
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01"
    with pytest.raises(AttachmentTypeRefused) as caught:
        checked_type(gif, "image/gif")
    assert caught.value.code == "ATTACHMENT_TYPE_NOT_ALLOWED"
    with pytest.raises(AttachmentTypeRefused) as caught:
        checked_type(gif, "image/png")
    assert caught.value.code == "ATTACHMENT_TYPE_MISMATCH"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("image/PNG", "image/png"),
        ("application/pdf; name=x.pdf", "application/pdf"),
        ("text/plain; charset=UTF-8", "text/plain"),
        ('text/plain; charset="utf-8"', "text/plain"),
        ("text/plain; charset=us-ascii", "text/plain"),
    ],
)
def test_declared_types_are_read_leniently(header: str, expected: str) -> None:
    assert declared_type(header) == expected


@pytest.mark.parametrize(
    "header",
    [None, "", "image/svg+xml", "text/html", "application/octet-stream", "image/jpg",
     "text/plain; charset=windows-1252", "multipart/form-data; boundary=x"],
)  # fmt: skip
def test_other_declared_types_are_refused(header: str | None) -> None:
    with pytest.raises(AttachmentTypeRefused) as caught:
        declared_type(header)
    assert caught.value.code == "ATTACHMENT_TYPE_NOT_ALLOWED"


def test_a_spoofed_type_names_what_the_bytes_are() -> None:
    with pytest.raises(AttachmentTypeRefused) as caught:
        checked_type(png(), "application/pdf")
    assert caught.value.code == "ATTACHMENT_TYPE_MISMATCH"
    assert caught.value.message == (
        "the file's bytes are a PNG image, not a PDF document as its Content-Type says"
    )
