"""Fixtures of the console tests: staff accounts of every role, and a complaint to work on
(filed through the API by a customer, in Portuguese)."""

from __future__ import annotations

import pytest

from tests.support.console import StaffLogin, make_staff

COMPLAINT = {
    "category": "stuck_transaction",
    "channel": "web_form",
    "language": "pt",
    "description": "A minha retirada está pendente há 9 horas.",
    "contact": {
        "channel": "email",
        "email": "ana@example.org",
        "name": "Ana Silva",
        "consent": True,
    },
}


@pytest.fixture
def staff_logins(ledger) -> dict[str, StaffLogin]:
    """One account per role, plus a second agent."""
    logins = {
        role: make_staff(ledger, role, username=role)
        for role in ("agent", "officer", "supervisor", "legal", "admin")
    }
    logins["agent2"] = make_staff(ledger, "agent", username="agent2", display_name="Ana Agent")
    return logins


@pytest.fixture
def reference(client) -> str:
    """A complaint filed by its customer through the API."""
    resp = client.post("/v1/complaints", json=COMPLAINT)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()["reference"]


@pytest.fixture
def browser_client(app):
    """One staff member's browser: a test client keeping its own cookies."""
    return app.test_client()
