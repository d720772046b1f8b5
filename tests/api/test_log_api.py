"""The log's HTTP face: C2SP checkpoint and tiles, JSON proofs, problem+json errors."""

from __future__ import annotations

import pytest
import requests

from ledger.log import merkle
from ledger.log.client import TileClient
from ledger.log.note import Verifier
from ledger.runtime import Ledger


@pytest.fixture
def filled(ledger: Ledger) -> list[bytes]:
    data = [f"entry {i}".encode() for i in range(70_000 // 100 + 13)]
    for i in range(0, len(data), 100):
        ledger.sequencer.append_many(data[i : i + 100])
    return data


def test_client_with_only_tiles_and_checkpoint_recomputes_everything(
    live_server, filled, ledger
) -> None:
    session = requests.Session()

    def fetch(path: str) -> bytes:
        r = session.get(f"{live_server.url}/log/{path}", timeout=10)
        r.raise_for_status()
        return r.content

    keys = session.get(f"{live_server.url}/v1/log/keys", timeout=10).json()
    verifier = Verifier.from_string(keys["verifier_key"])
    client = TileClient(fetch, verifier, keys["origin"])
    cp, _ = client.checkpoint()
    assert cp.size == len(filled)
    assert client.root(cp.size) == cp.root
    leaves = [merkle.leaf_hash(d) for d in filled]
    for index in (0, 1, 255, 256, 511, 600, len(filled) - 1):
        proof = client.inclusion_proof(index, cp.size)
        merkle.verify_inclusion(index, cp.size, leaves[index], proof, cp.root)
        served = session.get(
            f"{live_server.url}/v1/log/proof/inclusion",
            params={"index": index, "tree_size": cp.size},
            timeout=10,
        ).json()
        assert served["proof"] == [p.hex() for p in proof]
    old = ledger.store.checkpoints()[3]
    proof = client.consistency_proof(old.size, cp.size)
    merkle.verify_consistency(old.size, cp.size, old.root, cp.root, proof)
    assert client.entries(2, cp.size) == filled[512:713]


def test_tile_caching_headers(client, filled) -> None:
    full = client.get("/log/tile/0/000")
    assert full.status_code == 200
    assert full.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert full.headers["Content-Type"] == "application/octet-stream"
    assert len(full.data) == 256 * 32
    partial = client.get(f"/log/tile/0/002.p/{len(filled) - 512}")
    assert partial.status_code == 200 and "immutable" not in partial.headers["Cache-Control"]
    bundle = client.get("/log/tile/entries/000")
    assert bundle.headers["Cache-Control"].endswith("immutable")
    cp = client.get("/log/checkpoint")
    assert cp.mimetype == "text/plain" and cp.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/log/tile/0/3",
        "/log/tile/0/x000/001",
        "/log/tile/0/000.p/0",
        "/log/tile/0/000.p/256",
        "/log/tile/0/000.p/007",
        "/log/tile/0/../../etc/passwd",
        "/log/tile/0/%2e%2e/000",
        "/log/tile/entries/009",
        "/log/tile/4/000",
        "/log/tile/0/003",
    ],
)
def test_bad_tile_paths_are_problems(client, filled, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.mimetype == "application/problem+json"
    assert r.json["type"] == "/problems/not-found"


@pytest.mark.parametrize(
    ("query", "status", "slug"),
    [
        ("/v1/log/proof/inclusion", 422, "validation-error"),
        ("/v1/log/proof/inclusion?index=-1", 422, "validation-error"),
        ("/v1/log/proof/inclusion?index=abc", 422, "validation-error"),
        ("/v1/log/proof/inclusion?index=5&tree_size=999999", 400, "tree-size-out-of-range"),
        ("/v1/log/proof/inclusion?index=50&tree_size=50", 400, "bad-request"),
        ("/v1/log/proof/consistency?from=0&to=5", 422, "validation-error"),
        ("/v1/log/proof/consistency?from=9&to=5", 400, "bad-request"),
        ("/v1/log/proof/consistency?from=1", 422, "validation-error"),
    ],
)
def test_bad_proof_queries_are_problems(client, filled, query, status, slug) -> None:
    r = client.get(query)
    assert r.status_code == status
    assert r.mimetype == "application/problem+json"
    assert r.json["type"] == f"/problems/{slug}"
    assert r.json["status"] == status


def test_keys_and_problem_docs(client) -> None:
    keys = client.get("/v1/log/keys").json
    v = Verifier.from_string(keys["verifier_key"])
    assert keys["public_key"] == v.public_key.hex()
    assert client.get("/problems/not-found").json["status"] == 404
    assert client.post("/v1/log/keys").status_code == 405
    assert client.post("/v1/log/keys").mimetype == "application/problem+json"
    assert client.post("/v1/log/keys").headers["Allow"] == "GET, HEAD, OPTIONS"


def test_openapi_lists_log_endpoints(client) -> None:
    spec = client.get("/openapi.json").json
    assert {"/v1/log/proof/inclusion", "/v1/log/proof/consistency", "/v1/log/keys"} <= set(
        spec["paths"]
    )
