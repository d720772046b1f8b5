"""Keeping the worklist (``ledger.casework.worklist``) current: a complaint's row from its chain.

For every step the write path (``writes``) calls ``WorkItemWriter.prepare`` before the append,
outside the log's write lock: it derives the complaint's row from its envelopes (the chain so
far, cached in process and checked by the hash link, plus the new step) with
``deadlines.due_report`` under the service rules the writes use, with the status answer's read
model (``status_view``) and the search keys of the step's body. ``queue`` then queues the row
in the step's own write transaction (one upsert per append batch). ``backfill`` does the same
for every complaint from the log (the migration, and the runtime for rows the migration made
without the deployment's rules and lookup key).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select

from ledger.casework.appends import ChainConflict
from ledger.casework.cache import BoundedCache
from ledger.casework.records import ComplaintEvent, EventBody
from ledger.casework.worklist import EMAIL, TX, WorkItemRow, WorkSearchRow, search_key
from ledger.complaints.deadlines import Clock, ClockStatus, DueReport, due_report
from ledger.complaints.events import Envelope, parse_envelope
from ledger.complaints.queues import queue_of
from ledger.complaints.reference import format_reference
from ledger.complaints.service_rules import DEFAULT_RULES, ServiceRules
from ledger.complaints.states import ComplaintState, replay
from ledger.complaints.status_view import fingerprint, status_view
from ledger.complaints.vocab import EscalationLevel, EventType, Status
from ledger.errors import LedgerError
from ledger.logstore.models import LogEntry
from ledger.logstore.store import LogStore, defer_insert, defer_upsert

log = logging.getLogger(__name__)

DEFAULT_WARN_SHARE = 0.75
ASSIGNED = "assigned"  # EventType.ASSIGNED (the domain's owner step)
CLOSED_STATUSES = frozenset({str(Status.CLOSED), str(Status.WITHDRAWN)})
WATCHED = (ClockStatus.RUNNING, ClockStatus.OVERDUE)


def _queue(category: str, language: str, level: str, specialism: str | None) -> str:
    """The complaint's queue (``queues.queue_of``); a step must not fail over it, so facts
    it refuses (a specialist level without specialism) leave the category's queue."""
    try:
        return queue_of(category, language, level, specialism)
    except (LedgerError, ValueError):
        return f"{category}.{language}"


def warn_at(clock: Clock, share: float) -> datetime | None:
    """When ``share`` of the clock's span is used; None without a due time (paused)."""
    if clock.due_at is None:
        return None
    return clock.started_at + (clock.due_at - clock.started_at) * share


def clocks_report(
    reference: str, envelopes: Sequence[Envelope], rules: ServiceRules
) -> DueReport | None:
    """The complaint's clocks as of its last step; None when they cannot be computed."""
    try:
        return due_report(envelopes, envelopes[-1].at_datetime, rules=rules)
    except (LedgerError, KeyError, ValueError):  # unknown jurisdiction: no clocks to show
        log.warning("complaint %s: its clocks cannot be computed", reference)
        return None


def work_row(
    reference: str,
    envelopes: Sequence[Envelope],
    rules: ServiceRules,
    warn_share: float,
    report: DueReport | None = None,
) -> dict[str, Any]:
    """The ``work_items`` columns of a complaint after ``envelopes`` (its chain so far), as
    of its last step (``report``: its ``clocks_report``, when the caller has it)."""
    received, last = envelopes[0], envelopes[-1]
    level, specialism, owner = str(received.public.get("level", EscalationLevel.AGENT)), None, None
    for env in envelopes:
        if env.type == EventType.ESCALATED:
            level, specialism, owner = env.public["level"], env.public.get("specialism"), None
        elif env.type == ASSIGNED:
            owner = env.public.get("owner")
    status = str(last.public.get("state", Status.RECEIVED))
    is_open = status not in CLOSED_STATUSES
    category, language = str(received.public["category"]), str(received.public["language"])
    row: dict[str, Any] = {
        "reference": reference,
        "seq": last.seq,
        "status": status,
        "category": category,
        "language": language,
        "channel": str(received.public["channel"]),
        "jurisdiction": str(received.public["jurisdiction"]),
        "level": level,
        "specialism": specialism,
        "queue": _queue(category, language, level, specialism),
        "owner": owner,
        "open": is_open,
        "cycle": sum(1 for e in envelopes if e.type == EventType.REOPENED),
        "next_clock": None,
        "next_due_at": None,
        "clock_started_at": None,
        "breached": False,
        "next_alert_at": None,
        "updated_at": last.at_datetime,
    }
    if report is None:
        report = clocks_report(reference, envelopes, rules)
    if report is None:
        return row
    current = report.current
    nxt = report.next_due
    if nxt is not None:
        row.update(next_clock=str(nxt.name), next_due_at=nxt.due_at,
                   clock_started_at=nxt.started_at)  # fmt: skip
    row["breached"] = any(c.breached for c in current)
    if is_open:
        warnings = [warn_at(c, warn_share) for c in current if c.status in WATCHED]
        row["next_alert_at"] = min((w for w in warnings if w is not None), default=None)
    return row


