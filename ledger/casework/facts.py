"""The ``audit_facts`` table: one row per complaint event, written in the step's transaction.

Each row is ``figures.derive_fact`` of the event (public fields of the leaf plus what the
complaint's earlier events say), so the table holds nothing a reader of the log could not
derive. It exists for speed: regulator figures over a million events are a handful of SQL
aggregates instead of a replay. ``sql_figures`` fills the same ``figures.Cells`` as the pure
path and calls the same ``figures.finalise``: for one log prefix both give identical figures.

Rows are append-only (database triggers, like the log itself). ``write_fact`` runs inside the
log's write transaction (``PendingEntry.write``), so a fact commits with its leaf or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Engine,
    Index,
    Integer,
    SmallInteger,
    String,
    and_,
    case,
    func,
    insert,
    inspect,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.casework.records import ComplaintEvent, ComplaintRecord
from ledger.complaints.events import Envelope, parse_envelope
from ledger.complaints.figures import (
    COUNTED_EVENTS,
    FACT_FIELDS,
    IX,
    Cell,
    Cells,
    Fact,
    FactDeriver,
    IncidentCells,
    Window,
    accumulate,
    derive_fact,
    finalise,
    rated_type_of,
    to_ms,
)
from ledger.complaints.vocab import OFFICER_KEY_EVENTS, EscalationLevel, EventType
from ledger.db import Base
from ledger.logstore.models import Log, LogEntry, install_append_only_triggers
from ledger.logstore.store import defer_insert

_CELL = ("category", "channel", "language", "jurisdiction")
_BOOLEAN_PREDICATES = {"ends_cycle", "first_response", "resolution"}


def _partial(name: str, where: str, *columns: str) -> Index:
    """An index over the rows matching ``where`` (SQLite and PostgreSQL spell booleans apart)."""
    sqlite_where = f"{where} = 1" if where in _BOOLEAN_PREDICATES else where
    return Index(name, *columns, sqlite_where=text(sqlite_where), postgresql_where=text(where))


class AuditFact(Base):
    """``figures.Fact`` as a row; see its docstring for each column."""

    __tablename__ = "audit_facts"

    log_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    reference: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    jurisdiction: Mapped[str] = mapped_column(String(32))
    cycle: Mapped[int] = mapped_column(Integer)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    cycle_start_ms: Mapped[int] = mapped_column(BigInteger)
    open_delta: Mapped[int] = mapped_column(SmallInteger)
    first_response: Mapped[bool] = mapped_column(Boolean)
    responded: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    unit_kind: Mapped[str | None] = mapped_column(String(8), nullable=True)
    unit: Mapped[str | None] = mapped_column(String(20), nullable=True)
    amount: Mapped[str | None] = mapped_column(String(64), nullable=True)
    csat: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    base_due_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    due_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    due_add_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    due_sub_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cycle_ended: Mapped[bool] = mapped_column(Boolean)
    ends_cycle: Mapped[bool] = mapped_column(Boolean)
    ended_due_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    incident: Mapped[str] = mapped_column(String(24))
    level: Mapped[str] = mapped_column(String(16))
    contacted: Mapped[bool] = mapped_column(Boolean)
    root_cause: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    fr_goal_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    fr_limit_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    target_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    limit_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    wait_since_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    waiting: Mapped[int] = mapped_column(SmallInteger)
    paused_ms: Mapped[int] = mapped_column(BigInteger)
    resolved: Mapped[bool] = mapped_column(Boolean)
    resolution: Mapped[bool] = mapped_column(Boolean)
    resolution_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    nps: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    rated_type: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        Index("ux_audit_facts_reference_seq", "reference", "seq", unique=True),
        # Covering indexes, cell columns first: each figure query reads only the rows it counts
        # and reads them already in GROUP BY order (no sort, no hash table; see sql_cells).
        Index("ix_audit_facts_counts", "type", *_CELL, "outcome", "root_cause", "csat",
              "rated_type", "nps", "at_ms", "log_index"),
        _partial("ix_audit_facts_open", "open_delta <> 0", *_CELL, "at_ms", "open_delta",
                 "log_index"),
        _partial("ix_audit_facts_due_add", "due_add_ms IS NOT NULL", *_CELL, "due_add_ms",
                 "at_ms", "log_index"),
        _partial("ix_audit_facts_due_sub", "due_sub_ms IS NOT NULL", *_CELL, "due_sub_ms",
                 "at_ms", "log_index"),
        # Each partial index also holds its predicate's column: SQLite answers from the index
        # alone (covering) only when it names every column the query uses.
        _partial("ix_audit_facts_met", "ends_cycle", *_CELL, "ended_due_ms", "at_ms",
                 "log_index", "ends_cycle"),
        _partial("ix_audit_facts_first", "first_response", *_CELL, "at_ms", "received_ms",
                 "fr_goal_ms", "fr_limit_ms", "log_index", "first_response"),
        _partial("ix_audit_facts_resolution", "resolution", *_CELL, "at_ms", "resolution_ms",
                 "target_ms", "limit_ms", "cycle", "contacted", "level", "log_index",
                 "resolution"),
        _partial("ix_audit_facts_decision", "type = 'decision'", *_CELL, "at_ms",
                 "cycle_start_ms", "log_index", "type"),
        _partial("ix_audit_facts_paid", "type = 'compensation_paid'", *_CELL, "kind",
                 "unit_kind", "unit", "amount", "at_ms", "log_index", "type"),
        # The few facts of complaints linked to an incident, read whole (sql_incident_cells).
        _partial("ix_audit_facts_incident", "incident <> ''", "incident", "log_index"),
    )  # fmt: skip


install_append_only_triggers(AuditFact.__table__)
T = AuditFact.__table__.c
_COLUMNS = [T[name] for name in FACT_FIELDS]
assert set(FACT_FIELDS) == set(T.keys()), "audit_facts columns must match figures.Fact"


def fact_row(fact: Fact) -> dict[str, Any]:
    return {name: getattr(fact, name) for name in FACT_FIELDS}


def _fact(row: Sequence[Any]) -> Fact:
    return Fact(*row)


# --- writing --------------------------------------------------------------------------------


class PreparedFact:
    """A step's audit fact derived before its append (``prepare_fact``): ``fact`` is None for
    events without one; its ``log_index`` is set when the entry's index is known."""

    def __init__(self, fact: Fact | None) -> None:
        self.fact = fact
        self.row = None if fact is None else fact_row(fact)  # made outside the write lock

    def write(self, conn: Connection, index: int) -> None:
        """Queue the fact, at log entry ``index``, with the append batch (a write hook)."""
        if self.row is not None:
            defer_insert(conn, AuditFact, {**self.row, "log_index": index})

    def at(self, index: int) -> Fact | None:
        """The fact as written at log entry ``index``."""
        return None if self.fact is None else replace(self.fact, log_index=index)


