"""Regulator audit figures, computed only from the public fields of log leaves.

Pure: no database, no clock, no I/O. Two steps, both deterministic:

1. ``derive_fact(prev, envelope, index)`` turns one complaint event into a flat ``Fact``: the
   event's own public fields plus what the complaint's earlier events say (category, channel,
   language, jurisdiction, received time, cycle, statutory due instant, ...). Only the previous
   fact of the same complaint is needed, so the service writes the same rows beside each step
   (``ledger.casework.facts``) and a monitor derives them while replaying the log.
2. ``figures_from_facts(facts, window)`` aggregates facts into the figures. The SQL path in
   ``ledger.casework.facts`` fills the same ``Cells`` from SQL aggregates and calls the same
   ``finalise``, so both paths give byte-identical JSON for the same log prefix.

``compute_figures(envelopes, window)`` does both from envelopes (or leaf bytes) in log order.

Definitions (docs/audit.md has the long form). A window is ``[from, to)`` plus ``as_of``: the
instant the figures speak for. An event is *in the period* when ``from <= at < to`` and
``at <= as_of``; events with ``at > as_of`` are treated as not having happened yet.

* received, closed, withdrawn, referred, reopened: events of that type in the period.
* open_at_end: complaints whose status after their last event before ``min(to, as_of)`` is
  neither ``closed`` nor ``withdrawn`` (a referred complaint is open; a reopened one too).
* decisions: decision events in the period, by outcome; a rate is outcome / decisions.
* time to first response: for each complaint whose *first response* (its first
  acknowledged, info_requested, holding_reply or decision event, in the first cycle, as in
  ``deadlines.FIRST_RESPONSE_EVENTS``) falls in the period: response time - received time.
* time to final response: for each decision in the period: decision time - start of its cycle
  (the received event, or the reopening for a reopened complaint).
* percentiles: nearest rank on the sorted durations in milliseconds: the p-th percentile is
  the value of rank ceil(p/100 * n); the median is p50 (the lower middle value for even n).
* deadline breaches: statutory final-response deadlines (``deadlines.final_response_due``,
  extended when a holding reply was sent before the original deadline) that fell due in the
  period and no later than ``as_of``. A deadline is *met* when its cycle ended (decision,
  closure, withdrawal, or reopening) before the due instant; every other deadline that fell
  due is *breached*, whether the complaint was answered late or is still unanswered.
  Complaints in a jurisdiction or year without a known calendar are not counted.
* redress paid: compensation_paid events in the period, amounts summed exactly per ISO 4217
  currency and per crypto asset; payments whose amount is withheld from the leaf are counted
  as ``amount_undisclosed``.
* CSAT: rated events in the period: count, distribution 1-5, mean (4 decimals). Each rating
  names the step it rates (``public.rates``) and the state machine refuses a second rating of
  the same step, so every rated interaction counts once. CSAT by interaction: the same per
  type of the step rated (acknowledgement, decision, ...: ``vocab.RATEABLE_EVENTS``); ratings
  recorded before ratings named their step count in the total only.
* NPS: nps_given events in the period (at most one per complaint, after its closure):
  responses, promoters (9-10), passives (7-8), detractors (0-6), the distribution 0-10 and the
  score = % promoters - % detractors (from -100 to 100, 4 decimals).
* first response within goal / limit: first responses in the period sent before the goal and
  the limit the complaint was promised at intake (``public.deadlines.first_response_goal`` and
  ``first_response`` of its received event; the default service rules when the leaf has none).
* time to resolution: for each resolution in the period (``playbooks.resolves``: the solution
  carried out — the playbook's last step, a payment, a closure as resolved, a rejected
  decision), time from the start of its cycle minus the time spent waiting for the customer
  (information requested, or their confirmation of a fix), as the resolution clocks count it.
  Within target / limit: below the cycle's promised spans (``public.deadlines`` of the received
  or reopened event; the handler's ``target_set`` for an untimed category). Hour-target
  breaches: first responses after their limit, resolutions after their target or limit.
* first-contact resolution: resolutions in the first cycle without an information request,
  escalation or holding reply before them; automation: resolutions at the bot level (never
  escalated), i.e. answered by the bot without escalation. Rates are per resolution.
* root causes: decisions in the period by root cause; redress by kind: payments by
  compensation kind (money, fee refund, discount, bonus credit, free service) with their value.

Every figure is given in total and broken down by category, channel and language (every
vocabulary value, zeros included) and by incident (the incidents complaints were linked to;
a complaint's events count under its incident from the link on); deadline breaches also by
jurisdiction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ledger.complaints.deadlines import FIRST_RESPONSE_EVENTS, get_jurisdiction
from ledger.complaints.errors import CalendarError
from ledger.complaints.events import Envelope, parse_envelope
from ledger.complaints.playbooks import resolves, waits_for_customer
from ledger.complaints.reference import format_reference
from ledger.complaints.service_rules import DEFAULT_RULES
from ledger.complaints.timestamps import format_timestamp
from ledger.complaints.vocab import (
    OFFICER_KEY_EVENTS,
    RATEABLE_EVENTS,
    Category,
    Channel,
    CompensationKind,
    EscalationLevel,
    EventType,
    Language,
    Outcome,
    RootCause,
)

FIGURES_VERSION = "audit-figures/3"
E = EventType
TERMINAL = frozenset({"closed", "withdrawn"})
COUNTED_EVENTS = ("received", "closed", "withdrawn", "referred", "reopened", "incident_linked")
OUTCOMES = tuple(o.value for o in Outcome)
ROOT_CAUSES = tuple(r.value for r in RootCause)
KINDS = tuple(k.value for k in CompensationKind)
CSAT_VALUES = (1, 2, 3, 4, 5)
INTERACTIONS = tuple(sorted(str(t) for t in RATEABLE_EVENTS))  # what CSAT is broken down by
NPS_VALUES = tuple(range(11))
PROMOTER_FROM, DETRACTOR_UNTIL = 9, 6  # 9-10 promoters, 7-8 passives, 0-6 detractors
# Steps after which the complaint needed more than its first contact (first-contact resolution).
_MORE_CONTACT = frozenset({"info_requested", "escalated", "holding_reply", "reopened"})

_FIRST_RESPONSE = frozenset(str(t) for t in FIRST_RESPONSE_EVENTS)
_CYCLE_ENDS = frozenset({"decision", "withdrawn", "closed"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- time helpers -------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _epoch_day(day: str) -> int:
    return date.fromisoformat(day).toordinal() - 719163  # 1970-01-01 is ordinal 719163


def epoch_ms(at: str) -> int:
    """Milliseconds since 1970-01-01 UTC of an envelope timestamp (already validated)."""
    ms = int(at[20:23]) if len(at) == 24 else 0
    return (
        _epoch_day(at[:10]) * 86_400_000
        + int(at[11:13]) * 3_600_000
        + int(at[14:16]) * 60_000
        + int(at[17:19]) * 1000
        + ms
    )


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (sub-millisecond digits dropped)."""
    if value.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    delta = value.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def format_ms(ms: int) -> str:
    return format_timestamp(from_ms(ms))


