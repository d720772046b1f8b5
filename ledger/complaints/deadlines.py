"""Complaint clocks: service targets and statutory final-response deadlines.

Service targets (the deployment's ``service_rules.ServiceRules``; the playbook's own by
default) run on elapsed time by default, because the wallet is supported around the clock;
pass ``ServiceHours`` to count opening hours only:

* first response within the limit (2 h) of receipt (acknowledgement, information request,
  holding reply or decision);
* a playbook step with its own target (hacked account: access blocked within 15 min);
* resolution per category: a target (lower bound) and a limit (upper bound), e.g. hacked
  account 1–3 h; an untimed category (security question) gets them from the handler's
  ``target_set`` step. Resolution is the solution *carried out* (``playbooks.resolves``: the
  playbook's last step, a payment, a closure as resolved, or a rejected decision), not the
  decision. Time waiting for the customer (information they were asked for, or their
  confirmation of a fix) does not count.

Statutory clocks run on the jurisdiction's calendar and never pause:

* ``EU-PSD2`` (and member-state variants such as ``EU-PSD2-LT``): final response within 15
  business days, or 35 when a holding reply explaining the delay was sent within the 15
  (PSD2 Art. 101(2)). Business days are counted after the local day of receipt, so a complaint
  received on a weekend or holiday starts on the next business day. That is the
  customer-favourable reading; it never gives a later date than deeming such complaints
  received on the next business day.
* ``UK-FCA-DISP``: final response within 8 calendar weeks of receipt (DISP 1.6.2R); the date
  is not moved for weekends or bank holidays.
* ``UK-FCA-PSR``: UK payment-services and e-money complaints, 15/35 business days on the
  England and Wales calendar (DISP 1.6.2AR).

A due instant is exclusive: the end of the local due day, i.e. 00:00 local time the next day.
Reopening a complaint starts a new cycle with fresh clocks (the first-response clock runs in
the first cycle only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from ledger.complaints.calendars import (
    ENGLAND_AND_WALES,
    LITHUANIA,
    TARGET2,
    HolidayCalendar,
    ServiceHours,
    add_business_days,
    add_service_time,
    service_time_between,
)
from ledger.complaints.errors import CalendarError
from ledger.complaints.events import Envelope, parse_envelope
from ledger.complaints.playbooks import TIMED_STEPS, resolves, waits_for_customer
from ledger.complaints.service_rules import DEFAULT_RULES, ServiceRules
from ledger.complaints.timestamps import as_utc, format_timestamp
from ledger.complaints.vocab import Category, EventType, PlaybookStep

E = EventType
# Staff events that count as the first response to the customer.
FIRST_RESPONSE_EVENTS = frozenset({E.ACKNOWLEDGED, E.INFO_REQUESTED, E.HOLDING_REPLY, E.DECISION})


@dataclass(frozen=True)
class Referral:
    """Where a customer not satisfied with the final response can take the complaint, and by
    when; the letters word it (``texts``, locale key ``referral_rights``)."""

    scheme: str  # the body: financial_ombudsman, bank_of_lithuania, eu_adr (locale keys)
    months: int  # the time limit
    # From when it runs: "final_response" (our final response) or "complaint" (the day the
    # customer complained to us).
    counted_from: str


@dataclass(frozen=True)
class Jurisdiction:
    """How the statutory final-response deadline is computed, and where a customer not
    satisfied with it can refer the complaint."""

    code: str
    basis: str  # the rule, for humans and reports
    calendar: HolidayCalendar
    timezone: str
    business_days: int | None = None  # PSD2-style: 15
    extended_business_days: int | None = None  # 35 after a timely holding reply
    weeks: int | None = None  # DISP-style: 8 calendar weeks
    referral: Referral | None = None

    def __post_init__(self) -> None:
        if (self.business_days is None) == (self.weeks is None):
            raise CalendarError(f"{self.code}: give business_days or weeks", "BAD_JURISDICTION")
        ZoneInfo(self.timezone)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(ZoneInfo(self.timezone)).date()

    def end_of_day(self, day: date) -> datetime:
        """The exclusive end of local ``day`` as a UTC instant."""
        nxt = datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(self.timezone))
        return as_utc(nxt)

    def final_response_date(self, received_at: datetime | str, *, extended: bool = False) -> date:
        """The last local day on which the final response is on time."""
        received = self.local_date(as_utc(received_at))
        if extended and self.extended_business_days is None:
            raise CalendarError(f"{self.code} has no extended deadline", "NO_EXTENSION")
        if self.weeks is not None:
            return received + timedelta(weeks=self.weeks)
        days = self.extended_business_days if extended else self.business_days
        assert days is not None  # __post_init__: business_days is set when weeks is not
        return add_business_days(received, days, self.calendar)


JURISDICTIONS: dict[str, Jurisdiction] = {
    j.code: j
    for j in (
        Jurisdiction(
            "EU-PSD2",
            "PSD2 Art. 101(2): 15 business days, 35 with a holding reply (TARGET2 calendar)",
            TARGET2,
            "Europe/Brussels",
            business_days=15,
            extended_business_days=35,
            # ADR Directive 2013/11/EU Art. 5(4)(e): a scheme may not refuse a dispute brought
            # within a year of the complaint to the firm (member states may allow longer).
            referral=Referral("eu_adr", 12, "complaint"),
        ),
        Jurisdiction(
            "EU-PSD2-LT",
            "PSD2 Art. 101(2) as applied in Lithuania: 15/35 business days (LT calendar)",
            LITHUANIA,
            "Europe/Vilnius",
            business_days=15,
            extended_business_days=35,
            # The Bank of Lithuania resolves consumer disputes with financial market
            # participants out of court, if brought within a year of the complaint to the firm.
            referral=Referral("bank_of_lithuania", 12, "complaint"),
        ),
        Jurisdiction(
            "UK-FCA-DISP",
            "FCA DISP 1.6.2R: final response within 8 weeks of receipt",
            ENGLAND_AND_WALES,
            "Europe/London",
            weeks=8,
            # DISP 2.8.2R: within six months of the firm's final response.
            referral=Referral("financial_ombudsman", 6, "final_response"),
        ),
        Jurisdiction(
            "UK-FCA-PSR",
            "FCA DISP 1.6.2AR (payment services, e-money): 15 business days, 35 with a holding "
            "reply (England and Wales bank holidays)",
            ENGLAND_AND_WALES,
            "Europe/London",
            business_days=15,
            extended_business_days=35,
            referral=Referral("financial_ombudsman", 6, "final_response"),
        ),
    )
}


def get_jurisdiction(
    code: str, jurisdictions: Mapping[str, Jurisdiction] | None = None
) -> Jurisdiction:
    """Look up a jurisdiction by code (built-ins unless ``jurisdictions`` is given)."""
    table = JURISDICTIONS if jurisdictions is None else jurisdictions
    try:
        return table[code]
    except KeyError:
        known = ", ".join(sorted(table))
        raise CalendarError(
            f"unknown jurisdiction {code!r} (known: {known})", "UNKNOWN_JURISDICTION"
        ) from None


class ClockName(StrEnum):
    FIRST_RESPONSE = "first_response"
    ACCESS_BLOCK = "access_block"  # hacked account: access blocked (a playbook step target)
    TARGET_RESOLUTION = "target_resolution"
    RESOLUTION_LIMIT = "resolution_limit"
    FINAL_RESPONSE = "final_response"


class ClockStatus(StrEnum):
    RUNNING = "running"  # due in the future
    PAUSED = "paused"  # waiting for the customer; no due time until they answer
    OVERDUE = "overdue"  # not done and past due
    MET = "met"  # done in time
    MISSED = "missed"  # done, but late
    STOPPED = "stopped"  # no longer applies (withdrawn, closed without decision, reopened)


@dataclass(frozen=True)
class Clock:
    name: ClockName
    cycle: int  # 0 for the original complaint, n after the n-th reopening
    basis: str
    started_at: datetime
    due_at: datetime | None  # exclusive; None while paused
    status: ClockStatus
    completed_at: datetime | None = None
    due_date: date | None = None  # local due day for day-based (statutory) clocks
    statutory: bool = False
    # The basis as a rule name and its arguments, so it can be worded in any language
    # (``ledger.complaints.texts.clock_basis``); ``basis`` is the English wording.
    rule: str = ""
    rule_args: tuple[tuple[str, str], ...] = ()

    @property
    def breached(self) -> bool:
        return self.status in (ClockStatus.OVERDUE, ClockStatus.MISSED)


@dataclass(frozen=True)
class DueReport:
    now: datetime
    clocks: tuple[Clock, ...]

    @property
    def current(self) -> tuple[Clock, ...]:
        """Clocks of the latest cycle."""
        last = max((c.cycle for c in self.clocks), default=0)
        return tuple(c for c in self.clocks if c.cycle == last)

    @property
    def overdue(self) -> tuple[Clock, ...]:
        return tuple(c for c in self.clocks if c.status == ClockStatus.OVERDUE)

    @property
    def breaches(self) -> tuple[Clock, ...]:
        return tuple(c for c in self.clocks if c.breached)

    @property
    def next_due(self) -> Clock | None:
        # A running clock always has a due time (only a paused one has none).
        running = {
            c: c.due_at
            for c in self.clocks
            if c.status == ClockStatus.RUNNING and c.due_at is not None
        }
        return min(running, key=running.__getitem__, default=None)


def final_response_due(
    received_at: datetime | str, jurisdiction: Jurisdiction, *, extended: bool = False
) -> datetime:
    """Exclusive UTC instant by which the final response must be sent."""
    return jurisdiction.end_of_day(jurisdiction.final_response_date(received_at, extended=extended))


def overdue_cutoff(
    jurisdiction: Jurisdiction, now: datetime, *, extended: bool = False
) -> datetime:
    """The latest receipt instant whose (standard or ``extended``) final response is overdue at
    ``now``: a complaint received at or before it and still without a final response is late.

    The due instant only grows with the receipt instant, so a bisection over the receipt
    instants of the last 400 days finds where it crosses ``now``, to within a minute and never
    after it (a complaint received in that minute is not yet counted).
    """

    def due(received: datetime) -> datetime:
        return final_response_due(received, jurisdiction, extended=extended)

    lo, hi = now - timedelta(days=400), now
    if due(lo) > now:
        return lo - timedelta(microseconds=1)
    while hi - lo > timedelta(minutes=1):
        mid = lo + (hi - lo) / 2
        if due(mid) <= now:
            lo = mid
        else:
            hi = mid
    return lo


def initial_deadlines(
    received_at: datetime | str,
    category: Category | str,
    jurisdiction: Jurisdiction,
    service_hours: ServiceHours | None = None,
    rules: ServiceRules = DEFAULT_RULES,
) -> dict[str, str]:
    """The ``public.deadlines`` object for a received event (the promise made at intake).

    An untimed category has no resolution instants until its handler sets a target.
    """
    start = as_utc(received_at)
    times = rules.times(category)
    out = {
        "first_response": format_timestamp(
            add_service_time(start, rules.first_response_limit, service_hours)
        ),
        "first_response_goal": format_timestamp(
            add_service_time(start, rules.first_response_goal, service_hours)
        ),
    }
    for step, span in times.step_targets.items():
        out[str(STEP_CLOCKS[step])] = format_timestamp(add_service_time(start, span, service_hours))
    if times.target is not None and times.limit is not None:
        out["target_resolution"] = format_timestamp(
            add_service_time(start, times.target, service_hours)
        )
        out["resolution_limit"] = format_timestamp(
            add_service_time(start, times.limit, service_hours)
        )
    out["final_response"] = format_timestamp(final_response_due(start, jurisdiction))
    return out


# Playbook steps with their own clock (service_rules.CategoryTimes.step_targets).
STEP_CLOCKS: Mapping[PlaybookStep, ClockName] = {
    PlaybookStep.ACCESS_BLOCKED: ClockName.ACCESS_BLOCK
}
assert set(STEP_CLOCKS) == TIMED_STEPS, "every step that may have a target has its clock"


def due_report(
    events: Sequence[Envelope | bytes],
    now: datetime | str,
    *,
    jurisdictions: Mapping[str, Jurisdiction] | None = None,
    service_hours: ServiceHours | None = None,
    rules: ServiceRules = DEFAULT_RULES,
) -> DueReport:
    """Every clock of a complaint as of ``now``: what is due when, what is overdue.

    ``events`` is the complaint's chain in order (envelopes or leaf bytes; see
    ``states.replay`` to check the chain itself). Events after ``now`` are ignored, so the
    same call answers "what was overdue on day X" for audits.
    """
    now_utc = as_utc(now)
    parsed = [e if isinstance(e, Envelope) else parse_envelope(e) for e in events]
    if not parsed or parsed[0].type != E.RECEIVED:
        raise CalendarError("a complaint's events start with its received event", "NO_RECEIVED")
    until_now = [e for e in parsed if e.at_datetime <= now_utc]
    if not until_now:
        raise CalendarError("the complaint was received after 'now'", "NOT_YET_RECEIVED")
    received = until_now[0]
    jurisdiction = get_jurisdiction(received.public["jurisdiction"], jurisdictions)
    category = Category(received.public["category"])
    clocks: list[Clock] = []
    cycles = _cycles(until_now)
    for cycle, chunk in enumerate(cycles):
        ended_at = cycles[cycle + 1][0].at_datetime if cycle + 1 < len(cycles) else None
        history = [e for c in cycles[: cycle + 1] for e in c]
        clocks += _cycle_clocks(
            cycle, chunk, history, now_utc, ended_at, jurisdiction, category, service_hours, rules
        )
    return DueReport(now=now_utc, clocks=tuple(clocks))


def _cycles(events: Sequence[Envelope]) -> list[list[Envelope]]:
    """Split a chain at each reopening; each cycle starts with received or reopened."""
    cycles: list[list[Envelope]] = []
    for e in events:
        if e.type in (E.RECEIVED, E.REOPENED):
            cycles.append([])
        cycles[-1].append(e)
    return cycles


def _first(
    events: Sequence[Envelope], types: frozenset[EventType] | set[EventType]
) -> datetime | None:
    return next((e.at_datetime for e in events if e.type in types), None)


def _status(
    due: datetime | None,
    completed: datetime | None,
    stopped: datetime | None,
    now: datetime,
    paused: bool = False,
) -> ClockStatus:
    if completed is not None:
        return ClockStatus.MET if due is not None and completed < due else ClockStatus.MISSED
    if stopped is not None:
        return ClockStatus.STOPPED
    if paused:
        return ClockStatus.PAUSED
    return ClockStatus.OVERDUE if due is not None and now >= due else ClockStatus.RUNNING


def _cycle_clocks(
    cycle: int,
    events: Sequence[Envelope],
    history: Sequence[Envelope],
    now: datetime,
    ended_at: datetime | None,
    jurisdiction: Jurisdiction,
    category: Category,
    hours: ServiceHours | None,
    rules: ServiceRules,
) -> list[Clock]:
    start = events[0].at_datetime
    decided = _first(events, {E.DECISION})
    resolved = next((e.at_datetime for e in events if resolves(category, e.type, e.public)), None)
    # Without a decision (or, for the resolution clocks, a resolution), withdrawal, closure or
    # a later reopening ends the cycle's clocks.
    ended = _first(events, {E.WITHDRAWN, E.CLOSED}) or ended_at
    stopped = None if decided is not None and ended is not None and ended >= decided else ended
    unresolved_end = (
        None if resolved is not None and ended is not None and ended >= resolved else ended
    )
    clocks: list[Clock] = []

    if cycle == 0:
        limit = rules.first_response_limit
        first_due = add_service_time(start, limit, hours)
        responded = _first(events, FIRST_RESPONSE_EVENTS)
        clocks.append(
            Clock(
                ClockName.FIRST_RESPONSE,
                cycle,
                f"Service target: first response within {_hours(limit)} h",
                start,
                first_due,
                _status(first_due, responded, None if responded else stopped, now),
                responded,
                rule="first_response",
                rule_args=(("hours", _hours(limit)),),
            )
        )
        times = rules.times(category)
        for step, span in times.step_targets.items():
            due = add_service_time(start, span, hours)
            done = next(
                (
                    e.at_datetime
                    for e in events
                    if e.type == E.PLAYBOOK_STEP and e.public.get("step") == step
                ),
                None,
            )
            clocks.append(
                Clock(
                    STEP_CLOCKS[step],
                    cycle,
                    f"Service target: {step} within {_minutes(span)} min",
                    start,
                    due,
                    _status(due, done, None if done else ended, now),
                    done,
                    rule="step_target",
                    rule_args=(("step", str(step)), ("minutes", _minutes(span))),
                )
            )

    spans = _resolution_spans(category, history, rules)
    if spans is not None:
        target, limit, rule, args = spans
        pauses = _pauses(category, events, resolved or unresolved_end)
        for name, span in (
            (ClockName.TARGET_RESOLUTION, target),
            (ClockName.RESOLUTION_LIMIT, limit),
        ):
            span_due = _due_with_pauses(start, span, pauses, hours)
            clocks.append(
                Clock(
                    name,
                    cycle,
                    f"Service target for {category}: {_hours(target)}–{_hours(limit)} h",
                    start,
                    span_due,
                    _status(span_due, resolved, unresolved_end, now, paused=span_due is None),
                    resolved,
                    rule=rule,
                    rule_args=args,
                )
            )

    due_date = jurisdiction.final_response_date(start)
    basis = jurisdiction.basis
    rule = "statutory"
    if jurisdiction.extended_business_days is not None:
        holding = _first(events, {E.HOLDING_REPLY})
        if holding is not None and holding < jurisdiction.end_of_day(due_date):
            due_date = jurisdiction.final_response_date(start, extended=True)
            basis += " (extended by a holding reply)"
            rule = "statutory_extended"
    due = jurisdiction.end_of_day(due_date)
    clocks.append(
        Clock(
            ClockName.FINAL_RESPONSE,
            cycle,
            basis,
            start,
            due,
            _status(due, decided, stopped, now),
            decided,
            due_date=due_date,
            statutory=True,
            rule=rule,
            rule_args=(("jurisdiction", jurisdiction.code),),
        )
    )
    return clocks


def _resolution_spans(
    category: Category, history: Sequence[Envelope], rules: ServiceRules
) -> tuple[timedelta, timedelta, str, tuple[tuple[str, str], ...]] | None:
    """The resolution target and limit of a cycle, with the rule that sets them: the
    category's service times, or for an untimed category the last target its handler set
    (None until one is)."""
    times = rules.times(category)
    if times.target is not None and times.limit is not None:
        args = (("category", str(category)), ("target", _hours(times.target)),
                ("limit", _hours(times.limit)))  # fmt: skip
        return times.target, times.limit, "service_target", args
    chosen = next((e for e in reversed(history) if e.type == E.TARGET_SET), None)
    if chosen is None:
        return None
    target = timedelta(minutes=chosen.public["target_minutes"])
    limit = timedelta(minutes=chosen.public["limit_minutes"])
    return target, limit, "handler_target", (("target", _hours(target)), ("limit", _hours(limit)))


def _pauses(
    category: Category, events: Sequence[Envelope], end: datetime | None
) -> list[tuple[datetime, datetime | None]]:
    """Intervals spent waiting for the customer (open-ended if still waiting).

    Two waits, either of which pauses the clock: for information they were asked for (until
    they send it, or a decision is made without it), and for their confirmation of a fix
    (until they confirm or the confirmation lapses). ``figures`` counts the same intervals.
    """
    pauses: list[tuple[datetime, datetime | None]] = []
    waiting: set[str] = set()
    since: datetime | None = None
    for e in events:
        if end is not None and e.at_datetime >= end:
            break
        before = bool(waiting)
        if e.type in (E.INFO_RECEIVED, E.DECISION):
            waiting.discard("info")
        if e.type == E.PLAYBOOK_STEP and "confirmation" in e.public:
            waiting.discard("confirmation")
        if e.type == E.INFO_REQUESTED:
            waiting.add("info")
        if waits_for_customer(category, e.type, e.public):
            waiting.add("confirmation")
        if before and not waiting:
            assert since is not None
            pauses.append((since, e.at_datetime))
        elif waiting and not before:
            since = e.at_datetime
    if waiting:
        assert since is not None
        pauses.append((since, end))
    return pauses


def _due_with_pauses(
    start: datetime,
    span: timedelta,
    pauses: Sequence[tuple[datetime, datetime | None]],
    hours: ServiceHours | None,
) -> datetime | None:
    """When ``span`` of unpaused service time has elapsed; None while a pause is still open.

    A pause only extends a clock that had not yet run out when the pause began.
    """
    remaining, cursor = span, start
    for pause_start, pause_end in pauses:
        available = service_time_between(cursor, pause_start, hours)
        if available >= remaining:
            break
        remaining -= available
        if pause_end is None:
            return None
        cursor = max(cursor, pause_end)
    return add_service_time(cursor, remaining, hours)


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g}"


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g}"
