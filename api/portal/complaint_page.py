"""What the complaint page shows: the status in words, the clocks, the playbook, the timeline
with its letters and messages, and the steps the customer may take now.

Everything is read through the complaint read services and worded by the domain
(``due_report``, ``status_text``, ``clock_name``, ``allowed_events``, ...), as
``GET /v1/complaints/<ref>`` and its timeline do for the same customer: the portal decides
nothing the domain does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from api.context import get_ledger
from api.portal.i18n import text
from ledger.casework.reads import StoredEvent, withheld_from_customer
from ledger.complaints.deadlines import due_report
from ledger.complaints.payloads import AMOUNT
from ledger.complaints.playbooks import next_step
from ledger.complaints.states import ComplaintState, allowed_events, rateable_steps
from ledger.complaints.texts import (
    clock_basis,
    clock_name,
    format_amount,
    format_date,
    locale,
    playbook_progress,
    status_text,
)
from ledger.complaints.timestamps import parse_timestamp
from ledger.complaints.vocab import Category, EscalationLevel, EventType, Role, Specialism

E = EventType
# The level a customer's request for escalation asks for, from the current one.
NEXT_LEVEL = {EscalationLevel.BOT: EscalationLevel.AGENT,
              EscalationLevel.AGENT: EscalationLevel.SPECIALIST}  # fmt: skip
# The specialism a customer's escalation to a specialist suggests, by category (they choose).
SUGGESTED_SPECIALISM = {
    Category.LOST_RECOVERY_PHRASE: Specialism.SECURITY,
    Category.HACKED_ACCOUNT: Specialism.SECURITY,
    Category.SECURITY_QUESTION: Specialism.SECURITY,
    Category.REFUND_OR_CLAIM: Specialism.LEGAL,
}
# The portal's forms, by the step each records.
ACTION_STEPS = {
    "answer": E.INFO_RECEIVED,
    "evidence": E.EVIDENCE_ADDED,
    "accept": E.COMPENSATION_ACCEPTED,
    "decline": E.COMPENSATION_DECLINED,
    "rate": E.RATED,
    "nps": E.NPS_GIVEN,
    "escalate": E.ESCALATED,
    "confirm": E.PLAYBOOK_STEP,
    "withdraw": E.WITHDRAWN,
    "refer": E.REFERRED,
}


def when(value: datetime | str | None, lang: str) -> str | None:
    """A moment as the customer reads it: the date in words and the time, in UTC."""
    if value is None:
        return None
    moment = parse_timestamp(value) if isinstance(value, str) else value
    moment = moment.astimezone(UTC)
    return text(lang, "time.at", date=format_date(moment.date(), lang),
                time=moment.strftime("%H:%M"))  # fmt: skip


@dataclass
class Step:
    """One step of the timeline, worded."""

    seq: int
    type: str
    label: str
    at: str
    at_iso: str
    by_customer: bool
    letter: dict[str, Any] | None = None
    details: list[tuple[str, str]] = field(default_factory=list)
    free_text: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    payment: dict[str, Any] | None = None
    withheld: bool = False
    erased: bool = False
    internal: bool = False
    rateable: bool = False
    rating: int | None = None


@dataclass
class ComplaintPage:
    reference: str
    state: ComplaintState
    status_text: str
    category: str
    jurisdiction: str
    level: str
    responsible: str | None  # the owner's name, else the acknowledgement's, when disclosed
    clocks: list[dict[str, Any]]
    playbook: dict[str, Any]
    steps: list[Step]
    actions: frozenset[str]
    pending_request: dict[str, Any] | None
    offer: dict[str, Any] | None
    next_level: str | None
    specialism: str  # the one suggested, when the next level is a specialist
    confirm_step: dict[str, str] | None


def _body(e: StoredEvent, withheld: frozenset[int]) -> dict[str, Any] | None:
    if e.body_jcs is None or e.seq in withheld or e.envelope.type == E.NOTE_ADDED:
        return None
    return json.loads(e.body_jcs)


def _amount(fields: dict[str, Any], lang: str) -> str | None:
    amount, unit = fields.get("amount"), fields.get("asset") or fields.get("currency")
    if not (isinstance(amount, str) and AMOUNT.fullmatch(amount) and isinstance(unit, str)):
        return None
    return format_amount(amount, unit, lang)


def _vocab(lang: str, table: str, code: Any) -> str:
    """A domain code worded by the domain's locale (the code itself if it has no words)."""
    return str(locale(lang)[table].get(str(code), code))  # type: ignore[literal-required]