def prepare_fact(
    conn: Connection, envelope: Envelope, prev: Fact | None = None
) -> PreparedFact | None:
    """The fact of a complaint event before its append, reading with ``conn`` what it needs
    (outside the log's write transaction: facts of committed steps never change).

    ``prev`` as for ``write_fact``. None when the complaint's earlier facts predate the table:
    ``write_fact`` then derives them in the write transaction.
    """
    if envelope.type in OFFICER_KEY_EVENTS:
        return PreparedFact(None)
    if envelope.complaint is None:
        prev = None
    elif prev is None or prev.reference != envelope.complaint or prev.seq != envelope.seq - 1:
        row = conn.execute(
            select(*_COLUMNS).where(T.reference == envelope.complaint, T.seq == envelope.seq - 1)
        ).first()
        if row is None:
            return None
        prev = _fact(row)
    fact = derive_fact(prev, envelope, -1, rated_type=_rated_type(conn, envelope))
    return PreparedFact(fact)


def write_fact(
    conn: Connection, envelope: Envelope, index: int, prev: Fact | None = None
) -> Fact | None:
    """Queue the fact of a complaint event for insertion with its append batch (a write hook:
    runs in the append transaction, see ``defer_insert``) and return it.

    ``prev`` is the complaint's previous fact when the caller holds it (the fact its own last
    committed step returned): it is used only if it is the fact of ``envelope.seq - 1``, else
    that fact is read from the table (facts of one complaint never change once committed).
    """
    prepared = prepare_fact(conn, envelope, prev)
    if prepared is None:  # facts older than the table: derived from the log and written
        prev = _rebuild(conn, envelope)
        rated = _rated_type(conn, envelope)
        prepared = PreparedFact(derive_fact(prev, envelope, -1, rated_type=rated))
    prepared.write(conn, index)
    return prepared.at(index)


