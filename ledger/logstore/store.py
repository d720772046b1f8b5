"""Durable log storage: the batch append transaction and every read (tiles, entries, proofs).

Proofs need O(log n) node reads: nodes come from hash tiles, expanded once and kept in a
bounded LRU cache (tile contents never change for a given width, so caching is safe).
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from ledger.db import is_sqlite
from ledger.errors import LedgerError
from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint
from ledger.log.note import Signer, Verifier
from ledger.log.tiles import (
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    encode_entry_bundle,
    expand_tile,
    perfect_root,
    tile_node_getter,
    tile_width_at,
)
from ledger.logstore.models import Log, LogCheckpoint, LogEntry, LogTile

HASH = merkle.HASH_SIZE


class LogError(LedgerError):
    """Base class for log storage errors."""


class NotFound(LogError):
    """The requested entry, tile, size or checkpoint does not exist."""


class InvalidRequest(LogError):
    """The request cannot be answered as asked (bad index, size or width)."""


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: datetime


class Rejected(LogError):
    """A pending entry's check refused it; the rest of its batch is unaffected."""


@dataclass(frozen=True)
class RowGuard:
    """A compare-and-set on one row that an entry depends on, done for a whole append batch in
    two statements (one read of every guarded row before the batch's checks, one update
    after them) instead of one round trip per entry.

    The entry is refused with ``refusal()`` unless the row of ``table`` whose ``key_column``
    is ``key`` has ``version_column == expected`` (after the batch's earlier entries); once
    accepted, the row's columns become ``values`` (which set the new version) when the batch
    ends, after every entry's ``write``: a write reads the row as it was before the batch.
    """

    table: Any  # a mapped class or a Table
    key_column: str
    key: Any
    version_column: str
    expected: Any
    values: dict[str, Any]
    refusal: Callable[[], Rejected]


@dataclass(frozen=True)
class PendingEntry:
    """An entry plus work that must happen in the same transaction as its append: ``check``
    may refuse it (raising ``Rejected``), then ``guard`` (see ``RowGuard``); ``write`` runs
    once it is accepted."""

    data: bytes
    check: Callable[[Connection], None] | None = None
    write: Callable[[Connection, int, bytes], None] | None = None
    guard: RowGuard | None = None


@dataclass(frozen=True)
class Receipt:
    """The log's promise: entry ``index`` with ``leaf_hash`` is under the signed checkpoint."""

    index: int
    leaf_hash: bytes
    checkpoint: SignedCheckpoint


_DEFERRED: ContextVar[dict | None] = ContextVar("ledger_deferred_inserts", default=None)


def defer_insert(conn: Connection, table, row: dict[str, Any]) -> None:
    """From a ``PendingEntry.write``: queue ``row`` for ``table`` (a mapped class or a Table),
    inserted with the batch's other queued rows in one statement just before its log entries
    (same transaction). Only for rows that no check of the same batch reads. Outside an
    append, the row is inserted at once."""
    table = getattr(table, "__table__", table)  # Core insert: no ORM bulk-insert overhead
    queued = _DEFERRED.get()
    if queued is None:
        conn.execute(insert(table), [row])
    else:
        queued.setdefault(table, []).append(row)


def defer_upsert(conn: Connection, table, row: dict[str, Any]) -> None:
    """From a ``PendingEntry.write``: queue ``row`` to be inserted into ``table``, or to replace
    the row with the same primary key, with the batch's other queued rows in one statement
    (the last row queued for a key wins). Outside an append, it is written at once."""
    table = getattr(table, "__table__", table)
    queued = _DEFERRED.get()
    if queued is None:
        _upsert(conn, table, [row])
        return
    keys = tuple(row[c.name] for c in table.primary_key.columns)
    queued.setdefault(("upsert", table), {})[keys] = row


@functools.cache
def _upsert_statement(dialect: str, table, names: tuple[str, ...]):
    """INSERT .. ON CONFLICT (primary key) DO UPDATE of ``names``, built once."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    keys = [c.name for c in table.primary_key.columns]
    stmt = dialect_insert(table)
    updated = {name: stmt.excluded[name] for name in names if name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=updated)


def _upsert(conn: Connection, table, rows: list[dict[str, Any]]) -> None:
    conn.execute(_upsert_statement(conn.engine.dialect.name, table, tuple(rows[0])), rows)


@functools.cache
def _guard_read(table, key_column: str, version_column: str):
    """The guarded rows' versions, for a list of keys (``keys``), built once."""
    key, version = table.c[key_column], table.c[version_column]
    return select(key, version).where(key.in_(bindparam("keys", expanding=True)))


