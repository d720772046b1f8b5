"""The customer's steps from the portal's forms: each form's fields become the step the API
would record for the same request, through the same write service, once per form.

The form is checked for what the customer can fix (an empty answer, an unconfirmed address,
a file of the wrong type); the domain then decides whether the step may be taken now, and a
refusal is shown in its own words. Nothing is recorded for a refused form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import request

from api.auth import Caller
from api.context import get_ledger
from api.idempotency import AlreadyDone
from api.portal.complaint_page import ACTION_STEPS, NEXT_LEVEL
from api.portal.forms import FieldError, FormInvalid, clean
from api.portal.submissions import submission
from api.portal.uploads import UploadsRefused, store_uploads
from api.steps import record_step
from ledger.casework.appends import ChainConflict
from ledger.complaints.errors import ComplaintError
from ledger.complaints.payloads import MAX_TEXT
from ledger.complaints.payouts import EVM_ADDRESS
from ledger.complaints.vocab import (
    Confirmation,
    DeclineReason,
    EscalationLevel,
    EscalationReason,
    EventType,
    ReferralTarget,
    Specialism,
)

CUSTOMER = Caller("customer", "customer")  # as the API records a secret's steps
# Where a domain refusal naming a field is shown, by form and field.
DOMAIN_FIELDS = {
    ("accept", "body.recipient"): "recipient",
    ("answer", "body.text"): "answer-text",
    ("answer", "body.attachments"): "answer-files",
    ("evidence", "body.description"): "evidence-description",
    ("evidence", "body.attachments"): "evidence-files",
}


@dataclass(frozen=True)
class Step:
    type: EventType
    public: dict[str, Any]
    body: dict[str, Any]


def _text(
    form: Mapping[str, str], name: str, field_id: str, *, required: str | None = None
) -> str | None:
    """A text field's value; ``required``: the error's key when it is empty (None: optional)."""
    value = clean(form.get(name))
    if not value:
        if required:
            raise FormInvalid([FieldError(field_id, required)])
        return None
    if len(value) > MAX_TEXT:
        raise FormInvalid([FieldError(field_id, "error.too_long", {"max": MAX_TEXT})])
    return value


def _int(form: Mapping[str, str], name: str, low: int, high: int, field_id: str) -> int:
    raw = form.get(name, "")
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise FormInvalid([FieldError(field_id, "error.choose")])
    return int(raw)


def _files(reference: str, field_id: str) -> list[dict[str, Any]]:
    try:
        return store_uploads(reference, request.files.getlist("files"))
    except UploadsRefused as refused:
        raise FormInvalid(
            [FieldError(field_id, r.key, r.values) for r in refused.refusals]
        ) from None


def _answer(reference: str, form: Mapping[str, str]) -> Step:
    answer = _text(form, "text", "answer-text")
    if answer is None and not any(f.filename for f in request.files.getlist("files")):
        raise FormInvalid([FieldError("answer-text", "error.answer_empty")])
    body: dict[str, Any] = {}
    if answer is not None:
        body["text"] = answer
    attachments = _files(reference, "answer-files")
    if attachments:
        body["attachments"] = attachments
    return Step(EventType.INFO_RECEIVED, {}, body)


def _evidence(reference: str, form: Mapping[str, str]) -> Step:
    description = _text(
        form, "description", "evidence-description", required="error.evidence_required"
    )
    body: dict[str, Any] = {"description": description}
    attachments = _files(reference, "evidence-files")
    if attachments:
        body["attachments"] = attachments
    return Step(EventType.EVIDENCE_ADDED, {}, body)


def _accept(reference: str, form: Mapping[str, str]) -> Step:
    if form.get("vault") != "1":
        return Step(EventType.COMPENSATION_ACCEPTED, {}, {})
    address = clean(form.get("recipient"))
    again = clean(form.get("recipient_confirm"))
    if not address:
        raise FormInvalid([FieldError("recipient", "error.address_required")])
    if not EVM_ADDRESS.fullmatch(address):
        raise FormInvalid([FieldError("recipient", "error.address")])
    if again.lower() != address.lower():
        raise FormInvalid([FieldError("recipient-confirm", "error.address_mismatch")])
    return Step(EventType.COMPENSATION_ACCEPTED, {}, {"recipient": address})


def _decline(reference: str, form: Mapping[str, str]) -> Step:
    reason = form.get("reason", "")
    if reason and reason not in set(DeclineReason):
        raise FormInvalid([FieldError("decline-reason", "error.choose")])
    return Step(EventType.COMPENSATION_DECLINED, {"reason": reason} if reason else {}, {})


def _rate(reference: str, form: Mapping[str, str]) -> Step:
    rates = form.get("rates", "")
    if not rates.isdigit():
        raise FormInvalid([FieldError("timeline", "error.choose")])
    csat = _int(form, "csat", 1, 5, f"csat-{rates}-1")
    return Step(EventType.RATED, {"csat": csat, "rates": int(rates)}, {})


def _nps(reference: str, form: Mapping[str, str]) -> Step:
    return Step(EventType.NPS_GIVEN, {"nps": _int(form, "nps", 0, 10, "nps-0")}, {})


def _escalate(reference: str, form: Mapping[str, str]) -> Step:
    state = get_ledger().complaints.reads.state(reference)
    level = NEXT_LEVEL.get(state.level)
    if level is None:  # already with a specialist: the domain words the refusal
        level = state.level
    public = {"level": str(level), "reason": str(EscalationReason.CUSTOMER_REQUEST)}
    if level == EscalationLevel.SPECIALIST:
        specialism = form.get("specialism", "")
        if specialism not in set(Specialism):
            raise FormInvalid([FieldError(f"specialism-{next(iter(Specialism))}", "error.choose")])
        public["specialism"] = specialism
    return Step(EventType.ESCALATED, public, {})


def _confirm(reference: str, form: Mapping[str, str]) -> Step:
    public = {"step": form.get("step", ""), "confirmation": str(Confirmation.CUSTOMER)}
    return Step(EventType.PLAYBOOK_STEP, public, {})


def _withdraw(reference: str, form: Mapping[str, str]) -> Step:
    if form.get("confirm") != "yes":
        raise FormInvalid([FieldError("withdraw-confirm", "error.confirm")])
    return Step(EventType.WITHDRAWN, {}, {})


def _refer(reference: str, form: Mapping[str, str]) -> Step:
    target = form.get("to", "")
    errors = []
    if target not in set(ReferralTarget):
        errors.append(FieldError("refer-ombudsman", "error.choose"))
    if form.get("confirm") != "yes":
        errors.append(FieldError("refer-confirm", "error.confirm"))
    if errors:
        raise FormInvalid(errors)
    return Step(EventType.REFERRED, {"to": target}, {})


BUILDERS = {
    "answer": _answer,
    "evidence": _evidence,
    "accept": _accept,
    "decline": _decline,
    "rate": _rate,
    "nps": _nps,
    "escalate": _escalate,
    "confirm": _confirm,
    "withdraw": _withdraw,
    "refer": _refer,
}
assert set(BUILDERS) == set(ACTION_STEPS)


def _refusal(action: str, exc: ComplaintError) -> FieldError:
    field_id = DOMAIN_FIELDS.get((action, exc.field or ""), f"action-{action}")
    return FieldError(field_id, message=exc.message, values={"code": exc.code})


def take(reference: str, action: str) -> bool:
    """Record the step of ``action``'s form for ``reference``; False when this form was
    already recorded (a double submit). Raises FormInvalid when the form or the domain
    refuses it: nothing is recorded then."""
    sub = submission(reference)
    if sub.outcome() is not None:
        return False
    step = BUILDERS[action](reference, request.form)
    try:
        record_step(
            CUSTOMER, reference, step.type, step.public, step.body,
            hooks=sub.hooks({"reference": reference, "action": action}),
        )  # fmt: skip
    except AlreadyDone:
        return False
    except ChainConflict:
        raise FormInvalid([FieldError(f"action-{action}", "error.changed")], 409) from None
    except ComplaintError as exc:
        raise FormInvalid([_refusal(action, exc)], 409) from None
    return True
