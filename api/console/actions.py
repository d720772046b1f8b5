"""The staff steps of the complaint page: which a member may take now, in which role, and
the step each form's fields become (recorded through ``api.steps.record_step``, the API's
own path, once per form).

The role a step is taken in is the first of the member's roles the domain allows it for now
(``allowed_events``), decided again on every POST: a form a role may not send records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import request

from api.console.auth import caller_for
from api.console.nav import CASEWORK
from api.context import get_ledger
from api.idempotency import AlreadyDone
from api.portal.forms import FieldError, FormInvalid, clean
from api.portal.submissions import submission
from api.portal.uploads import UploadsRefused, store_uploads
from api.steps import prepare_step, record_step
from ledger.access.staff import StaffMember
from ledger.casework.appends import ChainConflict
from ledger.complaints.errors import ComplaintError
from ledger.complaints.payloads import MAX_TEXT
from ledger.complaints.playbooks import IDENTITY_STEP, next_step
from ledger.complaints.states import ComplaintState, allowed_events
from ledger.complaints.vocab import (
    ASSIGNER_ROLES,
    AssignmentKind,
    CloseReason,
    EscalationLevel,
    EscalationReason,
    EventType,
    EvidenceKind,
    IdentityMethod,
    ReopenReason,
    Specialism,
)

E = EventType
# The order a member's roles are tried in for a step (the most specific first).
ROLE_ORDER = ("agent", "officer", "supervisor", "legal")
# The console's forms, by the step each records.
ACTION_STEPS: dict[str, EventType] = {
    "claim": E.ASSIGNED,
    "assign": E.ASSIGNED,
    "reassign": E.ASSIGNED,
    "acknowledge": E.ACKNOWLEDGED,
    "request_info": E.INFO_REQUESTED,
    "note": E.NOTE_ADDED,
    "evidence": E.EVIDENCE_ADDED,
    "escalate": E.ESCALATED,
    "holding_reply": E.HOLDING_REPLY,
    "playbook": E.PLAYBOOK_STEP,
    "identity": E.IDENTITY_VERIFIED,
    "target": E.TARGET_SET,
    "close": E.CLOSED,
    "reopen": E.REOPENED,
}
ASSIGNMENT_KIND = {
    "claim": AssignmentKind.CLAIM,
    "assign": AssignmentKind.ASSIGN,
    "reassign": AssignmentKind.REASSIGN,
}
UPLOAD_ACTIONS = frozenset({"evidence"})


@dataclass(frozen=True)
class Step:
    type: EventType
    public: dict[str, Any]
    body: dict[str, Any]


def acting_role(member: StaffMember, state: ComplaintState, action: str) -> str | None:
    """The role ``member`` takes ``action`` in now, or None when none of theirs may."""
    event_type = ACTION_STEPS[action]
    kind = ASSIGNMENT_KIND.get(action)
    if kind is not None:
        owned = state.owner is not None
        if (kind == AssignmentKind.REASSIGN) != owned:
            return None
        if kind == AssignmentKind.CLAIM and state.owner == member.pseudonym:
            return None
    if action == "playbook" and _playbook_step(state) is None:
        return None
    for role in ROLE_ORDER:
        if not member.has(role):
            continue
        if kind is not None and role not in {str(r) for r in ASSIGNER_ROLES[kind]}:
            continue
        if event_type in allowed_events(state, role):
            return role
    return None


def available(member: StaffMember, state: ComplaintState) -> dict[str, str]:
    """Every action ``member`` may take now, with the role it is taken in."""
    out = {}
    for action in ACTION_STEPS:
        role = acting_role(member, state, action)
        if role is not None:
            out[action] = role
    return out


def _playbook_step(state: ComplaintState) -> str | None:
    step = next_step(state.category, state.playbook)
    return None if step is None or step == IDENTITY_STEP else str(step)


# --- the forms' fields ---------------------------------------------------------------------


def _text(
    form: Mapping[str, str],
    name: str,
    field_id: str,
    *,
    required: str | None = None,
    limit: int = MAX_TEXT,
) -> str | None:
    value = clean(form.get(name))
    if not value:
        if required:
            raise FormInvalid([FieldError(field_id, message=required)])
        return None
    if len(value) > limit:
        raise FormInvalid([FieldError(field_id, message=f"Write at most {limit} characters.")])
    return value


def _choice(form: Mapping[str, str], name: str, field_id: str, allowed: Any) -> str:
    value = form.get(name, "")
    if value not in {str(v) for v in allowed}:
        raise FormInvalid([FieldError(field_id, message="Choose one of the options.")])
    return value


def _minutes(form: Mapping[str, str], name: str, field_id: str) -> int:
    raw = form.get(name, "").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000_000:
        raise FormInvalid([FieldError(field_id, message="Enter a whole number of minutes.")])
    return int(raw)


def _assignment(action: str, member: StaffMember, form: Mapping[str, str]) -> Step:
    kind = ASSIGNMENT_KIND[action]
    if kind == AssignmentKind.CLAIM:
        owner = member
    else:
        found = get_ledger().staff.by_pseudonym(form.get("owner", ""))
        # Only those the form offers: an active member who does casework (a forged form
        # must not hand a complaint to a disabled account or an administrator).
        if found is None or not found.active or not any(found.has(r) for r in CASEWORK):
            raise FormInvalid([FieldError(f"{action}-owner", message="Choose a staff member.")])
        owner = found
    return Step(
        E.ASSIGNED, {"owner": owner.pseudonym, "how": str(kind)}, {"owner_name": owner.display_name}
    )


def _acknowledge(form: Mapping[str, str]) -> Step:
    paragraph = _text(form, "paragraph", "acknowledge-paragraph", limit=2000)
    return Step(E.ACKNOWLEDGED, {}, {"paragraph": paragraph} if paragraph else {})


def _request_info(form: Mapping[str, str]) -> Step:
    asked = _text(
        form, "request", "request_info-request", required="Write what the customer should send."
    )
    return Step(E.INFO_REQUESTED, {}, {"request": asked})


def _note(form: Mapping[str, str]) -> Step:
    return Step(
        E.NOTE_ADDED, {}, {"text": _text(form, "text", "note-text", required="Write the note.")}
    )


def _evidence(reference: str, form: Mapping[str, str]) -> Step:
    description = _text(
        form, "description", "evidence-description", required="Describe the evidence."
    )
    kind = _choice(form, "kind", "evidence-kind", EvidenceKind)
    body: dict[str, Any] = {"description": description}
    try:
        attachments = store_uploads(reference, request.files.getlist("files"))
    except UploadsRefused as refused:
        names = ", ".join(str(r.values.get("name", "")) for r in refused.refusals)
        raise FormInvalid(
            [
                FieldError(
                    "evidence-files", message=f"These files were refused: {names or 'too many'}."
                )
            ]
        ) from None
    if attachments:
        body["attachments"] = attachments
    return Step(E.EVIDENCE_ADDED, {"kind": kind}, body)


def _escalate(form: Mapping[str, str]) -> Step:
    level = _choice(
        form, "level", "escalate-level", [EscalationLevel.AGENT, EscalationLevel.SPECIALIST]
    )
    reason = _choice(form, "reason", "escalate-reason", EscalationReason)
    public = {"level": level, "reason": reason}
    if level == EscalationLevel.SPECIALIST:
        public["specialism"] = _choice(form, "specialism", "escalate-specialism", Specialism)
    return Step(E.ESCALATED, public, {})


def _holding_reply(form: Mapping[str, str]) -> Step:
    reason = _text(
        form, "reason", "holding_reply-reason", required="Write why the answer takes longer."
    )
    return Step(E.HOLDING_REPLY, {}, {"reason": reason})


def _playbook(state: ComplaintState) -> Step:
    step = _playbook_step(state)
    return Step(E.PLAYBOOK_STEP, {"step": step or ""}, {})


def _identity(form: Mapping[str, str]) -> Step:
    method = _choice(form, "method", "identity-method", IdentityMethod)
    check = _text(
        form,
        "check_reference",
        "identity-check_reference",
        required="Enter the reference of the check.",
        limit=200,
    )
    return Step(E.IDENTITY_VERIFIED, {"method": method}, {"check_reference": check})


def _target(form: Mapping[str, str]) -> Step:
    target = _minutes(form, "target_minutes", "target-target_minutes")
    limit = _minutes(form, "limit_minutes", "target-limit_minutes")
    if target > limit:
        raise FormInvalid(
            [FieldError("target-target_minutes", message="The target must not be after the limit.")]
        )
    return Step(E.TARGET_SET, {"target_minutes": target, "limit_minutes": limit}, {})


def _close(form: Mapping[str, str]) -> Step:
    return Step(E.CLOSED, {"reason": _choice(form, "reason", "close-reason", CloseReason)}, {})


def _reopen(form: Mapping[str, str]) -> Step:
    return Step(E.REOPENED, {"reason": _choice(form, "reason", "reopen-reason", ReopenReason)}, {})


def build(action: str, reference: str, member: StaffMember, state: ComplaintState) -> Step:
    """The step of ``action``'s form as sent; FormInvalid when a field is wrong."""
    form = request.form
    builders: dict[str, Callable[[], Step]] = {
        "claim": lambda: _assignment("claim", member, form),
        "assign": lambda: _assignment("assign", member, form),
        "reassign": lambda: _assignment("reassign", member, form),
        "acknowledge": lambda: _acknowledge(form),
        "request_info": lambda: _request_info(form),
        "note": lambda: _note(form),
        "evidence": lambda: _evidence(reference, form),
        "escalate": lambda: _escalate(form),
        "holding_reply": lambda: _holding_reply(form),
        "playbook": lambda: _playbook(state),
        "identity": lambda: _identity(form),
        "target": lambda: _target(form),
        "close": lambda: _close(form),
        "reopen": lambda: _reopen(form),
    }
    return builders[action]()