@lru_cache(maxsize=16384)
def _due_for_day(code: str, day: date, extended: bool) -> int | None:
    jurisdiction = get_jurisdiction(code)
    if extended and jurisdiction.extended_business_days is None:
        return None
    try:
        # final_response_date only looks at the local day of the start instant: noon will do.
        noon = jurisdiction.end_of_day(day) - timedelta(hours=12)
        due_day = jurisdiction.final_response_date(noon, extended=extended)
        return to_ms(jurisdiction.end_of_day(due_day))
    except CalendarError:
        return None


# From 1980 to 2060 no zone of a known jurisdiction changes its UTC offset more than once in a
# UTC day (tests/audit/test_figures.py checks), so a day's offsets and the instant of its change,
# if any, give the local day of every instant in it; the due instant then depends on the local
# day alone. Both are remembered: one zone conversion per UTC day instead of one per complaint.
_DAY_MS = 86_400_000
_DAYS_FROM, _DAYS_UNTIL = 3652, 33238  # 1980-01-01 and 2061-01-01, in days since 1970-01-01


def _offset_ms(zone: ZoneInfo, ms: int) -> int:
    return int(from_ms(ms).astimezone(zone).utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]


@lru_cache(maxsize=8192)
def _day_offsets(code: str, utc_day: int) -> tuple[int, int, int] | None:
    """(offset at the start of the UTC day, first ms of the next offset or the day's end, that
    offset) in jurisdiction ``code``'s zone; None for an unknown jurisdiction."""
    try:
        zone = ZoneInfo(get_jurisdiction(code).timezone)
    except CalendarError:
        return None
    start, last = utc_day * _DAY_MS, (utc_day + 1) * _DAY_MS - 1
    before, after = _offset_ms(zone, start), _offset_ms(zone, last)
    if before == after:
        return before, last + 1, after
    lo, hi = start, last  # the offset at lo is ``before``, at hi ``after``: find the first ms
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _offset_ms(zone, mid) == before else (lo, mid)
    return before, hi, after


@lru_cache(maxsize=16384)
def _due_for_local_day(code: str, local_day: int, extended: bool) -> int | None:
    return _due_for_day(code, date.fromordinal(local_day + 719163), extended)


def _statutory_due_ms(code: str, start_ms: int, extended: bool) -> int | None:
    try:
        jurisdiction = get_jurisdiction(code)
    except CalendarError:
        return None
    return _due_for_day(code, jurisdiction.local_date(from_ms(start_ms)), extended)


def statutory_due_ms(code: str, start_ms: int, *, extended: bool = False) -> int | None:
    """Exclusive due instant (ms) of the final response for a cycle started at ``start_ms``.

    None when the jurisdiction or the year's calendar is unknown to this code.
    """
    utc_day = start_ms // _DAY_MS
    if not _DAYS_FROM <= utc_day < _DAYS_UNTIL:
        return _statutory_due_ms(code, start_ms, extended)
    offsets = _day_offsets(code, utc_day)
    if offsets is None:
        return None
    before, change, after = offsets
    local_day = (start_ms + (before if start_ms < change else after)) // _DAY_MS
    return _due_for_local_day(code, local_day, extended)