def _rated_type(conn: Connection, envelope: Envelope) -> str | None:
    """For a rating naming its step, that step's type (committed before the rating: the
    rating was checked against the complaint's committed chain); None for other events."""
    if envelope.type != EventType.RATED or "rates" not in envelope.public:
        return None
    seq = envelope.public["rates"]
    found = conn.execute(
        select(ComplaintEvent.type).where(
            ComplaintEvent.reference == envelope.complaint, ComplaintEvent.seq == seq
        )
    ).scalar_one_or_none()
    if found is None:
        raise LookupError(f"no step {seq} of complaint {envelope.complaint} before its rating")
    return str(found)


def _rebuild(conn: Connection, envelope: Envelope) -> Fact:
    """Facts of a complaint's earlier events that predate the table (derived from the log)."""
    reference = envelope.complaint
    rows = conn.execute(
        select(ComplaintEvent.seq, ComplaintEvent.log_index)
        .where(ComplaintEvent.reference == reference, ComplaintEvent.seq < envelope.seq)
        .order_by(ComplaintEvent.seq)
    ).all()
    indexes = [r.log_index for r in rows]
    leaves = dict(
        conn.execute(
            select(LogEntry.idx, LogEntry.data)
            .join(Log, Log.id == LogEntry.log_id)
            .where(Log.origin == envelope.log, LogEntry.idx.in_(indexes))
        ).all()
    )
    have = {r[0] for r in conn.execute(select(T.seq).where(T.reference == reference)).all()}
    prev: Fact | None = None
    missing = []
    types: list[str | None] = []
    for index in indexes:
        env = parse_envelope(leaves[index])
        prev = derive_fact(prev, env, index, rated_type=rated_type_of(types, env))
        types.append(prev.type)
        if prev.seq not in have:
            missing.append(fact_row(prev))
    if missing:
        conn.execute(insert(AuditFact), missing)
    if prev is None:
        raise LookupError(f"no earlier events of complaint {reference}")
    return prev


def backfill(conn: Connection, batch: int = 4096) -> int:
    """Derive facts for every complaint event on the logs that has none; returns rows added.

    For ledgers created before this table existed (the migration that creates the table runs
    it). Runs in the caller's transaction.
    """
    have = {r[0] for r in conn.execute(select(T.log_index)).all()}
    # An older revision's migration runs this code against its own, narrower table: only the
    # columns the table has by then are written (a later revision rebuilds it with the rest).
    present = {c["name"] for c in inspect(conn).get_columns(AuditFact.__tablename__)}
    insert_rows = insert(AuditFact.__table__)
    added = 0
    for (log_id,) in conn.execute(select(Log.id).order_by(Log.id)).all():
        deriver = FactDeriver()
        begin = 0
        while True:
            rows = conn.execute(
                select(LogEntry.idx, LogEntry.data)
                .where(LogEntry.log_id == log_id, LogEntry.idx >= begin)
                .order_by(LogEntry.idx)
                .limit(batch)
            ).all()
            if not rows:
                break
            new = []
            for index, data in rows:
                try:
                    env = parse_envelope(data)
                except ValueError:
                    continue  # not a complaint-ledger entry
                fact = deriver.add(env, index)
                if fact is not None and index not in have:
                    new.append({k: v for k, v in fact_row(fact).items() if k in present})
            if new:
                conn.execute(insert_rows, new)
                added += len(new)
            begin = rows[-1][0] + 1
    return added