def _explorer(body: dict[str, Any]) -> str | None:
    """The block explorer's page of a payment's transaction, when its chain has one
    configured (LEDGER_EXPLORER_TX_URLS, as ``GET /v1/chains`` publishes it)."""
    tx, chain = body.get("tx_hash"), body.get("chain_id")
    template = get_ledger().settings.explorer_tx_urls.get(chain) if isinstance(chain, int) else None
    if not isinstance(tx, str) or template is None:
        return None
    return template.replace("{tx}", tx)


def _details(e: StoredEvent, body: dict[str, Any] | None, lang: str) -> list[tuple[str, str]]:
    """The step's facts, worded (its letter and free text are shown apart)."""
    public, b = e.envelope.public, body or {}
    t = e.envelope.type
    out: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if value not in (None, ""):
            out.append((text(lang, key), str(value)))

    if t == E.RECEIVED:
        add("detail.category", locale(lang)["categories"][public["category"]]["name"])
        add("detail.transaction", b.get("transaction"))
    elif t == E.ACKNOWLEDGED:
        add("detail.responsible", b.get("responsible"))
    elif t == E.ASSIGNED:
        add("detail.responsible", b.get("owner_name"))
    elif t == E.ESCALATED:
        add("detail.level", text(lang, f"level.{public['level']}"))
    elif t == E.DECISION:
        add("detail.outcome", _vocab(lang, "outcomes", public.get("outcome")))
    elif t in (E.COMPENSATION_OFFERED, E.COMPENSATION_PAID):
        add("detail.amount", _amount(b, lang) or _amount(public, lang))
        add("detail.kind", _vocab(lang, "compensation_kinds", b.get("kind") or "money"))
        add("detail.method", _vocab(lang, "methods", b.get("method") or public.get("method")))
        if t == E.COMPENSATION_OFFERED and b.get("respond_by"):
            add("detail.respond_by", when(b["respond_by"], lang))
        add("detail.payment_reference", b.get("payment_reference"))
    elif t == E.COMPENSATION_ACCEPTED:
        add("detail.recipient", b.get("recipient"))
    elif t == E.COMPENSATION_DECLINED and public.get("reason"):
        add("detail.reason", text(lang, f"decline.{public['reason']}"))
    elif t == E.REFERRED:
        add("detail.referred_to", text(lang, f"refer.{public['to']}"))
    elif t == E.RATED:
        add("detail.csat", text(lang, "detail.csat_value", csat=public["csat"]))
    elif t == E.NPS_GIVEN:
        add("detail.nps", text(lang, "detail.nps_value", nps=public["nps"]))
    elif t == E.PLAYBOOK_STEP:
        add("detail.step", locale(lang)["playbook_steps"][public["step"]]["name"])
    elif t == E.IDENTITY_VERIFIED:
        add("detail.identity", _vocab(lang, "identity_methods", public["method"]))
    elif t == E.MESSAGE_SENT:
        add("detail.channel", text(lang, f"channel.{public['channel']}"))
        add("detail.delivery", text(lang, f"delivery.{public['outcome']}"))
        add("detail.subject", b.get("subject"))
    return out


