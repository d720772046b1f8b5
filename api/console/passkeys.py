"""Passkeys in the console: "Your passkeys" (list, add, remove) and signing in with the password
and a passkey instead of the TOTP code (``ledger.access.passkeys``).

The browser's part is ``static/console/passkeys.js`` (``navigator.credentials``): it fetches the
options (a POST with the form's CSRF token; JSON, or problem+json when refused), asks the
authenticator, and sends the answer in an ordinary form. The relying party is this request's
host name and origin. Challenges are bound to the browser: its session cookie when adding a
passkey, its pre-session cookie when signing in. Sign-in refusals say what the TOTP path says.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, redirect, request, url_for

from api.browser_security import address_limit, client
from api.console import csrf
from api.console.auth import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    current_member,
    safe_next,
    staff_required,
    start_session,
)
from api.console.blueprint import blp, page
from api.console.signin import LOCKED, REFUSED, home_of, sign_in_page
from api.context import get_ledger
from api.portal.forms import FieldError, FormState, clean
from api.problems import Problem, problem_response
from ledger.access.passkeys import MAX_NAME, PasskeyError, StaffPasskeys
from ledger.access.staff import SignInRefused, StaffMember

DONE = {"added": "Passkey added.", "removed": "Passkey removed."}
NO_ANSWER = "Your browser did not make a passkey. Try again, or use another browser or device."


def _passkeys() -> StaffPasskeys:
    passkeys = get_ledger().staff_passkeys
    assert passkeys is not None
    return passkeys


def relying_party() -> tuple[str, str]:
    """The relying party id (this request's host name) and origin (scheme://host[:port])."""
    hostname = urlsplit(f"//{request.host}").hostname or ""
    return hostname, f"{request.scheme}://{request.host}"


def _json(text: str) -> Response:
    return Response(text, mimetype="application/json")


def _signed_in() -> StaffMember:
    member = current_member()
    assert member is not None  # staff_required
    return member


# --- "Your passkeys" ---------------------------------------------------------------------


def _passkeys_page(form: FormState | None = None, status: int = 200) -> Response:
    member = _signed_in()
    return page(
        "passkeys.html",
        status=status,
        title="Your passkeys",
        form=form,
        passkeys=_passkeys().of(member.id),
        done=DONE.get(request.args.get("done") or ""),
        max_name=MAX_NAME,
    )


@blp.get("/passkeys")
@staff_required()
def passkeys_page() -> Response:
    return _passkeys_page()


@blp.post("/passkeys/options")
@staff_required()
def passkey_registration_options() -> Response:
    csrf.check_form()
    rp_id, _ = relying_party()
    binding = request.cookies.get(SESSION_COOKIE, "")
    return _json(_passkeys().registration_options(_signed_in(), binding=binding, rp_id=rp_id))


@blp.post("/passkeys")
@staff_required()
def add_passkey() -> Response:
    csrf.check_form()
    name = clean(request.form.get("name"))[: MAX_NAME * 2]
    answer = request.form.get("credential", "")
    if not name:
        errors = [FieldError("name", message="Enter a name for the passkey.")]
    elif not answer:
        errors = [FieldError("name", message=NO_ANSWER)]
    else:
        rp_id, origin = relying_party()
        try:
            _passkeys().register(
                _signed_in(),
                answer,
                name,
                binding=request.cookies.get(SESSION_COOKIE, ""),
                rp_id=rp_id,
                origin=origin,
                client=client(),
            )
        except PasskeyError as exc:
            errors = [FieldError("name", message=f"The passkey was not added: {exc}.")]
        else:
            return redirect(url_for("console.passkeys_page", done="added") + "#notice", 303)
    return _passkeys_page(FormState("add_passkey", errors, {"name": name}), 400)


@blp.post("/passkeys/<passkey_id>/remove")
@staff_required()
def remove_passkey(passkey_id: str) -> Response:
    csrf.check_form()
    try:
        _passkeys().remove(_signed_in(), passkey_id[:32], client=client())
    except PasskeyError:
        errors = [FieldError("passkeys", message="There is no such passkey; nothing was removed.")]
        return _passkeys_page(FormState("remove_passkey", errors, {}), 404)
    return redirect(url_for("console.passkeys_page", done="removed") + "#notice", 303)


# --- signing in with a passkey -----------------------------------------------------------


def _presession() -> str:
    return request.cookies.get(PRESESSION_COOKIE, "")


@blp.post("/sign-in/passkey-options")
def passkey_sign_in_options() -> Response:
    """The options of a passkey sign-in for a username; the password is checked with the
    passkey's answer, so these options never tell whether it is right."""
    csrf.check_form(before_sign_in=True)
    address_limit("console sign-ins", get_ledger().settings.console_signin_limit).hit(client())
    username = clean(request.form.get("username"))[:200]
    if not username or not _presession():
        return problem_response(Problem("bad-request", "Enter your username and password."))
    rp_id, _ = relying_party()
    return _json(_passkeys().sign_in_options(username, binding=_presession(), rp_id=rp_id))


@blp.post("/sign-in/passkey")
def passkey_sign_in() -> Response:
    csrf.check_form(before_sign_in=True)
    address_limit("console sign-ins", get_ledger().settings.console_signin_limit).hit(client())
    answer = request.form.get("credential", "")
    username = clean(request.form.get("username"))[:200]
    password = request.form.get("password", "")
    values = {"username": username, "next": request.form.get("next", "")}
    if not answer:
        errors = [FieldError("username", message=NO_ANSWER)]
        return sign_in_page(FormState("sign_in", errors, values), 400)
    rp_id, origin = relying_party()
    try:
        member = _passkeys().sign_in(
            answer,
            username,
            password,
            binding=_presession(),
            rp_id=rp_id,
            origin=origin,
            client=client(),
        )
    except SignInRefused as refused:
        message = LOCKED if refused.may_say_locked else REFUSED
        return sign_in_page(
            FormState("sign_in", [FieldError("username", message=message)], values), 400
        )
    start_session(member)
    return redirect(safe_next(request.form.get("next")) or home_of(member), 303)
