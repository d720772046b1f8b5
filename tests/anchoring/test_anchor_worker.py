"""The anchor worker against a real anvil process and a real SQLite file."""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from web3 import Web3

from ledger.anchoring.contract import LogAnchorClient
from ledger.anchoring.devchain import DevChain
from ledger.anchoring.models import AnchorRecord, AnchorState, utcnow
from ledger.anchoring.worker import AnchorWorker, LogForkError, WorkerConfig
from ledger.processes import start_process, wait_for
from tests.support.anchoring import FUNDING
from tests.support.memsource import MemoryLog

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """Injected wall clock, so the interval trigger is tested without sleeping."""

    def __init__(self) -> None:
        self.value = utcnow()

    def __call__(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


def deploy(node: DevChain) -> tuple[Web3, LogAnchorClient, LocalAccount]:
    w3 = Web3(Web3.HTTPProvider(node.url))
    owner, submitter = Account.create(), Account.create()
    node.set_balance(owner.address, FUNDING)
    node.set_balance(submitter.address, FUNDING)
    client = LogAnchorClient.deploy(w3, owner)
    client.add_submitter(owner, submitter.address)
    return w3, client, submitter


def make_worker(
    w3: Web3,
    client: LogAnchorClient,
    submitter: LocalAccount,
    log: MemoryLog,
    engine: Engine,
    now: Callable[[], datetime] = utcnow,
    **config,
) -> AnchorWorker:
    defaults = {
        "confirmations": 2,
        "every_entries": 1,
        "interval_seconds": 3600,
        "poll_seconds": 0.05,
        "backoff_initial": 0.05,
        "backoff_max": 0.4,
        "expected_chain_id": 31337,
    }
    return AnchorWorker(
        w3=w3,
        client=client,
        account=submitter,
        source=log,
        engine=engine,
        config=WorkerConfig(**(defaults | config)),
        now=now,
    )


def records(engine: Engine) -> list[AnchorRecord]:
    with Session(engine) as s:
        return list(s.scalars(select(AnchorRecord).order_by(AnchorRecord.id)))


def step_until(worker: AnchorWorker, want: str, node: DevChain | None = None, limit: int = 20):
    """Step (mining a block between steps when ``node`` is given) until ``want`` happens."""
    seen = []
    for _ in range(limit):
        outcome = worker.step()
        seen.append(outcome)
        if outcome == want:
            return seen
        if node is not None:
            node.mine()
    raise AssertionError(f"never saw {want!r}; saw {seen}")


# Short polls: the workers under test step every 0.05 to 0.1 seconds.
wait = functools.partial(wait_for, timeout=30, interval=0.05)


def log_id_of(log: MemoryLog) -> bytes:
    return hashlib.sha256(log.origin.encode()).digest()


def test_worker_anchors_confirms_and_records_chain_facts(anvil, db_engine):
    w3, client, submitter = deploy(anvil)
    log = MemoryLog()
    log.grow_to(5)
    clock = Clock()
    worker = make_worker(
        w3, client, submitter, log, db_engine, now=clock, confirmations=3, every_entries=10
    )

    assert worker.step() == "sent"  # the first anchor is always due
    (rec,) = records(db_engine)
    assert (rec.state, rec.nonce, rec.tree_size, rec.from_size) == (AnchorState.PENDING, 0, 5, 0)
    assert rec.raw_tx and Web3.keccak(rec.raw_tx) == rec.tx_hash

    assert worker.step() == "mined"  # automine: one confirmation of three
    anvil.mine(2)
    assert worker.step() == "confirmed"
    (rec,) = records(db_engine)
    receipt = w3.eth.get_transaction_receipt(rec.tx_hash)
    assert rec.state == AnchorState.CONFIRMED
    assert (rec.block_number, rec.block_hash) == (
        receipt["blockNumber"],
        bytes(receipt["blockHash"]),
    )
    assert (rec.chain_id, rec.contract_address, rec.sender) == (
        31337,
        client.address,
        submitter.address,
    )
    assert rec.confirmations == 3 and rec.gas_used == receipt["gasUsed"]
    size, root, note = log.latest_checkpoint()
    assert size == 5
    head = client.latest(log_id_of(log))
    assert (head.size, head.root) == (5, root)
    (event,) = client.anchored_events(log_id_of(log))
    assert event.note_hash == rec.note_hash == hashlib.sha256(note).digest()
    assert event.tx_hash == rec.tx_hash

    assert worker.step() == "idle"  # nothing new
    log.grow_to(7)
    assert worker.step() == "idle"  # 2 new entries < 10, and the interval has not passed
    clock.advance(3600)
    assert worker.step() == "sent"  # the interval trigger
    step_until(worker, "confirmed", anvil)
    log.grow_to(17)
    assert worker.step() == "sent"  # 10 new entries: no waiting for the interval
    step_until(worker, "confirmed", anvil)

    recs = records(db_engine)
    assert [(r.from_size, r.tree_size, r.nonce) for r in recs] == [(0, 5, 0), (5, 7, 1), (7, 17, 2)]
    assert all(r.state == AnchorState.CONFIRMED for r in recs)
    assert w3.eth.get_transaction_count(submitter.address) == 3
    assert [e.size for e in client.anchored_events(log_id_of(log))] == [5, 7, 17]


def test_reorg_dropping_the_anchor_is_detected_and_anchored_again(anvil, db_engine):
    w3, client, submitter = deploy(anvil)
    log = MemoryLog()
    log.grow_to(6)
    worker = make_worker(w3, client, submitter, log, db_engine, confirmations=3)
    snapshot = anvil.snapshot()

    assert worker.step() == "sent"
    assert worker.step() == "mined"
    (before,) = records(db_engine)
    assert before.block_hash is not None

    # The block holding the anchor is orphaned; the new chain is as tall but lacks the tx.
    assert anvil.revert(snapshot)
    anvil.mine(2)
    assert client.latest(log_id_of(log)).size == 0

    assert worker.step() == "reorged"  # receipt gone: same signed bytes sent again
    step_until(worker, "confirmed", anvil)
    (after,) = records(db_engine)
    assert after.state == AnchorState.CONFIRMED
    assert after.reorgs == 1 and after.broadcasts == 2
    assert after.tx_hash == before.tx_hash and after.nonce == 0
    assert after.block_hash != before.block_hash
    receipt = w3.eth.get_transaction_receipt(after.tx_hash)
    assert bytes(receipt["blockHash"]) == after.block_hash
    assert client.latest(log_id_of(log)).size == 6
    assert len(client.anchored_events(log_id_of(log))) == 1


def test_reorg_moving_the_anchor_to_another_block_is_followed(anvil, db_engine):
    w3, client, submitter = deploy(anvil)
    log = MemoryLog()
    log.grow_to(3)
    worker = make_worker(w3, client, submitter, log, db_engine, confirmations=4)
    assert worker.step() == "sent"
    assert worker.step() == "mined"
    (before,) = records(db_engine)
    anvil.mine(1)

    # Replace the last two blocks; the anchor lands one block later than before.
    anvil.rpc("anvil_reorg", 2, [["0x" + before.raw_tx.hex(), 1]])
    assert worker.step() == "reorged"
    (moved,) = records(db_engine)
    assert moved.block_number == before.block_number + 1
    assert moved.block_hash != before.block_hash and moved.reorgs == 1
    step_until(worker, "confirmed", anvil)
    assert records(db_engine)[0].broadcasts == 1  # it never left the chain for long
    assert client.latest(log_id_of(log)).size == 3


def _worker_env(anvil: DevChain, tmp_path: Path, key: LocalAccount, client, size: int) -> dict:
    key_file = tmp_path / "submitter.key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.key.hex())
    return os.environ | {
        "PYTHONPATH": str(ROOT),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'anchors.sqlite3'}",
        "LEDGER_DATA_DIR": str(tmp_path),
        "LEDGER_CHAIN_RPC_URL": anvil.url,
        "LEDGER_CHAIN_ID": "31337",
        "LEDGER_ANCHOR_CONTRACT": client.address,
        "LEDGER_ANCHOR_KEY_FILE": str(key_file),
        "LEDGER_ANCHOR_CONFIRMATIONS": "2",
        "LEDGER_ANCHOR_EVERY_ENTRIES": "1",
        "LEDGER_ANCHOR_POLL_SECONDS": "0.1",
        "LEDGER_ANCHOR_SOURCE": "tests.support.memsource:env_log",
        "TEST_ANCHOR_LOG_ORIGIN": "example.org/complaints/restart",
        "TEST_ANCHOR_LOG_SIZE": str(size),
    }


