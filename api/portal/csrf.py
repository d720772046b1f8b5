"""Cross-site request forgery: every portal POST carries its form's token and comes from
this site, or nothing is done.

The token is the session's own (``portal_sessions.csrf_token``) once signed in, else the
pre-session cookie's (sign-in and filing forms: a signed-double-submit is not needed, the
cookie is HttpOnly and SameSite=Strict). The Origin header (or, without it, the Referer) must
name this host, and a browser's ``Sec-Fetch-Site`` must not say the request is cross-site.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import request

from api.portal.sessions import PRESESSION_COOKIE, current_session
from ledger.errors import LedgerError

FIELD = "csrf_token"


class CsrfRefused(LedgerError, PermissionError):
    """A portal form was not sent from this site, or without its token: nothing is done."""


def accepted_tokens(before_sign_in: bool) -> list[str]:
    """The tokens a POST may carry: the session's; and the pre-session cookie's on the forms
    shown before sign-in (``before_sign_in``), or when there is no session."""
    live = current_session()
    tokens = [live.csrf_token] if live is not None else []
    presession = request.cookies.get(PRESESSION_COOKIE)
    if presession and (before_sign_in or live is None):
        tokens.append(presession)
    return tokens


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


def check_form(*, before_sign_in: bool = False) -> None:
    """Raise CsrfRefused unless this POST comes from this site with its form's token
    (``before_sign_in``: a filing or sign-in form, which a signed-in browser may resend)."""
    check_origin()
    sent = request.form.get(FIELD, "").encode()
    matches = [hmac.compare_digest(sent, t.encode()) for t in accepted_tokens(before_sign_in)]
    if not sent or not any(matches):
        raise CsrfRefused("the form's security token is missing or out of date")
