"""Group commit: concurrent appends are batched into one transaction by a writer thread.

Each caller blocks until the batch holding its entries is committed, then gets its
receipts. If the transaction fails, every caller in that batch gets the exception and
nothing of the batch is in the log. Across processes, the store's lock (SQLite
``BEGIN IMMEDIATE``, PostgreSQL advisory lock) keeps one writer at a time.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from ledger.errors import LedgerError
from ledger.logstore.store import InvalidRequest, LogStore, PendingEntry, Receipt, Rejected


class SequencerClosed(LedgerError, RuntimeError):
    """The sequencer was stopped and accepts no more entries."""


class Sequencer:
    """``on_batch`` is called with the size of each committed batch (for metrics; what it
    raises is ignored, and it may be set later, e.g. by whoever serves the metrics)."""

    def __init__(
        self,
        store: LogStore,
        max_batch: int = 4096,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.on_batch = on_batch
        self._cond = threading.Condition()
        self._pending: deque[tuple[list, Future[list]]] = deque()
        self._pending_count = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batch_sizes: list[int] = []  # recent committed batch sizes, for metrics

    def append(self, data: bytes | PendingEntry, timeout: float | None = None) -> Receipt:
        """Append one entry; raises ``Rejected`` if its check refused it."""
        return self.append_many([data], timeout)[0]

    def append_many(
        self, items: Sequence[bytes | PendingEntry], timeout: float | None = None
    ) -> list[Receipt]:
        """Append ``items`` contiguously; returns their receipts once durably committed.

        Items with checks should be appended one per call: a rejected item raises
        ``Rejected`` for the whole call even though the other items were appended.
        """
        items = list(items)
        if not items:
            return []
        if len(items) > self.max_batch:
            raise InvalidRequest(f"at most {self.max_batch} entries per call")
        fut: Future[list] = Future()
        with self._cond:
            if self._closed:
                raise SequencerClosed("the sequencer is stopped")
            self._pending.append((items, fut))
            self._pending_count += len(items)
            self._ensure_thread()
            self._cond.notify()
        results = fut.result(timeout)
        for r in results:
            if isinstance(r, Rejected):
                raise r
        return results

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="log-sequencer", daemon=True)
            self._thread.start()

    def _take_batch(self) -> list[tuple[list, Future[list]]] | None:
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if not self._pending:
                return None
            batch, total = [], 0
            while self._pending and total + len(self._pending[0][0]) <= self.max_batch:
                items, fut = self._pending.popleft()
                batch.append((items, fut))
                total += len(items)
            self._pending_count -= total
            return batch

    def _run(self) -> None:
        while (batch := self._take_batch()) is not None:
            flat = [data for items, _ in batch for data in items]
            try:
                receipts = self.store.append_batch(flat)
            except BaseException as exc:  # every waiter must hear about the failure
                for _, fut in batch:
                    fut.set_exception(exc)
                continue
            self.batch_sizes = [*self.batch_sizes[-999:], len(flat)]
            if self.on_batch is not None:
                with contextlib.suppress(Exception):  # metrics never break the write path
                    self.on_batch(len(flat))
            pos = 0
            for items, fut in batch:
                fut.set_result(receipts[pos : pos + len(items)])
                pos += len(items)

    def close(self) -> None:
        """Stop after committing what is already queued."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
