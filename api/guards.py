"""Request guards: JSON-only writes, request ids, and rate limits (Redis when configured)."""

from __future__ import annotations

import uuid

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from api.problems import Problem
from ledger.config import Settings


def install_guards(app: Flask, settings: Settings) -> Limiter | None:
    @app.before_request
    def _request_id_and_json() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        if request.routing_exception is not None:
            return  # 404 / 405 are answered as such, whatever the body
        if request.method in ("POST", "PUT", "PATCH"):
            if request.mimetype != "application/json":
                raise Problem("unsupported-media-type", "send the body as application/json")
            if request.content_length is None and request.headers.get("Transfer-Encoding"):
                raise Problem("bad-request", "a Content-Length is required")
            if request.get_json(silent=True) is None:
                raise Problem("bad-request", "the body is not valid JSON")

    @app.after_request
    def _echo_request_id(response):
        response.headers.setdefault("X-Request-Id", g.get("request_id", ""))
        return response

    if not settings.rate_limit:
        return None  # no limits configured: no per-request limiter work at all

    limiter = Limiter(
        get_remote_address,
        app=app,
        default_limits=[settings.rate_limit] if settings.rate_limit else [],
        storage_uri=settings.redis_url or "memory://",
        strategy="fixed-window",
        headers_enabled=True,
    )

    @limiter.request_filter
    def _exempt_log_reads() -> bool:
        # Checkpoints and tiles are meant to be fetched freely (and cached by CDNs).
        return request.path.startswith("/log/")

    return limiter
