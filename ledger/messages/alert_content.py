"""What a queued SLA alert says when the dispatcher sends it: to a staff member by e-mail, or
to a webhook endpoint subscribed to ``sla_alert``.

The outbox row names the alert (its ``leaf_hash`` is the alert's id in ``sla_alerts``) and the
receiver (``staff:<pseudonym>``); the address is looked up in the staff accounts when sending,
so a member who left, or has no address, is skipped. The text is English (staff messages) and
names only the reference, the clock, its due time and the queue: no customer data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from ledger.complaints.timestamps import format_timestamp
from ledger.log.canonical import canonical_json
from ledger.messages.alerts import STAFF_PREFIX, SlaAlert, StaffDirectory
from ledger.messages.content import Letter, Queued, Skip
from ledger.messages.smtp import delivered_text

SUBJECTS = {
    "warning": "SLA warning: {clock} of {reference} is due {due}",
    "breach": "SLA breach: {clock} of {reference} was due {due}",
    "escalation": "Escalated automatically: {reference} ({clock} overdue)",
}
BODIES = {
    "warning": "The {clock} clock of complaint {reference} (queue {queue}) is due {due}.\n"
    "More than the warning share of its time is used.",
    "breach": "The {clock} clock of complaint {reference} (queue {queue}) was due {due} "
    "and is overdue.",
    "escalation": "Complaint {reference} (queue {queue}) was escalated automatically: its "
    "{clock} clock was due {due}.",
}


@dataclass(frozen=True)
class AlertFacts:
    reference: str
    cycle: int
    clock: str
    kind: str
    queue: str
    due: str
    at: str  # when it was raised

    def fields(self) -> dict[str, str]:
        return {"reference": self.reference, "clock": self.clock, "queue": self.queue,
                "due": self.due}  # fmt: skip


def alert_facts(conn: Connection, alert_id: str) -> AlertFacts | None:
    row = conn.execute(select(SlaAlert).where(SlaAlert.id == alert_id)).first()
    if row is None:
        return None
    return AlertFacts(row.reference, row.cycle, row.clock, row.kind, row.queue,
                      _stamp(row.due_at), _stamp(row.at))  # fmt: skip


def _stamp(at: datetime) -> str:
    return format_timestamp(at.astimezone(UTC))


def is_staff_alert(row: Queued) -> bool:
    return row.receiver.startswith(STAFF_PREFIX)


def staff_letter(conn: Connection, row: Queued, staff: StaffDirectory | None) -> Letter | Skip:
    """The e-mail to the staff member ``row`` names, or why there is none."""
    facts = alert_facts(conn, row.leaf_hash)
    if facts is None:
        return Skip("the alert is gone")
    member = None if staff is None else staff.by_pseudonym(row.receiver[len(STAFF_PREFIX) :])
    if member is None or not member.email:
        return Skip("no staff member with an e-mail address")
    fields = facts.fields()
    subject = SUBJECTS[facts.kind].format(**fields)
    text = delivered_text(BODIES[facts.kind].format(**fields) + "\n")
    return Letter(member.email, subject, text, "en")


def alert_payload(conn: Connection, row: Queued) -> bytes | None:
    """The Standard Webhooks payload of the alert (same bytes each time); None when gone."""
    facts = alert_facts(conn, row.leaf_hash)
    if facts is None:
        return None
    data = {"reference": facts.reference, "cycle": facts.cycle, "clock": facts.clock,
            "kind": facts.kind, "queue": facts.queue, "due_at": facts.due}  # fmt: skip
    return canonical_json({"type": f"sla.{facts.kind}", "timestamp": facts.at, "data": data})
