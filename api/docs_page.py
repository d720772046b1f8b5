"""Interactive API docs at ``/docs``: Swagger UI from the pinned npm package, served by us.

The assets come from ``node_modules/swagger-ui-dist`` (exact version pinned in package.json,
installed by scripts/bootstrap.sh), never from a CDN; the page has no inline script (its
start-up code is ``static/docs/docs-init.js``) and carries the same security headers as
``/verify`` (``api.verify_page.page_headers``: strict CSP, no referrer, no framing).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, render_template, send_from_directory, url_for

from api.problems import Problem
from api.verify_page import page_headers

SWAGGER_UI_DIR = Path(__file__).resolve().parents[1] / "node_modules" / "swagger-ui-dist"
# The only files of the package the page needs; nothing else in node_modules is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})
IMMUTABLE = "public, max-age=31536000, immutable"

blp = Blueprint(
    "docs_page",
    __name__,
    url_prefix="/docs",
    template_folder="templates",
    static_folder="static/docs",
    static_url_path="/static",
)
blp.after_request(page_headers)


@cache
def swagger_ui_version() -> str | None:
    """The installed swagger-ui-dist version, or None when the package is not installed."""
    try:
        return json.loads((SWAGGER_UI_DIR / "package.json").read_text("utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


def _installed_version() -> str:
    version = swagger_ui_version()
    if version is None:
        raise Problem("unavailable", "Swagger UI is not installed here (run scripts/bootstrap.sh)")
    return version


@blp.get("")
@blp.get("/")
def docs_page() -> Response:
    version = _installed_version()
    html = render_template(
        "docs.html",
        spec_url=url_for("api-docs.openapi_json"),
        css=url_for("docs_page.asset", version=version, name="swagger-ui.css"),
        bundle=url_for("docs_page.asset", version=version, name="swagger-ui-bundle.js"),
        icon=url_for("docs_page.asset", version=version, name="favicon-32x32.png"),
    )
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@blp.get("/assets/<version>/<name>")
def asset(version: str, name: str) -> Response:
    """One file of the pinned package; the version in the path makes it immutable."""
    if name not in ASSETS or version != _installed_version():
        raise Problem("not-found", f"no docs asset {version}/{name}")
    resp = send_from_directory(SWAGGER_UI_DIR, name, max_age=31536000)
    resp.headers["Cache-Control"] = IMMUTABLE
    return resp
