"""The monitor's memory between runs: one SQLite file, written in one transaction per run.

Version 2 (this one) keeps the facts in blocks (``fact_blocks``: the facts of log entries
[first, last) replayed by one partition, JSON arrays of ``FACT_FIELDS`` values) instead of
one row per fact: one write per block instead of one per event. Version 1 files (a ``facts``
table) are migrated when opened; files of an unknown version, or whose fact columns differ
from this code's ``FACT_FIELDS``, are refused with a message instead of being mis-read.
"""

from __future__ import annotations

import base64
import heapq
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ledger.complaints.figures import FACT_FIELDS, Fact
from ledger.errors import LedgerError
from ledger.log import merkle
from ledger.monitor.replay import (
    FACT_BLOCK,
    ChainRow,
    Replayer,
    ReplayResult,
    decode_facts,
    encode_facts,
    fact_from_row,
)

STATE_VERSION = "2"
PAGE_SIZE = 32768
_PUT_CHAIN = "INSERT OR REPLACE INTO chains VALUES (?, ?, ?)"
_PUT_FACT_BLOCK = "INSERT OR REPLACE INTO fact_blocks VALUES (?, ?, ?, ?)"
_FACT_COLUMNS = ",".join(FACT_FIELDS)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chains (reference TEXT PRIMARY KEY, state TEXT, fact TEXT);
CREATE TABLE IF NOT EXISTS officer_entries (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS fact_blocks (
    first INTEGER NOT NULL, part INTEGER NOT NULL, last INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (first, part)
);
"""


class StateFileError(LedgerError, ValueError):
    """The state file cannot be used by this version of the monitor (said in plain words)."""


@dataclass
class Saved:
    origin: str | None = None
    log_key: str | None = None
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    frontier: list[bytes] = field(default_factory=list)
    note: str | None = None


class StateFile:
    """The monitor's memory between runs (one SQLite file, written in one transaction)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        try:
            self._open()
        except BaseException:
            self.db.close()
            raise

    def _open(self) -> None:
        version = self._meta_value("version")
        if version not in (None, "1", STATE_VERSION):
            raise StateFileError(
                f"{self.path}: state file version {version} is not known to this monitor "
                f"(it reads version {STATE_VERSION} and upgrades version 1): use the monitor "
                "that wrote it, or start again with a new state file"
            )
        # Larger pages for a new file: fact blocks are large blobs, written in fewer pages.
        # (An existing file keeps its page size: the pragma does nothing there.)
        self.db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        self.db.executescript(_SCHEMA)
        if version == "1":
            self._migrate_from_1()
        elif version == STATE_VERSION:
            self._check_fact_columns(self._meta_value("fact_columns"))

    def _meta_value(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # a new file: no tables yet
            return None
        return None if row is None else row[0]

    def _check_fact_columns(self, columns: str | None) -> None:
        if columns != _FACT_COLUMNS:
            raise StateFileError(
                f"{self.path}: the audit facts in this state file have the columns "
                f"{columns}, this monitor derives {_FACT_COLUMNS}: start again with a new "
                "state file (the log is replayed from the start)"
            )

    def _migrate_from_1(self) -> None:
        """Version 1 kept one row per fact in a ``facts`` table: move them into blocks."""
        columns = [r[1] for r in self.db.execute("PRAGMA table_info(facts)")]
        self._check_fact_columns(",".join(columns))
        size = int(self._meta_value("size") or 0)
        self.db.execute("BEGIN")  # the whole upgrade, or nothing
        try:
            rows = self.db.execute(f"SELECT {_FACT_COLUMNS} FROM facts ORDER BY log_index")
            block: list[Fact] = []
            for row in rows:
                fact = fact_from_row(row)
                if block and fact.log_index // FACT_BLOCK != block[0].log_index // FACT_BLOCK:
                    self._insert_v1_block(block, size)
                    block = []
                block.append(fact)
            if block:
                self._insert_v1_block(block, size)
            self.db.execute("DROP TABLE facts")
            self.db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("version", STATE_VERSION), ("fact_columns", _FACT_COLUMNS)],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _insert_v1_block(self, facts: list[Fact], size: int) -> None:
        chunk = facts[0].log_index // FACT_BLOCK
        first, last = chunk * FACT_BLOCK, min(size, (chunk + 1) * FACT_BLOCK)
        self.db.execute(
            "INSERT INTO fact_blocks VALUES (?, 0, ?, ?)", (first, last, encode_facts(facts))
        )

    def close(self) -> None:
        self.db.close()

    def meta(self) -> Saved:
        rows = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        if not rows:
            return Saved()
        if rows.get("version") != STATE_VERSION:  # pragma: no cover - refused when opened
            raise StateFileError(f"{self.path}: unknown state file version {rows.get('version')}")
        return Saved(
            origin=rows["origin"],
            log_key=rows["log_key"],
            size=int(rows["size"]),
            root=base64.b64decode(rows["root"]),
            frontier=[base64.b64decode(h) for h in json.loads(rows["frontier"])],
            note=rows.get("note"),
        )

    def chain_rows(self) -> list[ChainRow]:
        """The saved complaints: (reference, state JSON, last fact JSON), or None when broken."""
        return self.db.execute("SELECT reference, state, fact FROM chains").fetchall()

    def officer_leaves(self) -> dict[int, bytes]:
        return dict(self.db.execute("SELECT idx, leaf FROM officer_entries ORDER BY idx"))

    def load_replayer(self, origin: str) -> Replayer:
        """A one-process replayer that goes on from the saved state."""
        return Replayer.resume(origin, self.chain_rows(), self.officer_leaves())

    def facts(self) -> Iterator[Fact]:
        """Every saved fact, in log order."""
        rows = self.db.execute("SELECT first, data FROM fact_blocks ORDER BY first, part")
        group: list[list[Fact]] = []
        group_first = None
        for first, data in rows:
            if first != group_first and group:
                yield from _in_log_order(group)
                group = []
            group_first = first
            group.append(decode_facts(data))
        yield from _in_log_order(group)

    def stage(self, chain_rows: list[ChainRow], fact_blocks: list[tuple]) -> None:
        """Write rows of the run in progress, in its transaction: ``save`` commits them with
        the rest, ``discard`` drops them."""
        self.db.executemany(_PUT_CHAIN, chain_rows)
        self.db.executemany(_PUT_FACT_BLOCK, fact_blocks)

    def discard(self) -> None:
        """Drop what was staged since the last save (nothing when nothing was)."""
        self.db.rollback()

    def save(self, saved: Saved, result: ReplayResult) -> None:
        """Commit the run: its state, its result and what was staged, in one transaction."""
        with self.db:  # one transaction: all of a run, or nothing
            meta = {
                "version": STATE_VERSION,
                "fact_columns": _FACT_COLUMNS,
                "origin": saved.origin,
                "log_key": saved.log_key,
                "size": str(saved.size),
                "root": base64.b64encode(saved.root).decode(),
                "frontier": json.dumps([base64.b64encode(h).decode() for h in saved.frontier]),
                "note": saved.note or "",
            }
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
            self.db.executemany(_PUT_CHAIN, result.chain_rows)
            self.db.executemany(
                "INSERT OR IGNORE INTO officer_entries VALUES (?, ?)",
                result.officer_leaves.items(),
            )
            self.db.executemany(_PUT_FACT_BLOCK, result.fact_blocks)


def _in_log_order(blocks: list[list[Fact]]) -> Iterable[Fact]:
    """The facts of one range's blocks (one per partition, each in log order), merged."""
    if len(blocks) == 1:
        return blocks[0]
    return heapq.merge(*blocks, key=lambda f: f.log_index)
