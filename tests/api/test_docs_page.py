"""/docs: Swagger UI from the pinned npm package, served by us with the /verify headers."""

from __future__ import annotations

import json
import re
from pathlib import Path

from api.docs_page import ASSETS, SWAGGER_UI_DIR
from api.verify_page import CSP

ROOT = Path(__file__).resolve().parents[2]


def pinned_version() -> str:
    return json.loads((ROOT / "package.json").read_text())["dependencies"]["swagger-ui-dist"]


def test_the_installed_package_is_the_pinned_one() -> None:
    pin = pinned_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", pin), "pin an exact version, no range"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/swagger-ui-dist"]["version"] == pin
    assert json.loads((SWAGGER_UI_DIR / "package.json").read_text())["version"] == pin


def test_docs_page_has_the_verify_headers_and_no_third_party_url(client) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert r.headers["Content-Security-Policy"] == CSP
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    html = r.get_data(as_text=True)
    assert not re.search(r"(?:https?:)?//", html), "only same-origin URLs"
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\ssrc=)", html)
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        asset = client.get(src)
        assert asset.status_code == 200, src
        assert asset.headers["Content-Security-Policy"] == CSP
    assert client.get("/openapi.json").status_code == 200


def test_assets_are_the_package_files_immutable_by_version(client) -> None:
    version = pinned_version()
    for name in sorted(ASSETS):
        r = client.get(f"/docs/assets/{version}/{name}")
        assert r.status_code == 200
        assert r.get_data() == (SWAGGER_UI_DIR / name).read_bytes()
        assert "immutable" in r.headers["Cache-Control"]
    init = client.get("/docs/static/docs-init.js")
    assert init.status_code == 200 and b"SwaggerUIBundle" in init.get_data()


def test_nothing_else_of_node_modules_is_served(client) -> None:
    version = pinned_version()
    for path in (
        f"/docs/assets/{version}/package.json",
        f"/docs/assets/{version}/index.html",
        f"/docs/assets/{version}/..%2Fpackage.json",
        "/docs/assets/0.0.1/swagger-ui-bundle.js",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.mimetype == "application/problem+json"