def _refusal(action: str, exc: ComplaintError) -> FieldError:
    return FieldError(f"action-{action}", message=f"{exc.message} ({exc.code})")


def preview_acknowledgement(reference: str, member: StaffMember, role: str) -> dict[str, Any]:
    """The acknowledgement letter the form would send, rendered by the same code as the step
    (in the customer's language); nothing is recorded."""
    step = _acknowledge(request.form)
    try:
        prepared = prepare_step(
            caller_for(member, role), reference, step.type, step.public, step.body
        )
    except ComplaintError as exc:
        raise FormInvalid([_refusal("acknowledge", exc)], 409) from None
    return dict(prepared.body.get("message") or {})


def take(
    reference: str, action: str, member: StaffMember, role: str, state: ComplaintState
) -> bool:
    """Record ``action``'s step as ``member`` in ``role``; False when this form was already
    recorded (a double submit). FormInvalid when the form or the domain refuses it."""
    sub = submission(f"console:{reference}")
    if sub.outcome() is not None:
        return False
    step = build(action, reference, member, state)
    try:
        record_step(
            caller_for(member, role),
            reference,
            step.type,
            step.public,
            step.body,
            hooks=sub.hooks({"reference": reference, "action": action}),
        )
    except AlreadyDone:
        return False
    except ChainConflict:
        raise FormInvalid(
            [
                FieldError(
                    f"action-{action}",
                    message=(
                        "The complaint changed while you were working on it. Check the "
                        "timeline and send the form again."
                    ),
                )
            ],
            409,
        ) from None
    except ComplaintError as exc:
        raise FormInvalid([_refusal(action, exc)], 409) from None
    return True
