"""The portal's cookies: the session (one complaint per signed-in browser), the pre-session
CSRF token of the sign-in and filing forms, and the chosen language.

Every cookie is HttpOnly, SameSite=Strict, limited to ``/portal`` and Secure over HTTPS (or
always, with LEDGER_PORTAL_SECURE_COOKIES). The session cookie holds a random id whose
SHA-256 is stored (``ledger.access.portal_sessions``); a new id is made at every sign-in and
filing (no fixation) and the browser's previous session is revoked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Response, current_app, g

from api.browser_security import cookie_options
from api.browser_sessions import BrowserSessions
from api.context import get_ledger
from api.portal.i18n import LANG_COOKIE
from ledger.access.portal_sessions import LiveSession, PortalSessions

COOKIE_PATH = "/portal"
LANG_COOKIE_DAYS = 365
_EXTENSION = "portal_sessions"


def session_store() -> PortalSessions:
    """This app's portal sessions (made on first use from the ledger's settings)."""
    store = current_app.extensions.get(_EXTENSION)
    if store is None:
        ledger = get_ledger()
        store = PortalSessions(
            ledger.engine,
            lifetime=timedelta(hours=ledger.settings.portal_session_hours),
            idle=timedelta(minutes=ledger.settings.portal_idle_minutes),
        )
        current_app.extensions[_EXTENSION] = store
    return store


BROWSERS = BrowserSessions("portal", COOKIE_PATH, session_store)
SESSION_COOKIE = BROWSERS.session_cookie  # portal_session
PRESESSION_COOKIE = BROWSERS.presession_cookie  # portal_csrf
current_session: Callable[[], LiveSession | None] = BROWSERS.current
end_session = BROWSERS.end
presession_token = BROWSERS.presession_token


def start_session(reference: str) -> LiveSession:
    """Sign this browser in to ``reference``: its previous session ends, a new id is issued."""
    end_session()
    return BROWSERS.started(*session_store().open(reference))


def set_cookies(response: Response) -> Response:
    """Write the cookies this request changed (an after_request hook of the portal): the
    session's, and the chosen language."""
    BROWSERS.set_cookies(response)
    lang = g.get("portal_new_lang")
    if lang:
        options = cookie_options(COOKIE_PATH)
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_DAYS * 86400, **options)
    return response
