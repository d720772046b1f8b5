"""For the SLA tests: a clock the test sets, a staff directory, complaints filed and claimed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ledger.complaints.events import Actor
from ledger.complaints.vocab import Role
from ledger.messages.alerts import SlaAlert, SlaMonitor
from ledger.messages.models import OutboxMessage

CUSTOMER = Actor(Role.CUSTOMER, "customer")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


class SetClock:
    """The time the test says it is (the write path's and the monitor's clock)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, **delta: float) -> datetime:
        """Set the clock to T0 + delta and return it."""
        self.now = T0 + timedelta(**delta)
        return self.now


@dataclass(frozen=True)
class Member:
    pseudonym: str
    email: str | None
    roles: tuple[str, ...]
    languages: tuple[str, ...] = ()
    specialisms: tuple[str, ...] = ()
    display_name: str = "Staff Member"


@dataclass
class Directory:
    """The two look-ups of ``ledger.access.staff.StaffAccounts`` the monitor uses."""

    people: list[Member] = field(default_factory=list)

    def by_pseudonym(self, pseudonym: str) -> Member | None:
        return next((m for m in self.people if m.pseudonym == pseudonym), None)

    def members(self, role: str | None = None) -> list[Member]:
        return [m for m in self.people if role is None or role in m.roles]


OWNER = Member("staff-0a0a0a0a", "owner@staff.example", ("agent",), ("en",))
SUPERVISOR_EN = Member("staff-5e5e5e5e", "sup.en@staff.example", ("supervisor",), ("en",))
SUPERVISOR_LT = Member("staff-6f6f6f6f", "sup.lt@staff.example", ("supervisor",), ("lt",))
SUPERVISOR_NO_MAIL = Member("staff-7a7a7a7a", None, ("supervisor",))
STAFF = Directory([OWNER, SUPERVISOR_EN, SUPERVISOR_LT, SUPERVISOR_NO_MAIL])


def file_complaint(
    ledger,
    *,
    category: str = "stuck_transaction",
    language: str = "en",
    channel: str = "web_form",
    email: str | None = "jane.roe@example.org",
) -> str:
    public = {"category": category, "channel": channel, "language": language,
              "jurisdiction": "EU-PSD2"}  # fmt: skip
    contact: dict = {"name": "Jane Roe", "consent": True}
    if email is not None:
        contact["email"] = email
    body = {"description": "My transaction is stuck.", "contact": contact}
    recorded, _ = ledger.complaints.writes.file(public, body, CUSTOMER)
    return recorded.state.reference


def claim(ledger, reference: str, member: Member = OWNER):
    """The member claims the complaint (the domain's ``assigned`` step)."""
    return ledger.complaints.writes.record(
        reference,
        type="assigned",
        public={"owner": member.pseudonym, "how": "claim"},
        body={"owner_name": member.display_name},
        actor=Actor(Role.AGENT, member.pseudonym),
    )


def make_monitor(ledger, clock: SetClock, staff: Directory | None = STAFF) -> SlaMonitor:
    return SlaMonitor(
        engine=ledger.engine,
        reads=ledger.complaints.reads,
        writes=ledger.complaints.writes,
        endpoints=ledger.messages.endpoints,
        rules=ledger.service_rules,
        staff=staff,
        warn_share=ledger.settings.sla_warn_share,
        clock=clock,
    )


def marks(ledger) -> list[tuple[str, str, str | None, str | None, str | None]]:
    """(clock, kind, owner, to_role, outcome) of every alert, in the order raised."""
    a = SlaAlert
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(a.clock, a.kind, a.owner, a.to_role, a.outcome).order_by(a.at, a.kind)
        ).all()
    return [tuple(r) for r in rows]


def alert_rows(ledger) -> list[tuple[str, str, str]]:
    """(receiver, template, state) of the outbox's staff alerts."""
    m = OutboxMessage
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(m.receiver, m.template, m.state)
            .where(m.event_type == "sla_alert")
            .order_by(m.created_at, m.receiver)
        ).all()
    return [(r[0], r[1], str(r[2])) for r in rows]
