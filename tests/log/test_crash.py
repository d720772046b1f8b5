"""SIGKILL during appends: every entry whose receipt was returned survives, and the log
resumes consistently with the last checkpoint signed before the kill."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.log import merkle
from ledger.log.checkpoint import open_checkpoint
from ledger.logstore.integrity import check_integrity
from ledger.runtime import Ledger, open_ledger

pytestmark = pytest.mark.slow  # kills appending processes

WORKER = Path(__file__).with_name("append_worker.py")


def test_sigkill_loses_no_acknowledged_entry(ledger: Ledger) -> None:
    s = ledger.settings
    ledger.sequencer.append_many([b"before-0", b"before-1"])
    proc = subprocess.Popen(
        [
            sys.executable, str(WORKER), "--url", s.database_url, "--origin", s.log_origin,
            "--key", str(s.log_key_file), "--count", "0", "--threads", "4",
        ],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    acknowledged: list[tuple[int, bytes]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        index, leaf, _ = line.split()
        acknowledged.append((int(index), bytes.fromhex(leaf)))
        if len(acknowledged) >= 3000:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # Receipts already written to the pipe before the kill were acknowledged too.
    for line in proc.stdout:
        if line.endswith("\n"):
            index, leaf, _ = line.split()
            acknowledged.append((int(index), bytes.fromhex(leaf)))

    ledger.close()
    restarted = open_ledger(s)  # a fresh process's view: no caches
    try:
        store = restarted.store
        last_signed = store.latest_checkpoint()
        verified_last = open_checkpoint(last_signed.note, store.verifier, store.origin)
        for index, leaf in acknowledged:
            assert index < last_signed.size
            assert merkle.leaf_hash(store.entry(index)) == leaf
        assert check_integrity(store).ok

        receipt = restarted.sequencer.append(b"after restart")
        assert receipt.index == last_signed.size
        nxt = open_checkpoint(receipt.checkpoint.note, store.verifier, store.origin)
        proof = store.consistency_proof(verified_last.size, nxt.size)
        merkle.verify_consistency(verified_last.size, nxt.size, verified_last.root, nxt.root, proof)
    finally:
        restarted.close()
