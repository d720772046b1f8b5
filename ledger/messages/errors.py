"""Why a message was not delivered, in words safe to store: no address, no secret."""

from __future__ import annotations

import re

from ledger.errors import LedgerError

_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")
_URL_CREDENTIALS = re.compile(r"//[^/@\s]+@")
MAX_REASON = 200


def safe_reason(text: str) -> str:
    """``text`` without email addresses or URL credentials, on one line, at most 200 chars
    (a receiver's refusal often quotes the address it refused)."""
    text = _URL_CREDENTIALS.sub("//***@", text)
    text = _ADDRESS.sub("<address>", " ".join(text.split()))
    return text[:MAX_REASON]


class DeliveryError(LedgerError, RuntimeError):
    """A receiver did not take the message: ``permanent`` when retrying cannot help (an SMTP
    5xx reply, an endpoint that answered 410 Gone); ``reason`` is safe to store."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        self.reason = safe_reason(reason)
        self.permanent = permanent
        super().__init__(self.reason)


class ConfigError(LedgerError, ValueError):
    """A messages setting is malformed (the SMTP URL, the sender address)."""