# --- facts ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Fact:
    """One complaint event, flattened for counting. Columns of ``audit_facts`` too."""

    log_index: int
    reference: str
    seq: int
    type: str
    at_ms: int
    state: str  # the complaint's status after this event
    category: str
    channel: str
    language: str
    jurisdiction: str
    cycle: int  # 0, then +1 at each reopening
    received_ms: int
    cycle_start_ms: int  # received, or the reopening that started this cycle
    open_delta: int  # +1 when the complaint becomes open, -1 when closed/withdrawn
    first_response: bool  # this event is the complaint's first response
    responded: bool  # a first response exists up to and including this event
    outcome: str | None  # the current cycle's decision outcome (set by decision events)
    unit_kind: str | None  # compensation_paid: "currency" or "asset" (if disclosed)
    unit: str | None
    amount: str | None
    csat: int | None  # rated events
    base_due_ms: int | None  # statutory due instant of the cycle, before any extension
    due_ms: int | None  # statutory due instant of the cycle as known after this event
    due_add_ms: int | None  # a deadline starts counting at this instant (cycle start/extension)
    due_sub_ms: int | None  # a deadline stops counting at this instant (replaced by extension)
    cycle_ended: bool  # the cycle's clock has ended (decision, closure, withdrawal, reopening)
    ends_cycle: bool  # this event ended a cycle's clock (the current one, or before reopening)
    ended_due_ms: int | None  # the due instant of the cycle this event ended
    incident: str  # the incident the complaint is linked to ("" when none)
    level: str  # the escalation level after this event
    contacted: bool  # more than the first contact was needed (info request, escalation, ...)
    root_cause: str | None  # decision events
    kind: str | None  # compensation_paid: the compensation kind
    fr_goal_ms: int | None  # the first-response goal promised at intake (a span)
    fr_limit_ms: int | None  # the first-response limit promised at intake (a span)
    target_ms: int | None  # the cycle's resolution target (a span); None: not set (untimed)
    limit_ms: int | None  # the cycle's resolution limit (a span)
    wait_since_ms: int | None  # waiting for the customer since (None: not waiting)
    waiting: int  # what for: 1 information, 2 a confirmation (bits)
    paused_ms: int  # time spent waiting for the customer in this cycle, before its resolution
    resolved: bool  # the cycle's solution has been carried out
    resolution: bool  # this event carried it out
    resolution_ms: int | None  # resolution events: time to resolution, waits excluded
    nps: int | None = None  # nps_given events: the score, 0-10
    rated_type: str | None = None  # rated events naming their step: that step's event type


FACT_FIELDS = tuple(f.name for f in fields(Fact))


_TYPE_NAMES = {t: t.value for t in EventType}


def derive_fact(
    prev: Fact | None,
    envelope: Envelope,
    index: int,
    reference: str | None = None,
    at_ms: int | None = None,
    rated_type: str | None = None,
) -> Fact:
    """The fact row of ``envelope`` (log entry ``index``) given its complaint's previous fact.

    ``at_ms`` is ``epoch_ms(envelope.at)`` when the caller has it already. ``rated_type``: for
    a rating that names the step it rates (``public.rates``), that step's event type, which
    the caller knows from the complaint's chain (ValueError without it).
    """
    et = _TYPE_NAMES.get(envelope.type) or str(envelope.type)
    public = envelope.public
    if at_ms is None:
        at_ms = epoch_ms(envelope.at)
    if et == "received":
        if prev is not None:
            raise ValueError("a received event starts a complaint")
        code = public["jurisdiction"]
        due = statutory_due_ms(code, at_ms)
        promised = _promised_spans(public["category"], public.get("deadlines"), at_ms)
        return Fact(
            log_index=index,
            reference=reference or format_reference(envelope.leaf_hash),
            seq=envelope.seq,
            type=et,
            at_ms=at_ms,
            state=public["state"],
            category=public["category"],
            channel=public["channel"],
            language=public["language"],
            jurisdiction=code,
            cycle=0,
            received_ms=at_ms,
            cycle_start_ms=at_ms,
            open_delta=1,
            first_response=False,
            responded=False,
            outcome=None,
            unit_kind=None,
            unit=None,
            amount=None,
            csat=None,
            base_due_ms=due,
            due_ms=due,
            due_add_ms=due,
            due_sub_ms=None,
            cycle_ended=False,
            ends_cycle=False,
            ended_due_ms=None,
            incident="",
            level=public.get("level", "agent"),
            contacted=False,
            root_cause=None,
            kind=None,
            fr_goal_ms=promised[0],
            fr_limit_ms=promised[1],
            target_ms=promised[2],
            limit_ms=promised[3],
            wait_since_ms=None,
            waiting=0,
            paused_ms=0,
            resolved=False,
            resolution=False,
            resolution_ms=None,
        )
    if prev is None or prev.seq != envelope.seq - 1 or prev.reference != envelope.complaint:
        raise ValueError(f"no previous fact for {envelope.complaint} seq {envelope.seq}")
    state = public["state"]
    # Positional (in FACT_FIELDS order): this runs once per log entry when replaying.
    f = Fact(
        index, prev.reference, envelope.seq, et, at_ms, state,  # log_index .. state
        prev.category, prev.channel, prev.language, prev.jurisdiction,
        prev.cycle, prev.received_ms, prev.cycle_start_ms,
        (state not in TERMINAL) - (prev.state not in TERMINAL),  # open_delta
        False, prev.responded, prev.outcome,  # first_response, responded, outcome
        None, None, None, None,  # unit_kind, unit, amount, csat
        prev.base_due_ms, prev.due_ms, None, None,  # base_due_ms, due_ms, due_add/sub_ms
        prev.cycle_ended, False, None,  # cycle_ended, ends_cycle, ended_due_ms
        prev.incident, prev.level, prev.contacted, None, None,  # incident .. kind
        prev.fr_goal_ms, prev.fr_limit_ms, prev.target_ms, prev.limit_ms,
        prev.wait_since_ms, prev.waiting, prev.paused_ms,
        prev.resolved, False, None,  # resolved, resolution, resolution_ms
    )  # fmt: skip
    if et in _MORE_CONTACT:
        f.contacted = True
    if not f.resolved and et != "reopened":
        _resolution_time(f, et, public)
    if et in _FIRST_RESPONSE and f.cycle == 0 and not f.responded:
        f.first_response = f.responded = True
    if et == "reopened":
        if not f.cycle_ended:  # a reopening ends a cycle that had not ended yet
            f.ends_cycle, f.ended_due_ms = True, f.due_ms
        due = statutory_due_ms(f.jurisdiction, at_ms)
        f.cycle += 1
        f.cycle_start_ms = at_ms
        f.base_due_ms = f.due_ms = f.due_add_ms = due
        f.cycle_ended = False
        f.outcome = None
        f.wait_since_ms, f.waiting, f.paused_ms, f.resolved = None, 0, 0, False
        spans = _spans_of(public.get("deadlines"), at_ms, "target_resolution", "resolution_limit")
        if spans != (None, None):
            f.target_ms, f.limit_ms = spans
    elif et == "holding_reply":
        # A holding reply sent before the original deadline extends it (PSD2 Art. 101(2)).
        if f.base_due_ms is not None and f.due_ms == f.base_due_ms and at_ms < f.base_due_ms:
            extended = statutory_due_ms(f.jurisdiction, f.cycle_start_ms, extended=True)
            if extended is not None:
                f.due_sub_ms, f.due_add_ms, f.due_ms = f.base_due_ms, extended, extended
    elif et in _CYCLE_ENDS:
        if not f.cycle_ended:
            f.ends_cycle, f.ended_due_ms, f.cycle_ended = True, f.due_ms, True
        if et == "decision":
            f.outcome = public["outcome"]
            f.root_cause = public["root_cause"]
    elif et == "escalated":
        f.level = public["level"]
    elif et == "incident_linked":
        f.incident = public["incident"]
    elif et == "target_set":
        f.target_ms = public["target_minutes"] * 60_000
        f.limit_ms = public["limit_minutes"] * 60_000
    elif et == "compensation_paid":
        f.kind = public.get("kind", "money")
        if "amount" in public:
            f.amount = public["amount"]
            if "asset" in public:
                f.unit_kind, f.unit = "asset", public["asset"]
            else:
                f.unit_kind, f.unit = "currency", public["currency"]
    elif et == "rated":
        f.csat = public["csat"]
        if "rates" in public:
            if rated_type is None:
                raise ValueError(f"the type of the step rating {f.reference} seq {f.seq} rates")
            f.rated_type = str(rated_type)
    elif et == "nps_given":
        f.nps = public["nps"]
    return f


