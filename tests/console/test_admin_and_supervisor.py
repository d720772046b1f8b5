"""The administrator's page (accounts with the TOTP enrolment shown once, roles in the staff
access record, unlock, reset, disable; officer keys; webhook endpoints) and the supervisor's
(queues, breaches, satisfaction, handlers)."""

from __future__ import annotations

import re

import pyotp

from tests.support.console import PASSWORD, StaffLogin, act, form_of, html, sign_in


def _signed_in(app, login):
    client = app.test_client()
    assert sign_in(client, login).status_code == 303
    return client


def _admin_post(client, path: str, data: dict):
    page = html(client.get("/console/admin"))
    return client.post(path, data={**form_of(page, path), **data})


def test_create_an_account_and_enrol(app, ledger, staff_logins) -> None:
    admin = _signed_in(app, staff_logins["admin"])
    resp = _admin_post(
        admin,
        "/console/admin/accounts",
        {
            "username": "nina",
            "display_name": "Nina Nunes",
            "password": PASSWORD,
            "roles": ["agent"],
            "languages": ["pt", "en"],
            "email": "nina@firm.example",
        },
    )
    assert resp.status_code == 200, html(resp)[:1500]
    page = html(resp)
    secret = re.search(r'data-testid="enrolment-secret">([A-Z2-7]+)<', page).group(1)
    assert resp.headers["Cache-Control"] == "no-store"
    member = ledger.staff.by_username("nina")
    assert member.roles == ("agent",) and member.languages == ("en", "pt")
    assert secret not in html(admin.get("/console/admin"))  # shown once
    login = StaffLogin("nina", PASSWORD, secret, member.pseudonym, "Nina Nunes", member.id)
    assert sign_in(app.test_client(), login).status_code == 303
    assert pyotp.TOTP(secret).now()


def test_roles_unlock_disable_are_recorded(app, ledger, staff_logins) -> None:
    admin_login = staff_logins["admin"]
    admin = _signed_in(app, admin_login)
    agent = staff_logins["agent"]
    agent_client = _signed_in(app, agent)
    path = f"/console/admin/accounts/{agent.account_id}/roles"
    assert _admin_post(admin, path, {"roles": ["agent", "supervisor"]}).status_code == 303
    assert ledger.staff.get(agent.account_id).roles == ("agent", "supervisor")
    kinds = [(e.kind, e.by) for e in ledger.staff.events(account_id=agent.account_id)[1]]
    assert ("roles_changed", admin_login.pseudonym) in kinds
    assert agent_client.get("/console/").status_code == 303  # its session ended
    path = f"/console/admin/accounts/{agent.account_id}/disable"
    assert _admin_post(admin, path, {}).status_code == 303
    assert not ledger.staff.get(agent.account_id).active
    assert sign_in(app.test_client(), agent, code=agent.code(step=1)).status_code == 400


def test_register_an_officer_key_and_a_webhook_endpoint(app, ledger, staff_logins) -> None:
    admin = _signed_in(app, staff_logins["admin"])
    resp = _admin_post(
        admin,
        "/console/admin/officer-keys",
        {
            "name": "Olga Officer",
            "public_key": "11" * 32,
            "limit_unit": "EUR",
            "limit_amount": "500.00",
            "dual_control_above": "100.00",
        },
    )
    assert resp.status_code == 303, html(resp)[:1500]
    keys = ledger.officer_keys.registry()
    assert len(keys) == 1
    key = next(iter(keys.values()))
    assert key.limits is not None
    bad = _admin_post(admin, "/console/admin/officer-keys", {"name": "X", "public_key": "zz"})
    assert bad.status_code == 400
    resp = _admin_post(
        admin, "/console/admin/webhook-endpoints", {"url": "https://hooks.example/in"}
    )
    assert resp.status_code == 200
    assert 'data-testid="endpoint-secret">whsec_' in html(resp)
    assert [e.url for e in ledger.messages.endpoints.list()] == ["https://hooks.example/in"]


def test_supervisor_page_counts(app, ledger, staff_logins, reference) -> None:
    agent = _signed_in(app, staff_logins["agent"])
    assert act(agent, reference, "claim").status_code == 303
    sup = _signed_in(app, staff_logins["supervisor"])
    page = html(sup.get("/console/supervisor"))
    assert 'data-queue="stuck_transaction.pt"' in page
    pseudonym = staff_logins["agent"].pseudonym
    assert f'data-testid="owned-{pseudonym}">1<' in page
    assert f'data-testid="steps-{pseudonym}">1<' in page
    assert 'data-testid="csat"' in page and 'data-testid="nps"' in page