def view_json(state: ComplaintState, report: DueReport, rules: str) -> str:
    """The stored form of the complaint's status view (``status_view``; ``rules``: the
    service rules' ``fingerprint``)."""
    return orjson.dumps(status_view(state, report, rules)).decode("utf-8")


def search_values(envelope: Envelope, body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) pairs staff may find the complaint by in this step's body."""
    found: list[tuple[str, str]] = []
    if envelope.type == EventType.RECEIVED:
        contact = body.get("contact")
        email = contact.get("email") if isinstance(contact, Mapping) else None
        if isinstance(email, str) and email.strip():
            found.append((EMAIL, email))
    if envelope.type == EventType.COMPENSATION_PAID and isinstance(body.get("tx_hash"), str):
        found.append((TX, body["tx_hash"]))
    return found


def _search_rows(
    lookup_key: bytes, reference: str, envelope: Envelope, body: Mapping[str, Any]
) -> list[dict[str, Any]]:
    pairs = {
        (kind, search_key(lookup_key, kind, value)) for kind, value in search_values(envelope, body)
    }
    return [
        {"key": key, "reference": reference, "leaf_hash": envelope.leaf_hash_hex, "kind": kind}
        for kind, key in sorted(pairs)
    ]


def _chain_from(conn: Connection, log_id: int, reference: str, below: int) -> list[Envelope]:
    rows = conn.execute(
        select(LogEntry.data)
        .join(
            ComplaintEvent, (LogEntry.log_id == log_id) & (LogEntry.idx == ComplaintEvent.log_index)
        )
        .where(ComplaintEvent.reference == reference, ComplaintEvent.seq < below)
        .order_by(ComplaintEvent.seq)
    ).all()
    return [parse_envelope(bytes(r[0])) for r in rows]


