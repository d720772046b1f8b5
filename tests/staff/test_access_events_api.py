"""GET /v1/staff-access-events: the access record for admins and regulators only, paged and
filtered, with no secret in it."""

from __future__ import annotations

import pytest

from ledger.access.staff import SignInRefused
from tests.support.callers import bearer
from tests.support.staff import FAST_HASHER, PASSWORD, code, new_member


@pytest.fixture
def record(ledger, clock):
    """Two accounts on the ledger's own staff accounts: one signed in, one failed, one
    unknown username, one role change."""
    ledger.staff.clock = clock
    ledger.staff.hasher = FAST_HASHER
    rui = new_member(ledger.staff)
    ines = new_member(ledger.staff, "ines.duarte", name="Inês Duarte", roles=["officer"])
    ledger.staff.authenticate("rui.costa", PASSWORD, code(rui.totp_secret, clock.now))
    with pytest.raises(SignInRefused):
        ledger.staff.authenticate("ines.duarte", "not her password", "123456")
    with pytest.raises(SignInRefused):
        ledger.staff.authenticate("nobody.here", PASSWORD, "123456")
    ledger.staff.set_roles(ines.member.id, ["officer", "supervisor"], by=rui.member.pseudonym)
    return rui, ines


@pytest.mark.parametrize("role", ["admin", "regulator"])
def test_admins_and_regulators_read_the_record(app, api_keys, record, role) -> None:
    rui, ines = record
    client = app.test_client()
    resp = client.get("/v1/staff-access-events", headers=bearer(api_keys[role]))
    assert resp.status_code == 200
    doc = resp.json
    assert doc["total"] == 6 and len(doc["events"]) == 6
    kinds = [(e["kind"], e["reason"]) for e in doc["events"]]
    assert kinds == [
        ("roles_changed", None),
        ("sign_in_failed", "unknown"),
        ("sign_in_failed", "password"),
        ("signed_in", None),
        ("created", None),
        ("created", None),
    ]
    changed = doc["events"][0]
    assert changed["detail"] == {"old": ["officer"], "new": ["officer", "supervisor"]}
    assert changed["by"] == rui.member.pseudonym and changed["username"] == "ines.duarte"
    unknown = doc["events"][1]
    assert unknown["account_id"] is None and unknown["username"] is None
    text = resp.get_data(as_text=True)
    for secret in (PASSWORD, "not her password", "nobody.here", rui.totp_secret):
        assert secret not in text

    page = client.get(
        f"/v1/staff-access-events?account={ines.member.id}&page_size=1&page=2",
        headers=bearer(api_keys[role]),
    ).json
    assert page["total"] == 3 and [e["kind"] for e in page["events"]] == ["sign_in_failed"]
    failed = client.get(
        "/v1/staff-access-events?kind=sign_in_failed", headers=bearer(api_keys[role])
    ).json
    assert failed["total"] == 2


@pytest.mark.parametrize("role", ["agent", "officer", "supervisor", "legal"])
def test_other_roles_are_refused(app, api_keys, record, role) -> None:
    resp = app.test_client().get("/v1/staff-access-events", headers=bearer(api_keys[role]))
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"


def test_bad_filters_are_refused(app, api_keys) -> None:
    client = app.test_client()
    for query in ("kind=opened", "account=../x", "page=0", "page_size=501"):
        resp = client.get(f"/v1/staff-access-events?{query}", headers=bearer(api_keys["admin"]))
        assert resp.status_code == 422, query
