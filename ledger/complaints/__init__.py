"""Complaint domain: events, references, state machine, payloads, clocks, texts, officer keys.

Pure functions and immutable values only (no database, web framework or I/O besides reading
the bundled locale files); the database side is ``ledger.casework`` and the offline verifiers
are ``ledger.verify``. See ``docs/complaints.md`` for the model and the state table.

Modules, one job each:

* ``vocab``      — enumerations (event types, roles, statuses, categories, ...)
* ``reference``  — complaint references (Crockford base32 + mod-37 check symbol)
* ``payloads``   — validation of ``public`` fields and ``body`` payloads
* ``events``     — the leaf envelope: build, parse, commitments
* ``officers``   — officer keys, registry, Ed25519 body signatures, authority checks
* ``states``     — the transition table, ``apply`` and ``replay``
* ``workflow``   — write-path helpers: ``start_complaint``, ``append_event``
* ``calendars``  — holiday calendars, business-day and service-hour arithmetic
* ``deadlines``  — service targets and statutory final-response clocks
* ``texts``      — customer-facing texts in en, ca, pt, zh, lt, ru
* ``figures``    — regulator audit figures from the public fields of leaves
"""

from ledger.complaints.errors import (
    AuthorityError,
    CalendarError,
    ChainError,
    ComplaintError,
    EnvelopeError,
    InvalidReference,
    PayloadError,
    TemplateError,
    TransitionError,
)
from ledger.complaints.events import (
    Actor,
    BuiltEvent,
    Envelope,
    build_event,
    parse_envelope,
    verify_commitment,
)
from ledger.complaints.reference import format_reference, parse_reference
from ledger.complaints.states import ComplaintState, apply, replay
from ledger.complaints.vocab import EventType, Role, Status

__all__ = [
    "Actor",
    "AuthorityError",
    "BuiltEvent",
    "CalendarError",
    "ChainError",
    "ComplaintError",
    "ComplaintState",
    "Envelope",
    "EnvelopeError",
    "EventType",
    "InvalidReference",
    "PayloadError",
    "Role",
    "Status",
    "TemplateError",
    "TransitionError",
    "apply",
    "build_event",
    "format_reference",
    "parse_envelope",
    "parse_reference",
    "replay",
    "verify_commitment",
]
