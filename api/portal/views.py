"""The customer portal's pages (``/portal``): file a complaint, sign in with its reference and
secret, follow it, answer, accept, rate, download its evidence, verify it.

Server-rendered HTML on the same origin, with the /verify page's standard: no third-party
code, a strict Content-Security-Policy (forms post to this site only), six languages, usable
on a phone and with a keyboard or screen reader. Every POST is a form with its CSRF token,
checked with its Origin before anything else (``csrf``); every step goes through the write
services the API uses (``actions``, ``filing``), once per form (``submissions``).
"""

from __future__ import annotations

import io
from dataclasses import replace
from functools import partial
from typing import Any

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import RequestEntityTooLarge

from api.auth import Caller
from api.browser_security import DOWNLOAD_CSP, address_limit, client, page_headers, safe_back
from api.context import get_ledger
from api.evidence_routes import CUSTOMER_WITHHELD, export_bundle
from api.guards import principal_limit
from api.portal import actions, csrf, filing
from api.portal.complaint_page import ACTION_STEPS, complaint_page, listed_files
from api.portal.forms import FieldError, FormInvalid, FormState, clean
from api.portal.i18n import html_lang, page_language, text
from api.portal.sessions import (
    SESSION_COOKIE,
    current_session,
    end_session,
    presession_token,
    session_store,
    set_cookies,
    start_session,
)
from api.portal.submissions import BadFormToken, new_form_token, submission
from api.portal.uploads import MAX_FILES, max_bytes, request_limit
from api.problems import Problem
from ledger.access.portal_sessions import LiveSession
from ledger.attachments.errors import AttachmentError
from ledger.attachments.media import ALLOWED, EXTENSIONS
from ledger.casework.reads import ComplaintNotFound, withheld_from_customer
from ledger.complaints.errors import InvalidReference
from ledger.complaints.reference import parse_reference
from ledger.complaints.vocab import ENDONYMS, DeclineReason, Specialism

# Fields never echoed back into a re-rendered form.
NOT_ECHOED = frozenset({"secret", "csrf_token", "form_token"})
# The file types the file fields offer (the attachment service decides from the bytes).
ACCEPT = ",".join([*ALLOWED, *(f".{ext}" for ext in EXTENSIONS.values()), ".jpeg"])
UPLOAD_ACTIONS = frozenset({"answer", "evidence"})
NOTICES = frozenset({"signed_out", "expired", "already_filed"})

blp = Blueprint(
    "portal",
    __name__,
    url_prefix="/portal",
    static_folder="../static/portal",
    static_url_path="/static",
)


# --- rendering ------------------------------------------------------------------------------


def _csrf_token() -> str:
    live = current_session()
    return live.csrf_token if live is not None else presession_token()


def _page(
    template: str, lang: str, *, status: int = 200, here: str | None = None, **context: Any
) -> Response:
    html = render_template(
        f"portal/{template}",
        lang=lang,
        html_lang=html_lang(lang),
        t=partial(text, lang),
        languages=[(str(lang), name) for lang, name in ENDONYMS.items()],
        here=here or request.path,
        signed_in=current_session(),
        csrf_token=_csrf_token(),
        new_form_token=new_form_token,
        form=context.pop("form", None) or FormState(),
        language_switch=context.pop("language_switch", True),
        **context,
    )
    return Response(html, status=status, mimetype="text/html")


def _error_page(
    status: int, title_key: str, text_key: str, *, back: str | None = None,
    back_key: str = "error.back", detail: str | None = None, lang: str | None = None,
    headers: dict[str, str] | None = None, **values: Any,
) -> Response:  # fmt: skip
    lang = lang or page_language(_session_language())
    resp = _page(
        "error.html", lang, status=status, here=url_for("portal.start"),
        title_key=title_key, text_key=text_key, text_values=values, detail=detail,
        back_url=back or url_for("portal.start"), back_key=back_key,
    )  # fmt: skip
    resp.headers.update(headers or {})
    return resp


def _session_language() -> str | None:
    live = current_session()
    if live is None:
        return None
    try:
        return get_ledger().complaints.reads.complaint(live.reference).language
    except ComplaintNotFound:
        return None


def _values() -> dict[str, str]:
    return {k: v for k, v in request.form.items() if k not in NOT_ECHOED}


@blp.after_request
def _headers(resp: Response) -> Response:
    page_headers(resp, static=request.endpoint == "portal.static")
    return set_cookies(resp)