def test_worker_killed_between_send_and_confirmation_resumes_without_double_anchor(
    anvil, db_engine, tmp_path
):
    w3, client, submitter = deploy(anvil)
    anvil.set_automine(False)  # transactions now wait in the pool until we mine
    env = _worker_env(anvil, tmp_path, submitter, client, size=9)
    log_file = tmp_path / "worker.log"
    proc = start_process(
        [sys.executable, str(ROOT / "scripts" / "anchor_worker.py")],
        log=log_file,
        env=env,
        cwd=ROOT,
    )
    try:

        def sent() -> bool:
            if proc.poll() is not None:
                raise AssertionError(log_file.read_text())
            recs = records(db_engine)
            return bool(recs) and w3.eth.get_transaction_count(submitter.address, "pending") > 0

        wait(sent, what="the worker process to sign and broadcast")
    finally:
        proc.send_signal(signal.SIGKILL)  # no clean shutdown: a crash
        proc.wait(timeout=10)
    output = log_file.read_text()
    assert submitter.key.hex() not in output and submitter.key.hex()[2:] not in output
    (rec,) = records(db_engine)
    assert rec.state == AnchorState.PENDING and rec.block_hash is None

    anvil.mine(1)
    log = MemoryLog(origin=env["TEST_ANCHOR_LOG_ORIGIN"])
    log.grow_to(9)
    restarted = make_worker(w3, client, submitter, log, db_engine)
    assert restarted.step() == "mined"
    anvil.mine(1)
    assert restarted.step() == "confirmed"
    assert restarted.step() == "idle"
    (rec,) = records(db_engine)
    # The kill may land after the broadcast but before its counter was stored: 0 or 1.
    assert rec.state == AnchorState.CONFIRMED and rec.broadcasts <= 1
    assert bytes(w3.eth.get_transaction_receipt(rec.tx_hash)["blockHash"]) == rec.block_hash
    assert w3.eth.get_transaction_count(submitter.address) == 1
    assert [e.size for e in client.anchored_events(log_id_of(log))] == [9]


