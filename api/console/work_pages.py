"""The worklist (``/console``) and a complaint's page with its staff steps
(``/console/complaints/<ref>``), for the roles that do casework.

The worklist is ``ledger.casework.worklist``'s read model, next due first, with its filters
and search; the complaint page words the status, clocks and timeline with the portal's own
code (in English, with every body staff may read), names the owner, and offers the steps the
member's roles may take now. Each read of a complaint is recorded in the access log, as the
API records a staff read.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

from flask import Response, redirect, request, send_file, url_for

from api.browser_security import DOWNLOAD_CSP
from api.console import actions, csrf
from api.console.auth import RoleRefused, current_member, staff_required
from api.console.blueprint import blp, not_found, page
from api.console.complaint_view import complaint_view
from api.console.nav import CASEWORK
from api.console.staff_names import StaffNames
from api.context import get_ledger
from api.portal.forms import FormInvalid, FormState
from api.portal.uploads import MAX_FILES, request_limit
from api.request_ids import request_id
from ledger.access.staff import StaffMember
from ledger.attachments.errors import AttachmentError
from ledger.casework.worklist import WorkFilter, search_kind
from ledger.complaints.reference import parse_reference
from ledger.complaints.vocab import (
    Category,
    Channel,
    CloseReason,
    EscalationReason,
    EvidenceKind,
    IdentityMethod,
    Language,
    ReopenReason,
    Specialism,
    Status,
)
from ledger.messages.alerts import AlertView, alerts_for

PAGE_SIZE = 50
FILTERS = ("queue", "status", "category", "language", "channel")
NOT_ECHOED = frozenset({"csrf_token", "form_token"})
# SLA alerts shown on the worklist, at most.
ALERTS_SHOWN = 10


def _member() -> StaffMember:
    member = current_member()
    assert member is not None  # staff_required let the request in
    return member


@blp.before_request
def _upload_limit() -> None:
    """The evidence form may carry files: larger than the API's JSON bodies."""
    if request.endpoint == "console.act" and (request.view_args or {}).get("action") in (
        actions.UPLOAD_ACTIONS
    ):
        request.max_content_length = request_limit()


# --- the worklist ----------------------------------------------------------------------------


def _alerts(member: StaffMember) -> list[AlertView]:
    """SLA warnings and alerts for this member and for their roles, newest first."""
    engine = get_ledger().reader
    found = {a.id: a for a in alerts_for(engine, member.pseudonym, None, ALERTS_SHOWN)}
    for role in member.roles:
        found.update((a.id, a) for a in alerts_for(engine, None, role, ALERTS_SHOWN))
    return sorted(found.values(), key=lambda a: a.at, reverse=True)[:ALERTS_SHOWN]


