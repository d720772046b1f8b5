"""The access log: who (staff, legal, regulator) read a complaint's personal data, and when."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from ledger.casework.clock import Clock, utc_now
from ledger.casework.records import AccessRecord


class AccessLog:
    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def record(
        self, role: str, principal: str, reference: str, action: str, request_id: str
    ) -> None:
        """Record a staff, legal or regulator read of a complaint's personal data."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(AccessRecord).values(
                    at=self.clock(),
                    role=role,
                    principal=principal,
                    reference=reference,
                    action=action,
                    request_id=request_id,
                )
            )

    def records(self, reference: str) -> list[AccessRecord]:
        """The complaint's recorded reads, oldest first."""
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.scalars(
                select(AccessRecord)
                .where(AccessRecord.reference == reference)
                .order_by(AccessRecord.id)
            ).all()
        return list(rows)