@blp.before_request
def _upload_limit() -> None:
    """Forms with files may be larger than the API's JSON bodies (each file is then checked
    against LEDGER_ATTACHMENT_MAX_BYTES, and named if too large)."""
    if request.endpoint == "portal.act" and (request.view_args or {}).get("action") in (
        UPLOAD_ACTIONS
    ):
        request.max_content_length = request_limit()


# --- errors: HTML pages, never a problem+json, for people ---------------------------------


@blp.errorhandler(csrf.CsrfRefused)
@blp.errorhandler(BadFormToken)
def _csrf_refused(exc: Exception) -> Response:
    return _error_page(403, "csrf.title", "csrf.text", back=safe_back(request.referrer))


@blp.errorhandler(RateLimitExceeded)
def _too_many(exc: Exception) -> Response:
    return _error_page(429, "limit.title", "limit.text", headers={"Retry-After": "60"})


@blp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: Exception) -> Response:
    mb = f"{max_bytes() / (1024 * 1024):g}"
    return _error_page(413, "too_large.title", "too_large.text", mb=mb, max=MAX_FILES)


@blp.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    if exc.status == 429:
        return _error_page(429, "limit.title", "limit.text", headers=exc.headers)
    return _error_page(exc.status, "error.title", "error.text", detail=exc.detail)


@blp.errorhandler(ComplaintNotFound)
@blp.errorhandler(InvalidReference)
def _not_found(exc: Exception) -> Response:
    return _error_page(404, "not_found.title", "not_found.text")


# --- start, filing -------------------------------------------------------------------------


@blp.get("/")
def start() -> Response:
    return _page("start.html", page_language(_session_language()))


def _file_page(lang: str, form: FormState | None = None, status: int = 200) -> Response:
    return _page(
        "file.html", lang, status=status, here=url_for("portal.file"), form=form,
        form_token=new_form_token(), categories=filing.categories(lang),
        first_response=filing.first_response(lang),
        jurisdiction=filing.jurisdiction_text(lang),
    )  # fmt: skip


@blp.get("/file")
def file() -> Response:
    return _file_page(page_language())


@blp.post("/file")
def file_post() -> Response:
    csrf.check_form(before_sign_in=True)
    lang = page_language()
    sub = submission("filing")
    try:
        public, body = filing.filing_fields(request.form, lang)
    except FormInvalid as exc:
        return _file_page(lang, FormState("file", exc.errors, _values()), exc.status)
    if sub.outcome() is None:  # a new filing (a form sent again is not counted twice)
        spec = get_ledger().settings.anonymous_filing_limit
        address_limit("portal filings", spec).hit(client())
    try:
        filed = filing.file_complaint(sub, public, body)
    except FormInvalid as exc:
        return _file_page(lang, FormState("file", exc.errors, _values()), exc.status)
    if filed.secret is None:  # this form was sent before: its secret was shown then, only
        live = current_session()
        if live is not None and live.reference == filed.reference:
            return redirect(url_for("portal.complaint", reference=filed.reference), 303)
        target = url_for("portal.sign_in", reference=filed.reference, notice="already_filed")
        return redirect(target, 303)
    start_session(filed.reference)
    # No language switch on this page: leaving it would lose the secret, shown only here.
    return _page("filed.html", lang, here=None, language_switch=False,
                 reference=filed.reference, secret=filed.secret)  # fmt: skip


# --- signing in and out --------------------------------------------------------------------


def _sign_in_page(lang: str, form: FormState | None = None, status: int = 200) -> Response:
    notice = request.args.get("notice")
    return _page(
        "sign_in.html", lang, status=status, here=url_for("portal.sign_in"),
        form=form or FormState(values={"reference": request.args.get("reference", "")[:64]}),
        notice=notice if notice in NOTICES else None,
    )  # fmt: skip


@blp.get("/sign-in")
def sign_in() -> Response:
    return _sign_in_page(page_language(_session_language()))


@blp.post("/sign-in")
def sign_in_post() -> Response:
    csrf.check_form(before_sign_in=True)
    lang = page_language()
    spec = get_ledger().settings.portal_signin_limit
    address_limit("portal sign-ins", spec).hit(client())
    typed = clean(request.form.get("reference"))
    secret = request.form.get("secret", "").strip()
    errors = []
    reference = None
    if not typed:
        errors.append(FieldError("reference", "error.reference_required"))
    else:
        try:
            reference = parse_reference(typed)
        except InvalidReference:
            errors.append(FieldError("reference", "error.reference"))
    if not secret:
        errors.append(FieldError("secret", "error.secret_required"))
    if not errors and reference is not None:
        if get_ledger().complaints.reads.check_secret(reference, secret):
            start_session(reference)
            session_store().purge()
            return redirect(url_for("portal.complaint", reference=reference), 303)
        errors.append(FieldError("secret", "error.wrong_secret"))
    return _sign_in_page(lang, FormState("sign_in", errors, _values()), 400)