# --- figures ---------------------------------------------------------------------------------


def _between(col, w: Window):
    return and_(col >= w.start_ms, col < w.end_ms, col <= w.as_of_ms)


CELL_COLUMNS = (T.category, T.channel, T.language, T.jurisdiction)
_N = len(CELL_COLUMNS)
_COUNTED_TYPES = (*COUNTED_EVENTS, "decision", "rated", "nps_given")
_BOT = EscalationLevel.BOT.value


def _int_lists(
    conn: Connection, value, *where, sums: Sequence[Any] = ()
) -> Iterator[tuple[Any, list[int]]]:
    """``(row, [value, ...])`` per cell: one aggregated list per cell instead of a row per fact.
    ``sums`` are more aggregates, at ``row[_N + 1:]``."""
    if conn.dialect.name == "postgresql":
        for row in conn.execute(_per_cell(func.array_agg(value), where, sums=sums)):
            yield row, row[_N]
    else:  # SQLite has no arrays; a joined string is still far cheaper than one row per value
        for row in conn.execute(_per_cell(func.group_concat(value), where, sums=sums)):
            yield row, [int(v) for v in row[_N].split(",")]


def _per_cell(value, where, *extra, sums: Sequence[Any] = ()):
    return select(*CELL_COLUMNS, *extra, value, *sums).where(*where).group_by(*CELL_COLUMNS, *extra)


def _count_if(*conditions) -> Any:
    """How many rows of the group meet ``conditions`` (SUM of a CASE: both databases)."""
    return func.sum(case((and_(*conditions), 1), else_=0))


