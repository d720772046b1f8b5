"""Every endpoint of the url_map is classified; those needing a credential refuse a missing,
wrong, revoked or wrong-role one (401/403 problem+json), and a customer's secret opens
only its own complaint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.callers import COMPLAINT, bearer

# Endpoints anyone may call (public by design: the log's face, docs, health, the verify page).
PUBLIC = {
    ("GET", "/docs"),
    ("GET", "/docs/"),
    ("GET", "/docs/assets/<version>/<name>"),
    ("GET", "/docs/static/<path:filename>"),
    ("GET", "/openapi.json"),
    ("GET", "/problems/<slug>"),
    ("GET", "/static/<path:filename>"),
    ("GET", "/static/common/<path:filename>"),  # the base stylesheet of the pages for people
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/log/checkpoint"),
    ("GET", "/log/tile/<path:rest>"),
    ("GET", "/v1/log/checkpoint"),
    ("GET", "/v1/log/keys"),
    ("GET", "/v1/log/proof/inclusion"),
    ("GET", "/v1/log/proof/consistency"),
    ("GET", "/v1/anchors"),
    ("GET", "/v1/anchors/latest"),
    ("GET", "/v1/chains"),
    # A transaction's receipt from this service's chain node: the chain is public.
    ("GET", "/v1/chains/<chain_id>/transactions/<tx_hash>"),
    ("GET", "/v1/officers/keys"),
    ("GET", "/v1/service-rules"),
    ("GET", "/verify"),
    ("GET", "/verify/"),
    ("GET", "/verify/static/<path:filename>"),
    # Leaves and proofs (no personal data) for anyone holding the reference; bodies only
    # with the complaint's secret or a staff key (test_proof_discloses_only_with_a_credential).
    ("GET", "/v1/complaints/<reference>/proof"),
}
# Public endpoints that answer 503 (problem+json, documented) when what they relay is not
# configured: the test app has no chain node.
NEEDS_A_DEPENDENCY = {("GET", "/v1/chains/<chain_id>/transactions/<tx_hash>")}
# Endpoints that need a credential, or accept anonymous callers only for some roles:
# (method, rule) -> (a valid body or None, a role that must be refused or None when every
# API role may call it, whether an anonymous caller is allowed).
GUARDED = {
    ("POST", "/v1/complaints"): (COMPLAINT, "regulator", True),
    ("GET", "/v1/complaints"): (None, None, False),
    ("GET", "/v1/complaints/<reference>"): (None, None, False),
    ("GET", "/v1/complaints/<reference>/timeline"): (None, None, False),
    ("POST", "/v1/complaints/<reference>/events"): ({"type": "acknowledged"}, "regulator", False),
    ("POST", "/v1/complaints/<reference>/signing-body"): (
        {"type": "decision", "content": {}},
        "agent",
        False,
    ),
    ("POST", "/v1/complaints/<reference>/erasures"): (
        {"target": "00" * 32, "basis": "gdpr_art17"},
        "agent",
        False,
    ),
    ("GET", "/v1/complaints/<reference>/access-log"): (None, "agent", False),
    ("POST", "/v1/complaints/<reference>/bundle"): ({}, "agent", False),
    ("GET", "/v1/complaints/<reference>/bundles/<bundle_sha256>"): (None, "agent", False),
    ("POST", "/v1/evidence/exports"): ({"category": "hacked_account"}, "agent", False),
    ("GET", "/v1/audit/figures"): (None, "agent", False),
    ("GET", "/v1/audit/complaints"): (None, "agent", False),
    ("POST", "/v1/officers/keys"): (
        {
            "public_key": "11" * 32,
            "roles": ["officer"],
            "valid_from": datetime.now(UTC).isoformat(),
            "name": "A. Officer",
        },
        "officer",
        False,
    ),
    ("POST", "/v1/officers/keys/<key_id>/revocation"): ({"reason": "other"}, "officer", False),
    ("GET", "/v1/incidents/<incident>"): (None, None, False),
    ("POST", "/v1/incidents/<incident>/holding-reply"): ({"reason": "x"}, "regulator", False),
    # Attachments (api/attachment_routes.py): uploads by the customer and the roles that add
    # evidence; downloads by whoever reads the complaint (staff reads recorded).
    ("POST", "/v1/complaints/<reference>/attachments"): (None, "regulator", False),
    ("GET", "/v1/complaints/<reference>/attachments/<sha256>"): (None, None, False),
    # Outbound messages (api/message_routes.py): webhook endpoints are the admin's, the outbox
    # (dead letters) the supervisor's and the admin's.
    ("GET", "/v1/webhook-endpoints"): (None, "supervisor", False),
    ("POST", "/v1/webhook-endpoints"): ({"url": "https://hooks.example/in"}, "supervisor", False),
    ("DELETE", "/v1/webhook-endpoints/<endpoint_id>"): (None, "supervisor", False),
    ("GET", "/v1/outbox"): (None, "agent", False),
    # The staff access record (api/staff_access_routes.py): admins and regulators only.
    ("GET", "/v1/staff-access-events"): (None, "supervisor", False),
}

# The customer portal (api/portal): HTML for people, not the JSON API. Its pages are open;
# a complaint's pages and forms need the portal session that opens it (no session: a
# redirect to sign in; an API key or a secret in a header opens nothing there); every form
# POST needs its CSRF token (without it: a 403 page, nothing done).
PORTAL = {
    ("GET", "/portal/"): "page",
    ("GET", "/portal/file"): "page",
    ("GET", "/portal/sign-in"): "page",
    ("GET", "/portal/static/<path:filename>"): "page",
    ("GET", "/portal/complaints/<reference>"): "session",
    ("GET", "/portal/complaints/<reference>/attachments/<sha256>"): "session",
    ("POST", "/portal/file"): "form",
    ("POST", "/portal/sign-in"): "form",
    ("POST", "/portal/sign-out"): "form",
    ("POST", "/portal/complaints/<reference>/actions/<action>"): "session",
    ("POST", "/portal/complaints/<reference>/bundle"): "session",
}

# The staff console (api/console): HTML for staff. Its sign-in page and static files are open;
# every other page and form needs a staff session (without one: a redirect to sign in; an API
# key or a secret in a header opens nothing there), and every form its CSRF token (without
# it: a 403 page). Every route under /console is one of these (tests/console checks roles).
CONSOLE_PREFIX = "/console"
CONSOLE_OPEN = {("GET", "/console/sign-in"), ("GET", "/console/static/<path:filename>")}
# The sign-in forms (password + code, or password + passkey) need no session, only the
# pre-session's CSRF token: without it, a 403 page. The passkey pages (/console/passkeys...)
# are ordinary console pages and forms.
CONSOLE_SIGN_IN_FORMS = {
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-in/passkey-options"),
    ("POST", "/console/sign-in/passkey"),
}


def endpoints(app) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule))
    return sorted(out)


def concrete(rule: str, ref: str) -> str:
    return (
        rule.replace("<reference>", ref)
        .replace("<key_id>", "0123456789abcdef")
        .replace("<slug>", "not-found")
        .replace("<bundle_sha256>", "0" * 64)
        .replace("<path:rest>", "0/000.p/1")
        .replace("<path:filename>", "x.css")
        .replace("<chain_id>", "31337")
        .replace("<tx_hash>", "0x" + "ab" * 32)
        .replace("<sha256>", "0" * 64)
        .replace("<endpoint_id>", "ep_" + "0" * 24)
        .replace("<action>", "withdraw")
        .replace("<account_id>", "0123456789abcdef")
    )


def call(client, method: str, rule: str, ref: str, headers: dict | None = None):
    body, _, _ = GUARDED.get((method, rule), (None, None, False))
    kwargs = {"headers": headers or {}}
    if method == "POST":
        kwargs["json"] = body if body is not None else {}
    return client.open(concrete(rule, ref), method=method, **kwargs)


def assert_refused(resp, statuses=(401,)) -> None:
    assert resp.status_code in statuses, (resp.status_code, resp.data[:300])
    assert resp.mimetype == "application/problem+json"
    if resp.status_code == 401:
        assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_every_endpoint_is_classified(app) -> None:
    unknown = [
        e
        for e in endpoints(app)
        if e not in PUBLIC
        and e not in GUARDED | PORTAL.keys()
        and not e[1].startswith(CONSOLE_PREFIX)
    ]
    assert unknown == [], f"classify these endpoints in tests/security: {unknown}"


def test_public_endpoints_need_no_credential(app, world) -> None:
    for method, rule in endpoints(app):
        if (method, rule) in PUBLIC:
            resp = call(world.client, method, rule, world.refs[0])
            assert resp.status_code not in (401, 403), (method, rule, resp.status_code)
            if (method, rule) in NEEDS_A_DEPENDENCY and resp.status_code == 503:
                assert resp.mimetype == "application/problem+json", (method, rule)
                continue
            assert resp.status_code < 500, (method, rule, resp.status_code)


@pytest.mark.parametrize("key", sorted(GUARDED), ids=lambda k: f"{k[0]} {k[1]}")
def test_missing_or_wrong_credentials_are_refused(app, world, key) -> None:
    method, rule = key
    if (method, rule) not in endpoints(app):
        pytest.skip("endpoint not in this build")
    _, wrong_role, anonymous_ok = GUARDED[key]
    ref = world.refs[0]
    c = world.client
    if not anonymous_ok:
        assert_refused(call(c, method, rule, ref))
    for header in (
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer lk_0123456789abcdef_not-the-secret"},
        {"Authorization": "Bearer lk_garbage"},
        {"Authorization": "Bearer nonsense-token"},
        bearer(world.keys["admin"] + "x"),  # right key id, wrong secret
        bearer(world.revoked),
    ):
        assert_refused(call(c, method, rule, ref, header))
    if wrong_role is not None:
        # The domain refuses a step its role may not take as an invalid transition (409).
        allowed = (403, 409) if rule.endswith("/events") else (403,)
        before = c.get(f"/v1/complaints/{ref}", headers=bearer(world.keys["admin"])).json
        assert_refused(call(c, method, rule, ref, bearer(world.keys[wrong_role])), allowed)
        after = c.get(f"/v1/complaints/{ref}", headers=bearer(world.keys["admin"])).json
        assert after["events"] == before["events"], "a refused call wrote to the complaint"
    # Another complaint's secret never opens this one (or anything without a reference).
    assert_refused(call(c, method, rule, ref, bearer(world.secrets[1])), (401, 403))


def test_a_customer_secret_opens_only_its_own_complaint(world) -> None:
    c = world.client
    (mine, other), (secret, _) = world.refs, world.secrets
    assert c.get(f"/v1/complaints/{mine}", headers=bearer(secret)).status_code == 200
    assert c.get(f"/v1/complaints/{mine}/timeline", headers=bearer(secret)).status_code == 200
    for path in (f"/v1/complaints/{other}", f"/v1/complaints/{other}/timeline"):
        assert_refused(c.get(path, headers=bearer(secret)), (401, 403))
    assert_refused(
        c.post(
            f"/v1/complaints/{other}/events",
            json={"type": "withdrawn"},
            headers=bearer(secret),
        ),
        (401, 403),
    )
    # A secret that is almost right is wrong.
    almost = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert_refused(c.get(f"/v1/complaints/{mine}", headers=bearer(almost)))


def test_proof_discloses_only_with_a_credential(world) -> None:
    c = world.client
    (mine, other), (secret, _) = world.refs, world.secrets
    anonymous = c.get(f"/v1/complaints/{mine}/proof")
    assert anonymous.status_code == 200
    text = anonymous.get_data(as_text=True)
    assert "jane.roe@example.org" not in text and "Jane Roe" not in text
    wrong = c.get(f"/v1/complaints/{other}/proof", headers=bearer(secret))
    assert wrong.status_code in (200, 401, 403)
    assert "jane.roe@example.org" not in wrong.get_data(as_text=True)
    own = c.get(f"/v1/complaints/{mine}/proof", headers=bearer(secret))
    assert own.status_code == 200 and "Jane Roe" in own.get_data(as_text=True)


def test_portal_endpoints_need_their_session_or_form_token(app, world) -> None:
    """Bearer credentials open nothing in the portal: a complaint's page or form without a
    portal session redirects to sign in, a form POST without its token is refused, nothing
    is written (tests/portal has the token and session checks with a session)."""
    c, ref = world.client, world.refs[0]
    before = c.get(f"/v1/complaints/{ref}", headers=bearer(world.keys["admin"])).json
    for (method, rule), kind in sorted(PORTAL.items()):
        if (method, rule) not in endpoints(app):
            continue
        for headers in ({}, bearer(world.secrets[0]), bearer(world.keys["admin"])):
            path = concrete(rule, ref)
            if method == "GET":
                resp = c.get(path, headers=headers)
            else:
                resp = c.post(path, data={"confirm": "yes", "secret": world.secrets[0],
                                          "reference": ref}, headers=headers)  # fmt: skip
            if kind == "page":
                assert resp.status_code in (200, 404), (rule, resp.status_code)
            elif kind == "session":
                assert resp.status_code == 303, (rule, resp.status_code)
                assert "/portal/sign-in" in resp.headers["Location"]
            else:
                assert resp.status_code == 403, (rule, resp.status_code)
                assert resp.mimetype == "text/html"
            assert c.get_cookie("portal_session", path="/portal") is None, rule
    after = c.get(f"/v1/complaints/{ref}", headers=bearer(world.keys["admin"])).json
    assert after["events"] == before["events"], "a refused portal call wrote to the complaint"


def test_console_endpoints_need_a_staff_session(app, world) -> None:
    """Without a staff session every console page redirects to its sign-in and every form is
    refused (a redirect, or a 403 page when the form's token is checked first); bearer
    credentials open nothing there, and nothing is written."""
    c, ref = world.client, world.refs[0]
    before = c.get(f"/v1/complaints/{ref}", headers=bearer(world.keys["admin"])).json
    console = [e for e in endpoints(app) if e[1].startswith(CONSOLE_PREFIX)]
    assert ("GET", "/console/") in console
    assert set(console) >= CONSOLE_SIGN_IN_FORMS
    for method, rule in console:
        for headers in ({}, bearer(world.secrets[0]), bearer(world.keys["admin"])):
            path = concrete(rule, ref)
            if method == "GET":
                resp = c.get(path, headers=headers)
            else:
                resp = c.post(path, data={"text": "x", "roles": "admin"}, headers=headers)
            if (method, rule) in CONSOLE_OPEN:
                assert resp.status_code in (200, 404), (rule, resp.status_code)
            elif method == "GET":
                assert resp.status_code == 303, (rule, resp.status_code)
                assert "/console/sign-in" in resp.headers["Location"]
            elif (method, rule) in CONSOLE_SIGN_IN_FORMS:
                assert resp.status_code == 403 and resp.mimetype == "text/html", rule
            else:
                assert resp.status_code in (303, 403), (rule, resp.status_code)
                assert resp.mimetype == "text/html" or resp.status_code == 303
            assert c.get_cookie("console_session", path="/console") is None, rule
    after = c.get(f"/v1/complaints/{ref}", headers=bearer(world.keys["admin"])).json
    assert after["events"] == before["events"], "a refused console call wrote to the complaint"
