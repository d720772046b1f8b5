"""The console's blueprint, how its pages are rendered, and its error pages (HTML for people,
never problem+json).

Server-rendered, same origin, English only; the strict CSP and headers of every page for
people (``api.browser_security``); the console's own CSS and one small script, no
third-party code. Route modules add their views to ``blp``; ``api.console.views`` loads them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import RequestEntityTooLarge

from api.browser_security import CsrfRefused, page_headers, safe_back
from api.console.auth import RoleRefused, csrf_token, current_member, set_cookies
from api.console.nav import nav_items
from api.portal.forms import FormState
from api.portal.submissions import BadFormToken, new_form_token
from api.problems import Problem
from ledger.casework.reads import ComplaintNotFound
from ledger.complaints.errors import InvalidReference

blp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    static_folder="../static/console",
    static_url_path="/static",
)


def page(template: str, *, status: int = 200, title: str = "", **context: Any) -> Response:
    """A console page: ``console/<template>`` with the signed-in member, the navigation and
    this page's CSRF token."""
    member = current_member()
    html = render_template(
        f"console/{template}",
        member=member,
        nav=nav_items(member),
        csrf_token=csrf_token(),
        new_form_token=new_form_token,
        form=context.pop("form", None) or FormState(),
        title=title,
        **context,
    )
    return Response(html, status=status, mimetype="text/html")


def error_page(
    status: int,
    title: str,
    text: str,
    *,
    back: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error page: what happened, and a way back."""
    resp = page(
        "error.html",
        status=status,
        title=title,
        text=text,
        back_url=back or url_for("console.worklist"),
    )
    resp.headers.update(headers or {})
    return resp


@blp.after_request
def _headers(resp: Response) -> Response:
    page_headers(resp, static=request.endpoint == "console.static")
    return set_cookies(resp)


@blp.errorhandler(CsrfRefused)
@blp.errorhandler(BadFormToken)
def _csrf_refused(exc: Exception) -> Response:
    return error_page(
        403,
        "This form could not be sent",
        "The form was out of date or did not come from this console, so nothing was done. "
        "Go back, reload the page and try again.",
        back=safe_back(request.referrer),
    )


@blp.errorhandler(RoleRefused)
def _role_refused(exc: Exception) -> Response:
    return error_page(
        403,
        "Not for your role",
        f"Your roles do not allow this page or step ({exc}); nothing was done.",
    )


@blp.errorhandler(RateLimitExceeded)
def _too_many(exc: Exception) -> Response:
    return error_page(
        429, "Too many attempts", "Wait a minute, then try again.", headers={"Retry-After": "60"}
    )


@blp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: Exception) -> Response:
    return error_page(413, "Files too large", "The files sent were too large; nothing was done.")


@blp.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    if exc.status == 429:
        return error_page(
            429, "Too many attempts", "Wait a minute, then try again.", headers=exc.headers
        )
    return error_page(exc.status, "Something went wrong", exc.detail or "Nothing was done.")


@blp.errorhandler(ComplaintNotFound)
@blp.errorhandler(InvalidReference)
def not_found(exc: Exception | None = None) -> Response:
    """The page for a complaint (or anything else) that does not exist."""
    return error_page(404, "Not found", "There is no such complaint or page.")
