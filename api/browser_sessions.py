"""A signed-in browser in one area of the site (the customer portal, the staff console): its
server-side session behind an HttpOnly cookie, the pre-session CSRF token of the forms shown
before sign-in, and the tokens a form may carry.

The session cookie ``<area>_session`` holds a random id whose SHA-256 is stored (the area's
session store, ``ledger.access.sessions``); the pre-session cookie ``<area>_csrf`` holds the
token of the forms shown before sign-in. Both are HttpOnly, SameSite=Strict, limited to the
area's path and Secure over HTTPS (``browser_security.cookie_options``). What a request
changed is written by ``set_cookies``, the area's after-request hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, g, request

from api.browser_security import check_token, cookie_options
from ledger.access.secrets import new_secret

PRESESSION_TOKEN_MAX = 100  # a longer cookie value is not one we made


class BrowserSessions:
    """The sessions of one area: ``store()`` is its session store (open, find, revoke)."""

    def __init__(self, area: str, path: str, store: Callable[[], Any]) -> None:
        self.area, self.path, self.store = area, path, store
        self.session_cookie = f"{area}_session"
        self.presession_cookie = f"{area}_csrf"
        # Per-request state in flask.g, under the area's names.
        self._live, self._new_id = f"{area}_session", f"{area}_new_session_id"
        self._clear, self._new_presession = f"{area}_clear_session", f"{area}_new_presession"

    def current(self) -> Any | None:
        """This browser's live session, if any (looked up once per request)."""
        if self._live not in g:
            session_id = request.cookies.get(self.session_cookie)
            setattr(g, self._live, self.store().find(session_id) if session_id else None)
        return g.get(self._live)

    def started(self, session_id: str, live: Any) -> Any:
        """Take ``live`` (opened with id ``session_id``) as this browser's session from now."""
        setattr(g, self._new_id, session_id)
        setattr(g, self._clear, False)
        setattr(g, self._live, live)
        return live

    def end(self) -> None:
        """Revoke this browser's session (if it has one) and clear its cookie."""
        session_id = request.cookies.get(self.session_cookie)
        if session_id:
            self.store().revoke(session_id)
            setattr(g, self._clear, True)
        setattr(g, self._live, None)

    def presession_token(self) -> str:
        """The CSRF token of forms shown before sign-in (kept in a cookie, made when missing)."""
        token = g.get(self._new_presession) or request.cookies.get(self.presession_cookie)
        if not token or len(token) > PRESESSION_TOKEN_MAX:
            token = new_secret()
            setattr(g, self._new_presession, token)
        return token

    def accepted_tokens(self, before_sign_in: bool) -> list[str]:
        """The tokens a POST may carry: the session's; and the pre-session cookie's on the forms
        shown before sign-in (``before_sign_in``), or when there is no session."""
        live = self.current()
        tokens = [live.csrf_token] if live is not None else []
        presession = request.cookies.get(self.presession_cookie)
        if presession and (before_sign_in or live is None):
            tokens.append(presession)
        return tokens

    def check_form(self, *, before_sign_in: bool = False) -> None:
        """Raise CsrfRefused unless this POST comes from this site with its form's token
        (``before_sign_in``: a form shown before sign-in, which a signed-in browser may send
        again)."""
        check_token(self.accepted_tokens(before_sign_in))

    def set_cookies(self, response: Response) -> Response:
        """Write the session cookies this request changed."""
        options = cookie_options(self.path)
        new_id = g.get(self._new_id)
        if new_id:
            response.set_cookie(self.session_cookie, new_id, **options)
        elif g.get(self._clear):
            response.delete_cookie(self.session_cookie, **options)
        presession = g.get(self._new_presession)
        if presession:
            response.set_cookie(self.presession_cookie, presession, **options)
        return response
