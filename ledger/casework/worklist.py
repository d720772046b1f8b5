"""The worklist read model: one row per complaint saying what falls due next, and its search keys.

``work_items`` is written by the complaint write path in each step's own transaction
(``ledger.casework.work_items``), so the worklist is never behind the log. It holds the
complaint's facts that staff filter on, its owner's pseudonym, and its next running clock:
``risk`` is the share of that clock's span used at the time asked. ``work_search`` lets staff
find a complaint by a transaction hash or the customer's e-mail address without either being
stored in clear: its ``key`` is HMAC-SHA256 under the deployment's lookup key (32 bytes,
``LEDGER_LOOKUP_KEY_FILE``) of the normalised value; erasing the body a value came from
deletes its keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Engine,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    case,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime

# What a search key was made from (``work_search.kind``).
EMAIL = "email"
TX = "tx"
TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


class WorkItemRow(Base):
    """One complaint as the worklist shows it (see the module docstring)."""

    __tablename__ = "work_items"

    reference: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)  # the step this row was computed after
    status: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    specialism: Mapped[str | None] = mapped_column(String(16), nullable=True)
    queue: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a pseudonym
    open: Mapped[bool] = mapped_column(Boolean)
    cycle: Mapped[int] = mapped_column(Integer)
    next_clock: Mapped[str | None] = mapped_column(String(32), nullable=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A clock of the current cycle overdue or missed when the row was computed (a running
    # clock that fell due since is overdue by next_due_at: the reads check both).
    breached: Mapped[bool] = mapped_column(Boolean)
    # When the SLA monitor (ledger.messages.alerts) next has something to check: the earliest
    # warning instant of a running or overdue clock; None: nothing to watch.
    next_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Computed with the deployment's service rules and lookup key (False: by a migration,
    # which has neither; the runtime finishes such rows when it opens).
    indexed: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The status answer's read model after step ``seq`` (``ledger.complaints.status_view``,
    # JSON); None until the complaint's next step for rows a migration or backfill made.
    status_view: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_work_items_open_due", "open", "next_due_at"),
        Index("ix_work_items_queue", "queue", "open"),
        Index("ix_work_items_owner", "owner"),
        Index("ix_work_items_next_alert", "next_alert_at"),
        Index("ix_work_items_indexed", "indexed"),
    )


class WorkSearchRow(Base):
    """A keyed hash to find a complaint by; ``leaf_hash`` is the step whose body gave it."""

    __tablename__ = "work_search"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), primary_key=True)
    leaf_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))

    __table_args__ = (
        Index("ix_work_search_reference", "reference"),
        Index("ix_work_search_leaf", "leaf_hash"),
    )


def search_key(lookup_key: bytes, kind: str, value: str) -> bytes:
    """HMAC-SHA256 of the normalised value (lower case, trimmed), separated by its kind."""
    normalised = value.strip().casefold()
    return hmac.new(lookup_key, f"{kind}:{normalised}".encode(), hashlib.sha256).digest()


def search_kind(text: str) -> str | None:
    """The keyed-hash kind a search text is looked up by (``TX``, ``EMAIL``), or None for a
    reference (which names no person)."""
    text = text.strip()
    if TX_HASH.fullmatch(text):
        return TX
    return EMAIL if "@" in text else None


@dataclass(frozen=True)
class WorkFilter:
    """What the worklist shows: None means any. ``open=None``: open and closed alike."""

    queue: str | None = None
    status: str | None = None
    category: str | None = None
    language: str | None = None
    channel: str | None = None
    overdue: bool | None = None
    owner: str | None = None
    open: bool | None = True


@dataclass(frozen=True)
class WorkItem:
    reference: str
    status: str
    category: str
    language: str
    channel: str
    jurisdiction: str
    queue: str
    level: str
    specialism: str | None
    owner: str | None
    next_clock: str | None
    next_due_at: datetime | None
    clock_started_at: datetime | None
    risk: float | None  # share of the next clock's span used (above 1: past due)
    breached: bool
    updated_at: datetime


W = WorkItemRow


def risk_of(started: datetime | None, due: datetime | None, now: datetime) -> float | None:
    """(now - started) / (due - started), at least 0; None without a running clock."""
    if started is None or due is None:
        return None
    span = (due - started).total_seconds()
    if span <= 0:
        return 1.0 if now >= due else 0.0
    return max(0.0, (now - started).total_seconds() / span)


def overdue_at(now: datetime) -> ColumnElement[bool]:
    """Rows with a clock breached: recorded so, or their next clock fell due by ``now``."""
    return or_(W.breached.is_(True), and_(W.next_due_at.is_not(None), W.next_due_at <= now))


def _item(row: WorkItemRow, now: datetime) -> WorkItem:
    due, started = row.next_due_at, row.clock_started_at
    return WorkItem(
        reference=row.reference,
        status=row.status,
        category=row.category,
        language=row.language,
        channel=row.channel,
        jurisdiction=row.jurisdiction,
        queue=row.queue,
        level=row.level,
        specialism=row.specialism,
        owner=row.owner,
        next_clock=row.next_clock,
        next_due_at=due,
        clock_started_at=started,
        risk=risk_of(started, due, now),
        breached=bool(row.breached) or (due is not None and due <= now),
        updated_at=row.updated_at,
    )


def _conditions(f: WorkFilter, now: datetime) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    for column, value in (
        (W.queue, f.queue),
        (W.status, f.status),
        (W.category, f.category),
        (W.language, f.language),
        (W.channel, f.channel),
        (W.owner, f.owner),
    ):
        if value is not None:
            where.append(column == value)
    if f.open is not None:
        where.append(W.open.is_(f.open))
    if f.overdue is not None:
        where.append(overdue_at(now) if f.overdue else not_(overdue_at(now)))
    return where


class Worklist:
    """The console's reads of the worklist (``ledger.runtime`` builds it)."""

    def __init__(self, engine: Engine, lookup_key: bytes) -> None:
        self.engine = engine
        self.lookup_key = lookup_key

    def items(
        self, f: WorkFilter, now: datetime, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[WorkItem]]:
        """The matching complaints, next due first (none due last), and how many match."""
        where = _conditions(f, now)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(W).where(*where)).scalar_one()
            rows = conn.execute(
                select(W)
                .where(*where)
                .order_by(W.next_due_at.is_(None), W.next_due_at, W.reference)
                .offset(offset)
                .limit(limit)
            ).all()
        return int(total), [_item(WorkItemRow(**r._mapping), now) for r in rows]

    def get(self, reference: str, now: datetime | None = None) -> WorkItem | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(W).where(W.reference == reference)).first()
        if row is None:
            return None
        item = WorkItemRow(**row._mapping)
        return _item(item, now or item.updated_at)

    def search(self, text: str, now: datetime) -> list[WorkItem]:
        """Complaints by reference, by an on-chain transaction hash (0x + 64 hex) paid on
        them, or by the customer's contact e-mail address (looked up by its keyed hash)."""
        text = text.strip()
        if not text:
            return []
        kind = search_kind(text)
        if kind is not None:
            refs = self._by_key(kind, text)
        else:
            refs = list(dict.fromkeys((text, text.upper())))  # references are upper case
        found = [self.get(ref, now) for ref in refs]
        items = [item for item in found if item is not None]
        return sorted(items, key=lambda i: (i.next_due_at is None, i.next_due_at, i.reference))

    def _by_key(self, kind: str, value: str) -> list[str]:
        key = search_key(self.lookup_key, kind, value)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(WorkSearchRow.reference)
                .where(WorkSearchRow.key == key, WorkSearchRow.kind == kind)
                .distinct()
            ).all()
        return sorted(r[0] for r in rows)

    def queue_counts(self, now: datetime) -> dict[str, tuple[int, int]]:
        """Per queue: open complaints, and those of them with a clock breached."""
        late = case((overdue_at(now), 1), else_=0)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(W.queue, func.count(), func.sum(late))
                .where(W.open.is_(True))
                .group_by(W.queue)
                .order_by(W.queue)
            ).all()
        return {queue: (int(n), int(b or 0)) for queue, n, b in rows}
