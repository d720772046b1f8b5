"""The customer letter a step carries in its body, rendered from the step's template."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ledger.complaints.deadlines import get_jurisdiction
from ledger.complaints.states import ComplaintState
from ledger.complaints.texts import MessageFacts, MessageKind, render_message
from ledger.complaints.vocab import EventType, Role

RESPOND_WITHIN = timedelta(days=14)
# Steps whose body carries the customer letter rendered from a template.
LETTERS = {
    "acknowledged": "acknowledgement",
    "info_requested": "info_request",
    "holding_reply": "holding_reply",
    "decision": "decision",
    "compensation_offered": "compensation_offer",
    "playbook_step": "playbook_step",  # a progress update
}
# Steps that tell the customer nothing when the customer recorded them (their confirmation).
NOT_TO_THEIR_AUTHOR = frozenset({EventType.PLAYBOOK_STEP.value})


def needs_letter(event_type: str, body: Mapping[str, Any], role: str | None = None) -> bool:
    """Whether the step has a template and its body does not already carry a letter.

    ``role`` is the recording actor's: a customer's own playbook step (their confirmation of
    a fix) gets no progress letter.
    """
    if str(event_type) in NOT_TO_THEIR_AUTHOR and role == Role.CUSTOMER:
        return False
    return str(event_type) in LETTERS and "message" not in body


def render_letter(
    reference: str,
    state: ComplaintState,
    received_at: datetime,
    event_type: str,
    public: Mapping[str, Any],
    body: Mapping[str, Any],
    now: datetime,
    *,
    kind: MessageKind | str | None = None,
) -> dict[str, str]:
    """The letter of a ``needs_letter`` step, in the complaint's language (``now`` dates the
    default reply-by date); ``kind`` replaces the step's own template (an incident's holding
    reply)."""
    facts = MessageFacts(
        reference=reference,
        category=str(state.category),
        jurisdiction=state.jurisdiction,
        received_at=received_at,
        requested_info=body.get("request"),
        delay_reason=body.get("reason"),
        outcome=body.get("outcome") or public.get("outcome"),
        finding=body.get("finding"),
        rules=tuple(body.get("rules") or ()),
        remedy=body.get("remedy"),
        amount=body.get("amount"),
        currency=body.get("currency"),
        asset=body.get("asset"),
        method=body.get("method"),
        respond_by=body.get("respond_by") or public.get("respond_by") or now + RESPOND_WITHIN,
        final_response_date=get_jurisdiction(state.jurisdiction).final_response_date(
            received_at, extended=event_type == "holding_reply"
        ),
        step=public.get("step"),
        incident=body.get("incident"),
        kind=body.get("kind") or public.get("kind"),
    )
    msg = render_message(kind or LETTERS[str(event_type)], state.language, facts)
    return {"language": str(msg.language), "subject": msg.subject, "text": msg.body}
