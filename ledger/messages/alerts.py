"""SLA alerts and automatic escalation: warn before a clock runs out, alert on breach, escalate.

For every clock of an open complaint's current cycle (``deadlines.due_report``: first response,
a playbook step's target, resolution target and limit, the statutory final response):

* at ``warn_share`` of its span (``LEDGER_SLA_WARN_SHARE``) a **warning** goes to the
  complaint's owner, or, with no owner, to the supervisors of its queue;
* when it is overdue a **breach** alert goes to the supervisors;
* then, for an hour-level (not statutory) clock of a category whose service rules name a
  specialism (``CategoryTimes.escalate_on_breach``), the complaint is **escalated**: an
  ``escalated`` step by actor ``system`` (``sla-monitor``) with reason ``deadline_risk``.

Each happens once per (reference, cycle, clock, kind): its mark in ``sla_alerts`` commits in
the same transaction as its outbox rows (or as the escalated step), so a crash or a restart
neither loses nor repeats one. Alerts are staff messages, not customer letters: the outbox rows
(``event_type`` ``sla_alert``, receiver ``staff:<pseudonym>`` or a webhook endpoint subscribed
to ``sla_alert``) carry no address or text, nothing is recorded on the complaint, and what is
sent names only the reference, the clock and its due time (``ledger.messages.alert_content``).
The console lists them with ``alerts_for`` (a staff member may have no e-mail address).

The monitor reads ``work_items.next_alert_at`` (written by each step, moved on by each scan)
to find the complaints with something due, so a scan costs one indexed query when none has.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    Index,
    Integer,
    String,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.casework.appends import Hooks
from ledger.casework.reads import ComplaintNotFound, ComplaintReads
from ledger.casework.work_items import DEFAULT_WARN_SHARE, warn_at, work_row
from ledger.casework.worklist import WorkItemRow
from ledger.casework.writes import ComplaintWrites
from ledger.complaints.deadlines import Clock, ClockStatus, due_report
from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Actor
from ledger.complaints.service_rules import DEFAULT_RULES, ServiceRules
from ledger.complaints.vocab import EscalationLevel, EscalationReason, EventType, Role, Status
from ledger.db import Base, UTCDateTime
from ledger.errors import LedgerError
from ledger.logstore.store import Rejected
from ledger.messages.endpoints import WebhookEndpoints
from ledger.messages.ids import SLA_ALERT, message_id, webhook_receiver
from ledger.messages.models import Channel, OutboxMessage, OutboxState

log = logging.getLogger(__name__)

STAFF_PREFIX = "staff:"  # receiver of a staff member's e-mail: staff:<pseudonym>
SUPERVISOR = str(Role.SUPERVISOR)
ACTOR = Actor(Role.SYSTEM, "sla-monitor")
RETRY = timedelta(minutes=1)  # an escalation refused for a passing reason: looked at again
BATCH = 200
# Statuses in which the domain lets a complaint be escalated (states.TRANSITIONS).
ESCALABLE = frozenset(
    {str(Status.RECEIVED), str(Status.ACKNOWLEDGED), str(Status.INVESTIGATING),
     str(Status.REOPENED)}
)  # fmt: skip


class AlertKind(StrEnum):
    WARNING = "warning"  # warn_share of the clock's span used
    BREACH = "breach"  # the clock is overdue
    ESCALATION = "escalation"  # escalated automatically (or, ``outcome``, why not)


class SlaAlert(Base):
    """One alert (or automatic escalation), once per reference, cycle, clock and kind."""

    __tablename__ = "sla_alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # alert_id(...)
    reference: Mapped[str] = mapped_column(String(40))
    cycle: Mapped[int] = mapped_column(Integer)
    clock: Mapped[str] = mapped_column(String(32))  # a deadlines.ClockName
    kind: Mapped[str] = mapped_column(String(16))  # an AlertKind
    category: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)  # to this pseudonym
    to_role: Mapped[str | None] = mapped_column(String(16), nullable=True)  # or to this role
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # when it was raised
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)  # escalations

    __table_args__ = (
        Index("ix_sla_alerts_owner", "owner", "at"),
        Index("ix_sla_alerts_role", "to_role", "at"),
        Index("ix_sla_alerts_reference", "reference"),
    )


def alert_id(reference: str, cycle: int, clock: str, kind: str) -> str:
    return hashlib.sha256(f"{reference}/{cycle}/{clock}/{kind}".encode()).hexdigest()


class StaffMemberLike(Protocol):
    @property
    def pseudonym(self) -> str: ...

    @property
    def email(self) -> str | None: ...

    @property
    def roles(self) -> tuple[str, ...]: ...

    @property
    def languages(self) -> tuple[str, ...]: ...

    @property
    def specialisms(self) -> tuple[str, ...]: ...


class StaffDirectory(Protocol):
    """What the monitor needs of the staff accounts (``ledger.access.staff.StaffAccounts``)."""

    def by_pseudonym(self, pseudonym: str) -> StaffMemberLike | None: ...

    def members(self, role: str | None = None) -> Sequence[StaffMemberLike]: ...


def serves(member: StaffMemberLike, language: str, specialism: str | None) -> bool:
    """Whether a supervisor looks after a queue: its language (none listed: every language)
    and, for a specialist queue, its specialism (none listed: every specialism)."""
    if member.languages and language not in member.languages:
        return False
    return not (specialism and member.specialisms and specialism not in member.specialisms)


@dataclass(frozen=True)
class AlertView:
    """An alert as the console lists it: no personal data."""

    id: str
    reference: str
    cycle: int
    clock: str
    kind: str
    category: str
    queue: str
    owner: str | None
    to_role: str | None
    due_at: datetime
    at: datetime
    outcome: str | None


@dataclass(frozen=True)
class _Complaint:
    reference: str
    seq: int
    row: dict[str, Any]  # work_items columns as of now (queue, owner, level, status...)


class AlreadyMarked(Rejected):
    """The escalation's mark is there already: another monitor (or this one before a
    restart) escalated; nothing is appended."""


def _now() -> datetime:
    return datetime.now(UTC)


class SlaMonitor:
    def __init__(
        self,
        *,
        engine: Engine,
        reads: ComplaintReads,
        writes: ComplaintWrites,
        endpoints: WebhookEndpoints | None = None,
        rules: ServiceRules = DEFAULT_RULES,
        staff: StaffDirectory | None = None,
        warn_share: float = DEFAULT_WARN_SHARE,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.reads = reads
        self.writes = writes
        self.endpoints = endpoints
        self.rules = rules
        self.staff = staff
        self.warn_share = warn_share
        self.clock = clock

    # --- scanning ------------------------------------------------------------------------

    def scan(self, now: datetime | None = None) -> int:
        """Raise what is due at ``now`` (default: the clock); returns how many alerts and
        escalations were raised."""
        now = now or self.clock()
        done: set[str] = set()
        raised = 0
        while True:
            with self.engine.connect() as conn:
                refs = [
                    r[0]
                    for r in conn.execute(
                        select(WorkItemRow.reference)
                        .where(WorkItemRow.open.is_(True), WorkItemRow.next_alert_at <= now)
                        .order_by(WorkItemRow.next_alert_at, WorkItemRow.reference)
                        .limit(BATCH + len(done))
                    )
                    if r[0] not in done
                ]
            if not refs:
                return raised
            for ref in refs:
                done.add(ref)
                try:
                    raised += self.check(ref, now)
                except ComplaintNotFound:
                    continue
                except LedgerError:
                    log.exception("SLA check of %s failed; it is tried again", ref)

    def check(self, reference: str, now: datetime) -> int:
        """Raise the alerts due for one complaint at ``now``, then move its next check on."""
        events = self.reads.events(reference)
        envelopes = [e.envelope for e in events if e.envelope.at_datetime <= now]
        complaint = _Complaint(
            reference,
            envelopes[-1].seq,
            work_row(reference, envelopes, self.rules, self.warn_share),
        )
        if not complaint.row["open"]:
            self._move_on(complaint, None)
            return 0
        report = due_report(envelopes, now, rules=self.rules)
        raised, retry = 0, False
        upcoming: list[datetime] = []
        for clock in report.current:
            if clock.due_at is None or clock.status not in (
                ClockStatus.RUNNING,
                ClockStatus.OVERDUE,
            ):
                continue
            warn = warn_at(clock, self.warn_share)
            assert warn is not None
            if clock.status == ClockStatus.OVERDUE:
                raised += self._alert(complaint, clock, AlertKind.BREACH, now)
                outcome = self._escalate(complaint, clock, now)
                raised += outcome is True
                retry = retry or outcome is None
            elif now >= warn:
                raised += self._alert(complaint, clock, AlertKind.WARNING, now)
                upcoming.append(clock.due_at)
            else:
                upcoming.append(warn)
        if retry:
            upcoming.append(now + RETRY)
        self._move_on(complaint, min(upcoming, default=None))
        return raised

    def _move_on(self, complaint: _Complaint, next_at: datetime | None) -> None:
        """Set when the complaint next needs a look, unless a step changed it meanwhile (that
        step's row says when instead)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(WorkItemRow)
                .where(
                    WorkItemRow.reference == complaint.reference,
                    WorkItemRow.seq == complaint.seq,
                )
                .values(next_alert_at=next_at)
            )

    # --- alerts --------------------------------------------------------------------------

    def _alert(self, complaint: _Complaint, clock: Clock, kind: AlertKind, now: datetime) -> int:
        """Raise one warning or breach alert with its messages, once; 1 when raised now."""
        assert clock.due_at is not None
        row = complaint.row
        owner = row["owner"] if kind == AlertKind.WARNING else None
        mark = self._mark(complaint, clock, kind, now, owner=owner)
        try:
            with self.engine.begin() as conn:
                if self._marked(conn, mark["id"]):
                    return 0
                conn.execute(insert(SlaAlert), [mark])
                self._queue(conn, complaint, mark, now)
        except IntegrityError:  # another monitor raised it at the same moment
            return 0
        log.info("SLA %s: %s %s due %s", kind, complaint.reference, clock.name, clock.due_at)
        return 1

    def _mark(
        self,
        complaint: _Complaint,
        clock: Clock,
        kind: AlertKind,
        now: datetime,
        *,
        owner: str | None = None,
        outcome: str | None = None,
    ) -> dict[str, Any]:
        assert clock.due_at is not None
        name = str(clock.name)
        return {
            "id": alert_id(complaint.reference, clock.cycle, name, kind),
            "reference": complaint.reference,
            "cycle": clock.cycle,
            "clock": name,
            "kind": str(kind),
            "category": complaint.row["category"],
            "queue": complaint.row["queue"],
            "owner": owner,
            "to_role": None if owner else SUPERVISOR,
            "due_at": clock.due_at,
            "at": now,
            "outcome": outcome,
        }

    @staticmethod
    def _marked(conn: Connection, mark_id: str) -> bool:
        return conn.execute(select(SlaAlert.id).where(SlaAlert.id == mark_id)).first() is not None

    def _recipients(self, complaint: _Complaint, owner: str | None) -> list[str]:
        """Pseudonyms of the staff members to e-mail (those with an address)."""
        if self.staff is None:
            return []
        if owner is not None:
            member = self.staff.by_pseudonym(owner)
            found = [] if member is None else [member]
        else:
            row = complaint.row
            found = [
                m
                for m in self.staff.members(SUPERVISOR)
                if serves(m, row["language"], row["specialism"])
            ]
        return sorted({m.pseudonym for m in found if m.email})

    def _queue(
        self, conn: Connection, complaint: _Complaint, mark: dict[str, Any], now: datetime
    ) -> None:
        """The alert's outbox rows: an e-mail per recipient, a delivery per webhook endpoint
        subscribed to ``sla_alert``. No address and no text: both are read when sending."""
        receivers = [
            (STAFF_PREFIX + p, Channel.EMAIL) for p in self._recipients(complaint, mark["owner"])
        ]
        if self.endpoints is not None:
            receivers += [
                (webhook_receiver(e.id), Channel.WEBHOOK)
                for e in self.endpoints.active(conn)
                if SLA_ALERT in e.event_types
            ]
        rows = [
            {
                "message_id": message_id(mark["id"], receiver),
                "reference": complaint.reference,
                "for_seq": complaint.seq,
                "leaf_hash": mark["id"],  # the alert's id: what the dispatcher sends about
                "event_type": SLA_ALERT,
                "receiver": receiver,
                "channel": channel,
                "template": f"sla_{mark['kind']}",
                "language": "en",  # staff messages are in English
                "state": OutboxState.PENDING,
                "attempts": 0,
                "due_at": now,
                "next_attempt_at": now,
                "last_error": None,
                "created_at": now,
                "sent_at": None,
                "recorded_seq": None,
            }
            for receiver, channel in receivers
        ]
        if rows:
            conn.execute(insert(OutboxMessage), rows)

    # --- escalation ----------------------------------------------------------------------

    def _escalate(self, complaint: _Complaint, clock: Clock, now: datetime) -> bool | None:
        """Escalate on this breach where the rules say so: True when escalated now, False
        when not (not configured, done before, or refused for good), None to try again."""
        specialism = self.rules.times(complaint.row["category"]).escalate_on_breach
        if specialism is None or clock.statutory:
            return False
        row = complaint.row
        mark = self._mark(complaint, clock, AlertKind.ESCALATION, now, outcome="escalated")
        why_not = None
        if row["level"] == EscalationLevel.SPECIALIST:
            why_not = "already_specialist"
        elif row["status"] not in ESCALABLE:
            why_not = f"not_in_{row['status']}"[:32]
        if why_not is not None:
            self._mark_only({**mark, "outcome": why_not})
            return False

        def check(conn: Connection) -> None:
            if self._marked(conn, mark["id"]):
                raise AlreadyMarked(f"{complaint.reference} was escalated already")

        def write(conn: Connection, _index: int, _leaf: bytes) -> None:
            conn.execute(insert(SlaAlert), [mark])

        public = {
            "level": str(EscalationLevel.SPECIALIST),
            "specialism": str(specialism),
            "reason": str(EscalationReason.DEADLINE_RISK),
        }
        try:
            self.writes.record(
                complaint.reference, type=EventType.ESCALATED, public=public, body={},
                actor=ACTOR, hooks=Hooks(check, write),
            )  # fmt: skip
        except AlreadyMarked:
            return False
        except ComplaintError as exc:  # the domain refuses it: an operator's matter
            log.warning("SLA escalation of %s refused: %s", complaint.reference, exc.code)
            self._mark_only({**mark, "outcome": f"refused_{exc.code}".lower()[:32]})
            return False
        except Rejected:  # the complaint moved meanwhile (ChainConflict): soon again
            return None
        log.info("SLA escalation: %s to %s (%s overdue)", complaint.reference, specialism,
                 clock.name)  # fmt: skip
        return True

    def _mark_only(self, mark: dict[str, Any]) -> None:
        try:
            with self.engine.begin() as conn:
                if not self._marked(conn, mark["id"]):
                    conn.execute(insert(SlaAlert), [mark])
        except IntegrityError:
            pass

    # --- the console's list --------------------------------------------------------------

    def alerts_for(
        self, pseudonym: str | None, role: str | None, limit: int = 50
    ) -> list[AlertView]:
        """The newest alerts addressed to this staff member (warnings of complaints they own)
        or to their role (supervisors: warnings of unowned complaints, breaches,
        escalations)."""
        return alerts_for(self.engine, pseudonym, role, limit)


