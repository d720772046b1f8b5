"""Portal sessions: a new id at every sign-in, one complaint per session, sign-out and
expiry end it, cookies HttpOnly and SameSite=Strict, sign-in attempts throttled."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from api import create_app
from ledger.access.portal_sessions import PortalSession
from ledger.access.secrets import hash_secret
from ledger.runtime import open_ledger
from tests.portal.helpers import (
    act,
    complaint_page,
    file_complaint,
    form_of,
    html,
    session_cookie,
    sign_in,
    tokens,
)


def _set_cookie_headers(resp) -> list[str]:
    return [v for k, v in resp.headers.items() if k.lower() == "set-cookie"]


def test_filing_signs_the_customer_in_to_their_complaint(browser_client, filed) -> None:
    page = complaint_page(browser_client, filed.reference)
    assert 'data-status="received"' in page
    assert filed.secret not in page


def test_the_session_cookie_is_httponly_strict_and_scoped(app, browser_client) -> None:
    page = html(browser_client.get("/portal/sign-in"))
    assert page
    filed = file_complaint(browser_client)
    resp = sign_in(browser_client, filed.reference, filed.secret)
    assert resp.status_code == 303
    cookies = [c for c in _set_cookie_headers(resp) if c.startswith("portal_session=")]
    assert len(cookies) == 1
    flags = cookies[0].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "path=/portal" in flags
    assert "secure" not in flags  # plain HTTP, LEDGER_PORTAL_SECURE_COOKIES unset


def test_secure_cookies_when_configured(settings, tmp_path) -> None:
    led = open_ledger(dataclasses.replace(settings, portal_secure_cookies=True))
    try:
        client = create_app(led.settings, led).test_client()
        resp = client.get("/portal/sign-in")
        cookie = next(c for c in _set_cookie_headers(resp) if c.startswith("portal_csrf="))
        assert "secure" in cookie.lower()
    finally:
        led.close()


def test_a_new_session_id_at_every_sign_in(browser_client, filed, ledger) -> None:
    first = session_cookie(browser_client)
    assert first
    assert sign_in(browser_client, filed.reference, filed.secret).status_code == 303
    second = session_cookie(browser_client)
    assert second and second != first
    # The previous session was revoked: its id opens nothing any more.
    with ledger.engine.connect() as conn:
        revoked = conn.execute(
            select(PortalSession.revoked_at).where(PortalSession.session_hash == hash_secret(first))
        ).scalar_one()
    assert revoked is not None
    browser_client.set_cookie("portal_session", first, path="/portal")
    resp = browser_client.get(f"/portal/complaints/{filed.reference}")
    assert resp.status_code == 303 and "/portal/sign-in" in resp.headers["Location"]


def test_a_session_opens_exactly_one_complaint(app, browser_client, filed, staff) -> None:
    other = file_complaint(app.test_client())
    resp = browser_client.get(f"/portal/complaints/{other.reference}")
    assert resp.status_code == 403
    assert other.secret not in html(resp)
    before = len(staff.events(other.reference))
    # A step on the other complaint with this session's own tokens: refused, nothing written.
    page = complaint_page(browser_client, filed.reference)
    path = f"/portal/complaints/{filed.reference}/actions/withdraw"
    tokens = form_of(page, path)
    resp = browser_client.post(
        f"/portal/complaints/{other.reference}/actions/withdraw",
        data={**tokens, "confirm": "yes"},
    )
    assert resp.status_code == 403
    assert len(staff.events(other.reference)) == before
    resp = browser_client.post(f"/portal/complaints/{other.reference}/bundle", data=tokens)
    assert resp.status_code == 403


def test_signing_out_revokes_the_session(browser_client, filed) -> None:
    session_id = session_cookie(browser_client)
    page = complaint_page(browser_client, filed.reference)
    resp = browser_client.post("/portal/sign-out", data=form_of(page, "/portal/sign-out"))
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/portal/sign-in?notice=signed_out")
    assert session_cookie(browser_client) is None
    # The old id, replayed: refused.
    browser_client.set_cookie("portal_session", session_id, path="/portal")
    resp = browser_client.get(f"/portal/complaints/{filed.reference}")
    assert resp.status_code == 303 and "notice=expired" in resp.headers["Location"]


@pytest.mark.parametrize("column", ["idle_expires_at", "expires_at"])
def test_expired_sessions_are_refused(browser_client, filed, ledger, column) -> None:
    session_id = session_cookie(browser_client)
    past = datetime.now(UTC) - timedelta(seconds=1)
    with ledger.engine.begin() as conn:
        conn.execute(
            update(PortalSession)
            .where(PortalSession.session_hash == hash_secret(session_id))
            .values({column: past})
        )
    resp = browser_client.get(f"/portal/complaints/{filed.reference}")
    assert resp.status_code == 303
    assert "/portal/sign-in" in resp.headers["Location"]
    assert "notice=expired" in resp.headers["Location"]
    # A step sent with the expired session is not recorded either.
    resp = browser_client.post(
        f"/portal/complaints/{filed.reference}/actions/withdraw", data={"confirm": "yes"}
    )
    assert resp.status_code == 303 and "/portal/sign-in" in resp.headers["Location"]


def test_a_session_idles_out_and_activity_keeps_it(ledger) -> None:
    from ledger.access.portal_sessions import PortalSessions

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = PortalSessions(
        ledger.engine, lifetime=timedelta(hours=2), idle=timedelta(minutes=30),
        clock=lambda: now[0],
    )  # fmt: skip
    session_id, _ = store.open("CMP-TEST")
    for _ in range(5):  # active every 20 minutes: kept, until the absolute expiry
        now[0] += timedelta(minutes=20)
        assert store.find(session_id) is not None
    now[0] += timedelta(minutes=25)  # 2 h 5 min after sign-in
    assert store.find(session_id) is None
    other, _ = store.open("CMP-TEST")
    now[0] += timedelta(minutes=31)
    assert store.find(other) is None  # idle for longer than 30 minutes
    now[0] += timedelta(days=2)
    assert store.purge() == 2


def test_wrong_secret_and_bad_reference_are_refused(browser_client, filed) -> None:
    resp = sign_in(browser_client, filed.reference, filed.secret[:-1] + "x")
    assert resp.status_code == 400
    page = html(resp)
    assert 'id="secret-error"' in page and 'aria-invalid="true"' in page
    assert 'href="#secret"' in page  # the error summary links to the field
    resp = sign_in(browser_client, "CMP-NOT-A-REF", filed.secret)
    assert resp.status_code == 400 and 'id="reference-error"' in html(resp)


def test_sign_in_is_throttled(settings) -> None:
    led = open_ledger(dataclasses.replace(settings, portal_signin_limit="3/minute"))
    try:
        client = create_app(led.settings, led).test_client()
        filed = file_complaint(client)
        for _ in range(3):
            assert sign_in(client, filed.reference, "cs_wrong").status_code == 400
        resp = sign_in(client, filed.reference, filed.secret)
        assert resp.status_code == 429
        assert resp.mimetype == "text/html" and "Retry-After" in resp.headers
        assert filed.secret not in html(resp)
    finally:
        led.close()


def test_complaint_page_without_a_session_asks_to_sign_in(app, filed) -> None:
    fresh = app.test_client()
    resp = fresh.get(f"/portal/complaints/{filed.reference}")
    assert resp.status_code == 303
    target = urlsplit(resp.headers["Location"])  # the reference's check character may be '='
    assert target.path == "/portal/sign-in"
    assert parse_qs(target.query) == {"reference": [filed.reference]}
    page = html(fresh.get(resp.headers["Location"]))
    assert f'value="{filed.reference}"' in page


def test_double_submit_records_once(browser_client, filed, staff) -> None:
    path = f"/portal/complaints/{filed.reference}/actions/escalate"
    data = {**form_of(complaint_page(browser_client, filed.reference), path),
            "specialism": "technical"}  # fmt: skip
    first = browser_client.post(path, data=data)
    second = browser_client.post(path, data=data)
    assert first.status_code == second.status_code == 303
    assert "done=escalate" in first.headers["Location"]
    assert "done=already" in second.headers["Location"]
    assert [e["type"] for e in staff.events(filed.reference)].count("escalated") == 1


def test_an_action_refused_by_the_domain_shows_its_message(browser_client, filed, staff) -> None:
    staff.acknowledge(filed.reference)
    path = f"/portal/complaints/{filed.reference}/actions/rate"
    page = complaint_page(browser_client, filed.reference)
    stale = form_of(page, path)  # a second tab's form for the same step
    assert act(browser_client, filed.reference, "rate", {"rates": "1", "csat": "5"}).status_code
    before = len(staff.events(filed.reference))
    resp = browser_client.post(path, data={**stale, "rates": "1", "csat": "4"})
    assert resp.status_code == 409
    page = html(resp)
    assert "already been rated" in page and 'data-testid="error-summary"' in page
    assert len(staff.events(filed.reference)) == before


def test_filings_are_limited_per_address(settings) -> None:
    led = open_ledger(dataclasses.replace(settings, anonymous_filing_limit="2/hour"))
    try:
        client = create_app(led.settings, led).test_client()
        file_complaint(client)
        file_complaint(client)
        page = html(client.get("/portal/file"))
        csrf, form_token = tokens(page)
        form = {"csrf_token": csrf, "form_token": form_token, "category": "sync_fault",
                "description": "again"}  # fmt: skip
        resp = client.post("/portal/file", data=form)
        assert resp.status_code == 429 and resp.mimetype == "text/html"
        assert "Retry-After" in resp.headers
    finally:
        led.close()