def rated_type_of(types: Sequence[str | None], envelope: Envelope) -> str | None:
    """For a rating naming its step, that step's type from the complaint's event types so far
    (``types[seq]``); None for any other event. The chain's rules made ``rates`` an earlier
    seq; ValueError when ``types`` does not reach it."""
    if envelope.type != E.RATED or "rates" not in envelope.public:
        return None
    seq: int = envelope.public["rates"]
    if not 0 <= seq < len(types):
        raise ValueError(f"no step {seq} before this rating of {envelope.complaint}")
    return types[seq]


def _spans_of(deadlines: Any, at_ms: int, *names: str) -> tuple[int | None, ...]:
    """The spans (ms from ``at_ms``) of the named instants of a ``public.deadlines`` object."""
    if not isinstance(deadlines, Mapping):
        return tuple(None for _ in names)
    return tuple(
        None if deadlines.get(n) is None else epoch_ms(deadlines[n]) - at_ms for n in names
    )


def _default_spans(category: str) -> tuple[int | None, int | None, int | None, int | None]:
    """The playbook's own spans, for a received leaf that states no deadlines."""
    times = DEFAULT_RULES.times(category)

    def ms(span: Any) -> int | None:
        return None if span is None else int(span.total_seconds() * 1000)

    return (
        ms(DEFAULT_RULES.first_response_goal),
        ms(DEFAULT_RULES.first_response_limit),
        ms(times.target),
        ms(times.limit),
    )


def _promised_spans(
    category: str, deadlines: Any, at_ms: int
) -> tuple[int | None, int | None, int | None, int | None]:
    """First-response goal and limit, resolution target and limit promised at intake.

    Each comes from the received leaf's ``public.deadlines`` when it states it; a leaf without
    deadlines is measured against the playbook's own times (``service_rules.DEFAULT_RULES``).
    """
    stated = _spans_of(
        deadlines, at_ms, "first_response_goal", "first_response", "target_resolution",
        "resolution_limit",
    )  # fmt: skip
    if not isinstance(deadlines, Mapping):
        return _default_spans(category)
    defaults = _default_spans(category)
    goal = stated[0] if stated[0] is not None else defaults[0]
    return goal, stated[1] if stated[1] is not None else defaults[1], stated[2], stated[3]


_WAIT_INFO, _WAIT_CONFIRMATION = 1, 2  # Fact.waiting bits


