"""Replaying with several processes, with the same result as one.

The complaints are split between worker processes by reference (``replay.route``); officer-key
entries go to every worker, so each folds the same registry in log order. This process fetches
the tiles, makes the same bundle checks as the one-process replay, folds the hash tile into the
compact range and sends each worker its entries of each bundle with their hashes from the tile;
each worker hashes its entries, checks them against the tile and replays them. The workers'
results are merged in log order (problems by entry; complaints are disjoint; facts are merged
by entry when read).

What could tell the two modes apart, and why it does not:

* Tile errors: the one-process replay stops at the first one in log order. Here a bundle is sent
  only after its own checks passed, so an entry mismatch found by a worker always comes before
  any error this process meets later; the earliest is reported, as in one process.
* Routing: ``route`` reads a leaf's partition from its bytes; each worker checks that choice
  against the parsed envelope, and if one ever disagrees, the caller replays in one process.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import multiprocessing
import os
import queue
import socket
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint
from ledger.log.client import TileClient
from ledger.monitor.entries import bundles, mismatch_message, tile_hashes
from ledger.monitor.replay import (
    BROADCAST,
    FACT_BLOCK,
    ChainRow,
    Replayer,
    ReplayResult,
    owner_of,
    route,
)

Stage = Callable[[list[ChainRow], list[tuple]], None]


def _context() -> Any:
    # fork starts workers without importing anything again, but is unsafe in a process with
    # other threads (a lock held by one of them stays held in the child): spawn there.
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def replay_parallel(
    client: TileClient,
    start: int,
    cp: Checkpoint,
    frontier: list[bytes],
    rows: Sequence[ChainRow],
    officer_leaves: Mapping[int, bytes],
    workers: int,
    stage: Stage | None = None,
) -> ReplayResult | None:
    """Entries [start, cp.size) replayed by ``workers`` processes; None when the routing was
    wrong for some leaf (replay in one process instead). Raises what the one-process replay
    raises (``merkle.ProofError``, ``ValueError`` or the fetch function's errors).

    ``stage(chain_rows, fact_blocks)``, when given, takes what the workers settle while they
    replay (``Replayer.settle``), for the caller's pending save; the result then holds only the
    rest. Without it everything comes back in the result.
    """
    ctx = _context()
    parts: list[list[ChainRow]] = [[] for _ in range(workers)]
    for row in rows:
        parts[owner_of(row[0], workers)].append(row)
    conns, procs = [], []
    try:
        for p in range(workers):
            parent, child = ctx.Pipe()
            _widen(parent, child)
            args = (child, cp.origin, p, workers, start, cp.size, parts[p], dict(officer_leaves),
                    stage is not None)  # fmt: skip
            proc = ctx.Process(target=_work, args=args, daemon=True, name=f"monitor-replay-{p}")
            proc.start()
            child.close()
            conns.append(parent)
            procs.append(proc)
        parts.clear()
        inbox = _Inbox(conns, stage)  # its threads start after the workers (fork, above)
        failure = _send_bundles(client, start, cp.size, frontier, conns, inbox)
        for conn in conns:  # every worker told first, so they all finish at once
            with contextlib.suppress(OSError):  # the worker is gone: its answer (or none) says why
                conn.send(None)
        answers = inbox.answers()
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():  # pragma: no cover - only when something went wrong
                proc.kill()
                proc.join()
        for conn in conns:
            conn.close()
    return _combine(answers, failure)


class _Inbox:
    """What the workers send back, read by one thread per worker (so a worker never waits on
    this process to read, whatever this process is doing) and handled in this thread: settled
    rows go to ``stage`` as they come, each worker's last message is its answer."""

    def __init__(self, conns: list, stage: Stage | None) -> None:
        self.stage = stage
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.answered: dict[int, tuple] = {}
        self.workers = len(conns)
        for p, conn in enumerate(conns):
            threading.Thread(
                target=self._read, args=(p, conn), daemon=True, name=f"monitor-inbox-{p}"
            ).start()

    def _read(self, p: int, conn) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = ("error", "the process ended without an answer")
            self.queue.put((p, message))
            if message[0] != "settled":
                return

    def _handle(self, p: int, message: tuple) -> None:
        if message[0] == "settled":
            self.stage(message[1], message[2])  # type: ignore[misc]
        else:
            self.answered[p] = message

    def drain(self) -> None:
        """Handle what has arrived, without waiting."""
        while True:
            try:
                self._handle(*self.queue.get_nowait())
            except queue.Empty:
                return

    def answers(self) -> list[tuple]:
        """Every worker's answer, in worker order (waits for them)."""
        while len(self.answered) < self.workers:
            self._handle(*self.queue.get())
        return [self.answered[p] for p in range(self.workers)]


# Bytes a worker's connection may hold in flight: enough for many bundles, so this process can
# run ahead of a worker (and keep the other busy) instead of waiting for each to read.
SOCKET_BUFFER = 4 << 20


def _widen(*conns) -> None:
    """Ask for larger socket buffers on the connections (the kernel may cap them)."""
    for conn in conns:
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(conn.fileno())) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)


