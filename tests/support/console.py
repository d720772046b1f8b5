"""Driving the staff console with Flask's test client: staff accounts with their TOTP codes,
signing in, reading a page's tokens and sending its forms as a browser would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
from werkzeug.test import TestResponse

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
PASSWORD = "correct horse battery staple"
SESSION_COOKIE = "console_session"
# A person per role, as a console test signs them in.
PEOPLE = {
    "agent": "Rui Costa",
    "officer": "Olga Officer",
    "supervisor": "Sara Supervisor",
    "legal": "Lena Legal",
    "admin": "Adam Admin",
}


@dataclass
class StaffLogin:
    """A staff account and what signing in needs: username, password, TOTP secret."""

    username: str
    password: str
    secret: str
    pseudonym: str
    display_name: str
    account_id: str

    def code(self, at: datetime | None = None, step: int = 0) -> str:
        """The TOTP code of ``at`` (now), ``step`` time steps later."""
        moment = (at or datetime.now(UTC)).timestamp() + 30 * step
        return pyotp.TOTP(self.secret).at(int(moment))


def make_staff(ledger, role: str, *, username: str | None = None, roles=None, **kw) -> StaffLogin:
    """A staff account with ``role`` (or ``roles``), made through the account service."""
    name = username or f"{role}-{len(ledger.staff.members())}"
    made = ledger.staff.create(
        name,
        kw.pop("display_name", PEOPLE.get(role, role.title())),
        PASSWORD,
        roles or [role],
        **kw,
    )
    m = made.member
    return StaffLogin(m.username, PASSWORD, made.totp_secret, m.pseudonym, m.display_name, m.id)


def html(resp: TestResponse) -> str:
    return resp.get_data(as_text=True)


def csrf_of(page: str) -> str:
    return CSRF.search(page).group(1)


def form_of(page: str, action_path: str) -> dict[str, str]:
    """The hidden tokens of the form posting to ``action_path`` on ``page``."""
    start = page.index(f'action="{action_path}"')
    form = page[start : page.index("</form>", start)]
    out = {"csrf_token": CSRF.search(form).group(1)}
    found = FORM_TOKEN.search(form)
    if found:
        out["form_token"] = found.group(1)
    return out


def sign_in(client, login: StaffLogin, code: str | None = None, **headers) -> TestResponse:
    """Send the sign-in form with ``login``'s password and ``code`` (its current code)."""
    token = csrf_of(html(client.get("/console/sign-in")))
    return client.post(
        "/console/sign-in",
        data={
            "csrf_token": token,
            "username": login.username,
            "password": login.password,
            "code": code if code is not None else login.code(),
        },
        headers=headers,
    )


def session_cookie(client) -> str | None:
    cookie = client.get_cookie(SESSION_COOKIE, path="/console")
    return None if cookie is None else cookie.value


def complaint_page(client, reference: str) -> str:
    resp = client.get(f"/console/complaints/{reference}")
    assert resp.status_code == 200, (resp.status_code, html(resp)[:800])
    return html(resp)


def act(client, reference: str, action: str, data: dict | None = None, **kwargs) -> TestResponse:
    """Send the complaint page's form of ``action`` with ``data`` (its tokens filled in)."""
    path = f"/console/complaints/{reference}/actions/{action}"
    page = complaint_page(client, reference)
    return client.post(path, data={**form_of(page, path), **(data or {})}, **kwargs)
