"""The console's passkey pages through Flask's test client: add a passkey, sign in with the
password and the passkey, refusals as the TOTP path words them, remove it."""

from __future__ import annotations

from tests.support.console import csrf_of, form_of, html, session_cookie, sign_in
from tests.support.passkeys import SoftAuthenticator


def add_passkey(client, name="Laptop") -> SoftAuthenticator:
    page = html(client.get("/console/passkeys"))
    token = form_of(page, "/console/passkeys")["csrf_token"]
    options = client.post("/console/passkeys/options", data={"csrf_token": token})
    assert options.status_code == 200 and options.mimetype == "application/json"
    device = SoftAuthenticator()
    resp = client.post(
        "/console/passkeys",
        data={"csrf_token": token, "name": name, "credential": device.create(options.json)},
    )
    assert resp.status_code == 303, html(resp)[:500]
    return device


def passkey_options(client, login):
    token = csrf_of(html(client.get("/console/sign-in")))
    data = {"csrf_token": token, "username": login.username}
    return token, client.post("/console/sign-in/passkey-options", data=data)


def passkey_answer(client, token, login, answer, password=None, **extra):
    """Send the passkey form as passkeys.js does: the answer, the username and the password."""
    data = {"csrf_token": token, "credential": answer, "username": login.username,
            "password": password or login.password, **extra}  # fmt: skip
    return client.post("/console/sign-in/passkey", data=data)


def test_add_a_passkey_then_sign_in_with_it(app, ledger, staff_logins) -> None:
    login, client = staff_logins["agent"], app.test_client()
    assert sign_in(client, login).status_code == 303
    device = add_passkey(client)
    page = html(client.get("/console/passkeys?done=added"))
    assert "Passkey added." in page and "Laptop" in page
    client.post("/console/sign-out", data={"csrf_token": csrf_of(page)})
    assert session_cookie(client) is None

    token, options = passkey_options(client, login)
    assert options.status_code == 200
    resp = passkey_answer(client, token, login, device.get(options.json), next="/console/passkeys")
    assert resp.status_code == 303 and resp.headers["Location"] == "/console/passkeys"
    assert session_cookie(client) is not None
    assert login.display_name in html(client.get("/console/passkeys"))
    kinds = [(e.kind, e.reason) for e in ledger.staff.events(account_id=login.account_id)[1]]
    assert kinds[0] == ("signed_in", "passkey") and ("passkey_added", None) in kinds


def test_refusals_say_what_the_code_path_says(app, ledger, staff_logins) -> None:
    login, client = staff_logins["agent"], app.test_client()
    sign_in(client, login)
    device = add_passkey(client)
    client.post(
        "/console/sign-out", data={"csrf_token": csrf_of(html(client.get("/console/passkeys")))}
    )

    # The right passkey with a wrong password, and a wrong passkey: the same one refusal.
    token, options = passkey_options(client, login)
    wrong_password = passkey_answer(client, token, login, device.get(options.json),
                                    password="not the password at all")  # fmt: skip
    token, options = passkey_options(client, login)
    answer = device.get(options.json, origin="https://evil.example")
    wrong_passkey = passkey_answer(client, token, login, answer)
    for resp in (wrong_password, wrong_passkey):
        assert resp.status_code == 400
        assert "The username, password or code is not right." in html(resp)
    assert session_cookie(client) is None
    # Without the form's token nothing is done.
    resp = client.post("/console/sign-in/passkey-options", data={"username": login.username})
    assert resp.status_code == 403 and resp.mimetype == "text/html"


def test_remove_a_passkey(app, ledger, staff_logins) -> None:
    login, client = staff_logins["officer"], app.test_client()
    sign_in(client, login)
    add_passkey(client, "Key")
    [key] = ledger.staff_passkeys.of(login.account_id)
    page = html(client.get("/console/passkeys"))
    path = f"/console/passkeys/{key.id}/remove"
    resp = client.post(path, data=form_of(page, path))
    assert resp.status_code == 303
    assert ledger.staff_passkeys.of(login.account_id) == []
    assert "You have no passkeys yet." in html(client.get("/console/passkeys"))
    resp = client.post(path, data=form_of(page, path))
    assert resp.status_code == 404


def test_a_passkey_without_a_name_or_answer_is_not_added(app, ledger, staff_logins) -> None:
    login, client = staff_logins["agent"], app.test_client()
    sign_in(client, login)
    token = csrf_of(html(client.get("/console/passkeys")))
    resp = client.post(
        "/console/passkeys", data={"csrf_token": token, "name": "", "credential": ""}
    )
    assert resp.status_code == 400 and "Enter a name for the passkey." in html(resp)
    resp = client.post(
        "/console/passkeys", data={"csrf_token": token, "name": "Laptop", "credential": "{}"}
    )
    assert resp.status_code == 400 and "The passkey was not added" in html(resp)
    assert ledger.staff_passkeys.of(login.account_id) == []
