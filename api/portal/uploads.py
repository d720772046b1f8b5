"""Files a customer sends with an answer or evidence: stored through the attachment service
(``ledger.attachments``, which sniffs the type and enforces the size) before the step that
lists them is recorded. A refused file refuses the whole form, with the reason next to the
file field; nothing is recorded for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import FileStorage

from api.context import get_ledger
from ledger.attachments.errors import (
    AttachmentEmpty,
    AttachmentError,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    StorageError,
)
from ledger.attachments.store import clean_name

MAX_FILES = 5


@dataclass(frozen=True)
class Refusal:
    """Why one file was refused: a catalogue key and its values."""

    key: str
    values: dict[str, Any]


class UploadsRefused(Exception):
    """Some files of a form were refused (each with its reason); nothing was recorded."""

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__(f"{len(refusals)} file(s) refused")
        self.refusals = refusals


def max_bytes() -> int:
    """The largest file the attachment service keeps (LEDGER_ATTACHMENT_MAX_BYTES)."""
    return get_ledger().attachments.max_bytes


def request_limit() -> int:
    """The largest form body a page with file fields accepts: every file at its maximum,
    and room for the text fields (each file is then checked on its own, so an over-large
    one is named rather than refusing the whole request)."""
    return (MAX_FILES + 1) * max_bytes() + 1024 * 1024


def chosen(files: Sequence[FileStorage]) -> list[FileStorage]:
    """The files actually chosen (a file input sends one empty part when none is)."""
    return [f for f in files if f.filename]


def _refusal(name: str, exc: AttachmentError | StorageError) -> Refusal:
    if isinstance(exc, AttachmentTooLarge):
        mb = f"{exc.max_bytes / (1024 * 1024):g}"
        return Refusal("upload.too_large", {"name": name, "mb": mb})
    if isinstance(exc, AttachmentTypeRefused):
        return Refusal("upload.wrong_type", {"name": name})
    if isinstance(exc, AttachmentEmpty):
        return Refusal("upload.empty", {"name": name})
    return Refusal("upload.refused", {"name": name})


def store_uploads(reference: str, files: Sequence[FileStorage]) -> list[dict[str, Any]]:
    """Store each chosen file; the attachments a step body lists, in the order chosen.

    Raises UploadsRefused naming every refused file (too many, too large, wrong type).
    """
    files = chosen(files)
    if len(files) > MAX_FILES:
        raise UploadsRefused([Refusal("upload.too_many", {"max": MAX_FILES})])
    store = get_ledger().attachments
    limit = max_bytes()
    refusals: list[Refusal] = []
    stored: list[dict[str, Any]] = []
    for storage in files:
        name = clean_name(storage.filename) or "?"
        data = storage.read(limit + 1)  # one byte more than allowed tells "too large"
        try:
            if len(data) > limit:
                raise AttachmentTooLarge(limit)
            kept = store.put(reference, data, storage.mimetype or None, storage.filename)
        except (AttachmentError, StorageError) as exc:
            refusals.append(_refusal(name, exc))
            continue
        stored.append(kept.listing())
    if refusals:
        raise UploadsRefused(refusals)
    return stored