def _resolution_time(f: Fact, et: str, public: Mapping[str, Any]) -> None:
    """Waits for the customer and the resolution, as ``deadlines._pauses`` counts them for
    the clocks: waiting for information (until it comes or a decision is made) or for a
    confirmation (until given or lapsed) pauses; the resolution time is the cycle's elapsed
    time without the pauses."""
    at = f.at_ms
    before = f.waiting
    waiting = before
    if et == "info_received" or et == "decision":
        waiting &= ~_WAIT_INFO
    if et == "playbook_step" and "confirmation" in public:
        waiting &= ~_WAIT_CONFIRMATION
    if resolves(f.category, et, public):
        if before:
            assert f.wait_since_ms is not None  # set whenever waiting is
            f.paused_ms += at - f.wait_since_ms
        f.waiting, f.wait_since_ms = 0, None
        f.resolved = f.resolution = True
        f.resolution_ms = at - f.cycle_start_ms - f.paused_ms
        return
    if et == "info_requested":
        waiting |= _WAIT_INFO
    if waits_for_customer(f.category, et, public):
        waiting |= _WAIT_CONFIRMATION
    if before and not waiting:
        assert f.wait_since_ms is not None
        f.paused_ms += at - f.wait_since_ms
        f.wait_since_ms = None
    elif waiting and not before:
        f.wait_since_ms = at
    f.waiting = waiting


class FactDeriver:
    """Derives facts from envelopes in log order, keeping the last fact of each complaint and
    its event types (a rating's fact names the type of the step it rates)."""

    def __init__(self, last: Mapping[str, Fact] | None = None) -> None:
        self.last: dict[str, Fact] = dict(last or {})
        self.types: dict[str, list[str | None]] = {}

    def add(self, envelope: Envelope, index: int, reference: str | None = None) -> Fact | None:
        """The fact of log entry ``index`` (None for officer-key entries)."""
        if envelope.type in OFFICER_KEY_EVENTS:
            return None
        prev = None if envelope.complaint is None else self.last.get(envelope.complaint)
        types: list[str | None] = []
        if prev is not None:
            # Resumed from ``last`` alone, the earlier steps' types are unknown (None): a rating
            # of one of them cannot be derived (ValueError from derive_fact).
            types = self.types.get(prev.reference) or [None] * (prev.seq + 1)
        fact = derive_fact(prev, envelope, index, reference, None, rated_type_of(types, envelope))
        self.last[fact.reference] = fact
        types.append(fact.type)
        self.types[fact.reference] = types
        return fact


def facts_from_envelopes(
    envelopes: Iterable[Envelope | bytes], start_index: int = 0
) -> Iterator[Fact]:
    """Facts of complaint events, from envelopes (or leaves) of the log in order."""
    deriver = FactDeriver()
    for i, item in enumerate(envelopes, start_index):
        env = item if isinstance(item, Envelope) else parse_envelope(item)
        fact = deriver.add(env, i)
        if fact is not None:
            yield fact


# --- windows and cells ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The period ``[start, end)`` and the instant ``as_of`` the figures speak for (ms)."""

    start_ms: int
    end_ms: int
    as_of_ms: int
    tree_size: int | None = None  # only facts of log entries below this size count

    @classmethod
    def of(
        cls, start: datetime, end: datetime, as_of: datetime, tree_size: int | None = None
    ) -> Window:
        if end <= start:
            raise ValueError("the period must end after it starts")
        return cls(to_ms(start), to_ms(end), to_ms(as_of), tree_size)

    def in_period(self, at_ms: int) -> bool:
        return self.start_ms <= at_ms < self.end_ms and at_ms <= self.as_of_ms

    def due_in_period(self, due_ms: int | None) -> bool:
        return (
            due_ms is not None
            and self.start_ms <= due_ms < self.end_ms
            and (due_ms <= self.as_of_ms)
        )


COUNTERS = (
    *COUNTED_EVENTS,
    "open",
    *(f"decision_{o}" for o in OUTCOMES),
    *(f"root_{r}" for r in ROOT_CAUSES),
    *(f"csat_{v}" for v in CSAT_VALUES),
    *(f"csat_{t}_{v}" for t in INTERACTIONS for v in CSAT_VALUES),
    *(f"nps_{v}" for v in NPS_VALUES),
    "due_add",
    "due_sub",
    "met",
    "paid_undisclosed",
    "fr_goal",  # first responses within the goal
    "fr_limit",  # ... within the limit
    "res_timed",  # resolutions with a target (not an untimed category without one)
    "res_target",  # ... within the target
    "res_limit",  # ... within the limit
    "res_fcr",  # resolutions at first contact
    "res_bot",  # resolutions at the bot level
)
CellKey = tuple[str, str, str, str]  # category, channel, language, jurisdiction


IX = {name: i for i, name in enumerate(COUNTERS)}  # position of each counter in Cell.counts


@dataclass
class Cell:
    """Additive counts and raw values for one (category, channel, language, jurisdiction)."""

    counts: list[int] = field(default_factory=lambda: [0] * len(COUNTERS))  # see IX
    first_response_ms: list[int] = field(default_factory=list)
    final_response_ms: list[int] = field(default_factory=list)
    resolution_ms: list[int] = field(default_factory=list)
    # disclosed payments: (compensation kind, unit kind, unit, amount) -> how many
    payments: dict[tuple[str, str, str, str], int] = field(default_factory=dict)


Cells = dict[CellKey, Cell]
IncidentCells = dict[str, Cells]  # the cells of each incident's complaints, from the link on


