"""Signing in to the console (username, password and TOTP code in one form) and out.

One message for every refusal (no hint which of the three was wrong), another when the
account is locked after repeated failures; attempts are also limited per client address
(LEDGER_CONSOLE_SIGNIN_LIMIT). Every attempt is in the staff access record
(``StaffAccounts.authenticate``), never a password or code.
"""

from __future__ import annotations

from flask import Response, redirect, request, url_for

from api.browser_security import address_limit, client
from api.console import csrf
from api.console.auth import end_session, safe_next, start_session
from api.console.blueprint import blp, page
from api.console.nav import ADMINISTRATION, CASEWORK, SUPERVISION
from api.context import get_ledger
from api.portal.forms import FieldError, FormState, clean
from ledger.access.staff import SignInRefused, StaffMember

NOTICES = {
    "signed_out": "You are signed out.",
    "expired": "Your session ended. Sign in again to continue.",
}
REFUSED = "The username, password or code is not right."
LOCKED = (
    "This account is locked after too many failed attempts. Try again later, or ask an "
    "administrator to unlock it."
)


def home_of(member: StaffMember) -> str:
    """The first page of ``member``'s roles."""
    if any(member.has(r) for r in CASEWORK):
        return url_for("console.worklist")
    if any(member.has(r) for r in SUPERVISION):
        return url_for("console.supervisor")
    if any(member.has(r) for r in ADMINISTRATION):
        return url_for("console.admin")
    return url_for("console.sign_in")


def sign_in_page(form: FormState | None = None, status: int = 200) -> Response:
    """The sign-in page (with ``form``'s errors); also the answer of a refused passkey."""
    notice = request.args.get("notice")
    return page(
        "sign_in.html",
        status=status,
        title="Sign in",
        form=form,
        notice=NOTICES.get(notice or ""),
        next=safe_next(request.args.get("next")),
    )


@blp.get("/sign-in")
def sign_in() -> Response:
    return sign_in_page()


@blp.post("/sign-in")
def sign_in_post() -> Response:
    csrf.check_form(before_sign_in=True)
    address_limit("console sign-ins", get_ledger().settings.console_signin_limit).hit(client())
    username = clean(request.form.get("username"))[:200]
    password = request.form.get("password", "")
    code = request.form.get("code", "").replace(" ", "").strip()
    errors = [
        FieldError(field_id, message=message)
        for field_id, message, value in (
            ("username", "Enter your username.", username),
            ("password", "Enter your password.", password),
            ("code", "Enter the 6-digit code from your authenticator app.", code),
        )
        if not value
    ]
    if not errors:
        try:
            member = get_ledger().staff.authenticate(username, password, code, client=client())
        except SignInRefused as refused:
            errors = [FieldError("username", message=LOCKED if refused.may_say_locked else REFUSED)]
        else:
            start_session(member)
            target = safe_next(request.form.get("next")) or home_of(member)
            return redirect(target, 303)
    values = {"username": username, "next": request.form.get("next", "")}
    return sign_in_page(FormState("sign_in", errors, values), 400)


@blp.post("/sign-out")
def sign_out() -> Response:
    csrf.check_form()
    end_session(client())
    return redirect(url_for("console.sign_in", notice="signed_out"), 303)
