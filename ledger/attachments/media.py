"""The file types an attachment may have, recognised from the bytes themselves.

A declared type (the upload's Content-Type) is believed only when the bytes say the same:
the magic numbers of PNG, JPEG, WebP and PDF, and for plain text valid UTF-8 without control
characters. So a script or a page renamed ``.png`` is refused, whatever it claims to be.
"""

from __future__ import annotations

import re

from ledger.attachments.errors import AttachmentTypeRefused

PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
PDF = "application/pdf"
TEXT = "text/plain"

# Accepted types, with the words a refusal uses for them.
ALLOWED: dict[str, str] = {
    PNG: "a PNG image",
    JPEG: "a JPEG image",
    WEBP: "a WebP image",
    PDF: "a PDF document",
    TEXT: "plain text (UTF-8)",
}
EXTENSIONS = {PNG: "png", JPEG: "jpg", WEBP: "webp", PDF: "pdf", TEXT: "txt"}
_TEXT_CHARSETS = ("utf-8", "utf8", "us-ascii")
# Control characters plain text may not hold (all but tab, line feed, form feed and
# carriage return).
_TEXT_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_ACCEPTED = "PNG, JPEG, WebP, PDF or plain text (UTF-8)"


def declared_type(content_type: str | None) -> str:
    """The media type a Content-Type header declares, lower-case and without parameters.

    Raises AttachmentTypeRefused for a missing or unaccepted type, or a text charset other
    than UTF-8 (its bytes would be read wrongly)."""
    if not content_type or not content_type.strip():
        raise AttachmentTypeRefused(f"give the file's type as its Content-Type: {_ACCEPTED}")
    main, _, params = content_type.partition(";")
    media_type = main.strip().lower()
    if media_type not in ALLOWED:
        raise AttachmentTypeRefused(
            f"files of type {media_type or '(none)'} are not accepted: send {_ACCEPTED}"
        )
    if media_type == TEXT:
        for param in params.split(";"):
            name, _, value = param.partition("=")
            charset = value.strip().strip('"').lower()
            if name.strip().lower() == "charset" and charset not in _TEXT_CHARSETS:
                raise AttachmentTypeRefused(
                    f"plain text is accepted in UTF-8 only, not {charset!r}"
                )
    return media_type


def sniff(data: bytes) -> str | None:
    """The accepted type the bytes are, by their magic number; None when none fits."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    if _is_plain_text(data):
        return TEXT
    return None


def _is_plain_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _TEXT_CONTROLS.search(data) is None


def checked_type(data: bytes, content_type: str | None) -> str:
    """The media type of ``data``: the declared one, when the bytes are of that type.

    Raises AttachmentTypeRefused (code ATTACHMENT_TYPE_NOT_ALLOWED for a type that is not
    accepted, ATTACHMENT_TYPE_MISMATCH when the bytes are something else)."""
    declared = declared_type(content_type)
    actual = sniff(data)
    if actual == declared:
        return declared
    what = ALLOWED[actual] if actual is not None else f"none of {_ACCEPTED}"
    raise AttachmentTypeRefused(
        f"the file's bytes are {what}, not {ALLOWED[declared]} as its Content-Type says",
        "ATTACHMENT_TYPE_MISMATCH",
    )
