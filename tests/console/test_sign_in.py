"""Signing in to the console: password and TOTP code in one form, one message for every
refusal, a replayed code refused, the lockout message, a new session id at every sign-in,
sign-out, and the idle and absolute expiry of a session."""

from __future__ import annotations

from datetime import timedelta

from tests.support.console import csrf_of, html, session_cookie, sign_in

REFUSED = "The username, password or code is not right."


def test_password_and_code_sign_in_and_cookie_options(browser_client, staff_logins) -> None:
    agent = staff_logins["agent"]
    resp = sign_in(browser_client, agent)
    assert resp.status_code == 303, html(resp)[:800]
    assert resp.headers["Location"].endswith("/console/")
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("console_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    page = browser_client.get("/console/")
    assert page.status_code == 200
    assert agent.display_name in html(page)
    assert page.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_wrong_password_code_or_user_give_one_message(browser_client, staff_logins) -> None:
    agent = staff_logins["agent"]
    wrong_code = str((int(agent.code()) + 1) % 1_000_000).zfill(6)
    for resp in (
        sign_in(browser_client, agent, code=wrong_code),
        sign_in(browser_client, type(agent)(**{**vars(agent), "password": "not the password"})),
        sign_in(browser_client, type(agent)(**{**vars(agent), "username": "nobody"})),
    ):
        assert resp.status_code == 400
        assert REFUSED in html(resp)
        assert session_cookie(browser_client) is None
    assert "not the password" not in html(resp)


def test_a_code_is_accepted_once(app, staff_logins) -> None:
    agent = staff_logins["agent"]
    code = agent.code()
    assert sign_in(app.test_client(), agent, code=code).status_code == 303
    again = sign_in(app.test_client(), agent, code=code)
    assert again.status_code == 400 and REFUSED in html(again)


def test_lockout_after_repeated_failures(app, ledger, staff_logins) -> None:
    agent = staff_logins["agent"]
    client = app.test_client()
    wrong = type(agent)(**{**vars(agent), "password": "wrong password!"})
    for _ in range(ledger.staff.max_failures):
        assert sign_in(client, wrong).status_code == 400
    locked = sign_in(client, agent)  # the right credentials, while locked
    assert locked.status_code == 400
    assert "locked" in html(locked)
    assert session_cookie(client) is None


def test_session_id_rotates_at_sign_in(app, staff_logins) -> None:
    client = app.test_client()
    assert sign_in(client, staff_logins["agent"]).status_code == 303
    first = session_cookie(client)
    assert first
    # A planted (or earlier) session id is replaced, and stops working.
    assert (
        sign_in(client, staff_logins["agent"], code=staff_logins["agent"].code(step=1)).status_code
        == 303
    )
    second = session_cookie(client)
    assert second and second != first
    other = app.test_client()
    other.set_cookie("console_session", first, path="/console")
    assert other.get("/console/").status_code == 303


def test_a_planted_cookie_is_not_the_session_after_sign_in(app, staff_logins) -> None:
    client = app.test_client()
    client.set_cookie("console_session", "planted-by-an-attacker", path="/console")
    assert sign_in(client, staff_logins["agent"]).status_code == 303
    assert session_cookie(client) not in (None, "planted-by-an-attacker")


def test_sign_out_ends_the_session(browser_client, staff_logins) -> None:
    assert sign_in(browser_client, staff_logins["agent"]).status_code == 303
    old = session_cookie(browser_client)
    token = csrf_of(html(browser_client.get("/console/")))
    resp = browser_client.post("/console/sign-out", data={"csrf_token": token})
    assert resp.status_code == 303 and "notice=signed_out" in resp.headers["Location"]
    assert session_cookie(browser_client) is None
    browser_client.set_cookie("console_session", old, path="/console")
    assert browser_client.get("/console/").status_code == 303


def _shift_clock(ledger, monkeypatch, delta: timedelta) -> None:
    store = ledger.staff_sessions
    now = store.clock()
    monkeypatch.setattr(store, "clock", lambda: now + delta)


def test_idle_and_absolute_expiry(app, ledger, staff_logins, monkeypatch) -> None:
    client = app.test_client()
    assert sign_in(client, staff_logins["agent"]).status_code == 303
    settings = ledger.settings
    idle = timedelta(minutes=settings.staff_idle_minutes)
    _shift_clock(ledger, monkeypatch, idle + timedelta(seconds=5))
    resp = client.get("/console/")
    assert resp.status_code == 303
    assert (
        "/console/sign-in" in resp.headers["Location"]
        and "notice=expired" in resp.headers["Location"]
    )
    monkeypatch.undo()
    client = app.test_client()
    assert (
        sign_in(client, staff_logins["agent"], code=staff_logins["agent"].code(step=1)).status_code
        == 303
    )
    absolute = timedelta(hours=settings.staff_session_hours)
    _shift_clock(ledger, monkeypatch, absolute + timedelta(seconds=5))
    assert client.get("/console/").status_code == 303


def test_pages_need_a_session(client, reference) -> None:
    for path in (
        "/console/",
        f"/console/complaints/{reference}",
        "/console/supervisor",
        "/console/admin",
    ):
        resp = client.get(path)
        assert resp.status_code == 303, path
        assert "/console/sign-in" in resp.headers["Location"]
