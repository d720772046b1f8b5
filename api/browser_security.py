"""What every page for people (the customer portal, the staff console) shares: the strict
Content-Security-Policy and headers, cookie options, and the same-site check of form POSTs.

Forms post to this site only; a POST must say it comes from this site (its Origin, else its
Referer, names this host; a browser's ``Sec-Fetch-Site`` is not cross-site) and carry its
form's token (``token_matches``), or nothing is done.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, request

from api.client_address import client_address, parse_trusted_proxies
from api.context import get_ledger
from api.guards import PrincipalLimit
from ledger.errors import LedgerError

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
# A downloaded file is never run as a page of this site.
DOWNLOAD_CSP = "sandbox; default-src 'none'"
CSRF_FIELD = "csrf_token"


class CsrfRefused(LedgerError, PermissionError):
    """A form was not sent from this site, or without its token: nothing is done."""


def page_headers(resp: Response, *, static: bool) -> Response:
    """The headers of a page (or a static file, ``static``: cacheable) for people."""
    resp.headers.setdefault("Content-Security-Policy", CSP)  # a download sets its own
    # same-origin: our own forms still send their Origin (no-referrer would make it "null").
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    if not static:
        resp.headers["Cache-Control"] = "no-store"  # personal data, one-time secrets
    return resp


def cookie_options(path: str) -> dict[str, Any]:
    """HttpOnly, SameSite=Strict, limited to ``path``, and Secure over HTTPS (or always, with
    LEDGER_PORTAL_SECURE_COOKIES: behind a TLS-terminating proxy)."""
    secure = get_ledger().settings.portal_secure_cookies or request.is_secure
    return {"path": path, "httponly": True, "samesite": "Strict", "secure": secure}


def same_host(url: str) -> bool:
    """Whether ``url`` is on this site (http or https, this host and port)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.netloc == request.host


def check_origin() -> None:
    """Raise CsrfRefused unless the request says it comes from this site."""
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        raise CsrfRefused("the form was sent from another site")
    origin = request.headers.get("Origin")
    if origin is not None:
        if not same_host(origin):  # also "null": a sandboxed or privacy-redirected form
            raise CsrfRefused("the form was sent from another site")
        return
    referer = request.headers.get("Referer")
    if referer and not same_host(referer):
        raise CsrfRefused("the form was sent from another site")


def check_token(tokens: Iterable[str]) -> None:
    """Raise CsrfRefused unless this POST came from this site with one of ``tokens``."""
    check_origin()
    sent = request.form.get(CSRF_FIELD, "").encode()
    matches = [hmac.compare_digest(sent, t.encode()) for t in tokens]
    if not sent or not any(matches):
        raise CsrfRefused("the form's security token is missing or out of date")


def safe_back(referrer: str | None) -> str | None:
    """The page a refused form came from, when it is on this site (else None)."""
    return referrer if referrer and same_host(referrer) else None


def address_limit(scope: str, spec: str) -> PrincipalLimit:
    """The app's limit ``scope`` per client address (sign-ins, anonymous filings), made on
    first use with ``spec`` (Redis when configured, like every limit)."""
    limits = current_app.extensions.setdefault("page_limits", {})
    if scope not in limits:
        limits[scope] = PrincipalLimit(scope, spec, get_ledger().settings.redis_url)
    return limits[scope]


def client() -> str:
    """This request's client address (through the trusted proxies)."""
    return client_address(parse_trusted_proxies(get_ledger().settings.trusted_proxies))