def test_crash_after_storing_before_broadcast_sends_the_stored_tx(anvil, db_engine):
    w3, client, submitter = deploy(anvil)
    log = MemoryLog()
    log.grow_to(4)
    crashed = make_worker(w3, client, submitter, log, db_engine)
    record_id = crashed.prepare_next()  # signed and stored; the process dies here
    assert record_id is not None
    (stored,) = records(db_engine)
    assert w3.eth.get_transaction_count(submitter.address, "pending") == 0

    log.grow_to(8)  # the log moved on meanwhile: still, the stored anchor goes first
    restarted = make_worker(w3, client, submitter, log, db_engine)
    assert restarted.step() == "rebroadcast"
    step_until(restarted, "confirmed", anvil)
    first = records(db_engine)[0]
    assert first.tx_hash == stored.tx_hash and first.tree_size == 4
    assert restarted.step() == "sent"  # then the next one, from size 4
    step_until(restarted, "confirmed", anvil)
    assert [(r.from_size, r.tree_size) for r in records(db_engine)] == [(0, 4), (4, 8)]
    assert w3.eth.get_transaction_count(submitter.address) == 2


@pytest.mark.evm
@pytest.mark.slow
def test_rpc_down_worker_backs_off_then_catches_up(tmp_path, db_engine):
    state = tmp_path / "chain-state.json"
    node = DevChain(state_file=state, log_file=tmp_path / "anvil.log").start()
    stop = threading.Event()
    thread = None
    try:
        w3, client, submitter = deploy(node)
        log = MemoryLog()
        log.grow_to(5)
        worker = make_worker(w3, client, submitter, log, db_engine, confirmations=1)
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        wait(lambda: client.latest(log_id_of(log)).size == 5, what="the first anchor")

        # The node goes away (its state is written to the file), the log keeps growing.
        node.stop()
        log.grow_to(11)
        wait(lambda: worker.consecutive_failures >= 3, what="failed steps while down")
        assert thread.is_alive()

        node.start()  # same port, same state file
        wait(lambda: client.latest(log_id_of(log)).size == 11, what="the catch-up anchor")
        wait(
            lambda: [r.state for r in records(db_engine)] == [AnchorState.CONFIRMED] * 2,
            what="both anchors confirmed",
        )

        # Down again, this time with an anchor waiting in the pool: a restarted node has
        # forgotten it, and the worker must send the very same signed transaction again.
        node.set_automine(False)
        log.grow_to(12)
        wait(lambda: len(records(db_engine)) == 3, what="the third anchor to be signed")
        wait(lambda: records(db_engine)[2].broadcasts >= 1, what="its broadcast")
        node.stop()
        node.start()  # automine is back on; the pool is empty
        wait(lambda: client.latest(log_id_of(log)).size == 12, what="the re-sent anchor")
        wait(lambda: records(db_engine)[2].state == AnchorState.CONFIRMED, what="confirmation")
        assert records(db_engine)[2].broadcasts >= 2
        assert thread.is_alive() and worker.total_failures >= 3
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        node.stop()
    assert not thread.is_alive()
    recs = records(db_engine)
    assert [(r.tree_size, r.nonce, r.state) for r in recs] == [
        (5, 0, AnchorState.CONFIRMED),
        (11, 1, AnchorState.CONFIRMED),
        (12, 2, AnchorState.CONFIRMED),
    ]


