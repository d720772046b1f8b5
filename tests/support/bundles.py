"""Evidence bundles over HTTP: export one (POST) as a given caller, and read the ZIP back."""

from __future__ import annotations

import io
import zipfile

from tests.support.complaint_api import Client


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
