"""RFC 9457 problem details: every error response of the API is ``application/problem+json``."""

from __future__ import annotations

import json

import marshmallow as ma
from flask import Response, request

from ledger.complaints.errors import InvalidReference
from ledger.complaints.reference import parse_reference

PROBLEM_MIMETYPE = "application/problem+json"

# Stable problem types: slug -> (title, default status). The ``type`` URI is /problems/<slug>.
PROBLEM_TYPES: dict[str, tuple[str, int]] = {
    "bad-request": ("The request is malformed", 400),
    "validation-error": ("The request did not pass validation", 422),
    "unauthorized": ("Credentials are missing or wrong", 401),
    "forbidden": ("These credentials may not do this", 403),
    "not-found": ("No such resource", 404),
    "method-not-allowed": ("Method not allowed", 405),
    "conflict": ("The request conflicts with the current state", 409),
    "invalid-transition": ("This step is not allowed in the complaint's current state", 409),
    "chain-conflict": ("The complaint changed meanwhile; reload it and try again", 409),
    "idempotency-key-reused": ("The Idempotency-Key was used for a different request", 422),
    "invalid-payload": ("The event's fields are not valid", 422),
    "too-deep": ("The JSON body is nested too deeply", 422),
    "role-not-allowed": ("This role may not take this step", 403),
    "officer-not-authorised": ("The officer key may not sign this step", 403),
    "invalid-reference": ("Not a valid complaint reference", 404),
    "payload-too-large": ("The request body is too large", 413),
    "unsupported-media-type": ("Unsupported content type", 415),
    "rate-limited": ("Too many requests", 429),
    "export-expired": ("This export is no longer kept; export the bundle again", 410),
    "tree-size-out-of-range": ("The tree size is beyond the log's size", 400),
    "unavailable": ("The service is temporarily unavailable; retry later", 503),
    "internal-error": ("Internal error", 500),
}

STATUS_TO_SLUG = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    503: "unavailable",
}


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only); extension members may be added."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(
        required=True, metadata={"description": "Stable URI of the problem type"}
    )
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    instance = ma.fields.String()
    code = ma.fields.String(
        metadata={"description": "Stable machine-readable reason, for refusals by the domain"}
    )
    errors = ma.fields.Dict(metadata={"description": "Field errors, when validation failed"})


class Problem(Exception):
    """Raise to answer with a problem+json response."""

    def __init__(
        self,
        slug: str,
        detail: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: object,
    ) -> None:
        title, default_status = PROBLEM_TYPES[slug]
        super().__init__(detail or title)
        self.slug = slug
        self.title = title
        self.status = status or default_status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_type_uri(slug: str) -> str:
    return f"/problems/{slug}"


def problem_response(problem: Problem) -> Response:
    body: dict[str, object] = {
        "type": problem_type_uri(problem.slug),
        "title": problem.title,
        "status": problem.status,
    }
    if problem.detail:
        body["detail"] = problem.detail
    body["instance"] = request.path
    body.update(problem.extra)
    resp = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_MIMETYPE)
    resp.headers.update(problem.headers)
    return resp


def path_reference(text: str) -> str:
    """The complaint reference a URL path names, canonical; else a 400 ``invalid-reference``."""
    try:
        return parse_reference(text)
    except InvalidReference as exc:
        raise Problem("invalid-reference", exc.message, code=exc.code) from exc
