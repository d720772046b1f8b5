"""Every console POST carries its form's token and comes from this site, or nothing is done
(the checks are ``api.browser_security``'s, as in the customer portal).

The token is the staff session's own once signed in; before sign-in (the sign-in form) the
pre-session cookie's.
"""

from __future__ import annotations

from flask import request

from api.browser_security import CsrfRefused, check_token
from api.console.auth import PRESESSION_COOKIE, current_session

__all__ = ["CsrfRefused", "check_form"]


def check_form(*, before_sign_in: bool = False) -> None:
    """Raise CsrfRefused unless this POST comes from this site with its form's token
    (``before_sign_in``: the sign-in form, which a signed-in browser may send again)."""
    live = current_session()
    tokens = [live.csrf_token] if live is not None else []
    presession = request.cookies.get(PRESESSION_COOKIE)
    if presession and (before_sign_in or live is None):
        tokens.append(presession)
    check_token(tokens)
