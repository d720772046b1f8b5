"""Every refusal is RFC 9457 problem+json with the right status, and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.access.apikeys import create_api_key
from ledger.complaints.officers import sign_body

FILE = {"category": "hacked_account", "channel": "chat", "description": "Someone logged in."}


@pytest.fixture
def env(client, ledger):
    tokens = {r: create_api_key(ledger.engine, r, r)[0] for r in
              ("agent", "officer", "admin", "regulator")}  # fmt: skip
    filed = client.post("/v1/complaints", json=FILE).json
    other = client.post("/v1/complaints", json=FILE).json
    return {"tokens": tokens, "ref": filed["reference"], "secret": filed["secret"],
            "other_secret": other["secret"], "client": client, "ledger": ledger}  # fmt: skip


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(resp, status: int, slug: str, env) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.json
    assert body["type"] == f"/problems/{slug}" and body["status"] == status
    assert env["ledger"].store.size() == env["size"]


@pytest.fixture
def sized(env):
    env["size"] = env["ledger"].store.size()
    return env


def test_invalid_transitions_are_refused(sized) -> None:
    c, ref, t = sized["client"], sized["ref"], sized["tokens"]
    r = c.post(f"/v1/complaints/{ref}/events", json={"type": "closed"}, headers=auth(t["agent"]))
    assert_problem(r, 409, "invalid-transition", sized)
    assert r.json["code"] == "INVALID_TRANSITION"
    r = c.post(f"/v1/complaints/{ref}/events", json={"type": "info_received"},
               headers=auth(sized["secret"]))  # fmt: skip
    assert_problem(r, 409, "invalid-transition", sized)
    r = c.post(f"/v1/complaints/{ref}/events", json={"type": "acknowledged"},
               headers=auth(sized["secret"]))  # fmt: skip
    # A step the caller's role may never take is a 403, not a conflict with the state.
    assert_problem(r, 403, "role-not-allowed", sized)
    assert r.json["code"] == "ROLE_NOT_ALLOWED"


def test_unknown_and_malformed_references(sized) -> None:
    c, t = sized["client"], sized["tokens"]
    ref = sized["ref"]
    unknown = ref[:-7] + ("A" if ref[-7] != "A" else "B") + ref[-6:]
    r = c.get(f"/v1/complaints/{unknown}", headers=auth(t["agent"]))
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    # A valid-looking reference that was never filed.
    from ledger.complaints.reference import format_reference

    never = format_reference(bytes(32))
    assert_problem(c.get(f"/v1/complaints/{never}", headers=auth(t["agent"])), 404, "not-found",
                   sized)  # fmt: skip
    assert_problem(c.get("/v1/complaints/not-a-ref/proof"), 404, "invalid-reference", sized)


def test_wrong_secret_and_wrong_complaint(sized) -> None:
    c, ref = sized["client"], sized["ref"]
    assert_problem(c.get(f"/v1/complaints/{ref}"), 401, "unauthorized", sized)
    assert_problem(c.get(f"/v1/complaints/{ref}", headers=auth("cs_wrong")), 401,
                   "unauthorized", sized)  # fmt: skip
    assert_problem(c.get(f"/v1/complaints/{ref}", headers=auth(sized["other_secret"])), 401,
                   "unauthorized", sized)  # fmt: skip
    r = c.post(f"/v1/complaints/{ref}/events", json={"type": "withdrawn"},
               headers=auth(sized["other_secret"]))  # fmt: skip
    assert_problem(r, 401, "unauthorized", sized)
    assert_problem(c.get(f"/v1/complaints/{ref}", headers=auth("lk_0000_bad")), 401,
                   "unauthorized", sized)  # fmt: skip
    assert_problem(c.get(f"/v1/complaints/{ref}", headers={"Authorization": "Basic abc"}), 401,
                   "unauthorized", sized)  # fmt: skip


def test_wrong_roles(sized) -> None:
    c, ref, t = sized["client"], sized["ref"], sized["tokens"]
    assert_problem(c.get("/v1/complaints"), 401, "unauthorized", sized)
    key = {"public_key": "00" * 32, "roles": ["officer"], "name": "x",
           "valid_from": datetime.now(UTC).isoformat()}  # fmt: skip
    assert_problem(c.post("/v1/officers/keys", json=key, headers=auth(t["agent"])), 403,
                   "forbidden", sized)  # fmt: skip
    r = c.post(f"/v1/complaints/{ref}/signing-body", json={"type": "decision", "content": {}},
               headers=auth(t["agent"]))  # fmt: skip
    assert_problem(r, 403, "forbidden", sized)
    r = c.post(f"/v1/complaints/{ref}/erasures", json={"target": "00" * 32,
               "basis": "gdpr_art17"}, headers=auth(t["regulator"]))  # fmt: skip
    assert_problem(r, 403, "forbidden", sized)
    r = c.post("/v1/complaints", json=FILE, headers=auth(t["regulator"]))
    assert_problem(r, 403, "forbidden", sized)


def _decision(c, ref, tokens, key, key_id):
    content = {"outcome": "rejected", "finding": "No fault found.", "rules": ["T&C 7"],
               "evidence": [], "root_cause": "no_fault_found"}  # fmt: skip
    to_sign = c.post(f"/v1/complaints/{ref}/signing-body", json={"type": "decision",
                     "content": content}, headers=auth(tokens["officer"])).json  # fmt: skip
    sig = sign_body(key, to_sign["body_jcs"].encode("utf-8")).hex()
    public = {k: content[k] for k in ("outcome", "root_cause", "rules", "evidence")}
    public["signature"] = {"key_id": key_id, "sig": sig}
    return c.post(f"/v1/complaints/{ref}/events", json={"type": "decision", "public": public,
                  "body": to_sign["body"]}, headers=auth(tokens["officer"]))  # fmt: skip


def _register(c, tokens, key, valid_from, valid_until=None) -> str:
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    body = {"public_key": pub, "roles": ["officer"], "name": "Officer",
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None}  # fmt: skip
    r = c.post("/v1/officers/keys", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 201, r.json
    return r.json["key"]["key_id"]


def test_expired_revoked_and_unknown_officer_keys(env) -> None:
    c, ref, t = env["client"], env["ref"], env["tokens"]
    assert c.post(f"/v1/complaints/{ref}/events", json={"type": "acknowledged"},
                  headers=auth(t["agent"])).status_code == 201  # fmt: skip
    now = datetime.now(UTC)
    expired_key = Ed25519PrivateKey.generate()
    expired = _register(c, t, expired_key, now - timedelta(days=2), now - timedelta(days=1))
    revoked_key = Ed25519PrivateKey.generate()
    revoked = _register(c, t, revoked_key, now - timedelta(days=1))
    r = c.post(f"/v1/officers/keys/{revoked}/revocation", json={"reason": "compromised"},
               headers=auth(t["admin"]))  # fmt: skip
    assert r.status_code == 201 and r.json["key"]["revoked_at"]
    unknown_key = Ed25519PrivateKey.generate()
    env["size"] = env["ledger"].store.size()
    for key, kid in ((expired_key, expired), (revoked_key, revoked), (unknown_key, "ab" * 16)):
        r = _decision(c, ref, t, key, kid)
        assert_problem(r, 403, "officer-not-authorised", env)
    # Someone else's signature under a valid key id is a bad signature, not authority.
    good_key = Ed25519PrivateKey.generate()
    good = _register(c, t, good_key, now - timedelta(minutes=1))
    env["size"] = env["ledger"].store.size()
    r = _decision(c, ref, t, unknown_key, good)
    assert r.status_code in (403, 422) and r.mimetype == "application/problem+json"
    assert env["ledger"].store.size() == env["size"]
    assert _decision(c, ref, t, good_key, good).status_code == 201


def test_malformed_and_oversized_bodies(sized) -> None:
    c, ref, t = sized["client"], sized["ref"], sized["tokens"]
    url = f"/v1/complaints/{ref}/events"
    r = c.post(url, data="{not json", content_type="application/json", headers=auth(t["agent"]))
    assert_problem(r, 400, "bad-request", sized)
    r = c.post(url, data="type=acknowledged", content_type="application/x-www-form-urlencoded",
               headers=auth(t["agent"]))  # fmt: skip
    assert_problem(r, 415, "unsupported-media-type", sized)
    r = c.post(url, json={"type": "evidence_added", "body": {"description": "x" * 100_000}},
               headers=auth(t["agent"]))  # fmt: skip
    assert_problem(r, 413, "payload-too-large", sized)
    r = c.post(url, json={"type": "teleported"}, headers=auth(t["agent"]))
    assert_problem(r, 422, "validation-error", sized)
    r = c.post(url, json={"type": "acknowledged", "surprise": 1}, headers=auth(t["agent"]))
    assert_problem(r, 422, "validation-error", sized)
    r = c.post(url, json={"type": "acknowledged", "public": {"email": "a@b.c"}},
               headers=auth(t["agent"]))  # fmt: skip
    assert_problem(r, 422, "invalid-payload", sized)
    assert r.json["code"] == "UNKNOWN_FIELD"
    r = c.post("/v1/complaints", json={**FILE, "category": "alien_abduction"})
    assert_problem(r, 422, "validation-error", sized)
    r = c.post("/v1/complaints", json=[1, 2])
    assert r.status_code in (400, 422) and r.mimetype == "application/problem+json"
    assert sized["ledger"].store.size() == sized["size"]


def test_idempotency_key_never_appends_twice(env) -> None:
    c, ref, t = env["client"], env["ref"], env["tokens"]
    headers = {**auth(t["agent"]), "Idempotency-Key": "ack-1"}
    first = c.post(f"/v1/complaints/{ref}/events", json={"type": "acknowledged"}, headers=headers)
    size = env["ledger"].store.size()
    again = c.post(f"/v1/complaints/{ref}/events", json={"type": "acknowledged"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    assert env["ledger"].store.size() == size
    env["size"] = size
    other = c.post(f"/v1/complaints/{ref}/events", json={"type": "holding_reply",
                   "body": {"reason": "x"}}, headers=headers)  # fmt: skip
    assert_problem(other, 422, "idempotency-key-reused", env)
    # Filing: a retry returns the same reference and the same secret, one entry only.
    h = {"Idempotency-Key": "file-1"}
    a = c.post("/v1/complaints", json=FILE, headers=h)
    b = c.post("/v1/complaints", json=FILE, headers=h)
    assert a.status_code == b.status_code == 201
    assert a.json["reference"] == b.json["reference"] and a.json["secret"] == b.json["secret"]
    assert env["ledger"].store.size() == size + 1
