"""Why an attachment is refused or cannot be served: each error carries a stable ``code``."""

from __future__ import annotations

from ledger.complaints.errors import PayloadError
from ledger.errors import LedgerError
from ledger.logstore.store import Rejected


class AttachmentError(LedgerError, ValueError):
    """An upload is refused, or a file cannot be read; ``code`` is stable, the message plain."""

    default_code = "ATTACHMENT_ERROR"

    def __init__(self, message: str, code: str | None = None) -> None:
        self.code = code or self.default_code
        self.message = message
        super().__init__(message)


class AttachmentEmpty(AttachmentError):
    """The upload has no bytes."""

    default_code = "ATTACHMENT_EMPTY"


class AttachmentTooLarge(AttachmentError):
    """The upload is larger than the configured maximum (nothing past it was read)."""

    default_code = "ATTACHMENT_TOO_LARGE"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"an attachment may have at most {max_bytes} bytes")
        self.max_bytes = max_bytes


class AttachmentTypeRefused(AttachmentError):
    """The declared type is not accepted, or the bytes are not of the declared type."""

    default_code = "ATTACHMENT_TYPE_NOT_ALLOWED"


class AttachmentNotFound(AttachmentError, LookupError):
    """No such file on this complaint (never uploaded to it, or erased)."""

    default_code = "ATTACHMENT_NOT_FOUND"


class AttachmentCorrupt(AttachmentError):
    """The stored bytes no longer hash to their name: the storage was changed behind us."""

    default_code = "ATTACHMENT_CORRUPT"


class StorageError(LedgerError, RuntimeError):
    """The attachment storage (folder or object store) failed; nothing was recorded."""


class AttachmentNotUploaded(PayloadError, Rejected):
    """A step lists a file that was not uploaded to its complaint (or not with that size and
    type): refused inside the step's write transaction, so nothing of the step is written.

    A ``PayloadError`` for the API (422 with this code) and a ``Rejected`` for the log's
    batch (only this entry is refused, the rest of its batch goes on)."""

    default_code = "ATTACHMENT_NOT_UPLOADED"
