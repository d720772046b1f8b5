"""The customer letter a step carries in its body, rendered from the step's template.

A letter quotes the step's own facts and a few of the complaint's: the customer's name (the
received step's ``contact.name``; a formal generic salutation without one), the resolution
time frame (the deployment's service rules, or the handler's ``target_set`` for a category
without fixed times), and what the deployment configures (``LetterSettings``: the customer
portal's address, the block explorers). Everything here is a pure function of its arguments:
the write path (``ComplaintWrites.with_letter``) reads the complaint and passes them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ledger.complaints.deadlines import get_jurisdiction
from ledger.complaints.events import Envelope
from ledger.complaints.service_rules import DEFAULT_RULES, ServiceRules
from ledger.complaints.states import ComplaintState
from ledger.complaints.texts import (
    TO_BE_SET,
    MessageFacts,
    MessageKind,
    TimeFrame,
    render_message,
)
from ledger.complaints.vocab import EventType, Role

RESPOND_WITHIN = timedelta(days=14)  # the reply-by date of a request that states none
# Where the customer portal is when the deployment configures no absolute address.
DEFAULT_PORTAL_URL = "/portal"
# Steps whose body carries the customer letter rendered from a template.
LETTERS = {
    "acknowledged": "acknowledgement",
    "info_requested": "info_request",
    "holding_reply": "holding_reply",
    "decision": "decision",
    "compensation_offered": "compensation_offer",
    "compensation_paid": "payment_confirmation",
    "closed": "closure",  # with the invitation to rate us (CSAT, NPS)
    "playbook_step": "playbook_step",  # a progress update
}
# Steps that tell the customer nothing when the customer recorded them (their confirmation).
NOT_TO_THEIR_AUTHOR = frozenset({EventType.PLAYBOOK_STEP.value})


@dataclass(frozen=True)
class LetterSettings:
    """What letters quote from the deployment (``ledger.runtime`` builds it from Settings)."""

    portal_url: str = DEFAULT_PORTAL_URL  # the customer portal: rate us, answer, follow up
    # chain id -> a transaction's page on its block explorer, ``{tx}`` standing for the hash
    # (LEDGER_EXPLORER_TX_URLS); a chain without one: the letter gives the hash alone.
    explorer_tx_urls: Mapping[int, str] = field(default_factory=dict)

    def explorer_url(self, chain_id: Any, tx_hash: str | None) -> str | None:
        """The transaction's page on its chain's block explorer, when one is configured."""
        if not isinstance(tx_hash, str) or type(chain_id) is not int:  # not a bool either
            return None
        template = self.explorer_tx_urls.get(chain_id)
        return template.replace("{tx}", tx_hash) if template is not None else None


DEFAULT_SETTINGS = LetterSettings()


def needs_letter(event_type: str, body: Mapping[str, Any], role: str | None = None) -> bool:
    """Whether the step has a template and its body does not already carry a letter.

    ``role`` is the recording actor's: a customer's own playbook step (their confirmation of
    a fix) gets no progress letter.
    """
    if str(event_type) in NOT_TO_THEIR_AUTHOR and role == Role.CUSTOMER:
        return False
    return str(event_type) in LETTERS and "message" not in body


def customer_name(contact: Any) -> str | None:
    """The name to address the customer by: the received step's ``contact.name`` when it
    has one (None: erased, never given, or blank; the letter then uses its formal generic
    salutation)."""
    if not isinstance(contact, Mapping):
        return None
    name = contact.get("name")
    return (name.strip() or None) if isinstance(name, str) else None


def time_frame(
    state: ComplaintState, history: Sequence[Envelope], rules: ServiceRules = DEFAULT_RULES
) -> TimeFrame:
    """The complaint's resolution time frame: its category's target and limit in the service
    rules; for a category without fixed times, those its handler set (the last ``target_set``
    of this cycle), else ``TO_BE_SET``."""
    times = rules.times(state.category)
    if times.target is not None and times.limit is not None:
        return TimeFrame(times.target, times.limit)
    if not state.target_set:
        return TO_BE_SET
    chosen = next(e for e in reversed(history) if e.type == EventType.TARGET_SET)
    return TimeFrame(
        timedelta(minutes=chosen.public["target_minutes"]),
        timedelta(minutes=chosen.public["limit_minutes"]),
    )


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
    contact: Mapping[str, Any] | None = None,
    frame: TimeFrame | None = None,
    settings: LetterSettings = DEFAULT_SETTINGS,
) -> dict[str, str]:
    """The letter of a ``needs_letter`` step, in the complaint's language.

    ``now`` dates the default reply-by date; ``kind`` replaces the step's own template (an
    incident's holding reply); ``contact`` is the received step's (the customer's name);
    ``frame`` the resolution time frame (``time_frame``), which the acknowledgement quotes.
    A fact the template uses that is missing raises TemplateError (MISSING_FACT).
    """
    paid_on_chain = body.get("tx_hash")
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
        customer_name=customer_name(contact),
        responsible=body.get("responsible"),
        # The handler's own words: the acknowledgement's alone (payloads.BODY_SPECS).
        paragraph=body.get("paragraph") if event_type == "acknowledged" else None,
        time_frame=frame,
        payment_reference=body.get("payment_reference"),
        tx_hash=paid_on_chain,
        explorer_url=settings.explorer_url(body.get("chain_id"), paid_on_chain),
        portal_url=settings.portal_url,
    )
    msg = render_message(kind or LETTERS[str(event_type)], state.language, facts)
    return {"language": str(msg.language), "subject": msg.subject, "text": msg.body}


def render_reminder(
    reference: str,
    state: ComplaintState,
    received_at: datetime,
    request: str,
    respond_by: date | datetime | str,
    contact: Mapping[str, Any] | None,
    *,
    settings: LetterSettings = DEFAULT_SETTINGS,
) -> dict[str, str]:
    """The reminder that an information request is still unanswered, before it lapses: the
    ``info_reminder`` letter as ``{language, subject, text}`` (the shape of a step's
    ``body.message``), in the complaint's language. A pure render, for the dispatcher.

    ``reference``, ``state``: the complaint and its current state (language, category,
    jurisdiction); ``received_at``: its received step's time; ``request``: the
    ``info_requested`` body's ``request`` (what we asked for); ``respond_by``: the reply-by
    instant or date that request's letter gave (its ``respond_by``, else the request's time
    plus ``RESPOND_WITHIN``), shown as a date in the jurisdiction's time zone; ``contact``:
    the received body's ``contact`` (the customer's name; None: the generic salutation);
    ``settings``: the portal's address. TemplateError (MISSING_FACT) when ``request`` or
    ``respond_by`` is empty.
    """
    facts = MessageFacts(
        reference=reference,
        category=str(state.category),
        jurisdiction=state.jurisdiction,
        received_at=received_at,
        requested_info=request,
        respond_by=respond_by,
        customer_name=customer_name(contact),
        portal_url=settings.portal_url,
    )
    msg = render_message(MessageKind.INFO_REMINDER, state.language, facts)
    return {"language": str(msg.language), "subject": msg.subject, "text": msg.body}