class WorkItemWriter:
    """The write path's part of the worklist (``ComplaintWrites.work_items``).

    ``lookup_key`` and ``warn_share`` are the deployment's; without a lookup key no search
    keys are written and rows are left ``indexed = False``.
    """

    def __init__(
        self,
        store: LogStore,
        rules: ServiceRules = DEFAULT_RULES,
        cache_size: int = 4096,
        *,
        lookup_key: bytes | None = None,
        warn_share: float = DEFAULT_WARN_SHARE,
        chains: BoundedCache[str, tuple[Envelope, ...]] | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.rules_fingerprint = fingerprint(rules)
        self.lookup_key = lookup_key
        self.warn_share = warn_share
        # Each complaint's chain as this process last wrote it: the next step's row needs no
        # read when its ``prev`` is the cached chain's last leaf.
        self._chains = chains if chains is not None else BoundedCache(cache_size)

    def prepare(
        self,
        conn: Connection,
        reference: str,
        envelope: Envelope,
        body: Mapping[str, Any],
        state: ComplaintState,
    ) -> PreparedWork:
        """The complaint's row, status view and search keys after ``envelope`` (whose state is
        ``state``), before its append; ``conn`` reads the chain when this process does not
        hold it. Raises ChainConflict when the stored chain does not lead to ``envelope``."""
        chain = self._chain(conn, reference, envelope)
        report = clocks_report(reference, chain, self.rules)
        row = work_row(reference, chain, self.rules, self.warn_share, report)
        row["indexed"] = self.lookup_key is not None
        # Always set (None without clocks): every row of one batch's upsert has the same keys.
        row["status_view"] = (
            None if report is None else view_json(state, report, self.rules_fingerprint)
        )
        search = []
        if self.lookup_key is not None:
            search = _search_rows(self.lookup_key, reference, envelope, body)
        erases = envelope.public["erases"] if envelope.type == EventType.ERASED else None
        return PreparedWork(reference, chain, row, search, erases)

    def queue(self, conn: Connection, work: PreparedWork) -> None:
        """Queue the prepared row and search keys in the step's write transaction."""
        defer_upsert(conn, WorkItemRow, work.row)
        if work.erases is not None:
            conn.execute(delete(WorkSearchRow).where(WorkSearchRow.leaf_hash == work.erases))
        for row in work.search:
            defer_insert(conn, WorkSearchRow, row)
        # Cached before the commit: a rolled-back step is not followed (its leaf is no
        # step's ``prev``), so the next one reads the chain instead.
        self._chains.put(work.reference, work.chain)

    def _chain(self, conn: Connection, reference: str, envelope: Envelope) -> tuple[Envelope, ...]:
        seq = envelope.seq
        if seq == 0:
            return (envelope,)
        cached = self._chains.get(reference)
        if (
            cached is not None
            and len(cached) >= seq
            and cached[seq - 1].leaf_hash_hex == envelope.prev
        ):
            return (*cached[:seq], envelope)
        chain = _chain_from(conn, self.store.log_id, reference, seq)
        if len(chain) != seq or chain[-1].leaf_hash_hex != envelope.prev:
            raise ChainConflict("the complaint changed while this step was prepared")
        return (*chain, envelope)


@dataclass(frozen=True)
class PreparedWork:
    """A step's part of the worklist, made before its append (``WorkItemWriter.prepare``)."""

    reference: str
    chain: tuple[Envelope, ...]
    row: dict[str, Any]
    search: list[dict[str, Any]]
    erases: str | None  # the leaf hash an erasure erases: its search keys go


def backfill(
    conn: Connection,
    rules: ServiceRules = DEFAULT_RULES,
    lookup_key: bytes | None = None,
    warn_share: float = DEFAULT_WARN_SHARE,
    *,
    only_unindexed: bool = False,
    views: bool = True,
) -> int:
    """(Re)compute the rows (and, with ``lookup_key``, the search keys) of every complaint,
    or only those not yet ``indexed``; returns how many. Runs in the caller's transaction.
    ``views``: also their status views (False for a schema without the column: migration
    0014, older than 0017)."""
    query = select(ComplaintEvent.reference).where(ComplaintEvent.seq == 0)
    if only_unindexed:
        query = query.where(
            ComplaintEvent.reference.not_in(
                select(WorkItemRow.reference).where(WorkItemRow.indexed.is_(True))
            )
        )
    rules_fp = fingerprint(rules)
    references = [r[0] for r in conn.execute(query.order_by(ComplaintEvent.reference)).all()]
    for reference in references:
        rows = conn.execute(
            select(LogEntry.data, EventBody.body_jcs, LogEntry.log_id)
            .join(ComplaintEvent, LogEntry.idx == ComplaintEvent.log_index)
            .join(EventBody, EventBody.leaf_hash == ComplaintEvent.leaf_hash)
            .where(ComplaintEvent.reference == reference)
            .order_by(ComplaintEvent.seq)
        ).all()
        chain: list[tuple[Envelope, bytes | None]] = []
        for data, body_jcs, _log_id in rows:
            env = parse_envelope(bytes(data))
            # Another log's entry at the same index is not this complaint's step (a received
            # leaf names no complaint: its reference is made from its hash).
            mine = env.complaint == reference or (
                env.seq == 0 and format_reference(env.leaf_hash) == reference
            )
            if mine and env.seq == len(chain):
                chain.append((env, body_jcs))
        if not chain:
            continue
        envelopes = [env for env, _ in chain]
        report = clocks_report(reference, envelopes, rules)
        row = work_row(reference, envelopes, rules, warn_share, report)
        row["indexed"] = lookup_key is not None
        if views:
            row["status_view"] = (
                None if report is None else view_json(replay(envelopes), report, rules_fp)
            )
        defer_upsert(conn, WorkItemRow, row)
        if lookup_key is None:
            continue
        conn.execute(delete(WorkSearchRow).where(WorkSearchRow.reference == reference))
        for env, body_jcs in chain:
            if body_jcs is None:
                continue  # erased: its keys go with it
            new = _search_rows(lookup_key, reference, env, json.loads(body_jcs))
            if new:
                conn.execute(insert(WorkSearchRow), new)
    return len(references)