_OPEN, _DUE_ADD, _DUE_SUB, _MET = IX["open"], IX["due_add"], IX["due_sub"], IX["met"]
_UNDISCLOSED = IX["paid_undisclosed"]
_TYPE_IX = {t: IX[t] for t in COUNTED_EVENTS}
_DECISION_IX = {o: IX[f"decision_{o}"] for o in OUTCOMES}
_ROOT_IX = {r: IX[f"root_{r}"] for r in ROOT_CAUSES}
_CSAT_IX = {v: IX[f"csat_{v}"] for v in CSAT_VALUES}
_CSAT_TYPE_IX = {(t, v): IX[f"csat_{t}_{v}"] for t in INTERACTIONS for v in CSAT_VALUES}
_NPS_IX = {v: IX[f"nps_{v}"] for v in NPS_VALUES}
_FR_GOAL, _FR_LIMIT = IX["fr_goal"], IX["fr_limit"]
_RES = tuple(IX[n] for n in ("res_timed", "res_target", "res_limit", "res_fcr", "res_bot"))
_BOT = EscalationLevel.BOT.value


def _resolution_counts(f: Fact) -> tuple[bool, bool, bool, bool, bool]:
    """(timed, within target, within limit, first contact, bot) of a resolution fact."""
    ms = f.resolution_ms
    assert ms is not None  # derive_fact sets it on every resolution
    return (
        f.target_ms is not None,
        f.target_ms is not None and ms < f.target_ms,
        f.limit_ms is not None and ms < f.limit_ms,
        f.cycle == 0 and not f.contacted,
        f.level == _BOT,
    )


def accumulate(
    facts: Iterable[Fact],
    window: Window,
    cells: Cells | None = None,
    *,
    incidents: IncidentCells | None = None,
    only_incidents: bool = False,
) -> Cells:
    """The pure aggregation: the same conditions as the SQL in ``facts.sql_cells``. With
    ``incidents``, the facts of complaints linked to an incident are also counted there, per
    incident (``only_incidents``: there alone, for ``facts.sql_incident_cells``)."""
    cells = {} if cells is None else cells
    size = window.tree_size
    end, as_of = window.end_ms, window.as_of_ms
    for f in facts:
        if size is not None and f.log_index >= size:
            continue
        if f.at_ms > as_of or f.at_ms >= end:
            continue  # nothing that happened after the window counts (see sql_cells)
        key = (f.category, f.channel, f.language, f.jurisdiction)
        if not only_incidents:
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Cell()
            _count(cell, f, window)
        if incidents is not None and f.incident:
            part = incidents.setdefault(f.incident, {})
            cell = part.get(key)
            if cell is None:
                cell = part[key] = Cell()
            _count(cell, f, window)
    return cells


def _count(cell: Cell, f: Fact, window: Window) -> None:
    """Count one fact (visible in the window) into its cell."""
    at = f.at_ms
    due_in_period = window.due_in_period
    c = cell.counts
    if f.open_delta:
        c[_OPEN] += f.open_delta
    if f.due_add_ms is not None and due_in_period(f.due_add_ms):
        c[_DUE_ADD] += 1
    if f.due_sub_ms is not None and due_in_period(f.due_sub_ms):
        c[_DUE_SUB] += 1
    if (
        f.ends_cycle
        and f.ended_due_ms is not None
        and due_in_period(f.ended_due_ms)
        and at < f.ended_due_ms
    ):
        c[_MET] += 1
    if at < window.start_ms:
        return
    t = f.type
    i = _TYPE_IX.get(t)
    if i is not None:
        c[i] += 1
    if t == "decision":
        # derive_fact sets both from the decision
        assert f.outcome is not None and f.root_cause is not None
        c[_DECISION_IX[f.outcome]] += 1
        c[_ROOT_IX[f.root_cause]] += 1
        cell.final_response_ms.append(at - f.cycle_start_ms)
    elif t == "rated":
        assert f.csat is not None  # derive_fact sets it from the rating
        c[_CSAT_IX[f.csat]] += 1
        if f.rated_type is not None:
            c[_CSAT_TYPE_IX[f.rated_type, f.csat]] += 1
    elif t == "nps_given":
        assert f.nps is not None  # derive_fact sets it from the score
        c[_NPS_IX[f.nps]] += 1
    elif t == "compensation_paid":
        # derive_fact sets amount, unit_kind and unit together, or none of them
        if f.amount is None or f.unit_kind is None or f.unit is None:
            c[_UNDISCLOSED] += 1
        else:
            paid = (f.kind or "money", f.unit_kind, f.unit, f.amount)
            cell.payments[paid] = cell.payments.get(paid, 0) + 1
    if f.first_response:
        waited = at - f.received_ms
        cell.first_response_ms.append(waited)
        if f.fr_goal_ms is not None and waited < f.fr_goal_ms:
            c[_FR_GOAL] += 1
        if f.fr_limit_ms is not None and waited < f.fr_limit_ms:
            c[_FR_LIMIT] += 1
    if f.resolution:
        assert f.resolution_ms is not None  # set with resolution
        cell.resolution_ms.append(f.resolution_ms)
        for i, hit in zip(_RES, _resolution_counts(f), strict=True):
            if hit:
                c[i] += 1


# --- finalising ---------------------------------------------------------------------------------


