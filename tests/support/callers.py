"""What API callers send: a complaint as the public files it, and a bearer token header."""

from __future__ import annotations

COMPLAINT = {
    "category": "hacked_account",
    "channel": "email",
    "description": "my seed phrase leaked, Jane Roe",
    "contact": {"email": "jane.roe@example.org"},
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
