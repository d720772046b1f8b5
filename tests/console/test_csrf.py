"""Every console POST needs its form's token and must come from this site: a missing or wrong
token, a foreign Origin or Referer, or a cross-site Sec-Fetch-Site is refused with a 403 page
and nothing is written."""

from __future__ import annotations

import pytest

from tests.support.console import complaint_page, form_of, html, sign_in


@pytest.mark.parametrize(
    "tamper, headers",
    [
        ("missing", {}),
        ("wrong", {}),
        ("ok", {"Origin": "https://evil.example"}),
        ("ok", {"Origin": "null"}),
        ("ok", {"Referer": "https://evil.example/page"}),
        ("ok", {"Sec-Fetch-Site": "cross-site"}),
        ("ok", {"Sec-Fetch-Site": "same-site"}),
    ],
)
def test_forged_forms_are_refused(app, ledger, staff_logins, reference, tamper, headers) -> None:
    client = app.test_client()
    assert sign_in(client, staff_logins["agent"]).status_code == 303
    path = f"/console/complaints/{reference}/actions/note"
    data = {**form_of(complaint_page(client, reference), path), "text": "forged"}
    if tamper == "missing":
        del data["csrf_token"]
    elif tamper == "wrong":
        data["csrf_token"] = "x" * 43
    before = len(ledger.complaints.reads.events(reference))
    resp = client.post(path, data=data, headers=headers)
    assert resp.status_code == 403
    assert resp.mimetype == "text/html"
    assert 'data-testid="error-title"' in html(resp)
    assert len(ledger.complaints.reads.events(reference)) == before


def test_same_origin_forms_pass(app, ledger, staff_logins, reference) -> None:
    client = app.test_client()
    assert sign_in(client, staff_logins["agent"]).status_code == 303
    path = f"/console/complaints/{reference}/actions/note"
    data = {**form_of(complaint_page(client, reference), path), "text": "fine"}
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert client.post(path, data=data, headers=headers).status_code == 303


def test_sign_in_and_admin_forms_need_the_token(app, ledger, staff_logins) -> None:
    client = app.test_client()
    admin = staff_logins["admin"]
    resp = client.post(
        "/console/sign-in",
        data={"username": admin.username, "password": admin.password, "code": admin.code()},
    )
    assert resp.status_code == 403
    assert sign_in(client, admin, code=admin.code(step=1)).status_code == 303
    count = len(ledger.staff.members())
    resp = client.post(
        "/console/admin/accounts",
        data={"username": "mallory", "display_name": "M", "password": "x" * 16, "roles": "admin"},
    )
    assert resp.status_code == 403
    assert len(ledger.staff.members()) == count
    # A token of another session is not this one's.
    other = app.test_client()
    assert sign_in(other, staff_logins["agent"]).status_code == 303
    foreign = form_of(html(other.get("/console/")), "/console/sign-out")
    resp = client.post(
        "/console/admin/accounts",
        data={
            **foreign,
            "username": "mallory",
            "display_name": "M",
            "password": "x" * 16,
            "roles": "admin",
        },
    )
    assert resp.status_code == 403
    assert len(ledger.staff.members()) == count