@blp.get("/")
@staff_required(*CASEWORK, "admin")
def worklist() -> Response:
    member = _member()
    if not any(member.has(r) for r in CASEWORK):  # an administrator only: their page
        return redirect(url_for("console.admin"), 303)
    ledger = get_ledger()
    now = datetime.now(UTC)
    args = request.args
    chosen = {name: args.get(name) or None for name in FILTERS}
    mine = args.get("mine") == "1"
    overdue = args.get("overdue") == "1"
    query = (args.get("q") or "").strip()[:200]
    page_no = max(1, min(10_000, int(args["page"]) if args.get("page", "").isdigit() else 1))
    if query:
        items = ledger.worklist.search(query, now)
        total = len(items)
        kind = search_kind(query)
        if kind is not None:
            # An e-mail address (or a payment) found a customer's complaints: a staff read
            # of personal data, recorded per complaint as the complaint page's own read is.
            for item in items:
                _record_read(member, item.reference, f"console:search-{kind}")
    else:
        f = WorkFilter(**chosen, overdue=True if overdue else None,
                       owner=member.pseudonym if mine else None)  # fmt: skip
        total, items = ledger.worklist.items(f, now, (page_no - 1) * PAGE_SIZE, PAGE_SIZE)
    names = StaffNames()
    return page(
        "worklist.html", title="Worklist", items=items, total=total, chosen=chosen,
        mine=mine, overdue=overdue, query=query, page_no=page_no,
        pages=max(1, -(-total // PAGE_SIZE)), names=names, alerts=_alerts(member),
        queues=sorted(ledger.worklist.queue_counts(now)),
        options={
            "status": [str(s) for s in Status], "category": [str(c) for c in Category],
            "language": [str(lang) for lang in Language], "channel": [str(c) for c in Channel],
        },
    )  # fmt: skip


# --- a complaint -----------------------------------------------------------------------------


def _record_read(member: StaffMember, reference: str, action: str) -> None:
    role = next((r for r in CASEWORK if member.has(r)), member.roles[0])
    get_ledger().access_log.record(role, member.pseudonym, reference, action, request_id())


def _complaint_page(
    reference: str, form: FormState | None = None, status: int = 200, *,
    done: str | None = None, preview: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    member = _member()
    view = complaint_view(reference, member)
    _record_read(member, reference, "console:complaint")
    return page(
        "complaint.html", status=status, title=reference, view=view, form=form, done=done,
        preview=preview, max_files=MAX_FILES,
        staff=[m for m in get_ledger().staff.members() if any(m.has(r) for r in CASEWORK)],
        choices={
            "escalation_reason": [str(r) for r in EscalationReason],
            "specialism": [str(s) for s in Specialism],
            "evidence_kind": [str(k) for k in EvidenceKind],
            "identity_method": [str(m) for m in IdentityMethod],
            "close_reason": [str(r) for r in CloseReason],
            "reopen_reason": [str(r) for r in ReopenReason],
        },
    )  # fmt: skip


@blp.get("/complaints/<reference>")
@staff_required(*CASEWORK)
def complaint(reference: str) -> Response:
    ref = parse_reference(reference)
    done = request.args.get("done")
    return _complaint_page(ref, done=done if done in (*actions.ACTION_STEPS, "already") else None)


@blp.post("/complaints/<reference>/actions/<action>")
@staff_required(*CASEWORK)
def act(reference: str, action: str) -> Response:
    if action not in actions.ACTION_STEPS:
        return not_found()
    csrf.check_form()
    ref = parse_reference(reference)
    member = _member()
    state = get_ledger().complaints.reads.state(ref)
    role = actions.acting_role(member, state, action)
    if role is None:  # checked again here: a page may be old, a form may be forged
        raise RoleRefused(f"{action.replace('_', ' ')} is not a step your roles take now")
    values = {k: v for k, v in request.form.items() if k not in NOT_ECHOED}
    try:
        if action == "acknowledge" and request.form.get("intent") == "preview":
            letter = actions.preview_acknowledgement(ref, member, role)
            return _complaint_page(ref, FormState("acknowledge", [], values), preview=letter)
        recorded = actions.take(ref, action, member, role, state)
    except FormInvalid as exc:
        return _complaint_page(ref, FormState(action, exc.errors, values), exc.status)
    target = url_for("console.complaint", reference=ref, done=action if recorded else "already")
    return redirect(f"{target}#notice", 303)


@blp.get("/complaints/<reference>/attachments/<sha256>")
@staff_required(*CASEWORK)
def attachment(reference: str, sha256: str) -> Response:
    """A file of this complaint (listed in one of its bodies); the read is recorded."""
    ref = parse_reference(reference)
    ledger = get_ledger()
    listed: dict[str, dict[str, Any]] = {}
    for e in ledger.complaints.reads.events(ref):
        body = json.loads(e.body_jcs) if e.body_jcs is not None else {}
        for item in body.get("attachments") or []:
            if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                listed.setdefault(item["sha256"], item)
    if sha256 not in listed or ledger.attachments is None:
        return not_found()
    try:
        found = ledger.attachments.get(ref, sha256)
    except AttachmentError:
        return not_found()
    _record_read(_member(), ref, f"attachment:{sha256[:32]}")
    resp = send_file(io.BytesIO(found.data), mimetype=found.media_type, as_attachment=True,
                     download_name=listed[sha256].get("name") or sha256)  # fmt: skip
    resp.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return resp
