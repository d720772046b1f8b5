"""A ledger with two complaints and an API key per role, for the security tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ledger.access.apikeys import ROLES, create_api_key, revoke_api_key
from tests.support.callers import COMPLAINT


@dataclass
class World:
    client: object
    keys: dict[str, str] = field(default_factory=dict)  # role -> lk_ token
    revoked: str = ""
    refs: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # cs_ secret of refs[i]
    officer_key_id: str = ""


@pytest.fixture
def world(ledger, client) -> World:
    w = World(client)
    for role in ROLES:
        w.keys[role], _ = create_api_key(ledger.engine, f"{role} key", role)
    w.revoked, principal = create_api_key(ledger.engine, "revoked admin", "admin")
    revoke_api_key(ledger.engine, principal.id)
    for _ in range(2):
        resp = client.post("/v1/complaints", json=COMPLAINT)
        assert resp.status_code == 201, resp.json
        w.refs.append(resp.json["reference"])
        w.secrets.append(resp.json["secret"])
    return w
