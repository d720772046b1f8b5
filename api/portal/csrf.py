"""Cross-site request forgery: every portal POST carries its form's token and comes from
this site, or nothing is done (the checks are ``api.browser_security``'s, shared with the
staff console).

The token is the session's own (``portal_sessions.csrf_token``) once signed in, else the
pre-session cookie's (sign-in and filing forms: a signed-double-submit is not needed, the
cookie is HttpOnly and SameSite=Strict).
"""

from __future__ import annotations

from flask import request

from api.browser_security import CSRF_FIELD, CsrfRefused, check_origin, check_token, same_host
from api.portal.sessions import PRESESSION_COOKIE, current_session

FIELD = CSRF_FIELD
__all__ = ["FIELD", "CsrfRefused", "accepted_tokens", "check_form", "check_origin", "same_host"]


def accepted_tokens(before_sign_in: bool) -> list[str]:
    """The tokens a POST may carry: the session's; and the pre-session cookie's on the forms
    shown before sign-in (``before_sign_in``), or when there is no session."""
    live = current_session()
    tokens = [live.csrf_token] if live is not None else []
    presession = request.cookies.get(PRESESSION_COOKIE)
    if presession and (before_sign_in or live is None):
        tokens.append(presession)
    return tokens


def check_form(*, before_sign_in: bool = False) -> None:
    """Raise CsrfRefused unless this POST comes from this site with its form's token
    (``before_sign_in``: a filing or sign-in form, which a signed-in browser may resend)."""
    check_token(accepted_tokens(before_sign_in))
