"""The regulator API: figures bound to a signed checkpoint and recomputable from its leaves,
the complaint listing with filters, CSV export, and refusals as problem+json."""

from __future__ import annotations

import csv
import io

import pytest

from ledger.complaints.figures import Window, compute_figures, format_ms, to_ms
from ledger.complaints.timestamps import parse_timestamp
from ledger.log.checkpoint import open_checkpoint

MARCH = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_figures_are_bound_to_a_checkpoint_and_recomputable(client, ledger, march, tokens):
    r = client.get(
        "/v1/audit/figures",
        query_string={**MARCH, "as_of": "2026-04-01T00:00:00Z"},
        headers=auth(tokens["regulator"]),
    )
    assert r.status_code == 200, r.json
    body = r.json
    cp = open_checkpoint(body["checkpoint"]["note"], ledger.store.verifier, ledger.store.origin)
    assert cp.size == body["checkpoint"]["size"] == body["figures"]["tree_size"]
    assert cp.root.hex() == body["checkpoint"]["root"]
    assert body["figures"]["totals"]["received"] == 6
    assert body["definitions"] == "audit-figures/3"
    # Anyone with the leaves recomputes exactly the same document.
    f = body["figures"]
    window = Window.of(
        parse_timestamp(f["period"]["from"]),
        parse_timestamp(f["period"]["to"]),
        parse_timestamp(f["as_of"]),
        cp.size,
    )
    assert compute_figures(ledger.store.entries(0, cp.size), window) == f


def test_figures_as_of_an_older_checkpoint(client, ledger, march, tokens):
    size = ledger.store.latest_checkpoint().size - 10
    r = client.get(
        "/v1/audit/figures",
        query_string={**MARCH, "as_of_size": size},
        headers=auth(tokens["regulator"]),
    )
    assert r.status_code == 200, r.json
    assert r.json["checkpoint"]["size"] == size
    # Without an explicit as_of, an older checkpoint speaks for the time it was signed.
    signed_at = ledger.store.checkpoint(size).created_at
    assert r.json["figures"]["as_of"] == format_ms(to_ms(signed_at))
    window = Window.of(
        parse_timestamp(r.json["figures"]["period"]["from"]),
        parse_timestamp(r.json["figures"]["period"]["to"]),
        parse_timestamp(r.json["figures"]["as_of"]),
        size,
    )
    assert compute_figures(ledger.store.entries(0, size), window) == r.json["figures"]


