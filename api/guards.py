"""Request guards: JSON-only writes with a depth limit, request ids, no-store on private
answers, and rate limits per client address (Redis when configured)."""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter

from api.client_address import client_address, parse_trusted_proxies
from api.context import get_ledger
from api.problems import Problem
from api.request_ids import request_id
from ledger.complaints.payloads import MAX_DEPTH
from ledger.config import Settings
from ledger.jsondepth import text_depth

FILING_ENDPOINT = "complaints.ComplaintsResource"
# Public, cacheable documents (checkpoints, tiles, proofs, anchors): their own caching holds
# even for a caller that sends credentials.
PUBLIC_PREFIXES = ("/log/", "/v1/log/", "/v1/anchors", "/v1/service-rules", "/v1/chains")
# Blueprints whose writes are HTML forms, not JSON: the customer portal and the staff console
# (api/portal and api/console check each form's CSRF token and Origin themselves).
FORM_BLUEPRINTS = frozenset({"portal", "console"})
# Blueprints whose writes are raw files (attachment uploads: api/attachment_routes.py reads
# them with a size cap and checks their type itself).
RAW_BODY_BLUEPRINTS = frozenset({"attachments"})


def _check_json_body() -> None:
    """Writes are JSON objects of bounded depth; refused before anything parses them deeply."""
    if request.mimetype != "application/json":
        raise Problem("unsupported-media-type", "send the body as application/json")
    if request.content_length is None and request.headers.get("Transfer-Encoding"):
        raise Problem("bad-request", "a Content-Length is required")
    depth = text_depth(request.get_data(cache=True), stop_above=MAX_DEPTH)
    if depth > MAX_DEPTH:
        raise Problem(
            "too-deep",
            f"the JSON body nests deeper than {MAX_DEPTH} levels",
            code="TOO_DEEP",
            max_depth=MAX_DEPTH,
        )
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # unreachable after the depth check; never a 500 regardless
        body = None
    if body is None:
        raise Problem("bad-request", "the body is not valid JSON")


def _private(response: Response) -> Response:
    """``no-store`` on answers that carry a secret or personal data: every authenticated
    answer (bodies, timelines, proofs with salts, access logs, audit listings) and every
    answer to a filing (it holds the complaint's secret, also when replayed)."""
    filing = request.method == "POST" and request.endpoint == FILING_ENDPOINT
    authenticated = "Authorization" in request.headers
    if filing or (authenticated and not request.path.startswith(PUBLIC_PREFIXES)):
        response.headers["Cache-Control"] = "no-store"
    return response


def install_guards(app: Flask, settings: Settings) -> Limiter | None:
    proxies = parse_trusted_proxies(settings.trusted_proxies)

    @app.before_request
    def _request_id_and_json() -> None:
        request_id()
        if request.routing_exception is not None:
            return  # 404 / 405 are answered as such, whatever the body
        if request.method in ("POST", "PUT", "PATCH") and request.blueprint not in (
            FORM_BLUEPRINTS | RAW_BODY_BLUEPRINTS
        ):
            _check_json_body()

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers.setdefault("X-Request-Id", request_id())
        return _private(response)

    if not settings.rate_limit and not settings.anonymous_filing_limit:
        return None  # no limits configured: no per-request limiter work at all

    limiter = Limiter(
        lambda: client_address(proxies),
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

    if settings.anonymous_filing_limit:
        from api.complaints_routes import blp as complaints

        # Filings without credentials, per client address: the only write anyone may make.
        limiter.limit(
            settings.anonymous_filing_limit,
            methods=["POST"],
            scope="anonymous-filing",
            override_defaults=False,
            exempt_when=lambda: (
                request.endpoint != FILING_ENDPOINT or "Authorization" in request.headers
            ),
        )(complaints)
    return limiter


class PrincipalLimit:
    """A limit per authenticated principal on one expensive endpoint (evidence exports), on
    top of the per-address limit: one caller cannot take the CPU from everyone else.

    Counted in Redis when configured (shared by every worker), else in this process; if Redis
    fails, this process counts meanwhile (as the app-wide limiter does)."""

    def __init__(self, scope: str, spec: str, storage_uri: str | None) -> None:
        from limits import parse_many
        from limits.storage import MemoryStorage, storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        self.scope = scope
        self.items = parse_many(spec) if spec.strip() else []
        self._fallback = FixedWindowRateLimiter(MemoryStorage())
        shared = storage_from_string(storage_uri) if storage_uri else None
        self._shared = FixedWindowRateLimiter(shared) if shared is not None else None

    def hit(self, principal: str) -> None:
        """Count one call by ``principal``; 429 problem+json when over the limit."""
        if not self.items:
            return
        try:
            self._hit(self._shared or self._fallback, principal)
        except Problem:
            raise
        except Exception:  # the shared counter is unreachable: never fail the request for it
            self._hit(self._fallback, principal)

    def _hit(self, limiter, principal: str) -> None:
        keys = (self.scope, principal)
        over = [item for item in self.items if not limiter.test(item, *keys)]
        if not over:
            for item in self.items:
                limiter.hit(item, *keys)
            return
        reset = max(limiter.get_window_stats(item, *keys).reset_time for item in over)
        retry = max(1, int(reset - time.time() + 0.999))
        raise Problem(
            "rate-limited",
            f"at most {'; '.join(str(i) for i in self.items)} {self.scope} per caller",
            headers={"Retry-After": str(retry)},
            limit=str(over[0]),
        )


def principal_limit(scope: str) -> PrincipalLimit:
    """The app's per-principal limit of ``scope`` (created on first use from the settings)."""
    limits = current_app.extensions.setdefault("principal_limits", {})
    if scope not in limits:
        settings = get_ledger().settings
        spec = {
            "evidence exports": settings.export_rate_limit,
            "bulk evidence exports": settings.bulk_export_rate_limit,
        }[scope]
        limits[scope] = PrincipalLimit(scope, spec, settings.redis_url)
    return limits[scope]
