"""Audit of a log and its complaint chains straight from the database: every index once and
in order, every complaint's chain linked seq by seq, the index tables agreeing with the log,
and the signed checkpoints growing in commit order. Each check returns the problems it
found (empty: none), so a test can print them all."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from ledger.casework.records import ComplaintEvent, ComplaintRecord
from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Envelope, parse_envelope
from ledger.complaints.reference import format_reference
from ledger.complaints.states import replay
from ledger.complaints.vocab import EventType
from ledger.logstore.models import LogCheckpoint, LogEntry


@dataclass(frozen=True)
class LoggedEntry:
    """One entry of the log as stored: its index, stored leaf hash and parsed envelope."""

    index: int
    leaf_hash: bytes
    envelope: Envelope


def logged_entries(engine: Engine, log_id: int) -> list[LoggedEntry]:
    """Every entry of the log, in index order."""
    query = (
        select(LogEntry.idx, LogEntry.leaf_hash, LogEntry.data)
        .where(LogEntry.log_id == log_id)
        .order_by(LogEntry.idx)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [LoggedEntry(r.idx, bytes(r.leaf_hash), parse_envelope(bytes(r.data))) for r in rows]


def index_problems(indexes: Sequence[int]) -> list[str]:
    """Gaps and duplicates: the indexes, in the order read, must be exactly 0..N-1."""
    problems = []
    seen: set[int] = set()
    expected = 0
    for index in indexes:
        if index in seen:
            problems.append(f"index {index} appears twice")
            continue
        if index > expected:
            problems.append(f"indexes {expected}..{index - 1} are missing")
        elif index < expected:
            problems.append(f"index {index} comes after {expected - 1}")
        seen.add(index)
        expected = max(expected, index + 1)
    return problems


def complaint_chains(entries: Sequence[LoggedEntry]) -> dict[str, list[LoggedEntry]]:
    """The complaints' chains in log order (a received event names no complaint: its
    reference comes from its own leaf hash). Officer key chains are left out."""
    chains: dict[str, list[LoggedEntry]] = {}
    for entry in entries:
        env = entry.envelope
        if env.type == EventType.RECEIVED:
            chains.setdefault(format_reference(env.leaf_hash), []).append(entry)
        elif env.complaint is not None:
            chains.setdefault(env.complaint, []).append(entry)
    return chains


def chain_problems(reference: str, chain: Sequence[LoggedEntry]) -> list[str]:
    """Seqs 0..k in log order, each step's ``prev`` the previous leaf's hash, and the whole
    chain accepted by the domain's replay (links, time order, transitions)."""
    problems = []
    prev: str | None = None
    for position, entry in enumerate(chain):
        env = entry.envelope
        if env.seq != position:
            problems.append(f"{reference}: seq {env.seq} at log index {entry.index}, "
                            f"expected {position}")  # fmt: skip
        if env.prev != prev:
            problems.append(f"{reference} seq {env.seq}: prev {env.prev} is not {prev}")
        prev = env.leaf_hash_hex
    try:
        replay([entry.envelope for entry in chain])
    except ComplaintError as exc:
        problems.append(f"{reference}: replay refuses the chain: {exc}")
    return problems


def index_table_problems(engine: Engine, chains: dict[str, list[LoggedEntry]]) -> list[str]:
    """``complaint_events`` (where each step sits in the log) and ``complaints`` (each chain's
    head, which every append checks) agree with the log itself."""
    with engine.connect() as conn:
        events = conn.execute(
            select(
                ComplaintEvent.reference,
                ComplaintEvent.seq,
                ComplaintEvent.log_index,
                ComplaintEvent.leaf_hash,
            )
        ).all()
        heads = conn.execute(
            select(ComplaintRecord.reference, ComplaintRecord.seq, ComplaintRecord.head)
        ).all()
    expected = {
        (ref, e.envelope.seq): (e.index, e.envelope.leaf_hash_hex)
        for ref, chain in chains.items()
        for e in chain
    }
    stored = {(r.reference, r.seq): (r.log_index, r.leaf_hash) for r in events}
    problems = []
    if len(events) != len(stored):
        problems.append("complaint_events has a (reference, seq) twice")
    for key in sorted(expected.keys() | stored.keys()):
        if expected.get(key) != stored.get(key):
            problems.append(f"complaint_events {key}: {stored.get(key)}, log: {expected.get(key)}")
    for row in heads:
        last = chains.get(row.reference, [None])[-1]
        found = None if last is None else (last.envelope.seq, last.envelope.leaf_hash_hex)
        if found != (row.seq, row.head):
            problems.append(f"complaint {row.reference} head {(row.seq, row.head)}, log: {found}")
    if len(heads) != len(chains):
        problems.append(f"{len(heads)} complaint rows for {len(chains)} chains on the log")
    return problems


def checkpoint_order_problems(engine: Engine, log_id: int) -> list[str]:
    """Checkpoints in commit order (``created_at``, stamped under the log's lock) have strictly
    growing sizes: no writer signed a tree that was not an extension of the last one."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(LogCheckpoint.size, LogCheckpoint.created_at)
            .where(LogCheckpoint.log_id == log_id)
            .order_by(LogCheckpoint.created_at, LogCheckpoint.size)
        ).all()
    return [
        f"checkpoint of size {b.size} (at {b.created_at}) after one of size {a.size} "
        f"(at {a.created_at})"
        for a, b in itertools.pairwise(rows)
        if b.size <= a.size
    ]