def alerts_for(
    engine: Engine, pseudonym: str | None, role: str | None, limit: int = 50
) -> list[AlertView]:
    """See ``SlaMonitor.alerts_for``."""
    who = []
    if pseudonym is not None:
        who.append(SlaAlert.owner == pseudonym)
    if role is not None:
        who.append(SlaAlert.to_role == role)
    if not who:
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            select(SlaAlert).where(or_(*who)).order_by(SlaAlert.at.desc(), SlaAlert.id).limit(limit)
        ).all()
    return [AlertView(**{k: getattr(r, k) for k in AlertView.__dataclass_fields__}) for r in rows]


# --- metrics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaFigures:
    """For /metrics: per (category, clock) of the next running clock, open complaints, those
    past the warning share, those breached; alerts raised per kind; automatic escalations."""

    running: dict[tuple[str, str], int]
    at_risk: dict[tuple[str, str], int]
    breached: dict[tuple[str, str], int]
    alerts: dict[str, int]
    escalations: int


def sla_figures(engine: Engine, now: datetime, warn_share: float) -> SlaFigures:
    w = WorkItemRow
    with engine.connect() as conn:
        rows = conn.execute(
            select(w.category, w.next_clock, w.clock_started_at, w.next_due_at, w.breached).where(
                w.open.is_(True), w.next_clock.is_not(None)
            )
        ).all()
        kinds = conn.execute(select(SlaAlert.kind, func.count()).group_by(SlaAlert.kind)).all()
        escalated = conn.execute(
            select(func.count()).where(
                SlaAlert.kind == AlertKind.ESCALATION, SlaAlert.outcome == "escalated"
            )
        ).scalar_one()
    running: dict[tuple[str, str], int] = {}
    at_risk: dict[tuple[str, str], int] = {}
    breached: dict[tuple[str, str], int] = {}
    for category, clock, started, due, was_breached in rows:
        cell = (category, clock)
        running[cell] = running.get(cell, 0) + 1
        if was_breached or due <= now:
            breached[cell] = breached.get(cell, 0) + 1
        elif now >= started + (due - started) * warn_share:
            at_risk[cell] = at_risk.get(cell, 0) + 1
    alerts = {str(k): 0 for k in AlertKind} | {str(k): int(n) for k, n in kinds}
    return SlaFigures(running, at_risk, breached, alerts, int(escalated))
