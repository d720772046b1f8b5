"""What a complaint's console page shows: the status, owner, clocks, playbook and timeline
worded in English by the portal's own code, every body staff may read (internal notes too),
who recorded each step, and the steps the member may take now."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import url_for
from werkzeug.routing import BuildError

from api.console import actions
from api.console.staff_names import StaffNames
from api.context import get_ledger
from api.portal.complaint_page import Step, clock_rows, timeline_steps
from ledger.access.staff import StaffMember
from ledger.casework.reads import StoredEvent
from ledger.complaints.playbooks import next_step
from ledger.complaints.states import ComplaintState
from ledger.complaints.texts import locale, playbook_progress, status_text
from ledger.complaints.vocab import EventType

E = EventType
STAFF_LANGUAGE = "en"  # staff pages are in English; letters stay in the customer's language
LANGUAGE_NAMES = {
    "en": "English", "ca": "Catalan", "pt": "Portuguese", "zh": "Chinese", "lt": "Lithuanian",
    "ru": "Russian",
}  # fmt: skip
# The decision drafts and officers' signing pages (api/console/signing.py), linked from the
# complaint page: (label, endpoint, test id, the roles the link is shown to).
SIGNING_LINKS = (
    ("Draft decision", "console.sign_draft", "link-draft-decision", ("agent", "officer")),
    ("Sign", "console.sign_review", "link-sign", ("officer",)),
    ("Co-sign", "console.sign_cosign", "link-cosign", ("officer",)),
    ("Offer compensation", "console.sign_offer", "link-offer", ("agent", "officer")),
    ("Record payment", "console.sign_payment", "link-payment", ("agent", "officer")),
    ("Drafts", "console.sign_drafts", "link-drafts", ("agent", "officer", "supervisor")),
)
# Body fields staff read on the timeline beyond what the customer's page words.
STAFF_TEXT = {
    E.NOTE_ADDED: "text",
    E.INFO_REQUESTED: "request",
    E.HOLDING_REPLY: "reason",
    E.DECISION: "finding",
    E.ACKNOWLEDGED: "paragraph",
}


@dataclass
class StaffStep:
    """One timeline step as staff see it: the portal's wording, who recorded it, and the
    staff-only text and facts."""

    step: Step
    actor_role: str
    actor: str
    staff_text: str | None
    facts: list[tuple[str, str]]


@dataclass
class ComplaintView:
    reference: str
    state: ComplaintState
    status_text: str
    category: str
    channel: str
    language: str
    language_name: str
    jurisdiction: str
    level: str
    specialism: str | None
    owner: str | None
    owner_name: str | None
    clocks: list[dict[str, Any]]
    playbook: dict[str, Any]
    next_playbook_step: str | None
    steps: list[StaffStep]
    actions: dict[str, str]
    signing_links: list[tuple[str, str, str]]


def _body(e: StoredEvent) -> dict[str, Any]:
    return json.loads(e.body_jcs) if e.body_jcs is not None else {}


def _facts(e: StoredEvent, body: dict[str, Any], names: StaffNames) -> list[tuple[str, str]]:
    public = e.envelope.public
    t = e.envelope.type
    out: list[tuple[str, str]] = []
    if t == E.ASSIGNED:
        out.append(("Owner", body.get("owner_name") or names(public.get("owner")) or ""))
        out.append(("How", str(public.get("how", ""))))
    elif t == E.ESCALATED:
        out += [("Level", str(public.get("level"))), ("Reason", str(public.get("reason", "")))]
        if public.get("specialism"):
            out.append(("Specialism", str(public["specialism"])))
    elif (t == E.CLOSED and public.get("reason")) or (t == E.REOPENED and public.get("reason")):
        out.append(("Reason", str(public["reason"])))
    elif t == E.TARGET_SET:
        out.append(("Target", f"{public.get('target_minutes')} min"))
        out.append(("Limit", f"{public.get('limit_minutes')} min"))
    elif t == E.IDENTITY_VERIFIED and body.get("check_reference"):
        out.append(("Check reference", str(body["check_reference"])))
    elif t == E.EVIDENCE_ADDED and public.get("kind"):
        out.append(("Kind", str(public["kind"])))
    return [(k, v) for k, v in out if v]


def _signing_links(reference: str, member: StaffMember) -> list[tuple[str, str, str]]:
    links = []
    for label, endpoint, testid, roles in SIGNING_LINKS:
        if not any(member.has(r) for r in roles):
            continue
        try:
            links.append((label, url_for(endpoint, reference=reference), testid))
        except BuildError:  # that page is not part of this build
            continue
    return links


def complaint_view(
    reference: str, member: StaffMember, now: datetime | None = None
) -> ComplaintView:
    """The console page of ``reference`` for ``member``."""
    ledger = get_ledger()
    reads = ledger.complaints.reads
    events = reads.events(reference)
    state = reads.state_of(reference, events)
    lang = STAFF_LANGUAGE
    names = StaffNames()
    worded = timeline_steps(events, state, frozenset(), lang, set())
    steps = []
    for e, step in zip(events, worded, strict=True):
        body = _body(e)
        field = STAFF_TEXT.get(e.envelope.type)
        actor = e.envelope.actor
        steps.append(StaffStep(
            step=step, actor_role=str(actor.role),
            actor=names(actor.id) if actor.id.startswith("staff-") else actor.id,
            staff_text=body.get(field) if field and isinstance(body.get(field), str) else None,
            facts=_facts(e, body, names),
        ))  # fmt: skip
    upcoming = next_step(state.category, state.playbook)
    language = str(state.language)
    return ComplaintView(
        reference=reference,
        state=state,
        status_text=status_text(state.status, lang, info_pending=state.info_pending),
        category=locale(lang)["categories"][str(state.category)]["name"],
        channel=str(state.channel),
        language=language,
        language_name=LANGUAGE_NAMES.get(language, language),
        jurisdiction=state.jurisdiction,
        level=str(state.level),
        specialism=None if state.specialism is None else str(state.specialism),
        owner=state.owner,
        owner_name=names(state.owner),
        clocks=clock_rows(events, lang, now or datetime.now(UTC)),
        playbook=dict(playbook_progress(state.category, [str(s) for s in state.playbook], lang)),
        next_playbook_step=None if upcoming is None
        else locale(lang)["playbook_steps"][str(upcoming)]["name"],
        steps=steps,
        actions=actions.available(member, state),
        signing_links=_signing_links(reference, member),
    )  # fmt: skip