@blp.post("/sign-out")
def sign_out() -> Response:
    csrf.check_form()
    end_session()
    return redirect(url_for("portal.sign_in", notice="signed_out"), 303)


# --- the complaint -------------------------------------------------------------------------


def _signed_in_to(reference: str) -> LiveSession | Response:
    """The session opening ``reference``, or the page to show instead (sign in again, or
    this browser is signed in to another complaint)."""
    ref = parse_reference(reference)
    live = current_session()
    if live is None:
        notice = "expired" if request.cookies.get(SESSION_COOKIE) else None
        return redirect(url_for("portal.sign_in", reference=ref, notice=notice), 303)
    if live.reference != ref:
        back = url_for("portal.complaint", reference=live.reference)
        return _error_page(403, "other.title", "other.text", back=back, back_key="other.back",
                           reference=live.reference)  # fmt: skip
    return live


def _complaint_page(
    reference: str, form: FormState | None = None, status: int = 200, done: str | None = None
) -> Response:
    record = get_ledger().complaints.reads.complaint(reference)
    lang = page_language(record.language)
    page = complaint_page(reference, lang)
    if form is not None:  # a refused step the page no longer offers: point at the actions
        form.errors = [
            replace(e, field="actions")
            if e.field.startswith("action-") and e.field[len("action-") :] not in page.actions
            else e
            for e in form.errors
        ]
    return _page(
        "complaint.html", lang, status=status,
        here=url_for("portal.complaint", reference=reference), page=page, form=form,
        done=done, accept=ACCEPT, max_files=MAX_FILES,
        max_upload_mb=f"{max_bytes() / (1024 * 1024):g}",
        decline_reasons=[str(r) for r in DeclineReason],
        specialisms=[str(s) for s in Specialism],
    )  # fmt: skip


DONE = frozenset({*ACTION_STEPS, "already"})


@blp.get("/complaints/<reference>")
def complaint(reference: str) -> Response:
    live = _signed_in_to(reference)
    if isinstance(live, Response):
        return live
    done = request.args.get("done")
    return _complaint_page(live.reference, done=done if done in DONE else None)


@blp.post("/complaints/<reference>/actions/<action>")
def act(reference: str, action: str) -> Response:
    if action not in actions.BUILDERS:
        return _not_found(LookupError(action))
    live = _signed_in_to(reference)
    if isinstance(live, Response):
        return live
    csrf.check_form()
    try:
        recorded = actions.take(live.reference, action)
    except FormInvalid as exc:
        return _complaint_page(live.reference, FormState(action, exc.errors, _values()),
                               exc.status)  # fmt: skip
    done = action if recorded else "already"
    target = url_for("portal.complaint", reference=live.reference, done=done)
    return redirect(f"{target}#notice", 303)


@blp.post("/complaints/<reference>/bundle")
def bundle(reference: str) -> Response:
    """The complaint's evidence bundle, as ``POST /v1/complaints/<ref>/bundle`` exports it for
    the complaint's secret (same limit per complaint, same withholding)."""
    live = _signed_in_to(reference)
    if isinstance(live, Response):
        return live
    csrf.check_form()
    ref = live.reference
    ledger = get_ledger()
    principal_limit("evidence exports").hit(f"customer:{ref}")
    made, _ = export_bundle(
        ledger, ref, Caller("customer", "customer", ref), withhold=CUSTOMER_WITHHELD,
        withhold_seqs=withheld_from_customer(ledger.complaints.reads.events(ref),
                                             ledger.service_rules),
    )  # fmt: skip
    resp = Response(made.data, mimetype="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="{made.filename}"'
    resp.headers["X-Bundle-SHA256"] = made.sha256
    return resp


@blp.get("/complaints/<reference>/attachments/<sha256>")
def attachment(reference: str, sha256: str) -> Response:
    """A file of this complaint that its customer may read (listed in a body shown to them)."""
    live = _signed_in_to(reference)
    if isinstance(live, Response):
        return live
    ref = live.reference
    listed = listed_files(ref)
    if sha256 not in listed:
        return _not_found(LookupError(sha256))
    try:
        found = get_ledger().attachments.get(ref, sha256)
    except AttachmentError:
        return _not_found(LookupError(sha256))
    resp = send_file(
        io.BytesIO(found.data), mimetype=found.media_type, as_attachment=True,
        download_name=listed[sha256].get("name") or sha256,
    )  # fmt: skip
    resp.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return resp
