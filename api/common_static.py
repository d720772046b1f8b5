"""The stylesheet every page for people starts from: the portal, the staff console and /verify
link ``/static/common/base.css`` before their own (colours, type, skip link, focus ring)."""

from __future__ import annotations

from flask import Blueprint, Response

from api.browser_security import page_headers

blp = Blueprint(
    "common_static",
    __name__,
    static_folder="static/common",
    static_url_path="/static/common",
)


@blp.after_request
def _headers(resp: Response) -> Response:
    return page_headers(resp, static=True)
