"""Complaint counts for the operations metrics: by status, and overdue by jurisdiction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from ledger.casework.records import ComplaintRecord
from ledger.complaints.deadlines import get_jurisdiction, overdue_cutoff
from ledger.complaints.errors import CalendarError
from ledger.complaints.vocab import Status

# Statuses before a final response (a decision): their statutory clock is running.
AWAITING_FINAL_RESPONSE = (Status.RECEIVED, Status.ACKNOWLEDGED, Status.INVESTIGATING)
PERIODS = ("standard", "extended")


@dataclass(frozen=True)
class ComplaintCounts:
    by_status: dict[str, int]
    # (jurisdiction, period) -> complaints awaiting a final response past that period's date;
    # period "extended" is the limit after a holding reply (the standard one where none).
    overdue: dict[tuple[str, str], int]


def complaint_counts(engine: Engine, now: datetime) -> ComplaintCounts:
    """Complaints by current status, and those awaiting a final response past their statutory
    date at ``now`` (reopened complaints are not counted; unknown jurisdictions are skipped)."""
    waiting = [str(s) for s in AWAITING_FINAL_RESPONSE]
    overdue: dict[tuple[str, str], int] = {}
    with engine.connect() as conn:
        by_status = dict(
            conn.execute(
                select(ComplaintRecord.status, func.count()).group_by(ComplaintRecord.status)
            ).all()
        )
        jurisdictions = conn.execute(
            select(ComplaintRecord.jurisdiction)
            .where(ComplaintRecord.status.in_(waiting))
            .distinct()
        ).scalars()
        for code in list(jurisdictions):
            try:
                j = get_jurisdiction(code)
            except CalendarError:
                continue
            standard = overdue_cutoff(j, now)
            extended = (
                overdue_cutoff(j, now, extended=True)
                if j.extended_business_days is not None
                else standard
            )
            for period, cutoff in zip(PERIODS, (standard, extended), strict=True):
                overdue[code, period] = conn.execute(
                    select(func.count()).where(
                        ComplaintRecord.jurisdiction == code,
                        ComplaintRecord.status.in_(waiting),
                        ComplaintRecord.received_at <= cutoff,
                    )
                ).scalar_one()
    return ComplaintCounts(by_status, overdue)