@pytest.mark.parametrize(
    ("query", "status", "slug"),
    [
        ({"as_of_size": 10**9}, 400, "tree-size-out-of-range"),
        ({"from": "2026-04-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, 400, "bad-request"),
        ({"from": "2026-04-01"}, 422, "validation-error"),
        ({"as_of_size": -1}, 422, "validation-error"),
    ],
)
def test_bad_figure_requests_are_problems(client, march, tokens, query, status, slug):
    r = client.get("/v1/audit/figures", query_string=query, headers=auth(tokens["regulator"]))
    assert r.status_code == status
    assert r.mimetype == "application/problem+json"
    assert r.json["type"] == f"/problems/{slug}"


def test_a_size_without_a_signed_checkpoint_is_not_found(client, ledger, tokens):
    ledger.sequencer.append_many([b"one", b"two", b"three"])  # one batch: sizes 1 and 2 unsigned
    r = client.get(
        "/v1/audit/figures", query_string={"as_of_size": 1}, headers=auth(tokens["regulator"])
    )
    assert r.status_code == 404 and r.mimetype == "application/problem+json"


@pytest.mark.parametrize("path", ["/v1/audit/figures", "/v1/audit/complaints"])
@pytest.mark.parametrize("role", ["agent", "admin", "supervisor", None])
def test_only_regulators_may_audit(client, tokens, path, role):
    r = client.get(path, headers=auth(tokens[role]) if role else {})
    assert r.status_code == (403 if role else 401)
    assert r.mimetype == "application/problem+json"
    assert r.json["type"] == ("/problems/forbidden" if role else "/problems/unauthorized")
    assert r.json["status"] == r.status_code


def _list(client, tokens, **query):
    r = client.get(
        "/v1/audit/complaints",
        query_string={"as_of": "2026-04-01T00:00:00Z", **query},
        headers=auth(tokens["regulator"]),
    )
    assert r.status_code == 200, r.json
    return r.json


def test_listing_filters(client, march, tokens):
    everything = _list(client, tokens)
    assert everything["total"] == 7
    refs = {c["reference"] for c in everything["items"]}
    assert refs == set(march.values())
    # Newest first.
    received = [c["received_at"] for c in everything["items"]]
    assert received == sorted(received, reverse=True)

    def refs_of(**query):
        return {march_name(march, c["reference"]) for c in _list(client, tokens, **query)["items"]}

    assert refs_of(status="closed") == {"A", "C", "E", "G"}
    assert refs_of(category="stuck_transaction") == {"A", "G"}
    assert refs_of(channel="chat") == {"B"}
    assert refs_of(language="zh") == {"E"}
    assert refs_of(jurisdiction="UK-FCA-DISP") == {"B", "F"}
    assert refs_of(outcome="rejected") == {"B", "G"}  # G's current cycle was rejected
    assert refs_of(overdue="true") == {"D"}
    assert refs_of(overdue="false") == {"A", "B", "C", "E", "F", "G"}
    assert refs_of(**MARCH) == {"A", "B", "C", "D", "E", "F"}
    assert refs_of(overdue="true", as_of="2026-03-20T00:00:00Z") == set()
    d = next(c for c in everything["items"] if c["reference"] == march["D"])
    assert d["final_response_due"] == "2026-03-23T23:00:00.000Z" and d["overdue"] is True
    assert d["responded"] is True and d["status"] == "acknowledged"


def march_name(march, reference):
    return next(k for k, v in march.items() if v == reference)


def test_listing_pages(client, march, tokens):
    first = _list(client, tokens, page=1, page_size=3)
    second = _list(client, tokens, page=2, page_size=3)
    third = _list(client, tokens, page=3, page_size=3)
    assert first["total"] == 7 and len(first["items"]) == 3 and len(third["items"]) == 1
    seen = [c["reference"] for p in (first, second, third) for c in p["items"]]
    assert len(set(seen)) == 7


@pytest.mark.parametrize("how", ["query", "accept"])
def test_csv_export(client, march, tokens, how):
    query = {"as_of": "2026-04-01T00:00:00Z", "category": "stuck_transaction"}
    headers = auth(tokens["regulator"])
    if how == "query":
        query["format"] = "csv"
    else:
        headers["Accept"] = "text/csv"
    r = client.get("/v1/audit/complaints", query_string=query, headers=headers)
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert {row["reference"] for row in rows} == {march["A"], march["G"]}
    g = next(row for row in rows if row["reference"] == march["G"])
    assert g["status"] == "closed" and g["outcome"] == "rejected" and g["cycle"] == "1"
    assert g["overdue"] == "false" and g["language"] == "ru"
    as_json = _list(client, tokens, category="stuck_transaction")
    assert [row["reference"] for row in rows] == [c["reference"] for c in as_json["items"]]


def test_csv_export_of_an_empty_selection_has_the_header(client, tokens):
    r = client.get("/v1/audit/complaints?format=csv", headers={**auth(tokens["regulator"])})
    lines = r.get_data(as_text=True).splitlines()
    assert lines == [
        "reference,status,category,channel,language,jurisdiction,received_at,last_event_at,"
        "events,cycle,outcome,responded,final_response_due,overdue"
    ]


def test_openapi_documents_the_audit_endpoints(client):
    spec = client.get("/openapi.json").json
    figures = spec["paths"]["/v1/audit/figures"]["get"]
    assert "200" in figures["responses"] and "403" in figures["responses"]
    listing = spec["paths"]["/v1/audit/complaints"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in listing and "application/json" in listing