@functools.cache
def _guard_update(table, key_column: str, version_column: str, names: tuple[str, ...]):
    """A guarded row's update (executed for many rows at once), built once."""
    return (
        update(table)
        .where(table.c[key_column] == bindparam("g_key"))
        .where(table.c[version_column] == bindparam("g_expected"))
        .values({n: bindparam(f"v_{n}") for n in names})
    )


def _write_deferred(conn: Connection, deferred: dict) -> None:
    """The rows ``defer_insert`` and ``defer_upsert`` queued, one statement per table."""
    for target, rows in deferred.items():
        if isinstance(target, tuple):
            _upsert(conn, target[1], list(rows.values()))
        else:
            conn.execute(insert(target), rows)


class _Guards:
    """The guarded rows of one append batch (``RowGuard``): read once, compared in memory
    entry by entry, and updated once."""

    def __init__(self, conn: Connection, pending: Sequence[PendingEntry]) -> None:
        self.conn = conn
        self.versions: dict[tuple[Any, Any], Any] = {}
        self.updates: dict[tuple[Any, Any], tuple[RowGuard, Any]] = {}
        wanted: dict[tuple[Any, str, str], set[Any]] = {}
        for it in pending:
            g = it.guard
            if g is not None:
                table = getattr(g.table, "__table__", g.table)
                wanted.setdefault((table, g.key_column, g.version_column), set()).add(g.key)
        for (table, key_column, version_column), keys in wanted.items():
            read = _guard_read(table, key_column, version_column)
            for row in conn.execute(read, {"keys": sorted(keys)}):
                self.versions[(table, row[0])] = row[1]

    def admit(self, guard: RowGuard) -> None:
        """Accept the guarded entry (its row is as it expects) or raise its refusal."""
        table = getattr(guard.table, "__table__", guard.table)
        slot = (table, guard.key)
        if slot not in self.versions or self.versions[slot] != guard.expected:
            raise guard.refusal()
        self.versions[slot] = guard.values[guard.version_column]
        first = self.updates.get(slot)
        self.updates[slot] = (guard, guard.expected if first is None else first[1])

    def apply(self) -> None:
        """Update every admitted row, each still at the version read (under the write lock
        nothing else moves them: a mismatch is corruption, and fails the batch)."""
        groups: dict[tuple[Any, str, str, tuple[str, ...]], list[dict[str, Any]]] = {}
        for (table, key), (guard, expected) in self.updates.items():
            names = tuple(sorted(guard.values))
            group = groups.setdefault((table, guard.key_column, guard.version_column, names), [])
            group.append({"g_key": key, "g_expected": expected,
                          **{f"v_{n}": guard.values[n] for n in names}})  # fmt: skip
        for (table, key_column, version_column, names), rows in groups.items():
            stmt = _guard_update(table, key_column, version_column, names)
            done = self.conn.execute(stmt, rows)
            if done.rowcount >= 0 and done.rowcount != len(rows):
                raise LogError(f"rows of {table.name} moved under the log's write lock")


# The append transaction's statements, built once.
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_HEAD = (
    select(LogCheckpoint.size, LogCheckpoint.root, LogCheckpoint.frontier)
    .where(LogCheckpoint.log_id == bindparam("log_id"))
    .order_by(LogCheckpoint.size.desc())
    .limit(1)
)
_INSERT_ENTRIES = insert(LogEntry.__table__)
_INSERT_TILES = insert(LogTile.__table__)
_INSERT_CHECKPOINT = insert(LogCheckpoint.__table__)


# Another writer's entries this process reads back to move its cached right edge on; further
# behind, it rebuilds the edge from the partial tiles instead.
_ADVANCE_LIMIT = 1024