def _free_text(e: StoredEvent, body: dict[str, Any] | None) -> str | None:
    if body is None:
        return None
    if e.envelope.type in (E.RECEIVED, E.EVIDENCE_ADDED):
        return body.get("description")
    if e.envelope.type == E.INFO_RECEIVED:
        return body.get("text")
    return None


def _sent_lines(events: list[StoredEvent], lang: str) -> dict[int, list[str]]:
    """For each step, how its letter reached the customer (the message_sent steps naming it)."""
    out: dict[int, list[str]] = {}
    for e in events:
        # Webhooks go to the firm's own systems: only letters to the customer are shown here.
        if e.envelope.type != E.MESSAGE_SENT or e.envelope.public.get("channel") != "email":
            continue
        p = e.envelope.public
        key = "sent.delivered" if p.get("outcome") == "delivered" else "sent.failed"
        line = text(lang, key, channel=text(lang, f"channel.{p.get('channel')}"),
                    when=when(e.envelope.at, lang))  # fmt: skip
        out.setdefault(int(p.get("for_seq", -1)), []).append(line)
    return out


def timeline_steps(
    events: list[StoredEvent], state: ComplaintState, withheld: frozenset[int], lang: str,
    rateable: set[int],
) -> list[Step]:  # fmt: skip
    """The timeline's steps worded in ``lang`` (the portal's and the console's)."""
    sent = _sent_lines(events, lang)
    ratings = {
        e.envelope.public["rates"]: e.envelope.public["csat"]
        for e in events
        if e.envelope.type == E.RATED and "rates" in e.envelope.public
    }
    steps = []
    for e in events:
        env = e.envelope
        body = _body(e, withheld)
        step = Step(
            seq=e.seq,
            type=str(env.type),
            label=text(lang, f"event.{env.type}"),
            at=when(env.at, lang) or "",
            at_iso=env.at,
            by_customer=env.actor.role == Role.CUSTOMER,
            letter=(body or {}).get("message") if isinstance((body or {}).get("message"), dict)
            else None,
            details=_details(e, body, lang),
            free_text=_free_text(e, body),
            attachments=list((body or {}).get("attachments") or []),
            sent=sent.get(e.seq, []),
            withheld=e.seq in withheld and e.body_jcs is not None,
            erased=e.erased_by is not None,
            internal=env.type == E.NOTE_ADDED,
            rateable=e.seq in rateable,
            rating=ratings.get(e.seq),
        )  # fmt: skip
        if env.type == E.COMPENSATION_PAID and body and body.get("tx_hash"):
            step.payment = {"tx_hash": body["tx_hash"], "explorer_url": _explorer(body)}
        steps.append(step)
    return steps


def _last(events: list[StoredEvent], event_type: EventType) -> StoredEvent | None:
    return next((e for e in reversed(events) if e.envelope.type == event_type), None)


def _offer(events: list[StoredEvent], state: ComplaintState, withheld, lang: str):
    offered = _last(events, E.COMPENSATION_OFFERED)
    if offered is None:
        return None
    body = _body(offered, withheld) or {}
    return {
        "seq": offered.seq,
        "amount": _amount(body, lang) or _amount(offered.envelope.public, lang),
        "kind": _vocab(lang, "compensation_kinds", body.get("kind") or "money"),
        "method": _vocab(lang, "methods", body.get("method") or offered.envelope.public["method"]),
        "respond_by": when(body.get("respond_by"), lang),
        "vault": state.offer_terms is not None,
        "letter": body.get("message"),
    }


def _pending_request(events: list[StoredEvent], withheld, lang: str):
    asked = _last(events, E.INFO_REQUESTED)
    if asked is None:
        return None
    body = _body(asked, withheld) or {}
    return {
        "seq": asked.seq,
        "request": body.get("request"),
        "respond_by": when(asked.envelope.public.get("respond_by"), lang),
        "withheld": asked.seq in withheld,
    }