def percentile(sorted_values: list[int], p: int) -> int | None:
    """Nearest-rank percentile of sorted integers (None when empty)."""
    n = len(sorted_values)
    if n == 0:
        return None
    rank = max(1, -(-p * n // 100))  # ceil(p * n / 100)
    return sorted_values[rank - 1]


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def _durations(values: list[int]) -> dict[str, Any]:
    values = sorted(values)
    return {
        "count": len(values),
        "mean_seconds": round(sum(values) / len(values) / 1000, 3) if values else None,
        "median_seconds": _seconds(percentile(values, 50)),
        "p90_seconds": _seconds(percentile(values, 90)),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _csat(total: Mapping[str, int], prefix: str) -> dict[str, Any]:
    """Ratings, mean (4 decimals) and distribution of the counters ``<prefix>1`` .. ``5``."""
    counts = {v: total[f"{prefix}{v}"] for v in CSAT_VALUES}
    ratings = sum(counts.values())
    return {
        "ratings": ratings,
        "mean": round(sum(v * n for v, n in counts.items()) / ratings, 4) if ratings else None,
        "distribution": {str(v): n for v, n in counts.items()},
    }


def _nps(total: Mapping[str, int]) -> dict[str, Any]:
    """Net Promoter Score: % promoters - % detractors, rounded as the CSAT mean is."""
    counts = {v: total[f"nps_{v}"] for v in NPS_VALUES}
    responses = sum(counts.values())
    promoters = sum(n for v, n in counts.items() if v >= PROMOTER_FROM)
    detractors = sum(n for v, n in counts.items() if v <= DETRACTOR_UNTIL)
    return {
        "responses": responses,
        "promoters": promoters,
        "passives": responses - promoters - detractors,
        "detractors": detractors,
        "score": round((promoters - detractors) * 100 / responses, 4) if responses else None,
        "distribution": {str(v): n for v, n in counts.items()},
    }


def _amounts(sums: dict[str, Decimal]) -> dict[str, str]:
    return {unit: format(total, "f") for unit, total in sorted(sums.items())}


_Totals = dict[tuple[str, str], Decimal]  # (unit kind, unit) -> sum
_Paid = tuple[int, dict[str, tuple[int, _Totals]]]  # payments; by compensation kind


def _paid(cell: Cell) -> _Paid:
    """A cell's disclosed payments summed once, however many slices the cell is part of."""
    by_kind: dict[str, tuple[int, _Totals]] = {}
    count = 0
    for (kind, unit_kind, unit, amount), n in cell.payments.items():
        count += n
        k_count, totals = by_kind.get(kind, (0, {}))
        totals[unit_kind, unit] = totals.get((unit_kind, unit), Decimal(0)) + Decimal(amount) * n
        by_kind[kind] = (k_count + n, totals)
    return count, by_kind


class _Sums:
    """Payments and their sums per currency and per asset."""

    __slots__ = ("payments", "sums")

    def __init__(self) -> None:
        self.payments = 0
        self.sums: dict[str, dict[str, Decimal]] = {"currency": {}, "asset": {}}

    def add(self, count: int, totals: _Totals) -> None:
        self.payments += count
        for (kind, unit), total in totals.items():
            sums = self.sums[kind]
            sums[unit] = sums.get(unit, Decimal(0)) + total


class _Slice:
    """Running sums of the cells that make up one slice (totals, one category, ...)."""

    __slots__ = ("counts", "final", "first", "jurisdictions", "kinds", "paid", "resolution")

    def __init__(self) -> None:
        self.counts = [0] * len(COUNTERS)
        self.first: list[int] = []
        self.final: list[int] = []
        self.resolution: list[int] = []
        self.jurisdictions: dict[str, list[int]] = {}
        self.paid = _Sums()
        self.kinds = {k: _Sums() for k in KINDS}

    def add(self, key: CellKey, cell: Cell, paid: _Paid) -> None:
        self.counts = [a + b for a, b in zip(self.counts, cell.counts, strict=True)]
        self.first += cell.first_response_ms
        self.final += cell.final_response_ms
        self.resolution += cell.resolution_ms
        c = cell.counts
        due = c[_DUE_ADD] - c[_DUE_SUB]
        if due or c[_MET]:
            j = self.jurisdictions.setdefault(key[3], [0, 0])
            j[0] += due
            j[1] += c[_MET]
        for kind, (count, totals) in paid[1].items():
            self.paid.add(count, totals)
            self.kinds[kind].add(count, totals)

    def figures(self) -> dict[str, Any]:
        total = dict(zip(COUNTERS, self.counts, strict=True))
        decisions = sum(total[f"decision_{o}"] for o in OUTCOMES)
        due = total["due_add"] - total["due_sub"]
        breached = due - total["met"]
        responses, resolutions = len(self.first), len(self.resolution)
        timed = total["res_timed"]
        return {
            "received": total["received"],
            "open_at_end": total["open"],
            "closed": total["closed"],
            "withdrawn": total["withdrawn"],
            "referred": total["referred"],
            "reopened": total["reopened"],
            "linked_to_incidents": total["incident_linked"],
            "decisions": {
                "total": decisions,
                **{o: total[f"decision_{o}"] for o in OUTCOMES},
                **{f"{o}_rate": _rate(total[f"decision_{o}"], decisions) for o in OUTCOMES},
                "root_causes": {r: total[f"root_{r}"] for r in ROOT_CAUSES},
            },
            "time_to_first_response": {
                **_durations(self.first),
                "within_goal": total["fr_goal"],
                "within_limit": total["fr_limit"],
                "within_goal_rate": _rate(total["fr_goal"], responses),
                "within_limit_rate": _rate(total["fr_limit"], responses),
            },
            "time_to_final_response": _durations(self.final),
            "time_to_resolution": {
                **_durations(self.resolution),
                "with_target": timed,
                "within_target": total["res_target"],
                "within_limit": total["res_limit"],
                "within_target_rate": _rate(total["res_target"], timed),
                "within_limit_rate": _rate(total["res_limit"], timed),
            },
            "hour_target_breaches": {
                "first_response": responses - total["fr_limit"],
                "target_resolution": timed - total["res_target"],
                "resolution_limit": timed - total["res_limit"],
            },
            "first_contact_resolution": {
                "resolved": total["res_fcr"],
                "rate": _rate(total["res_fcr"], resolutions),
            },
            "automation": {
                "resolved_by_bot": total["res_bot"],
                "rate": _rate(total["res_bot"], resolutions),
            },
            "deadline_breaches": {
                "due": due,
                "breached": breached,
                "breach_rate": _rate(breached, due),
                "by_jurisdiction": {
                    j: {"due": d, "breached": d - met, "breach_rate": _rate(d - met, d)}
                    for j, (d, met) in sorted(self.jurisdictions.items())
                },
            },
            "redress_paid": {
                "payments": self.paid.payments + total["paid_undisclosed"],
                "amount_undisclosed": total["paid_undisclosed"],
                "by_currency": _amounts(self.paid.sums["currency"]),
                "by_asset": _amounts(self.paid.sums["asset"]),
                "by_kind": {
                    k: {
                        "payments": part.payments,
                        "by_currency": _amounts(part.sums["currency"]),
                        "by_asset": _amounts(part.sums["asset"]),
                    }
                    for k, part in self.kinds.items()
                },
            },
            "csat": _csat(total, "csat_"),
            "csat_by_interaction": {t: _csat(total, f"csat_{t}_") for t in INTERACTIONS},
            "nps": _nps(total),
        }


BREAKDOWNS = (
    ("by_category", 0, Category),
    ("by_channel", 1, Channel),
    ("by_language", 2, Language),
)


def finalise(
    cells: Cells, window: Window, incidents: IncidentCells | None = None
) -> dict[str, Any]:
    """The figures document from aggregated cells (shared by the pure and the SQL path)."""
    totals = _Slice()
    slices = {name: {v.value: _Slice() for v in vocab} for name, _, vocab in BREAKDOWNS}
    with localcontext() as ctx:
        ctx.prec = 200  # amounts have at most 30 + 18 digits: sums stay exact
        for key, cell in sorted(cells.items()):
            # Sorted runs make each slice's later sort a cheap merge of runs.
            cell.first_response_ms.sort()
            cell.final_response_ms.sort()
            cell.resolution_ms.sort()
            paid = _paid(cell)
            totals.add(key, cell, paid)
            for name, position, _ in BREAKDOWNS:
                part = slices[name].get(key[position])
                if part is not None:
                    part.add(key, cell, paid)

    out: dict[str, Any] = {
        "version": FIGURES_VERSION,
        "period": {"from": format_ms(window.start_ms), "to": format_ms(window.end_ms)},
        "as_of": format_ms(window.as_of_ms),
        "tree_size": window.tree_size,
        "totals": totals.figures(),
    }
    for name, _, _ in BREAKDOWNS:
        out[name] = {value: part.figures() for value, part in slices[name].items()}
    out["by_incident"] = {
        incident: _incident_slice(part).figures()
        for incident, part in sorted((incidents or {}).items())
    }
    return out


def _incident_slice(cells: Cells) -> _Slice:
    part = _Slice()
    for key, cell in sorted(cells.items()):
        cell.first_response_ms.sort()
        cell.final_response_ms.sort()
        cell.resolution_ms.sort()
        part.add(key, cell, _paid(cell))
    return part


def figures_from_facts(facts: Iterable[Fact], window: Window) -> dict[str, Any]:
    incidents: IncidentCells = {}
    return finalise(accumulate(facts, window, incidents=incidents), window, incidents)


def compute_figures(envelopes: Iterable[Envelope | bytes], window: Window) -> dict[str, Any]:
    """Figures from the log's envelopes (or leaves) in log order: the pure reference path.

    ``window.tree_size`` limits the count to entries below that size (all when None).
    """
    return figures_from_facts(facts_from_envelopes(envelopes), window)


# --- the figures as a table (CSV) --------------------------------------------------------------


SLICES = ("totals", *(name for name, _, _ in BREAKDOWNS), "by_incident")


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def figures_table(doc: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The figures document as one row per slice (totals, each category, channel, language and
    incident): columns ``slice``, ``value``, then every figure by its dotted path. A path a
    slice lacks (a currency it never paid in) is None in that row."""
    rows: list[dict[str, Any]] = []
    for name in SLICES:
        parts = {"": doc["totals"]} if name == "totals" else doc[name]
        for value, figures in parts.items():
            flat: dict[str, Any] = {"slice": name.removeprefix("by_"), "value": value}
            _flatten(figures, "", flat)
            rows.append(flat)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    names = list(columns)
    return names, [[row.get(c) for c in names] for row in rows]
