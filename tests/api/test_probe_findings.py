"""The outside probe's findings (issue 12), one test each, as HTTP requests.

Deep nesting, the 500s reachable with a customer secret or a staff key, anonymous filing
limits and client addresses behind proxies, /readyz caching, /metrics protection, request
ids, Cache-Control on private answers, 403 for role refusals, the reference check code.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api.client_address import client_address_from, parse_trusted_proxies
from ledger.access.apikeys import create_api_key
from ledger.complaints.errors import PayloadError
from ledger.complaints.payloads import MAX_DEPTH, validate_body
from ledger.complaints.reference import format_reference
from ledger.config import Settings

FILE = {"category": "hacked_account", "channel": "chat", "description": "Someone logged in."}
ROLES = ("agent", "officer", "regulator", "legal", "admin")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def settings(settings: Settings, request) -> Settings:
    """The default test settings, with ``indirect`` parametrisation overriding fields."""
    return dataclasses.replace(settings, **getattr(request, "param", {}))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def env(client, ledger) -> dict:
    tokens = {role: create_api_key(ledger.engine, role, role)[0] for role in ROLES}
    filed = client.post("/v1/complaints", json=FILE).json
    ref = filed["reference"]
    r = client.post(
        f"/v1/complaints/{ref}/events", json={"type": "acknowledged"}, headers=auth(tokens["agent"])
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    return {
        "client": client,
        "ledger": ledger,
        "tokens": tokens,
        "ref": ref,
        "secret": filed["secret"],
    }


def assert_problem(resp, status: int, slug: str) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.json
    assert body["type"] == f"/problems/{slug}" and body["status"] == status
    return body


def nested(depth: int) -> str:
    """JSON text of lists nested ``depth`` levels."""
    return "[" * depth + "]" * depth


# --- finding 3: deep nesting ------------------------------------------------------------------


def test_a_body_nested_5000_deep_is_refused_before_anything_is_written(env) -> None:
    c, ref, ledger = env["client"], env["ref"], env["ledger"]
    size = ledger.store.size()
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    filing = (
        '{"category": "hacked_account", "channel": "chat", "description": "x", '
        f'"contact": {deep}}}'
    )
    r = c.post("/v1/complaints", data=filing, content_type="application/json")
    body = assert_problem(r, 422, "too-deep")
    assert body["code"] == "TOO_DEEP" and body["max_depth"] == MAX_DEPTH
    step = f'{{"type": "evidence_added", "body": {{"description": "d", "x": {deep}}}}}'
    r = c.post(
        f"/v1/complaints/{ref}/events",
        data=step,
        content_type="application/json",
        headers=auth(env["secret"]),
    )
    assert_problem(r, 422, "too-deep")
    assert ledger.store.size() == size


def test_the_depth_limit_is_exact(env) -> None:
    """A request nesting exactly MAX_DEPTH levels is accepted; one more level is refused."""
    c, ref, token = env["client"], env["ref"], env["tokens"]["agent"]

    def step(extra_depth: int):
        # The request object and its body are two levels; the extra field adds the rest.
        data = (
            '{"type": "evidence_added", "public": {"kind": "system_log"}, '
            f'"body": {{"description": "Node logs.", "x": {nested(extra_depth)}}}}}'
        )
        return c.post(
            f"/v1/complaints/{ref}/events",
            data=data,
            content_type="application/json",
            headers=auth(token),
        )

    assert step(MAX_DEPTH - 2).status_code == 201
    assert_problem(step(MAX_DEPTH - 1), 422, "too-deep")


def test_the_domain_refuses_a_body_nested_too_deep() -> None:
    body = {"description": "d", "x": json.loads(nested(MAX_DEPTH))}
    with pytest.raises(PayloadError) as exc:
        validate_body("evidence_added", body)
    assert exc.value.code == "TOO_DEEP" and exc.value.field == "body"


# --- finding 4: the 500s are 422s naming the field ------------------------------------------


@pytest.mark.parametrize(
    ("who", "step", "field"),
    [
        ("customer", {"type": "decision", "public": {"signature": "x"}}, "public."),
        ("customer", {"type": "acknowledged", "body": {"rules": 5}}, "body.rules"),
        (
            "customer",
            {"type": "info_requested", "body": {"request": "x", "respond_by": "garbage"}},
            "body.respond_by",
        ),
        (
            "agent",
            {"type": "info_requested", "body": {"request": "x", "respond_by": "garbage"}},
            "body.respond_by",
        ),
        (
            "agent",
            {"type": "info_requested", "public": {"respond_by": "soon"}, "body": {"request": "x"}},
            "public.respond_by",
        ),
        ("agent", {"type": "decision", "public": {"signature": "x"}}, "public."),
    ],
)
def test_malformed_steps_are_422_naming_the_field(env, who, step, field) -> None:
    token = env["secret"] if who == "customer" else env["tokens"]["agent"]
    size = env["ledger"].store.size()
    r = env["client"].post(f"/v1/complaints/{env['ref']}/events", json=step, headers=auth(token))
    body = assert_problem(r, 422, "invalid-payload")
    (named,) = body["errors"]["json"]
    assert named.startswith(field), body
    assert env["ledger"].store.size() == size


@pytest.mark.parametrize(
    ("step", "content", "field"),
    [
        (
            "decision",
            {"outcome": "bogus", "finding": "f", "rules": ["PSD2 Art. 73"]},
            "content.outcome",
        ),
        (
            "compensation_offered",
            {"amount": "10.00", "currency": "EUR", "method": "pigeon"},
            "content.method",
        ),
        (
            "compensation_paid",
            {
                "amount": "10.00",
                "currency": "EUR",
                "method": "pigeon",
                "payment_reference": "PAY-1",
            },
            "content.method",
        ),
        (
            "decision",
            {"outcome": "upheld", "finding": "f", "rules": "abc", "remedy": "r"},
            "content.rules",
        ),
    ],
)
def test_signing_body_refuses_unknown_values(env, step, content, field) -> None:
    r = env["client"].post(
        f"/v1/complaints/{env['ref']}/signing-body",
        json={"type": step, "content": content},
        headers=auth(env["tokens"]["officer"]),
    )
    body = assert_problem(r, 422, "invalid-payload")
    assert list(body["errors"]["json"]) == [field]


def test_signing_body_never_splits_rules_into_characters(env) -> None:
    content = {
        "outcome": "upheld",
        "finding": "f",
        "rules": "abc",
        "remedy": "r",
        "root_cause": "other",
        "evidence": [],
    }
    r = env["client"].post(
        f"/v1/complaints/{env['ref']}/signing-body",
        json={"type": "decision", "content": content},
        headers=auth(env["tokens"]["officer"]),
    )
    assert r.status_code == 422
    assert "a, b, c" not in r.get_data(as_text=True)


FAR_OFF = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+12:00"]


@pytest.mark.parametrize("value", FAR_OFF)
@pytest.mark.parametrize(
    ("path", "param", "role"),
    [
        ("/v1/audit/figures", "to", "regulator"),
        ("/v1/audit/figures", "from", "regulator"),
        ("/v1/audit/figures", "as_of", "regulator"),
        ("/v1/audit/complaints", "to", "regulator"),
        ("/v1/audit/complaints", "from", "regulator"),
        ("/v1/audit/complaints", "as_of", "regulator"),
        ("/v1/complaints", "received_from", "agent"),
        ("/v1/complaints", "received_to", "agent"),
    ],
)
def test_far_off_dates_are_422_naming_the_parameter(env, path, param, role, value) -> None:
    r = env["client"].get(path, query_string={param: value}, headers=auth(env["tokens"][role]))
    body = assert_problem(r, 422, "validation-error")
    assert list(body["errors"]["query"]) == [param]


def test_the_date_range_is_in_the_openapi_schema(client) -> None:
    spec = client.get("/openapi.json").json
    params = spec["paths"]["/v1/audit/figures"]["get"]["parameters"]
    to = next(p for p in params if p["name"] == "to")
    assert "1970-01-01" in to["description"] and "9999-01-01" in to["description"]


# --- finding 12: role refusals, reference check code -------------------------------------------


def test_role_refusals_are_403_with_the_domain_code(env) -> None:
    c, ref = env["client"], env["ref"]
    size = env["ledger"].store.size()
    # A customer trying a staff-only step, and a staff member trying the customer's.
    r = c.post(
        f"/v1/complaints/{ref}/events",
        json={"type": "holding_reply", "body": {"reason": "Waiting for the bank."}},
        headers=auth(env["secret"]),
    )
    assert assert_problem(r, 403, "role-not-allowed")["code"] == "ROLE_NOT_ALLOWED"
    r = c.post(
        f"/v1/complaints/{ref}/events",
        json={"type": "withdrawn"},
        headers=auth(env["tokens"]["officer"]),
    )
    assert assert_problem(r, 403, "role-not-allowed")["code"] == "ROLE_NOT_ALLOWED"
    assert env["ledger"].store.size() == size
    assert c.get("/problems/role-not-allowed").json["status"] == 403


def test_a_bad_check_symbol_carries_its_code(env) -> None:
    ref = env["ref"]
    typo = ref[:-1] + ("0" if ref[-1] != "0" else "1")  # wrong check symbol
    for path in (f"/v1/complaints/{typo}", f"/v1/complaints/{typo}/proof"):
        r = env["client"].get(path, headers=auth(env["tokens"]["agent"]))
        assert assert_problem(r, 404, "invalid-reference")["code"] == "REFERENCE_CHECK"
    assert format_reference(bytes(32))  # the helper the typo is made against still works


# --- finding 12: request ids ------------------------------------------------------------------


def _reads(env) -> list[dict]:
    r = env["client"].get(
        f"/v1/complaints/{env['ref']}/access-log", headers=auth(env["tokens"]["legal"])
    )
    assert r.status_code == 200
    return r.json["reads"]


def test_a_10kb_request_id_is_replaced_by_a_generated_one(env, caplog) -> None:
    c, ref = env["client"], env["ref"]
    huge = "x" * 10_240
    with caplog.at_level(logging.INFO, logger="ledger.request"):
        r = c.get(
            f"/v1/complaints/{ref}/timeline",
            headers={**auth(env["tokens"]["agent"]), "X-Request-Id": huge},
        )
    assert r.status_code == 200
    generated = r.headers["X-Request-Id"]
    assert HEX32.match(generated)
    assert [read["request_id"] for read in _reads(env)] == [generated]
    logged = [getattr(rec, "request_id", None) for rec in caplog.records]
    assert generated in logged and huge not in logged


@pytest.mark.parametrize("given", ["a b", "id\u00e9", "", "a" * 65, "x;drop", "../x"])
def test_unsafe_request_ids_are_replaced(env, given) -> None:
    r = env["client"].get("/healthz", headers={"X-Request-Id": given})
    assert HEX32.match(r.headers["X-Request-Id"])


def test_a_safe_request_id_is_kept_and_stored(env) -> None:
    rid = "req-2026.12_06-" + "a" * 49  # 64 characters: the access log column's size
    assert len(rid) == 64
    r = env["client"].get(
        f"/v1/complaints/{env['ref']}/timeline",
        headers={**auth(env["tokens"]["agent"]), "X-Request-Id": rid},
    )
    assert r.headers["X-Request-Id"] == rid
    assert [read["request_id"] for read in _reads(env)] == [rid]


# --- finding 12: Cache-Control -------------------------------------------------------------


def test_answers_with_secrets_or_personal_data_are_no_store(env) -> None:
    c, ref, t = env["client"], env["ref"], env["tokens"]
    filed = c.post("/v1/complaints", json=FILE)
    assert filed.status_code == 201 and filed.headers["Cache-Control"] == "no-store"
    key = {"Idempotency-Key": "probe-cache-1", **auth(t["agent"])}
    first = c.post("/v1/complaints", json=FILE, headers=key)
    replay = c.post("/v1/complaints", json=FILE, headers=key)
    assert first.status_code == replay.status_code == 201
    assert replay.json["reference"] == first.json["reference"]
    assert first.headers["Cache-Control"] == replay.headers["Cache-Control"] == "no-store"
    private = [
        (f"/v1/complaints/{ref}", env["secret"]),
        (f"/v1/complaints/{ref}/timeline", env["secret"]),
        (f"/v1/complaints/{ref}/proof", env["secret"]),
        (f"/v1/complaints/{ref}/timeline", t["agent"]),
        (f"/v1/complaints/{ref}/access-log", t["legal"]),
        ("/v1/complaints", t["agent"]),
        ("/v1/audit/complaints", t["regulator"]),
    ]
    for path, token in private:
        r = c.get(path, headers=auth(token))
        assert r.status_code == 200, path
        assert r.headers.get("Cache-Control") == "no-store", path
    # Refusals of authenticated calls carry nothing private, but are not stored either.
    assert (
        c.get(f"/v1/complaints/{ref}", headers=auth("cs_wrong")).headers["Cache-Control"]
        == "no-store"
    )


def test_public_log_documents_keep_their_caching(env) -> None:
    c = env["client"]
    tile = c.get("/log/checkpoint", headers=auth(env["tokens"]["agent"]))
    assert tile.status_code == 200 and tile.headers.get("Cache-Control") != "no-store"
    proof = c.get(f"/v1/complaints/{env['ref']}/proof")  # anonymous: no personal data
    assert proof.status_code == 200 and proof.headers.get("Cache-Control") != "no-store"


# --- findings 6 and 11: anonymous filing limits and client addresses ------------------------

PROXY_SETTINGS = {"anonymous_filing_limit": "2/hour", "trusted_proxies": "10.0.0.0/8, ::1"}


def _file(client, remote: str, forwarded: str | None = None, token: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    if token:
        headers |= auth(token)
    return client.post(
        "/v1/complaints", json=FILE, headers=headers, environ_base={"REMOTE_ADDR": remote}
    )


@pytest.mark.parametrize("settings", [PROXY_SETTINGS], indirect=True)
def test_anonymous_filings_are_limited_per_client_address(client, ledger) -> None:
    proxy = "10.1.2.3"
    assert _file(client, proxy, "203.0.113.7").status_code == 201
    assert _file(client, proxy, "198.51.100.1, 203.0.113.7").status_code == 201
    limited = _file(client, proxy, "203.0.113.7")
    assert_problem(limited, 429, "rate-limited")
    assert "Retry-After" in limited.headers
    # Another client behind the same proxy has its own allowance.
    assert _file(client, proxy, "203.0.113.8").status_code == 201
    # Staff filing on a customer's behalf are not anonymous filings.
    agent = create_api_key(ledger.engine, "agent", "agent")[0]
    assert _file(client, proxy, "203.0.113.7", token=agent).status_code == 201


@pytest.mark.parametrize("settings", [PROXY_SETTINGS], indirect=True)
def test_forwarded_for_is_ignored_from_an_untrusted_peer(client) -> None:
    peer = "192.0.2.50"  # not a trusted proxy: its X-Forwarded-For is the client's own claim
    assert _file(client, peer, "203.0.113.1").status_code == 201
    assert _file(client, peer, "203.0.113.2").status_code == 201
    assert_problem(_file(client, peer, "203.0.113.3"), 429, "rate-limited")


@pytest.mark.parametrize(
    "settings", [{"anonymous_filing_limit": "", "rate_limit": ""}], indirect=True
)
def test_the_filing_limit_can_be_switched_off(client) -> None:
    assert all(_file(client, "192.0.2.9").status_code == 201 for _ in range(12))


def test_client_address_rules() -> None:
    proxies = parse_trusted_proxies("10.0.0.0/8, 2001:db8::/32,192.168.1.1")
    cases = [
        ("192.0.2.1", ["203.0.113.9"], "192.0.2.1"),  # untrusted peer: header ignored
        ("10.0.0.1", [], "10.0.0.1"),  # trusted peer, no header
        ("10.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.1", ["1.1.1.1, 203.0.113.9"], "203.0.113.9"),  # right-most untrusted
        ("10.0.0.1", ["203.0.113.9, 10.0.0.7"], "203.0.113.9"),  # skips trusted hops
        ("10.0.0.1", ["203.0.113.9", "192.168.1.1"], "203.0.113.9"),  # several header lines
        ("10.0.0.1", ["1.1.1.1, garbage"], "10.0.0.1"),  # garbage: trust nothing left of it
        ("2001:db8::1", ["2001:db9::5"], "2001:db9::5"),
        ("10.0.0.1", ["10.0.0.2, 10.0.0.3"], "10.0.0.2"),  # all trusted: the left-most
    ]
    for remote, header, expected in cases:
        assert client_address_from(remote, header, proxies) == expected, (remote, header)
    assert client_address_from("10.0.0.1", ["203.0.113.9"], ()) == "10.0.0.1"
    with pytest.raises(ValueError, match="LEDGER_TRUSTED_PROXIES"):
        parse_trusted_proxies("10.0.0.0/8, not-an-ip")


# --- finding 11: /readyz caches its chain check; /metrics can be protected ---------------------


class _ChainRpc:
    """A real JSON-RPC endpoint on a local port answering eth_chainId, counting calls."""

    def __init__(self) -> None:
        self.calls = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.calls += 1
                body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": "0x7a69"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # Poll often: shutdown() waits for the next poll (0.5 s by default).
        serve = {"poll_interval": 0.02}
        threading.Thread(target=self.server.serve_forever, kwargs=serve, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rpc() -> Iterator[_ChainRpc]:
    server = _ChainRpc()
    yield server
    server.close()


@pytest.mark.parametrize("cache_seconds", [60.0, 0.0])
def test_readyz_caches_the_chain_check(settings, rpc, cache_seconds) -> None:
    from api import create_app
    from ledger.runtime import open_ledger

    s = dataclasses.replace(settings, chain_rpc_url=rpc.url, ready_cache_seconds=cache_seconds)
    led = open_ledger(s)
    try:
        c = create_app(s, led).test_client()
        for _ in range(3):
            r = c.get("/readyz")
            assert r.status_code == 200, r.get_data(as_text=True)
            assert r.json["checks"]["chain_rpc"] == {"ok": True, "chain_id": 0x7A69}
    finally:
        led.close()
    assert rpc.calls == (1 if cache_seconds else 3)


def test_readyz_compares_the_chain_id_of_the_settings(settings, rpc) -> None:
    from api import create_app
    from ledger.runtime import open_ledger

    s = dataclasses.replace(settings, chain_rpc_url=rpc.url, anchor_env={"LEDGER_CHAIN_ID": "1"})
    led = open_ledger(s)
    try:
        r = create_app(s, led).test_client().get("/readyz")
    finally:
        led.close()
    assert r.status_code == 503
    detail = "chain RPC is chain 31337, not 1"
    assert r.json["checks"]["chain_rpc"] == {"ok": False, "detail": detail}


@pytest.mark.parametrize("settings", [{"metrics_token": "m-token-3f9a"}], indirect=True)
def test_metrics_needs_its_token_when_configured(client, app) -> None:
    assert_problem(client.get("/metrics"), 401, "unauthorized")
    assert_problem(client.get("/metrics", headers=auth("m-token-wrong")), 401, "unauthorized")
    assert_problem(
        client.get("/metrics", headers={"Authorization": "Basic m-token-3f9a"}), 401, "unauthorized"
    )
    ok = client.get("/metrics", headers=auth("m-token-3f9a"))
    assert ok.status_code == 200 and b"ledger_http_requests" in ok.data
    # Only a digest of the token is kept by the app.
    assert "m-token-3f9a" not in repr(app.extensions)


def test_metrics_is_open_without_a_token(client) -> None:
    assert client.get("/metrics").status_code == 200


def test_metrics_sums_the_workers_files_in_the_settings_folder(settings, tmp_path) -> None:
    from api import create_app
    from ledger.runtime import open_ledger

    # An empty folder: no worker wrote metrics there, so this process's own are not shown.
    s = dataclasses.replace(settings, prometheus_multiproc_dir=tmp_path)
    led = open_ledger(s)
    try:
        c = create_app(s, led).test_client()
        c.get("/healthz")
        r = c.get("/metrics")
    finally:
        led.close()
    assert r.status_code == 200 and b"ledger_http_requests" not in r.data
