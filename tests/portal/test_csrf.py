"""Every portal POST needs its form's token and must come from this site: otherwise a clear
page says so and nothing is written (no step, no complaint, no session)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger.casework.records import ComplaintRecord
from tests.portal.helpers import COMPLAINT, complaint_page, form_of, html, tokens


def _count_complaints(ledger) -> int:
    with ledger.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ComplaintRecord)).scalar_one()


def _assert_refused(resp) -> None:
    assert resp.status_code == 403, (resp.status_code, html(resp)[:300])
    assert resp.mimetype == "text/html"
    assert 'data-testid="error-title"' in html(resp)


BAD = {
    "missing token": ({"csrf_token": None}, {}),
    "wrong token": ({"csrf_token": "x" * 43}, {}),
    "foreign origin": ({}, {"Origin": "https://evil.example"}),
    "null origin": ({}, {"Origin": "null"}),
    "foreign referer": ({}, {"Referer": "https://evil.example/form"}),
    "cross-site fetch": ({}, {"Sec-Fetch-Site": "cross-site"}),
}


def _send(client, path: str, data: dict, change: dict, headers: dict):
    data = {**data, **change}
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(path, data=data, headers=headers)


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_step_without_its_token_or_from_elsewhere_is_refused(
    browser_client, filed, staff, case
) -> None:
    change, headers = BAD[case]
    path = f"/portal/complaints/{filed.reference}/actions/withdraw"
    data = {**form_of(complaint_page(browser_client, filed.reference), path), "confirm": "yes"}
    before = staff.events(filed.reference)
    _assert_refused(_send(browser_client, path, data, change, headers))
    assert staff.events(filed.reference) == before
    # The same form, sent properly, works: the refusal was the token or the origin alone.
    ok = browser_client.post(path, data=data, headers={"Origin": "http://localhost"})
    assert ok.status_code == 303
    assert [e["type"] for e in staff.events(filed.reference)][-1] == "withdrawn"


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_filing_without_its_token_or_from_elsewhere_is_refused(
    browser_client, ledger, case
) -> None:
    change, headers = BAD[case]
    csrf, form_token = tokens(html(browser_client.get("/portal/file")))
    data = {**COMPLAINT, "csrf_token": csrf, "form_token": form_token}
    before = _count_complaints(ledger)
    resp = _send(browser_client, "/portal/file", data, change, headers)
    _assert_refused(resp)
    assert _count_complaints(ledger) == before
    assert browser_client.get_cookie("portal_session", path="/portal") is None


@pytest.mark.parametrize("case", ["missing token", "wrong token", "foreign origin"])
def test_sign_in_and_out_without_their_token_are_refused(browser_client, filed, case) -> None:
    change, headers = BAD[case]
    session = browser_client.get_cookie("portal_session", path="/portal").value
    page = complaint_page(browser_client, filed.reference)
    resp = _send(browser_client, "/portal/sign-out", form_of(page, "/portal/sign-out"), change,
                 headers)  # fmt: skip
    _assert_refused(resp)
    assert browser_client.get_cookie("portal_session", path="/portal").value == session
    csrf, _ = tokens(html(browser_client.get("/portal/sign-in")))
    data = {"csrf_token": csrf, "reference": filed.reference, "secret": filed.secret}
    _assert_refused(_send(browser_client, "/portal/sign-in", data, change, headers))
    assert browser_client.get_cookie("portal_session", path="/portal").value == session


def test_the_bundle_download_needs_its_token(browser_client, filed, staff) -> None:
    before = staff.events(filed.reference)
    resp = browser_client.post(f"/portal/complaints/{filed.reference}/bundle", data={})
    _assert_refused(resp)
    assert staff.events(filed.reference) == before


def test_a_form_without_its_submission_token_is_refused(browser_client, filed, staff) -> None:
    path = f"/portal/complaints/{filed.reference}/actions/withdraw"
    data = form_of(complaint_page(browser_client, filed.reference), path)
    del data["form_token"]
    before = staff.events(filed.reference)
    _assert_refused(browser_client.post(path, data={**data, "confirm": "yes"}))
    assert staff.events(filed.reference) == before


def test_pages_carry_a_strict_policy(browser_client, filed) -> None:
    for path in ("/portal/", "/portal/file", "/portal/sign-in",
                 f"/portal/complaints/{filed.reference}"):  # fmt: skip
        resp = browser_client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "form-action 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
