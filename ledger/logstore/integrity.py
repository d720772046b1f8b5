"""Integrity check: recompute the tree from the stored entries and compare it with what is stored.

Compares, in one streaming pass with memory O(log n): every entry's stored leaf hash, every
full tile (hashes and root), every checkpoint's root, compact range and signature. Reports
the first leaf index where storage and recomputation diverge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ledger.log import merkle
from ledger.log.checkpoint import CheckpointError, open_checkpoint
from ledger.log.tiles import TILE_HEIGHT, TILE_WIDTH, perfect_root
from ledger.logstore.models import LogCheckpoint, LogEntry, LogTile
from ledger.logstore.store import LogStore


@dataclass(frozen=True)
class Divergence:
    index: int
    what: str

    def __str__(self) -> str:
        return f"first divergence at index {self.index}: {self.what}"


@dataclass
class IntegrityReport:
    entries: int = 0
    tiles: int = 0
    checkpoints: int = 0
    divergences: list[Divergence] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.divergences

    @property
    def first(self) -> Divergence | None:
        return min(self.divergences, key=lambda d: d.index) if self.divergences else None


def check_integrity(store: LogStore, batch: int = 4096) -> IntegrityReport:
    report = IntegrityReport()
    log_id = store.log_id
    frontier: list[bytes] = []
    partials: list[list[bytes]] = [[]]
    with store.engine.connect() as conn:
        checkpoints = conn.execute(
            select(
                LogCheckpoint.size, LogCheckpoint.root, LogCheckpoint.frontier, LogCheckpoint.note
            )
            .where(LogCheckpoint.log_id == log_id)
            .order_by(LogCheckpoint.size)
        ).all()
        cp_iter = iter(checkpoints)
        next_cp = next(cp_iter, None)

        def check_checkpoints(size: int) -> None:
            nonlocal next_cp
            while next_cp is not None and next_cp.size == size:
                report.checkpoints += 1
                root = merkle.root_from_frontier(frontier)
                first_bad = max(size - 1, 0)
                if next_cp.root != root:
                    report.divergences.append(
                        Divergence(first_bad, f"checkpoint at size {size} has a different root")
                    )
                if next_cp.frontier != b"".join(frontier):
                    report.divergences.append(
                        Divergence(
                            first_bad, f"checkpoint at size {size} has a wrong compact range"
                        )
                    )
                try:
                    cp = open_checkpoint(next_cp.note, store.verifier, store.origin)
                    if cp.size != size or cp.root != next_cp.root:
                        raise CheckpointError("signed note does not match the stored row")
                except CheckpointError as exc:
                    report.divergences.append(
                        Divergence(first_bad, f"checkpoint at size {size}: {exc}")
                    )
                next_cp = next(cp_iter, None)

        check_checkpoints(0)
        expected = 0
        last = -1
        while True:
            rows = conn.execute(
                select(LogEntry.idx, LogEntry.leaf_hash, LogEntry.data)
                .where(LogEntry.log_id == log_id, LogEntry.idx > last)
                .order_by(LogEntry.idx)
                .limit(batch)
            ).all()
            if not rows:
                break
            for idx, stored_hash, data in rows:
                if idx != expected:
                    report.divergences.append(Divergence(expected, "entry missing (gap)"))
                    return report
                lh = merkle.leaf_hash(data)
                if lh != stored_hash:
                    report.divergences.append(
                        Divergence(idx, "entry bytes do not match the stored leaf hash")
                    )
                merkle.frontier_append(frontier, idx, lh)
                expected = idx + 1
                partials[0].append(lh)
                level = 0
                while len(partials[level]) == TILE_WIDTH:
                    tile_index = (expected >> (TILE_HEIGHT * (level + 1))) - 1
                    _compare_tile(conn, store, report, level, tile_index, partials[level])
                    root = perfect_root(partials[level])
                    partials[level] = []
                    level += 1
                    if len(partials) == level:
                        partials.append([])
                    partials[level].append(root)
                check_checkpoints(expected)
                report.entries += 1
            last = rows[-1][0]
    if next_cp is not None:
        report.divergences.append(
            Divergence(expected, f"checkpoint at size {next_cp.size} but only {expected} entries")
        )
    return report


def _compare_tile(conn, store: LogStore, report, level, tile_index, hashes) -> None:
    report.tiles += 1
    row = conn.execute(
        select(LogTile.hashes, LogTile.root).where(
            LogTile.log_id == store.log_id, LogTile.level == level, LogTile.idx == tile_index
        )
    ).first()
    first_leaf = (tile_index * TILE_WIDTH) << (TILE_HEIGHT * level)
    if row is None:
        report.divergences.append(Divergence(first_leaf, f"tile {level}/{tile_index} missing"))
        return
    stored = row[0]
    for pos, h in enumerate(hashes):
        if stored[pos * 32 : pos * 32 + 32] != h:
            index = (tile_index * TILE_WIDTH + pos) << (TILE_HEIGHT * level)
            report.divergences.append(
                Divergence(index, f"tile {level}/{tile_index} differs at position {pos}")
            )
            return
    if len(stored) != TILE_WIDTH * 32 or row[1] != perfect_root(hashes):
        report.divergences.append(
            Divergence(first_leaf, f"tile {level}/{tile_index} has a wrong length or root")
        )