def test_worker_refuses_to_anchor_a_rewritten_log(anvil, db_engine):
    w3, client, submitter = deploy(anvil)
    log = MemoryLog()
    log.grow_to(5)
    worker = make_worker(w3, client, submitter, log, db_engine, confirmations=1)
    step_until(worker, "confirmed", anvil)

    forged = MemoryLog(origin=log.origin)  # same log name, different history
    forged.append(*(b"forged %d" % i for i in range(9)))
    liar = make_worker(w3, client, submitter, forged, db_engine, confirmations=1)
    with pytest.raises(LogForkError):
        liar.step()
    assert len(records(db_engine)) == 1
    assert w3.eth.get_transaction_count(submitter.address, "pending") == 1
    assert client.latest(log_id_of(log)).root == log.root_at(5)


def test_database_allows_one_pending_anchor_per_log(db_engine):
    def record(tx: bytes) -> AnchorRecord:
        return AnchorRecord(
            log_origin="o",
            log_id=b"\1" * 32,
            tree_size=1,
            root_hash=b"\2" * 32,
            from_size=0,
            note_hash=b"\3" * 32,
            chain_id=1,
            contract_address="0x" + "00" * 20,
            sender="0x" + "11" * 20,
            nonce=0,
            tx_hash=tx,
            raw_tx=b"raw",
            gas_limit=1,
            max_fee_per_gas=1,
            max_priority_fee_per_gas=1,
        )

    with Session(db_engine) as s:
        s.add(record(b"\4" * 32))
        s.commit()
        s.add(record(b"\5" * 32))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        first = s.scalars(select(AnchorRecord)).one()
        first.state = AnchorState.CONFIRMED
        s.add(record(b"\5" * 32))
        s.commit()
        assert s.scalars(select(AnchorRecord)).all()[1].state == AnchorState.PENDING
