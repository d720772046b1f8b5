"""Error handling: everything becomes RFC 9457 problem+json, never an HTML page."""

from __future__ import annotations

import http
import logging

import psycopg
from flask import Flask
from flask_limiter.errors import RateLimitExceeded
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from api.problems import (
    PROBLEM_MIMETYPE,
    PROBLEM_TYPES,
    STATUS_TO_SLUG,
    Problem,
    ProblemSchema,
    problem_response,
)
from ledger.casework.officer_keys import OfficerKeyNotFound
from ledger.casework.reads import ComplaintNotFound
from ledger.complaints.errors import (
    AuthorityError,
    ComplaintError,
    InvalidReference,
    TransitionError,
)
from ledger.logstore.sequencer import SequencerClosed
from ledger.logstore.store import InvalidRequest, NotFound

log = logging.getLogger(__name__)

_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    PendingRollbackError,
    SequencerClosed,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def _is_connection_fault(exc: DBAPIError) -> bool:
    """A DBAPI error caused by the connection or server, not by the statement."""
    orig = getattr(exc, "orig", None)
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    # SQLSTATE classes 08 (connection exception) and 57 (operator intervention: shutdown,
    # crash, cannot connect now).
    sqlstate = getattr(orig, "sqlstate", None) or ""
    return sqlstate[:2] in ("08", "57")


def _problem_from_http(error: HTTPException) -> Problem:
    code = error.code or 500
    slug = STATUS_TO_SLUG.get(code, "internal-error" if code >= 500 else "bad-request")
    data = getattr(error, "data", None) or {}
    errors = data.get("messages") or data.get("errors")
    extra = {"errors": errors} if errors else {}
    if code == 422:
        detail = "The request did not pass validation; see errors"
    else:
        detail = data.get("message") or error.description
    headers = dict(data.get("headers") or {})
    valid_methods = getattr(error, "valid_methods", None)
    if code == 405 and valid_methods:
        headers.setdefault("Allow", ", ".join(sorted(valid_methods)))  # RFC 9110 §15.5.6
    return Problem(slug, detail, status=code, headers=headers, **extra)


class LedgerApi(Api):
    """flask-smorest Api whose error responses are problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        """Document every error response (``default`` and alt responses) as problem+json."""
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["content"] = {PROBLEM_MIMETYPE: {"schema": self.ERROR_SCHEMA}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            "DEFAULT_ERROR",
            {"description": "Error (RFC 9457 problem details)",
             "content": {PROBLEM_MIMETYPE: {"schema": self.ERROR_SCHEMA}}},
            lazy=True,
        )  # fmt: skip

    def handle_http_exception(self, error: HTTPException):
        return problem_response(_problem_from_http(error))


# The domain's code for a step the caller's role may not take (a 403, not a 409: no state of
# the complaint would allow it to this caller).
ROLE_NOT_ALLOWED = "ROLE_NOT_ALLOWED"


def _complaint_problem(exc: ComplaintError):
    """Domain refusals: stable ``code`` from the domain, HTTP status by kind; the offending
    field, when the domain names one, under ``errors`` as for schema validation."""
    if isinstance(exc, AuthorityError):
        slug = "officer-not-authorised"
    elif exc.code == ROLE_NOT_ALLOWED:
        slug = "role-not-allowed"
    elif isinstance(exc, TransitionError):
        slug = "invalid-transition"
    elif isinstance(exc, InvalidReference):
        slug = "invalid-reference"
    else:
        slug = "invalid-payload"
    extra: dict[str, object] = {}
    if exc.field:
        reason = exc.message.partition(": ")[2] or exc.message
        extra["errors"] = {"json": {exc.field: [reason]}}
    return problem_response(Problem(slug, exc.message, code=exc.code, **extra))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, problem_response)
    app.register_error_handler(ComplaintError, _complaint_problem)
    app.register_error_handler(
        ComplaintNotFound, lambda e: problem_response(Problem("not-found", "no such complaint"))
    )
    app.register_error_handler(
        OfficerKeyNotFound, lambda e: problem_response(Problem("not-found", "no such officer key"))
    )
    app.register_error_handler(NotFound, lambda e: problem_response(Problem("not-found", str(e))))
    app.register_error_handler(
        InvalidRequest, lambda e: problem_response(Problem("bad-request", str(e)))
    )

    def _unavailable(exc: Exception):
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem_response(
            Problem("unavailable", "The database is unavailable", headers={"Retry-After": "1"})
        )

    # Faults of the database or its connection (server restarted, connection dropped mid
    # request, pool exhausted, the log's writer stopping) are 503s: retry later, never 500.
    for exc_type in _UNAVAILABLE_ERRORS:
        app.register_error_handler(exc_type, _unavailable)

    def _rate_limited(exc):
        return problem_response(
            Problem("rate-limited", f"rate limit exceeded: {exc.description}",
                    headers={"Retry-After": "1"})
        )  # fmt: skip

    app.register_error_handler(RateLimitExceeded, _rate_limited)

    def _dbapi(exc: DBAPIError):
        if exc.connection_invalidated or _is_connection_fault(exc):
            return _unavailable(exc)
        log.exception("database error")
        return problem_response(Problem("internal-error"))

    app.register_error_handler(DBAPIError, _dbapi)

    @app.route("/problems/<slug>")
    def problem_doc(slug: str):
        if slug not in PROBLEM_TYPES:
            raise Problem("not-found", f"no problem type {slug!r}")
        title, status = PROBLEM_TYPES[slug]
        return {"type": f"/problems/{slug}", "title": title, "status": status}
