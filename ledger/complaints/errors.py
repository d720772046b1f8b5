"""Errors raised by the complaint domain: each carries a stable machine-readable ``code``."""

from __future__ import annotations

from ledger.errors import LedgerError


class ComplaintError(LedgerError, ValueError):
    """Base class: ``code`` is stable (for APIs and tests), ``message`` is for humans.

    ``index`` is set when the error concerns one event of a chain being replayed; ``field``
    names the offending field (``body.rules``, ``public.signature.sig``) when there is one.
    """

    default_code = "COMPLAINT_ERROR"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        index: int | None = None,
        field: str | None = None,
    ):
        self.code = code or self.default_code
        self.message = message
        self.index = index
        self.field = field
        where = f" (event {index})" if index is not None else ""
        super().__init__(f"{self.code}: {message}{where}")

    def at_index(self, index: int) -> ComplaintError:
        """The same error, located at event ``index`` of a chain."""
        if self.index is None:
            self.index = index
            self.args = (f"{self.code}: {self.message} (event {index})",)
        return self


class PayloadError(ComplaintError):
    """An event's public fields or body are malformed or inconsistent."""

    default_code = "INVALID_PAYLOAD"


class EnvelopeError(ComplaintError):
    """An event envelope (log leaf) is malformed or not canonical."""

    default_code = "INVALID_ENVELOPE"


class InvalidReference(ComplaintError):
    """A complaint reference is malformed or fails its check symbol."""

    default_code = "INVALID_REFERENCE"


class TransitionError(ComplaintError):
    """An event is not allowed in the complaint's current state or for the actor's role."""

    default_code = "INVALID_TRANSITION"


class ChainError(TransitionError):
    """A complaint's hash chain is broken: wrong seq, prev, reference, log or time order."""

    default_code = "BROKEN_CHAIN"


class AuthorityError(ComplaintError):
    """An officer key may not sign this event: unknown, not valid, revoked or wrong role."""

    default_code = "NO_AUTHORITY"


class CalendarError(ComplaintError):
    """A date falls outside the years a holiday calendar covers, or a clock is misconfigured."""

    default_code = "CALENDAR_NOT_COVERED"


class TemplateError(ComplaintError):
    """A customer-facing text cannot be rendered (missing fact, unknown template or language)."""

    default_code = "TEMPLATE_ERROR"


class RulesError(ComplaintError):
    """A deployment's service rules (ledger.complaints.service_rules) are malformed."""

    default_code = "BAD_RULES"


class QueueError(ComplaintError):
    """A queue id that names no queue, or facts that give none (ledger/complaints/queues.py)."""

    default_code = "BAD_QUEUE"
