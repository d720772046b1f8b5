"""The administrator's page (``/console/admin``): staff accounts (create with the TOTP
enrolment shown once, roles, unlock, reset TOTP, disable), officer keys (list, register a
public key on the log) and webhook endpoints (list, add with its secret shown once, remove).

Each change goes through the service the API and the command-line tools use
(``StaffAccounts``, ``OfficerKeys``, ``Endpoints``); account changes are in the staff access
record with the admin's pseudonym. Secrets shown once are in that answer only (no-store),
never in a URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, redirect, request, url_for

from api.console import csrf
from api.console.auth import current_member, staff_required
from api.console.blueprint import blp, page
from api.console.nav import ADMINISTRATION
from api.context import get_ledger
from api.portal.forms import FieldError, FormState, clean
from ledger.access.staff import STAFF_ROLES, StaffError, StaffMember
from ledger.complaints.errors import ComplaintError
from ledger.complaints.officers import officer_key_id
from ledger.complaints.vocab import Language, Specialism
from ledger.messages.endpoints import EndpointError

DONE = {
    "roles": "Roles changed; the member signs in again to use them.",
    "unlocked": "Account unlocked.",
    "disabled": "Account disabled; its sessions ended.",
    "endpoint_removed": "Webhook endpoint removed.",
    "key_registered": "Officer key registered on the log.",
}
NOT_ECHOED = frozenset({"csrf_token", "password"})


def _admin() -> StaffMember:
    member = current_member()
    assert member is not None
    return member


def _admin_page(form: FormState | None = None, status: int = 200, **shown: Any) -> Response:
    ledger = get_ledger()
    assert ledger.messages is not None
    done = request.args.get("done")
    return page(
        "admin.html", status=status, title="Admin", form=form,
        accounts=ledger.staff.accounts(), roles=STAFF_ROLES,
        languages=[str(lang) for lang in Language], specialisms=[str(s) for s in Specialism],
        keys=[ledger.officer_keys.registry()[k] for k in sorted(ledger.officer_keys.registry())],
        endpoints=ledger.messages.endpoints.list(), done=DONE.get(done or ""),
        now=datetime.now(UTC), **shown,
    )  # fmt: skip


def _values() -> dict[str, str]:
    return {k: v for k, v in request.form.items() if k not in NOT_ECHOED}


def _done(what: str) -> Response:
    return redirect(url_for("console.admin", done=what) + "#notice", 303)


@blp.get("/admin")
@staff_required(*ADMINISTRATION)
def admin() -> Response:
    return _admin_page()


@blp.post("/admin/accounts")
@staff_required(*ADMINISTRATION)
def create_account() -> Response:
    csrf.check_form()
    form = request.form
    try:
        created = get_ledger().staff.create(
            clean(form.get("username")), clean(form.get("display_name")),
            form.get("password", ""), form.getlist("roles"),
            email=clean(form.get("email")) or None, languages=form.getlist("languages"),
            specialisms=form.getlist("specialisms"), by=_admin().pseudonym,
        )  # fmt: skip
    except StaffError as exc:
        errors = [FieldError("create-username", message=str(exc))]
        return _admin_page(FormState("create", errors, _values()), 400)
    # The TOTP secret is shown now, once, for the new member to enrol; never stored in clear.
    return _admin_page(enrolment=created, enrolment_kind="created")


def _account_action(account_id: str, action: str) -> Response:
    staff = get_ledger().staff
    by = _admin().pseudonym
    try:
        if action == "roles":
            staff.set_roles(account_id, request.form.getlist("roles"), by=by)
        elif action == "unlock":
            staff.unlock(account_id, by=by)
            return _done("unlocked")
        elif action == "disable":
            staff.disable(account_id, by=by)
            return _done("disabled")
        elif action == "reset-totp":
            return _admin_page(enrolment=staff.reset_totp(account_id, by=by),
                               enrolment_kind="reset")  # fmt: skip
    except StaffError as exc:
        errors = [FieldError(f"account-{account_id}", message=str(exc))]
        return _admin_page(FormState("account", errors, _values()), 400)
    return _done("roles")


@blp.post("/admin/accounts/<account_id>/<action>")
@staff_required(*ADMINISTRATION)
def account_action(account_id: str, action: str) -> Response:
    if action not in ("roles", "unlock", "disable", "reset-totp"):
        from api.console.blueprint import not_found

        return not_found()
    csrf.check_form()
    return _account_action(account_id, action)


def _limits(form: Any) -> dict[str, Any] | None:
    unit = clean(form.get("limit_unit")).upper()
    most, above = clean(form.get("limit_amount")), clean(form.get("dual_control_above"))
    if not unit:
        return None
    limits: dict[str, Any] = {"amounts": {unit: most} if most else {}}
    if above:
        limits["dual_control_above"] = {unit: above}
    return limits


@blp.post("/admin/officer-keys")
@staff_required(*ADMINISTRATION)
def register_key() -> Response:
    """Register an officer's public key, as ``POST /v1/officers/keys`` does."""
    csrf.check_form()
    form = request.form
    raw = clean(form.get("public_key")).lower()
    name = clean(form.get("name"))
    try:
        public_key = bytes.fromhex(raw)
        if len(public_key) != 32 or not name:
            raise ValueError(raw)
    except ValueError:
        errors = [FieldError("key-public_key", message="Enter the officer's name and the "
                             "64 hex digits of their Ed25519 public key.")]  # fmt: skip
        return _admin_page(FormState("key", errors, _values()), 400)
    try:
        get_ledger().officer_keys.register(
            admin_id=_admin().pseudonym, public_key=public_key, roles=["officer"],
            valid_from=datetime.now(UTC) - timedelta(seconds=1), valid_until=None,
            name=name, limits=_limits(form),
        )  # fmt: skip
    except ComplaintError as exc:
        errors = [FieldError("key-public_key", message=f"{exc.message} ({exc.code})")]
        return _admin_page(FormState("key", errors, _values()), 409)
    return redirect(
        url_for("console.admin", done="key_registered", key=officer_key_id(public_key))
        + "#officer-keys", 303,
    )  # fmt: skip


@blp.post("/admin/webhook-endpoints")
@staff_required(*ADMINISTRATION)
def add_endpoint() -> Response:
    """Add a webhook endpoint, as ``POST /v1/webhook-endpoints`` does; its signing secret is
    shown in this answer only."""
    csrf.check_form()
    messages = get_ledger().messages
    assert messages is not None
    types = [t for t in request.form.getlist("event_types") if t] or None
    try:
        endpoint, secret = messages.endpoints.create(
            clean(request.form.get("url")), types, _admin().pseudonym
        )
    except EndpointError as exc:
        errors = [FieldError("endpoint-url", message=exc.message)]
        return _admin_page(FormState("endpoint", errors, _values()), 400)
    return _admin_page(new_endpoint=endpoint, endpoint_secret=secret)


@blp.post("/admin/webhook-endpoints/<endpoint_id>/remove")
@staff_required(*ADMINISTRATION)
def remove_endpoint(endpoint_id: str) -> Response:
    csrf.check_form()
    messages = get_ledger().messages
    assert messages is not None
    messages.endpoints.disable(endpoint_id)
    return _done("endpoint_removed")