def sql_cells(conn: Connection, w: Window) -> Cells:
    """Aggregate the facts of log entries below ``w.tree_size`` into cells, in SQL.

    The conditions mirror ``metrics.accumulate`` one for one. Every row that can count has
    ``at <= as_of`` and ``at < to`` (a deadline falling due in the period started before it;
    a deadline met in the period was met before it fell due). Each query is answered from
    one covering index of ``audit_facts`` whose leading columns are the GROUP BY columns, so
    the database streams the groups out of the index.
    """
    size = w.tree_size if w.tree_size is not None else 2**62
    visible = and_(T.at_ms <= w.as_of_ms, T.at_ms < w.end_ms, T.log_index < size)
    in_period = and_(T.at_ms >= w.start_ms, visible)
    cells: Cells = {}

    def cell(row) -> Cell:
        key = (row[0], row[1], row[2], row[3])
        c = cells.get(key)
        if c is None:
            c = cells[key] = Cell()
        return c

    count = func.count()
    detail = (T.outcome, T.root_cause, T.csat, T.rated_type, T.nps)
    for row in conn.execute(
        select(T.type, *CELL_COLUMNS, *detail, count)
        .where(T.type.in_(_COUNTED_TYPES), in_period)
        .group_by(T.type, *CELL_COLUMNS, *detail)
    ):
        type_, (outcome, root, csat, rated, nps, n) = row[0], row[_N + 1 : _N + 7]
        counts = cell(row[1 : _N + 1]).counts
        if type_ == "decision":
            counts[IX[f"decision_{outcome}"]] += n
            counts[IX[f"root_{root}"]] += n
        elif type_ == "rated":
            counts[IX[f"csat_{csat}"]] += n
            if rated is not None:
                counts[IX[f"csat_{rated}_{csat}"]] += n
        elif type_ == "nps_given":
            counts[IX[f"nps_{nps}"]] += n
        else:
            counts[IX[type_]] += n
    for name, where in (
        ("open", (T.open_delta != 0, visible)),
        ("due_add", (T.due_add_ms.is_not(None), _between(T.due_add_ms, w), visible)),
        ("due_sub", (T.due_sub_ms.is_not(None), _between(T.due_sub_ms, w), visible)),
        (
            "met",
            (T.ends_cycle, _between(T.ended_due_ms, w),
             T.at_ms < T.ended_due_ms, T.log_index < size),
        ),
    ):  # fmt: skip
        value = func.sum(T.open_delta) if name == "open" else count
        for row in conn.execute(_per_cell(value, where)):
            cell(row).counts[IX[name]] += int(row[_N])
    # T.first_response renders the partial index's predicate on both databases.
    waited = T.at_ms - T.received_ms
    for row, values in _int_lists(
        conn, waited, T.first_response, in_period,
        sums=(_count_if(waited < T.fr_goal_ms), _count_if(waited < T.fr_limit_ms)),
    ):  # fmt: skip
        c = cell(row)
        c.first_response_ms.extend(values)
        c.counts[IX["fr_goal"]] += int(row[_N + 1])
        c.counts[IX["fr_limit"]] += int(row[_N + 2])
    res = T.resolution_ms
    for row, values in _int_lists(
        conn, res, T.resolution, in_period,
        sums=(
            func.count(T.target_ms),
            _count_if(res < T.target_ms),
            _count_if(res < T.limit_ms),
            _count_if(T.cycle == 0, T.contacted.is_(False)),
            _count_if(T.level == _BOT),
        ),
    ):  # fmt: skip
        c = cell(row)
        c.resolution_ms.extend(values)
        for i, name in enumerate(("res_timed", "res_target", "res_limit", "res_fcr", "res_bot")):
            c.counts[IX[name]] += int(row[_N + 1 + i])
    for row, values in _int_lists(
        conn, T.at_ms - T.cycle_start_ms, T.type == "decision", in_period
    ):
        cell(row).final_response_ms.extend(values)
    for row in conn.execute(
        _per_cell(
            count, (T.type == "compensation_paid", in_period), T.kind, T.unit_kind, T.unit,
            T.amount,
        )
    ):  # fmt: skip
        kind, unit_kind, unit, amount, n = row[_N : _N + 5]
        if amount is None:
            cell(row).counts[IX["paid_undisclosed"]] += int(n)
        else:
            payments = cell(row).payments
            key = (kind or "money", unit_kind, unit, amount)
            payments[key] = payments.get(key, 0) + int(n)
    return cells


_INCIDENT_FACTS = (
    f"SELECT {', '.join(FACT_FIELDS)} FROM audit_facts "
    "WHERE incident <> '' AND log_index < :size AND at_ms <= :as_of"
)


def sql_incident_cells(conn: Connection, w: Window) -> IncidentCells:
    """The cells of each incident: its complaints' facts from the link on are few, so they are
    read whole (by the partial index on incident) and counted by ``figures.accumulate``
    itself, not by a second set of aggregates. Plain rows (no result processing): booleans
    may come back as 0/1, which the counting reads as truth values."""
    size = w.tree_size if w.tree_size is not None else 2**62
    params = {"size": size, "as_of": w.as_of_ms}
    rows = conn.execute(text(_INCIDENT_FACTS), params).all()
    incidents: IncidentCells = {}
    accumulate((Fact(*r) for r in rows), w, incidents=incidents, only_incidents=True)
    return incidents