@contextmanager
def _pipelined(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, the inserts inside are sent together and answered together (psycopg's
    pipeline mode): one round trip under the log's write lock instead of one per table.
    Nothing inside may need a statement's answer (a row count, a returned row) before the
    block ends; a failing statement raises when it ends, and the transaction rolls back."""
    if is_sqlite(conn.engine):
        yield
        return
    raw = conn.connection.driver_connection
    dialect = conn.dialect
    try:
        with raw.pipeline():  # type: ignore[union-attr]
            yield
    except dialect.loaded_dbapi.Error as exc:
        # Raised by the pipeline's sync, outside any SQLAlchemy call: wrapped as SQLAlchemy
        # would (IntegrityError, OperationalError, ...), and a lost connection leaves the pool.
        lost = dialect.is_disconnect(exc, raw, None)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            None, None, exc, dialect.loaded_dbapi.Error,
            connection_invalidated=lost, dialect=dialect,
        ) from exc  # fmt: skip


def _lock_key(origin: str) -> int:
    return struct.unpack(">q", hashlib.sha256(origin.encode()).digest()[:8])[0]


def _add_leaf(
    partials: list[list[bytes]], size: int, leaf: bytes
) -> list[tuple[int, int, list[bytes], bytes]]:
    """Add the leaf that makes the tree ``size`` long to the partial tiles (mutated); returns
    the tiles it completed: (level, tile index, hashes, root)."""
    completed = []
    partials[0].append(leaf)
    level = 0
    while len(partials[level]) == TILE_WIDTH:
        full = partials[level]
        root = perfect_root(full)
        completed.append((level, (size >> (TILE_HEIGHT * (level + 1))) - 1, full, root))
        partials[level] = []
        level += 1
        if len(partials) == level:
            partials.append([])
        partials[level].append(root)
    return completed


@dataclass
class _TreeState:
    """Right edge of the tree, enough to extend it: compact range and partial tiles."""

    size: int
    root: bytes
    frontier: list[bytes]
    partials: list[list[bytes]]  # partials[L]: hashes of the partial tile at level L


class LogStore:
    """One log (identified by its origin) in a SQL database."""

    def __init__(
        self,
        engine: Engine,
        origin: str,
        signer: Signer | None = None,
        verifier: Verifier | None = None,
        tile_cache_size: int = 8192,
    ) -> None:
        if signer is None and verifier is None:
            raise ValueError("a log needs its signer or at least its verifier key")
        self.engine = engine
        self.origin = origin
        self.signer = signer
        self.verifier = verifier or signer.verifier()  # type: ignore[union-attr]
        self._lock_key = _lock_key(origin)
        self._log_id: int | None = None
        self._state: _TreeState | None = None
        self._known_size = 0
        self._expanded = functools.lru_cache(maxsize=tile_cache_size)(self._load_expanded)

    # --- setup -------------------------------------------------------------------------

    @property
    def log_id(self) -> int:
        if self._log_id is None:
            with self.engine.connect() as conn:
                row = conn.execute(select(Log.id).where(Log.origin == self.origin)).first()
            if row is None:
                raise NotFound(f"log {self.origin!r} is not initialised")
            self._log_id = row[0]
        return self._log_id

    def initialise(self) -> None:
        """Create the log row and its empty signed checkpoint, if missing (idempotent)."""
        if self.signer is None:
            raise LogError("initialising a log needs its signing key")
        with self._write_tx() as conn:
            row = conn.execute(
                select(Log.id, Log.verifier_key).where(Log.origin == self.origin)
            ).first()
            if row is not None:
                if row[1] != str(self.verifier):
                    raise LogError("the log exists with a different verifier key")
                self._log_id = row[0]
                return
            now = datetime.now(UTC)
            self._log_id = conn.execute(
                insert(Log).values(
                    origin=self.origin, verifier_key=str(self.verifier), created_at=now
                )
            ).inserted_primary_key[0]
            self._insert_checkpoint(conn, 0, merkle.EMPTY_ROOT, [], now)

    # --- transactions --------------------------------------------------------------------

    def _write_tx(self):
        """A write transaction that holds the log's single-writer lock."""
        store = self

        class _Tx:
            def __enter__(self_inner) -> Connection:
                conn = store.engine.connect()
                if is_sqlite(store.engine):
                    conn.info["sqlite_begin"] = "IMMEDIATE"
                self_inner.conn = conn
                self_inner.tx = conn.begin()
                if not is_sqlite(store.engine):
                    conn.execute(_LOCK, {"k": store._lock_key})
                return conn

            def __exit__(self_inner, exc_type, exc, tb) -> None:
                try:
                    if exc_type is None:
                        self_inner.tx.commit()
                    else:
                        self_inner.tx.rollback()
                finally:
                    self_inner.conn.close()

        return _Tx()

    # --- appending -----------------------------------------------------------------------

    def append_batch(self, items: Sequence[bytes | PendingEntry]) -> list[Receipt | Rejected]:
        """Append entries in one transaction; receipts are returned only after the commit.

        An item may be a ``PendingEntry`` whose ``check`` runs inside the transaction (after
        the earlier items of the batch) and may reject just that item, and whose ``write``
        stores rows that must commit atomically with the entry.
        """
        if self.signer is None:
            raise LogError("appending needs the log signing key")
        if not items:
            return []
        pending = [it if isinstance(it, PendingEntry) else PendingEntry(it) for it in items]
        for it in pending:
            if not isinstance(it.data, bytes) or len(it.data) > MAX_ENTRY_SIZE:
                raise InvalidRequest("an entry must be bytes of at most 65535 bytes")
        log_id = self.log_id
        results: list[Receipt | Rejected] = []
        deferred: dict = {}
        token = _DEFERRED.set(deferred)
        try:
            return self._append_pending(pending, log_id, results, deferred)
        finally:
            _DEFERRED.reset(token)

    def _append_pending(
        self,
        pending: list[PendingEntry],
        log_id: int,
        results: list[Receipt | Rejected],
        deferred: dict,
    ) -> list[Receipt | Rejected]:
        with self._write_tx() as conn:
            state = self._current_state(conn)
            frontier = list(state.frontier)
            partials = [list(p) for p in state.partials]
            leaf_hash = merkle.leaf_hash
            entry_rows = []
            tile_rows = []
            accepted: list[tuple[int, int, bytes]] = []  # (position in batch, index, leaf hash)
            size = state.size
            guards = _Guards(conn, pending)
            for pos, it in enumerate(pending):
                lh = leaf_hash(it.data)
                try:
                    if it.check is not None:
                        it.check(conn)
                    if it.guard is not None:
                        guards.admit(it.guard)
                except Rejected as rejection:
                    results.append(rejection)
                    continue
                if it.write is not None:
                    it.write(conn, size, lh)
                results.append(None)  # type: ignore[arg-type]  # filled after the commit
                accepted.append((pos, size, lh))
                entry_rows.append({"log_id": log_id, "idx": size, "leaf_hash": lh, "data": it.data})
                merkle.frontier_append(frontier, size, lh)
                size += 1
                for level, tile_index, full, root in _add_leaf(partials, size, lh):
                    tile_rows.append({"log_id": log_id, "level": level, "idx": tile_index,
                                      "hashes": b"".join(full), "root": root})  # fmt: skip
            if not accepted:
                return results
            root = merkle.root_from_frontier(frontier)
            guards.apply()
            now = datetime.now(UTC)
            with _pipelined(conn):
                _write_deferred(conn, deferred)
                conn.execute(_INSERT_ENTRIES, entry_rows)
                if tile_rows:
                    conn.execute(_INSERT_TILES, tile_rows)
                cp = self._insert_checkpoint(conn, size, root, frontier, now)
        self._state = _TreeState(size, root, frontier, partials)
        self._known_size = max(self._known_size, size)
        for pos, index, lh in accepted:
            results[pos] = Receipt(index, lh, cp)
        return results

    def _insert_checkpoint(
        self, conn: Connection, size: int, root: bytes, frontier: list[bytes], now: datetime
    ) -> SignedCheckpoint:
        note = Checkpoint(self.origin, size, root).sign(self.signer)  # type: ignore[arg-type]
        conn.execute(
            _INSERT_CHECKPOINT,
            {
                "log_id": self.log_id,
                "size": size,
                "root": root,
                "frontier": b"".join(frontier),
                "note": note,
                "created_at": now,
            },
        )
        return SignedCheckpoint(size, root, note, now)

    def _current_state(self, conn: Connection) -> _TreeState:
        """The tree's right edge as committed; reuses the cached one when nothing changed."""
        row = conn.execute(_HEAD, {"log_id": self.log_id}).first()
        if row is None:
            raise NotFound(f"log {self.origin!r} has no checkpoint; initialise it first")
        size, root, frontier_blob = row
        cached = self._state
        if cached is not None and cached.size == size and cached.root == root:
            return cached
        frontier = [frontier_blob[i : i + HASH] for i in range(0, len(frontier_blob), HASH)]
        if cached is not None and size - _ADVANCE_LIMIT <= cached.size < size:
            advanced = self._advance(conn, cached, size)
            if advanced.root == root and advanced.frontier == frontier:
                return advanced
        partials = []
        level = 0
        while True:
            count = size >> (TILE_HEIGHT * level)
            partials.append(self._partial_hashes(conn, level, count - count % TILE_WIDTH, count))
            if count < TILE_WIDTH:
                break
            level += 1
        return _TreeState(size, root, frontier, partials)

    def _advance(self, conn: Connection, cached: _TreeState, size: int) -> _TreeState:
        """The right edge this process last saw, moved on by the entries other writers have
        appended since (read back by their leaf hashes: a few rows, not the partial tiles)."""
        frontier = list(cached.frontier)
        partials = [list(p) for p in cached.partials]
        n = cached.size
        for lh in self._partial_hashes(conn, 0, cached.size, size):
            merkle.frontier_append(frontier, n, lh)
            n += 1
            _add_leaf(partials, n, lh)
        return _TreeState(size, merkle.root_from_frontier(frontier), frontier, partials)

    def _partial_hashes(self, conn: Connection, level: int, begin: int, end: int) -> list[bytes]:
        """Hashes of tree level 8*``level`` for node indexes [begin, end)."""
        if begin >= end:
            return []
        if level == 0:
            rows = conn.execute(
                select(LogEntry.leaf_hash)
                .where(LogEntry.log_id == self.log_id, LogEntry.idx >= begin, LogEntry.idx < end)
                .order_by(LogEntry.idx)
            ).all()
        else:
            rows = conn.execute(
                select(LogTile.root)
                .where(
                    LogTile.log_id == self.log_id,
                    LogTile.level == level - 1,
                    LogTile.idx >= begin,
                    LogTile.idx < end,
                )
                .order_by(LogTile.idx)
            ).all()
        if len(rows) != end - begin:
            raise LogError(f"log storage is missing hashes at level {level} in [{begin}, {end})")
        return [r[0] for r in rows]

    # --- checkpoints ---------------------------------------------------------------------

    def _checkpoints(self, *conditions, order=LogCheckpoint.size, limit: int = 1):
        """Signed checkpoints of this log matching ``conditions``, in ``order``."""
        query = (
            select(
                LogCheckpoint.size,
                LogCheckpoint.root,
                LogCheckpoint.note,
                LogCheckpoint.created_at,
            )
            .where(LogCheckpoint.log_id == self.log_id, *conditions)
            .order_by(order)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [SignedCheckpoint(*row) for row in conn.execute(query)]

    def latest_checkpoint(self) -> SignedCheckpoint:
        found = self._checkpoints(order=LogCheckpoint.size.desc())
        if not found:
            raise NotFound("the log has no checkpoint yet")
        return found[0]

    def checkpoint(self, size: int) -> SignedCheckpoint:
        found = self._checkpoints(LogCheckpoint.size == size)
        if not found:
            raise NotFound(f"no checkpoint was signed at tree size {size}")
        return found[0]

    def checkpoint_covering(self, index: int) -> SignedCheckpoint:
        """The first checkpoint whose tree contains entry ``index`` (the one its receipt had)."""
        found = self._checkpoints(LogCheckpoint.size > index)
        if not found:
            raise NotFound(f"no checkpoint covers index {index}")
        return found[0]

    def checkpoints(self, after_size: int = -1, limit: int = 100) -> list[SignedCheckpoint]:
        return self._checkpoints(LogCheckpoint.size > after_size, limit=limit)

    def size(self) -> int:
        return self.latest_checkpoint().size

    # --- entries -------------------------------------------------------------------------

    def entry(self, index: int) -> bytes:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(LogEntry.data).where(LogEntry.log_id == self.log_id, LogEntry.idx == index)
            ).first()
        if row is None:
            raise NotFound(f"no entry at index {index}")
        return row[0]

    def entries(self, begin: int, end: int) -> list[bytes]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(LogEntry.data)
                .where(LogEntry.log_id == self.log_id, LogEntry.idx >= begin, LogEntry.idx < end)
                .order_by(LogEntry.idx)
            ).all()
        return [r[0] for r in rows]

    def entries_at(self, indexes: Sequence[int]) -> dict[int, bytes]:
        """Entries at arbitrary indexes (missing ones are absent from the result)."""
        out: dict[int, bytes] = {}
        wanted = sorted(set(indexes))
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                rows = conn.execute(
                    select(LogEntry.idx, LogEntry.data).where(
                        LogEntry.log_id == self.log_id, LogEntry.idx.in_(chunk)
                    )
                ).all()
                out.update((r[0], r[1]) for r in rows)
        return out

    def index_of(self, leaf_hash: bytes) -> int | None:
        """Index of the first entry with this leaf hash, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(func.min(LogEntry.idx)).where(
                    LogEntry.log_id == self.log_id, LogEntry.leaf_hash == leaf_hash
                )
            ).first()
        return None if row is None else row[0]

    # --- tiles ---------------------------------------------------------------------------

    def _check_tile(self, level: int, index: int, width: int, tree_size: int) -> None:
        available = tile_width_at(level, index, tree_size)
        if available == 0:
            raise NotFound(f"tile {level}/{index} does not exist at tree size {tree_size}")
        if width > available:
            raise NotFound(f"tile {level}/{index} has only {available} hashes")

    def hash_tile(self, level: int, index: int, width: int, tree_size: int | None = None) -> bytes:
        """Tile bytes (width * 32), for any width up to what the tree of ``tree_size`` has."""
        if tree_size is None:
            tree_size = self.size()
        self._check_tile(level, index, width, tree_size)
        return self._tile_blob(level, index, width)

    def _tile_blob(self, level: int, index: int, width: int) -> bytes:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(LogTile.hashes).where(
                    LogTile.log_id == self.log_id, LogTile.level == level, LogTile.idx == index
                )
            ).first()
            if row is not None:
                return row[0][: width * HASH]
            begin = index * TILE_WIDTH
            hashes = self._partial_hashes(conn, level, begin, begin + width)
        return b"".join(hashes)

    def entry_bundle(self, index: int, width: int, tree_size: int | None = None) -> bytes:
        if tree_size is None:
            tree_size = self.size()
        self._check_tile(0, index, width, tree_size)
        begin = index * TILE_WIDTH
        return encode_entry_bundle(self.entries(begin, begin + width))

    # --- proofs --------------------------------------------------------------------------

    def _load_expanded(self, level: int, index: int, width: int) -> list[bytes]:
        return expand_tile(self._tile_blob(level, index, width))

    def _partial_in_memory(self, level: int, index: int, width: int) -> bytes | None:
        """The first ``width`` hashes of partial tile ``level/index`` from the right edge this
        process last committed, if it has them (hashes at a position never change)."""
        state = self._state
        if state is None or level >= len(state.partials):
            return None
        hashes = state.partials[level]
        if index != (state.size >> (TILE_HEIGHT * level)) // TILE_WIDTH or width > len(hashes):
            return None
        return b"".join(hashes[:width])

    def node_getter(self, tree_size: int) -> merkle.NodeGetter:
        """``get_node(level, index)`` for perfect subtrees of the tree of ``tree_size``.

        Full tiles come from the LRU cache; partial tiles at the right edge from memory
        when this process appended them (no database read, no cache churn), else the cache.
        """
        memo: dict[tuple[int, int, int], list[bytes]] = {}

        def expanded(level: int, index: int, width: int) -> list[bytes]:
            key = (level, index, width)
            tile = memo.get(key)
            if tile is None:
                blob = None if width == TILE_WIDTH else self._partial_in_memory(*key)
                tile = self._expanded(*key) if blob is None else expand_tile(blob)
                memo[key] = tile
            return tile

        return tile_node_getter(tree_size, expanded)

    def _check_size(self, tree_size: int) -> None:
        # The log only grows, so a size seen once stays valid without another query.
        if 0 <= tree_size <= self._known_size:
            return
        current = self._known_size = self.size()
        if not 0 <= tree_size <= current:
            raise InvalidRequest(f"tree size {tree_size} is beyond the log's size {current}")

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        self._check_size(tree_size)
        if not 0 <= index < tree_size:
            raise InvalidRequest(f"index {index} is not below tree size {tree_size}")
        return merkle.inclusion_proof(index, tree_size, self.node_getter(tree_size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        self._check_size(size2)
        if not 0 < size1 <= size2:
            raise InvalidRequest(f"no consistency proof from size {size1} to {size2}")
        return merkle.consistency_proof(size1, size2, self.node_getter(size2))

    def root_at(self, tree_size: int) -> bytes:
        self._check_size(tree_size)
        return merkle.tree_root(tree_size, self.node_getter(tree_size))

    def clear_caches(self) -> None:
        self._expanded.cache_clear()
        self._state = None
        self._known_size = 0
