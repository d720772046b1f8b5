"""Who is signed in to the console: the staff session cookie, the member it opens, and
``staff_required(*roles)`` on every page and form.

The cookie holds a random session id whose SHA-256 is stored (``ledger.access.staff_sessions``);
a new id is issued at every sign-in and the browser's previous session is revoked (no
fixation). Cookies are HttpOnly, SameSite=Strict, limited to ``/console`` and Secure over
HTTPS (``api.browser_security.cookie_options``). A session ends after the idle and absolute
times of the settings (LEDGER_STAFF_IDLE_MINUTES, LEDGER_STAFF_SESSION_HOURS).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, g, redirect, request, url_for

from api.auth import Caller
from api.browser_sessions import BrowserSessions
from api.context import get_ledger
from ledger.access.staff import StaffMember
from ledger.errors import LedgerError

COOKIE_PATH = "/console"


def _store() -> Any:
    return get_ledger().staff_sessions


BROWSERS = BrowserSessions("console", COOKIE_PATH, _store)
SESSION_COOKIE = BROWSERS.session_cookie  # console_session
PRESESSION_COOKIE = BROWSERS.presession_cookie  # console_csrf
current_session = BROWSERS.current
presession_token = BROWSERS.presession_token
set_cookies = BROWSERS.set_cookies

F = TypeVar("F", bound=Callable[..., Any])


class RoleRefused(LedgerError, PermissionError):
    """The signed-in member has none of the roles a page or form needs: nothing is done."""


def current_member() -> StaffMember | None:
    """The staff member signed in on this browser, if any."""
    if "console_member" not in g:
        live = current_session()
        member = None if live is None else get_ledger().staff.get(live.account_id)
        g.console_member = member if member is not None and member.active else None
    return g.console_member


def start_session(member: StaffMember) -> Any:
    """Sign ``member`` in on this browser: its previous session ends, a new id is issued."""
    previous = request.cookies.get(SESSION_COOKIE)
    live = BROWSERS.started(*_store().open(member.id, replacing=previous))
    g.console_member = member
    return live


def end_session(client: str = "") -> None:
    """Revoke this browser's session (if it has one), record the sign-out, clear the cookie."""
    member = current_member()
    BROWSERS.end()
    if member is not None:
        get_ledger().staff.signed_out(member.id, client=client)
    g.console_member = None


def csrf_token() -> str:
    """The token this page's forms carry: the session's, or before sign-in the cookie's."""
    live = current_session()
    return live.csrf_token if live is not None else presession_token()


def caller_for(member: StaffMember, role: str) -> Caller:
    """The member acting in ``role``: on the log by pseudonym, in letters by name."""
    return Caller(role, member.pseudonym, name=member.display_name)


def _to_sign_in() -> Response:
    notice = "expired" if request.cookies.get(SESSION_COOKIE) else None
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("console.sign_in", notice=notice, next=target), 303)


def staff_required(*roles: str) -> Callable[[F], F]:
    """A console view for a signed-in member holding one of ``roles`` (any role when none
    is given); without a session, the sign-in page; without the role, a 403 page."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            member = current_member()
            if member is None:
                return _to_sign_in()
            if roles and not any(member.has(r) for r in roles):
                raise RoleRefused(f"this needs one of the roles {', '.join(roles)}")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def safe_next(target: str | None) -> str | None:
    """A page of the console to return to after sign-in (never another site)."""
    if not target or (not target.startswith(COOKIE_PATH + "/") and target != COOKIE_PATH):
        return None
    if target.startswith("//") or "\\" in target or "\n" in target or "\r" in target:
        return None
    return target