def clock_rows(events: list[StoredEvent], lang: str, now: datetime) -> list[dict[str, Any]]:
    """The complaint's clocks, worded in ``lang`` (the portal's and the console's)."""
    report = due_report([e.envelope for e in events], now, rules=get_ledger().service_rules)
    return [
        {
            "name": str(c.name),
            "label": clock_name(c.name, lang),
            "basis": clock_basis(c, lang),
            "status": str(c.status),
            "status_text": text(lang, f"clock.{c.status}"),
            "due": when(c.due_at, lang),
            "completed": when(c.completed_at, lang),
            "statutory": c.statutory,
        }
        for c in report.clocks
    ]


def listed_files(reference: str) -> dict[str, dict[str, Any]]:
    """The files (by SHA-256) listed in the bodies this complaint's customer may read."""
    ledger = get_ledger()
    events = ledger.complaints.reads.events(reference)
    withheld = withheld_from_customer(events, ledger.service_rules)
    files: dict[str, dict[str, Any]] = {}
    for e in events:
        for item in (_body(e, withheld) or {}).get("attachments") or []:
            if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                files.setdefault(item["sha256"], item)
    return files


def _responsible(
    events: list[StoredEvent], state: ComplaintState, withheld: frozenset[int]
) -> str | None:
    """Who handles the complaint: its owner now (the latest assignment's name, while no
    escalation has cleared it), else the person the latest acknowledgement names."""
    assigned = _last(events, E.ASSIGNED) if state.owner is not None else None
    if assigned is not None:
        name = (_body(assigned, withheld) or {}).get("owner_name")
        if isinstance(name, str):
            return name
    ack = _last(events, E.ACKNOWLEDGED)
    name = None if ack is None else (_body(ack, withheld) or {}).get("responsible")
    return name if isinstance(name, str) else None


def complaint_page(reference: str, lang: str, now: datetime | None = None) -> ComplaintPage:
    """The complaint page of ``reference`` for its customer, in ``lang``."""
    ledger = get_ledger()
    reads = ledger.complaints.reads
    events = reads.events(reference)
    state = reads.state_of(reference, events)
    withheld = withheld_from_customer(events, ledger.service_rules)
    allowed = {str(t) for t in allowed_events(state, Role.CUSTOMER)}
    actions = {name for name, step in ACTION_STEPS.items() if str(step) in allowed}
    next_level = NEXT_LEVEL.get(state.level)
    if next_level is None:
        actions.discard("escalate")  # a lateral move between specialisms is the staff's call
    rateable = set(rateable_steps(state)) if "rate" in actions else set()
    confirm = None
    if "confirm" in actions:
        step = next_step(state.category, state.playbook)
        assert step is not None  # allowed_events offers the step only when there is one
        words = locale(lang)["playbook_steps"][str(step)]
        confirm = {"step": str(step), "name": words["name"], "note": words["note"]}
    return ComplaintPage(
        reference=reference,
        state=state,
        status_text=status_text(state.status, lang, info_pending=state.info_pending),
        category=locale(lang)["categories"][str(state.category)]["name"],
        jurisdiction=locale(lang)["clock_bases"]["statutory"].get(
            state.jurisdiction, state.jurisdiction
        ),
        level=text(lang, f"level.{state.level}"),
        responsible=_responsible(events, state, withheld),
        clocks=clock_rows(events, lang, now or datetime.now(UTC)),
        playbook=dict(playbook_progress(state.category, [str(s) for s in state.playbook], lang)),
        steps=timeline_steps(events, state, withheld, lang, rateable),
        actions=frozenset(actions),
        pending_request=_pending_request(events, withheld, lang) if state.info_pending else None,
        offer=_offer(events, state, withheld, lang) if "accept" in actions else None,
        next_level=None if next_level is None else str(next_level),
        specialism=str(SUGGESTED_SPECIALISM.get(state.category, Specialism.TECHNICAL)),
        confirm_step=confirm,
    )
