"""Many writers at once: threads in one process and two processes sharing the database."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ledger.log import merkle
from ledger.logstore.integrity import check_integrity
from ledger.logstore.sequencer import Sequencer
from ledger.runtime import Ledger

pytestmark = pytest.mark.slow  # 10,000 entries from threads and processes

WORKER = Path(__file__).with_name("append_worker.py")


def _check_log(ledger: Ledger, receipts: list[tuple[int, bytes]], expected: int) -> None:
    store = ledger.store
    cp = store.latest_checkpoint()
    assert cp.size == expected
    indexes = sorted(i for i, _ in receipts)
    assert indexes == list(range(expected)), "gap or duplicate in receipts"
    data = store.entries(0, expected)
    assert len(data) == expected
    leaves = [merkle.leaf_hash(d) for d in data]
    for index, leaf in receipts:
        assert leaves[index] == leaf, f"entry {index} is not the one promised"
    assert len(set(data)) == expected, "the same entry was appended twice"
    assert merkle.root_from_leaf_hashes(leaves) == cp.root
    assert check_integrity(store).ok


def test_eight_threads_append_10000_entries(ledger: Ledger) -> None:
    sequencer: Sequencer = ledger.sequencer
    receipts: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        sent = 0
        while sent < 1250:
            n = min(1 + sent % 4, 1250 - sent)
            got = sequencer.append_many([f"t{t}-{sent + k}".encode() for k in range(n)])
            assert [r.index for r in got] == list(range(got[0].index, got[0].index + n))
            with lock:
                receipts.extend((r.index, r.leaf_hash) for r in got)
            sent += n

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert max(sequencer.batch_sizes) > 1, "appends were never grouped into one commit"
    _check_log(ledger, receipts, 10_000)


def test_two_processes_append_10000_entries(ledger: Ledger) -> None:
    s = ledger.settings
    procs = [
        subprocess.Popen(
            [
                sys.executable, str(WORKER), "--url", s.database_url, "--origin", s.log_origin,
                "--key", str(s.log_key_file), "--count", "625", "--threads", "8",
                "--prefix", f"proc{p}",
            ],
            stdout=subprocess.PIPE, text=True,
        )
        for p in range(2)
    ]  # fmt: skip
    receipts = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0
        for line in out.splitlines():
            index, leaf, _size = line.split()
            receipts.append((int(index), bytes.fromhex(leaf)))
    assert len(receipts) == 10_000
    _check_log(ledger, receipts, 10_000)
