"""What staff and monitoring see of the outbox: no address and no text, ever."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from ledger.messages.ids import receiver_kind
from ledger.messages.models import WAITING, OutboxMessage, OutboxState


@dataclass(frozen=True)
class OutboxEntry:
    message_id: str
    reference: str
    for_seq: int
    event_type: str
    template: str
    receiver: str  # "email" or "webhook": the kind, not the address or endpoint
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    due_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    recorded_seq: int | None


_COLUMNS = (
    OutboxMessage.message_id,
    OutboxMessage.reference,
    OutboxMessage.for_seq,
    OutboxMessage.event_type,
    OutboxMessage.template,
    OutboxMessage.receiver,
    OutboxMessage.state,
    OutboxMessage.attempts,
    OutboxMessage.last_error,
    OutboxMessage.created_at,
    OutboxMessage.due_at,
    OutboxMessage.next_attempt_at,
    OutboxMessage.sent_at,
    OutboxMessage.recorded_seq,
)


def outbox_entries(
    engine: Engine, state: OutboxState | None = None, limit: int = 100, offset: int = 0
) -> tuple[int, list[OutboxEntry]]:
    """Rows (in ``state``, or all), oldest due first, and how many there are in total."""
    m = OutboxMessage
    where = [] if state is None else [m.state == state]
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(m).where(*where)).scalar_one()
        rows = conn.execute(
            select(*_COLUMNS)
            .where(*where)
            .order_by(m.due_at, m.message_id)
            .limit(limit)
            .offset(offset)
        ).all()
    entries = []
    for row in rows:
        values = dict(row._mapping)
        values["receiver"] = receiver_kind(values["receiver"])  # never the endpoint
        values["state"] = str(values["state"])
        entries.append(OutboxEntry(**values))
    return int(total), entries


def outbox_summary(engine: Engine, now: datetime | None = None) -> dict[str, object]:
    """For monitoring: rows per state, and how long the longest-waiting due message has
    waited since it was first due (0 when none waits)."""
    now = now or datetime.now(UTC)
    m = OutboxMessage
    with engine.connect() as conn:
        counts = dict(conn.execute(select(m.state, func.count()).group_by(m.state)).all())
        oldest = conn.execute(
            select(func.min(m.due_at)).where(m.state.in_(WAITING), m.due_at <= now)
        ).scalar_one()
    by_state = {str(s): int(counts.get(s, 0)) for s in OutboxState}
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # SQLite aggregates come back naive
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    return {"messages": by_state, "oldest_pending_seconds": max(0.0, age)}
