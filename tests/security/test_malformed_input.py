"""Oversized, malformed and wrongly typed requests, and path tricks, are refused cleanly:
a 4xx problem+json, never a 500 or an HTML page."""

from __future__ import annotations

import pytest

from tests.support.callers import bearer


def assert_clean(resp, statuses) -> None:
    assert resp.status_code in statuses, (resp.status_code, resp.data[:200])
    assert resp.mimetype == "application/problem+json"
    body = resp.json
    assert body["status"] == resp.status_code and body["type"].startswith("/problems/")


@pytest.mark.parametrize(
    ("data", "ctype", "statuses"),
    [
        ("x" * (70 * 1024), "application/json", (413,)),  # over LEDGER_MAX_REQUEST_BYTES
        ('{"category": ', "application/json", (400,)),
        ("[" * 60000, "application/json", (400, 422)),  # too deep: refused before parsing
        (b"\xff\xfe{}", "application/json", (400,)),
        ("[1, 2]", "application/json", (400, 422)),
        ('"text"', "application/json", (400, 422)),
        ("null", "application/json", (400, 422)),
        ('{"category": "x", "channel": "y", "description": "z", "extra": 1}', "application/json",
         (422,)),
        ("category=x", "application/x-www-form-urlencoded", (415,)),
        ("{}", "text/plain", (415,)),
        ("<a/>", "application/xml", (415,)),
        ("{}", "multipart/form-data; boundary=x", (415,)),
    ],
)  # fmt: skip
def test_bad_bodies(world, data, ctype, statuses) -> None:
    resp = world.client.post("/v1/complaints", data=data, content_type=ctype)
    assert_clean(resp, statuses)


def test_bad_bodies_on_authenticated_endpoints(world) -> None:
    ref = world.refs[0]
    headers = bearer(world.keys["agent"])
    for data, ctype, statuses in (
        ('{"type": ', "application/json", (400,)),
        ("{}", "text/plain", (415,)),
        ('{"type": "no-such-step"}', "application/json", (422,)),
        ('{"type": "acknowledged", "public": "not a dict"}', "application/json", (422,)),
    ):
        resp = world.client.post(
            f"/v1/complaints/{ref}/events", data=data, content_type=ctype, headers=headers
        )
        assert_clean(resp, statuses)


@pytest.mark.parametrize(
    "path",
    [
        "/log/tile/../../etc/passwd",
        "/log/tile/0/..%2F..%2Fetc%2Fpasswd",
        "/log/tile/%2e%2e/%2e%2e/x",
        "/log/tile/entries/../../x",
        "/log/tile/0/x001/../002",
        "/log/tile/0/000.p/0",
        "/log/tile/0/000.p/256",
        "/log/tile/-1/000",
        "/log/tile/99999999999999999999/000",
        "/log/tile/0/x999/x999/x999/x999/x999/x999/x999/000",
        "/log/tile/0/000%00",
        "/log/tile/0/000.p/1/../../../../etc/passwd",
        "/log/tile/0/1",
        "/log/tile/0/0000",
        "/log/tile/",
    ],
)
def test_tile_path_tricks(world, path) -> None:
    assert_clean(world.client.get(path), (400, 404))


@pytest.mark.parametrize(
    "path",
    [
        "/v1/complaints/..%2F..%2Fetc%2Fpasswd",
        "/v1/complaints/CMP-%00",
        "/v1/complaints/" + "A" * 5000,
        "/v1/complaints/%E2%80%AE",
        "/static/../wsgi.py",
        "/verify/static/../../wsgi.py",
        "/problems/../../etc/passwd",
    ],
)
def test_other_path_tricks(world, path) -> None:
    resp = world.client.get(path, headers=bearer(world.keys["admin"]))
    assert resp.status_code in (400, 401, 404), (path, resp.status_code)
    assert b"import" not in resp.data  # no source file served
    assert resp.mimetype == "application/problem+json", (path, resp.mimetype)


@pytest.mark.parametrize(
    "query",
    [
        "index=100000000000000000000000000000",
        "index=-1",
        "index=abc",
        "index=1&tree_size=0",
        "index=0&tree_size=99999999999999999999999",
        "",
    ],
)
def test_bad_proof_queries(world, query) -> None:
    assert_clean(world.client.get(f"/v1/log/proof/inclusion?{query}"), (400, 404, 422))


def test_wrong_methods(world) -> None:
    for method, path in (("DELETE", "/v1/complaints"), ("PUT", "/log/checkpoint")):
        assert_clean(world.client.open(path, method=method), (405,))