def _send_bundles(
    client: TileClient, start: int, size: int, frontier: list[bytes], conns: list, inbox: _Inbox
) -> Exception | None:
    """Fetch and check every bundle, send it to the workers and fold its hashes into the
    compact range; the first error, if any (nothing after it is sent)."""
    partitions = len(conns)
    try:
        for first, k0, entries, _, hashes in bundles(client, start, size):
            tile = tile_hashes(hashes, k0)
            new = entries[k0:]
            routes = [route(data, h, partitions) for data, h in zip(new, tile, strict=True)]
            end = first + len(entries)
            for p, conn in enumerate(conns):
                own = [k for k, r in enumerate(routes) if r in (p, BROADCAST)]
                conn.send((
                    end, [first + k0 + k for k in own], [new[k] for k in own],
                    [tile[k] for k in own], [routes[k] for k in own],
                ))  # fmt: skip
            merkle.frontier_extend(frontier, first + k0, tile)
            inbox.drain()
    except Exception as exc:  # reported after the workers' own, earlier, findings
        return exc
    return None


def _combine(answers: list[tuple], failure: Exception | None) -> ReplayResult | None:
    errors = [a[1] for a in answers if a[0] == "error"]
    if errors:
        raise RuntimeError("a monitor replay process failed:\n" + "\n".join(errors))
    mismatches = [a[1] for a in answers if a[1] is not None]
    if mismatches:
        raise merkle.ProofError(mismatch_message(min(mismatches)))
    if failure is not None:
        raise failure
    if any(a[2] for a in answers):
        return None
    return ReplayResult.merge(a[3] for a in answers)


def _work(conn, origin, partition, partitions, start, end, rows, officer_leaves, settle) -> None:
    """A worker process: replay the bundles it is sent (sending what settles, when asked to,
    at each new fact block), then answer with its result."""
    gc.disable()  # this process only replays (see replay.gc_paused); it ends after
    try:
        replayer = Replayer.resume(origin, rows, officer_leaves, partition, partitions)
        del rows
        mismatch = None
        block = start // FACT_BLOCK
        while (message := conn.recv()) is not None:
            if mismatch is not None:
                continue
            upto, *batch = message
            mismatch = _replay_batch(replayer, *batch)
            if settle and mismatch is None and upto // FACT_BLOCK > block:
                block = upto // FACT_BLOCK
                settled_rows, blocks = replayer.settle(upto, start, end)
                if settled_rows or blocks:
                    conn.send(("settled", settled_rows, blocks))
        result = replayer.result(start, end)
        conn.send(("ok", mismatch, replayer.misrouted, result))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _replay_batch(
    replayer: Replayer, indices: list[int], leaves: list[bytes], hashes: list[bytes], routes
) -> int | None:
    """Replay this partition's entries of one bundle; the first entry that does not match its
    hash tile, or None."""
    sha256 = hashlib.sha256
    feed = replayer.feed
    for index, data, tile_hash, routed in zip(indices, leaves, hashes, routes, strict=True):
        leaf_hash = sha256(b"\x00" + data).digest()
        if leaf_hash != tile_hash:
            return index
        feed(index, data, leaf_hash, routed)
    return None