def sql_figures(engine: Engine, w: Window) -> dict[str, Any]:
    """The figures for a window, from the facts table (one read transaction)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Enough memory for the per-cell groups and lists; JIT compiling costs more than
            # it saves on these short aggregate scans.
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
            conn.exec_driver_sql("SET LOCAL jit = off")
        cells = sql_cells(conn, w)
        incidents = sql_incident_cells(conn, w)
    return finalise(cells, w, incidents)


# --- the regulator's complaint listing ---------------------------------------------------------


@dataclass(frozen=True)
class ListingFilter:
    received_from: int | None = None  # ms, inclusive
    received_to: int | None = None  # ms, exclusive
    status: str | None = None
    category: str | None = None
    channel: str | None = None
    language: str | None = None
    jurisdiction: str | None = None
    outcome: str | None = None
    overdue: bool | None = None


@dataclass(frozen=True)
class ListedComplaint:
    reference: str
    status: str
    category: str
    channel: str
    language: str
    jurisdiction: str
    received_ms: int
    last_event_ms: int
    events: int
    cycle: int
    outcome: str | None
    responded: bool
    final_response_due_ms: int | None
    cycle_ended: bool
    overdue: bool


def _listing_query(f: ListingFilter, now_ms: int):
    overdue = and_(T.cycle_ended.is_(False), T.due_ms.is_not(None), T.due_ms <= now_ms)
    query = (
        select(
            T.reference,
            T.state,
            T.category,
            T.channel,
            T.language,
            T.jurisdiction,
            T.received_ms,
            T.at_ms,
            T.seq,
            T.cycle,
            T.outcome,
            T.responded,
            T.due_ms,
            T.cycle_ended,
        )
        .select_from(AuditFact)
        .join(
            ComplaintRecord,
            and_(ComplaintRecord.reference == T.reference, ComplaintRecord.seq == T.seq),
        )
    )
    conditions = []
    if f.received_from is not None:
        conditions.append(T.received_ms >= f.received_from)
    if f.received_to is not None:
        conditions.append(T.received_ms < f.received_to)
    for name in ("category", "channel", "language", "jurisdiction", "outcome"):
        value = getattr(f, name)
        if value is not None:
            conditions.append(T[name] == value)
    if f.status is not None:
        conditions.append(T.state == f.status)
    if f.overdue is True:
        conditions.append(overdue)
    elif f.overdue is False:
        conditions.append(or_(not_(overdue), T.due_ms.is_(None)))
    if conditions:
        query = query.where(*conditions)
    return query


def _listed(row, now_ms: int) -> ListedComplaint:
    due = row.due_ms
    return ListedComplaint(
        reference=row.reference,
        status=row.state,
        category=row.category,
        channel=row.channel,
        language=row.language,
        jurisdiction=row.jurisdiction,
        received_ms=row.received_ms,
        last_event_ms=row.at_ms,
        events=row.seq + 1,
        cycle=row.cycle,
        outcome=row.outcome,
        responded=bool(row.responded),
        final_response_due_ms=due,
        cycle_ended=bool(row.cycle_ended),
        overdue=(not row.cycle_ended) and due is not None and due <= now_ms,
    )


def list_complaints(
    engine: Engine, f: ListingFilter, now: datetime, offset: int = 0, limit: int = 50
) -> tuple[int, list[ListedComplaint]]:
    """Complaints as they stand now (their latest event), filtered, newest first."""
    now_ms = to_ms(now)
    query = _listing_query(f, now_ms)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(
            query.order_by(T.received_ms.desc(), T.reference).offset(offset).limit(limit)
        ).all()
    return total, [_listed(r, now_ms) for r in rows]


def iter_complaints(
    engine: Engine, f: ListingFilter, now: datetime, chunk: int = 1000
) -> Iterator[ListedComplaint]:
    """Every complaint matching ``f``, newest first, read in chunks (for CSV export)."""
    now_ms = to_ms(now)
    base = _listing_query(f, now_ms).order_by(T.received_ms.desc(), T.reference)
    after: tuple[int, str] | None = None
    while True:
        query = base
        if after is not None:  # keyset pagination: stable and linear however long the export
            query = query.where(
                or_(
                    T.received_ms < after[0],
                    and_(T.received_ms == after[0], T.reference > after[1]),
                )
            )
        with engine.connect() as conn:
            rows = conn.execute(query.limit(chunk)).all()
        for r in rows:
            yield _listed(r, now_ms)
        if len(rows) < chunk:
            return
        after = (rows[-1].received_ms, rows[-1].reference)
