"""Fixtures for the evidence bundle tests: a real complaint lifecycle over HTTP (the e2e flow
of tests/api/test_complaint_e2e.py), clients per role, and bundle helpers."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.access.apikeys import create_api_key
from tests.api.test_complaint_e2e import Client, run_lifecycle, signed_step

__all__ = ["Client", "run_lifecycle", "signed_step"]

ROLES = ("agent", "officer", "admin", "legal", "regulator")


def make_actors(url: str, ledger) -> dict:
    """API keys for every staff role and a registered officer key, on the ledger behind url."""
    tokens = {role: create_api_key(ledger.engine, f"test {role}", role)[0] for role in ROLES}
    officer_key = Ed25519PrivateKey.generate()
    admin = Client(url, tokens["admin"])
    pub = officer_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    registered = admin.post(
        "/v1/officers/keys",
        {
            "public_key": pub,
            "roles": ["officer"],
            "valid_from": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "name": "Olga Officer",
        },
    )
    actors = {role: Client(url, token) for role, token in tokens.items()}
    actors.update(
        anon=Client(url),
        tokens=tokens,
        officer_key=officer_key,
        key_id=registered["key"]["key_id"],
        url=url,
    )
    return actors


@pytest.fixture
def actors(live_server, ledger) -> dict:
    return make_actors(live_server.url, ledger)


@pytest.fixture
def vkey(ledger) -> str:
    return str(ledger.store.verifier)


def export(actors: dict, ref: str, token: str | None = None, **body):
    """POST the bundle export; returns the response (requests), whatever its status."""
    client = Client(actors["url"], token) if token else actors["legal"]
    url = f"{actors['url']}/v1/complaints/{ref}/bundle"
    return client.session.post(url, json=body, timeout=60)


def get_bundle(
    actors: dict, ref: str, token: str | None = None, expect: int | tuple = (200, 201), **body
):
    """Export the bundle (POST): 201 for a new export, 200 for one exported before."""
    r = export(actors, ref, token, **body)
    expected = expect if isinstance(expect, tuple) else (expect,)
    assert r.status_code in expected, r.text
    return r


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}
