"""The customer verify page: ``/verify`` checks a complaint's proof in the browser itself.

The page (template ``verify.html``, scripts and translations under ``static/verify/``) fetches
``GET /v1/complaints/<ref>/proof`` (the secret goes only in an ``Authorization`` header) or
reads ``proof.json`` out of an evidence bundle ZIP, and verifies every step with WebCrypto:
nothing the server says is taken on trust. No third-party scripts, fonts or CDNs; a strict
Content-Security-Policy keeps it that way.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from ledger.complaints.vocab import ENDONYMS

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

blp = Blueprint(
    "verify_page",
    __name__,
    url_prefix="/verify",
    template_folder="templates",
    static_folder="static/verify",
    static_url_path="/static",
)


@blp.get("")
@blp.get("/")
def verify_page() -> Response:
    html = render_template(
        "verify.html",
        api_root=request.script_root,
        languages=[(str(lang), name) for lang, name in ENDONYMS.items()],
    )
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@blp.after_request
def page_headers(resp: Response) -> Response:
    """The security headers of our web pages (also used by /docs, see api/docs_page.py)."""
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers.setdefault("Cache-Control", "no-cache")
    return resp
