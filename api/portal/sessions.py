"""The portal's cookies: the session (one complaint per signed-in browser), the pre-session
CSRF token of the sign-in and filing forms, and the chosen language.

Every cookie is HttpOnly, SameSite=Strict, limited to ``/portal`` and Secure over HTTPS (or
always, with LEDGER_PORTAL_SECURE_COOKIES). The session cookie holds a random id whose
SHA-256 is stored (``ledger.access.portal_sessions``); a new id is made at every sign-in and
filing (no fixation) and the browser's previous session is revoked.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, current_app, g, request

from api.browser_security import cookie_options
from api.context import get_ledger
from api.portal.i18n import LANG_COOKIE
from ledger.access.portal_sessions import LiveSession, PortalSessions
from ledger.access.secrets import new_secret

SESSION_COOKIE = "portal_session"
PRESESSION_COOKIE = "portal_csrf"
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


def current_session() -> LiveSession | None:
    """The live session of this browser, if any (looked up once per request)."""
    if "portal_session" not in g:
        session_id = request.cookies.get(SESSION_COOKIE)
        g.portal_session = session_store().find(session_id) if session_id else None
    return g.portal_session


def start_session(reference: str) -> LiveSession:
    """Sign this browser in to ``reference``: its previous session ends, a new id is issued."""
    end_session()
    session_id, live = session_store().open(reference)
    g.portal_new_session_id = session_id
    g.portal_session = live
    return live


def end_session() -> None:
    """Revoke this browser's session (if it has one) and clear its cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        session_store().revoke(session_id)
        g.portal_clear_session = True
    g.portal_session = None


def presession_token() -> str:
    """The CSRF token of forms shown before sign-in (kept in a cookie, made when missing)."""
    token = g.get("portal_new_presession") or request.cookies.get(PRESESSION_COOKIE)
    if not token or len(token) > 100:
        token = g.portal_new_presession = new_secret()
    return token


def set_cookies(response: Response) -> Response:
    """Write the cookies this request changed (an after_request hook of the portal)."""
    options = cookie_options(COOKIE_PATH)
    new_id = g.get("portal_new_session_id")
    if new_id:
        response.set_cookie(SESSION_COOKIE, new_id, **options)
    elif g.get("portal_clear_session"):
        response.delete_cookie(SESSION_COOKIE, **options)
    presession = g.get("portal_new_presession")
    if presession:
        response.set_cookie(PRESESSION_COOKIE, presession, **options)
    lang = g.get("portal_new_lang")
    if lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_DAYS * 86400, **options)
    return response
