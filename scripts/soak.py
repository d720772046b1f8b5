#!/usr/bin/env python3
"""Soak test: steady complaint traffic against gunicorn + PostgreSQL + anvil while faults hit.

  .venv/bin/python scripts/soak.py --seconds 120 [--workers 3] [--clients 6]
                                   [--faults worker,server,postgres,chain] [--out bench/soak.json]

Starts, on this machine only (127.0.0.1): a scratch PostgreSQL database, a local anvil chain
with the LogAnchor contract, the anchor worker, and the API under gunicorn (several workers,
Redis rate limits). Concurrent clients file complaints (and acknowledge some of them as an
agent); every POST carries an Idempotency-Key and is retried with the same key after an
error or a time-out until it is acknowledged (or the run ends). On a schedule it injects:

  worker    SIGKILL one gunicorn worker (the master replaces it)
  server    SIGKILL the whole server (master and workers), then start it again, as a
            supervisor (systemd, Kubernetes) would
  postgres  restart PostgreSQL (pg_ctlcluster ... restart): affects every user of the server
  chain     stop anvil (the chain RPC goes away), then bring it back with its state

and measures each fault's recovery time: from the fault until a request sent after it is
acknowledged again and /readyz answers 200 (for the chain: until the anchor worker has
anchored the log again). At the end it checks that every acknowledged event is on the log and
proven (inclusion proof from the tiles verifies against the latest signed checkpoint; the
log's signature checked with the log key; a sample checked through the proof endpoint too),
that retries made no duplicate (one log entry per Idempotency-Key), that no 5xx other than
503 was ever answered (and every 503 was problem+json), that the log passes the integrity
check and the chain's anchored root is the log's root at that size. Writes the numbers to
``--out`` (default bench/soak.json) and exits 0 only if every check passed.

Every wait is bounded; every process started is stopped and the scratch database dropped
(``--keep`` keeps the folder and database); PostgreSQL is never left stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from web3 import Web3

from ledger.access.apikeys import create_api_key
from ledger.anchoring.config import write_new_key
from ledger.anchoring.contract import LogAnchorClient, log_id_for_origin
from ledger.anchoring.deploy import ensure_contract
from ledger.anchoring.devchain import DevChain
from ledger.casework.records import ComplaintEvent, EventBody
from ledger.config import Settings
from ledger.db import make_engine
from ledger.log import merkle
from ledger.log.client import TileClient
from ledger.log.encoding import parse_hash, parse_hashes
from ledger.log.keys import create_key_file
from ledger.logstore.integrity import check_integrity
from ledger.logstore.store import LogStore
from ledger.processes import (
    WaitTimeout,
    free_port,
    signal_process,
    start_process,
    stop_process,
    wait_for,
)
from ledger.runtime import open_ledger

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "soak.ledger.example/log"
CHAIN_ID = 31337
ALL_FAULTS = ("worker", "server", "postgres", "chain")
SCHEDULE = {"worker": 0.12, "server": 0.30, "postgres": 0.50, "chain": 0.68}
PG_CLUSTER = ("15", "main")
PG_LOCK = Path(tempfile.gettempdir()) / "ledger-soak-pg-restart.lock"
REQUEST_TIMEOUT = (3.0, 15.0)
RECOVERY_TIMEOUT = 90.0
CATEGORIES = ("stuck_transaction", "interface_fault", "sync_fault", "refund_or_claim")


def say(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- processes -----------------------------------------------------------------------------


def pg_running() -> bool:
    return (
        subprocess.run(
            ["pg_ctlcluster", *PG_CLUSTER, "status"], capture_output=True, timeout=30
        ).returncode
        == 0
    )


def pg_ensure_running() -> None:
    """Never leave PostgreSQL stopped."""
    with contextlib.suppress(Exception):
        if not pg_running():
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", *PG_CLUSTER, "start"],
                capture_output=True,
                timeout=120,
            )


def eventually(predicate, timeout: float, interval: float = 0.2) -> bool:
    """Whether ``predicate`` held within ``timeout`` (the soak records a miss, it does not
    stop); an exception from it counts as "not yet"."""
    try:
        wait_for(predicate, timeout, interval=interval, ignore=(Exception,))
    except WaitTimeout:
        return False
    return True


class Server:
    """gunicorn (scripts/gunicorn.conf.py) in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, url: str) -> None:
        self.env = env
        self.log_path = log_path
        self.url = url
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.proc = start_process(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(ROOT / "scripts" / "gunicorn.conf.py"),
                "wsgi:app",
            ],
            log=self.log_path,
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )
        self.starts += 1

    def wait_healthy(self, timeout: float = 60) -> bool:
        return eventually(
            lambda: requests.get(f"{self.url}/healthz", timeout=2).status_code == 200, timeout
        )

    def workers(self) -> list[int]:
        if self.proc is None:
            return []
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        if self.proc is None:
            return
        signal_process(self.proc, signal.SIGKILL, group=True)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 20, group=True)


# --- the load ------------------------------------------------------------------------------


@dataclass
class Ack:
    key: str
    kind: str  # "file" or "step"
    reference: str
    log_index: int
    leaf_hash: str  # hex
    sent_at: float
    acked_at: float


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acks: dict[str, Ack] = field(default_factory=dict)
    sent_keys: set[str] = field(default_factory=set)
    unacked: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)
    requests: int = 0
    connection_errors: int = 0
    non503_5xx: list[dict[str, Any]] = field(default_factory=list)
    non_problem_503: int = 0
    client_errors: list[dict[str, Any]] = field(default_factory=list)
    last_ack_sent_at: float = 0.0
    references: list[str] = field(default_factory=list)  # filed, not yet acknowledged
    errors: list[tuple[float, str]] = field(default_factory=list)  # (when, "503" | "conn" ...)


class Load:
    def __init__(self, url: str, agent_key: str, clients: int, think: float) -> None:
        self.url = url
        self.agent_key = agent_key
        self.clients = clients
        self.think = think
        self.tally = Tally()
        self.stop = threading.Event()  # no new events
        self.hard_stop = threading.Event()  # give up retrying
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for n in range(self.clients):
            t = threading.Thread(target=self._client, args=(n,), name=f"client-{n}", daemon=True)
            t.start()
            self.threads.append(t)

    def join(self, grace: float) -> None:
        self.stop.set()
        deadline = time.monotonic() + grace
        for t in self.threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self.hard_stop.set()
        for t in self.threads:
            t.join(timeout=REQUEST_TIMEOUT[1] + 5)

    def _client(self, n: int) -> None:
        session = requests.Session()
        rng = random.Random(n)
        seq = 0
        while not self.stop.is_set():
            seq += 1
            key = f"soak-{n}-{seq}-{uuid.uuid4().hex[:8]}"
            reference = None
            with self.tally.lock:
                if self.tally.references and rng.random() < 0.3:
                    reference = self.tally.references.pop(rng.randrange(len(self.tally.references)))
            if reference is None:
                path = "/v1/complaints"
                body = {
                    "category": rng.choice(CATEGORIES),
                    "channel": "web_form",
                    "description": f"soak event {key}",
                }
                headers = {}
                kind = "file"
            else:
                path = f"/v1/complaints/{reference}/events"
                body = {"type": "acknowledged"}
                headers = {"Authorization": f"Bearer {self.agent_key}"}
                kind = "step"
            self._send_until_acked(session, key, kind, path, body, headers)
            if self.think:
                time.sleep(self.think * rng.random() * 2)

    def _send_until_acked(self, session, key, kind, path, body, headers) -> None:
        tally = self.tally
        headers = {
            **headers,
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        }
        with tally.lock:
            tally.sent_keys.add(key)
            tally.unacked.add(key)
        delay = 0.1
        while not self.hard_stop.is_set():
            sent_at = time.monotonic()
            try:
                resp = session.post(
                    self.url + path,
                    data=json.dumps(body),
                    headers={**headers, "X-Request-Id": uuid.uuid4().hex},
                    timeout=REQUEST_TIMEOUT,
                )
            except requests.RequestException:
                with tally.lock:
                    tally.requests += 1
                    tally.connection_errors += 1
                    tally.errors.append((time.monotonic(), "conn"))
                session.close()
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            status = resp.status_code
            with tally.lock:
                tally.requests += 1
                tally.statuses[status] += 1
            if status in (200, 201):
                data = resp.json()
                ack = Ack(
                    key=key,
                    kind=kind,
                    reference=data["reference"],
                    log_index=int(data["receipt"]["log_index"]),
                    leaf_hash=data["receipt"]["leaf_hash"],
                    sent_at=sent_at,
                    acked_at=time.monotonic(),
                )
                with tally.lock:
                    tally.acks[key] = ack
                    tally.unacked.discard(key)
                    tally.last_ack_sent_at = max(tally.last_ack_sent_at, sent_at)
                    if kind == "file":
                        tally.references.append(ack.reference)
                return
            if status >= 500:
                ctype = resp.headers.get("Content-Type", "")
                with tally.lock:
                    tally.errors.append((time.monotonic(), str(status)))
                    if status != 503:
                        tally.non503_5xx.append(
                            {"status": status, "path": path, "body": resp.text[:300]}
                        )
                    elif not ctype.startswith("application/problem+json"):
                        tally.non_problem_503 += 1
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if status == 429:
                time.sleep(0.5)
                continue
            with tally.lock:  # a refusal: not retried (the same request would be refused)
                tally.client_errors.append(
                    {"status": status, "path": path, "body": resp.text[:300]}
                )
                tally.unacked.discard(key)
            return


# --- faults --------------------------------------------------------------------------------


@dataclass
class FaultResult:
    fault: str
    at_s: float
    recovered: bool = False
    recovery_s: float | None = None  # fault -> writes acknowledged and /readyz 200 again
    outage_s: float = 0.0  # fault -> the dependency is back (server/postgres/chain restarted)
    # From the dependency's return: a request sent after it acknowledged; /readyz 200 again.
    writes_back_s: float | None = None
    ready_back_s: float | None = None
    anchored_again_s: float | None = None  # chain: back -> the worker anchored the log again
    errors_503: int = 0  # answers 503 (problem+json) between the fault and the recovery
    connection_errors: int = 0  # refused or reset connections in that window
    detail: str = ""


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="ledger-soak-"))
        self.db_name = f"soak_{uuid.uuid4().hex[:12]}"
        admin = make_url(args.pg_url).set(drivername="postgresql+psycopg")
        self.admin_url = admin.set(database="postgres")
        self.db_url = admin.set(database=self.db_name).render_as_string(hide_password=False)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.chain: DevChain | None = None
        self.worker: subprocess.Popen | None = None
        self.server: Server | None = None
        self.load: Load | None = None
        self.t0 = 0.0
        self.results: list[FaultResult] = []
        self.lock = threading.Lock()
        self.ready_polls: list[tuple[float, bool]] = []
        self.monitor_stop = threading.Event()

    # --- setup ---------------------------------------------------------------------------

    def setup(self) -> None:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        admin.dispose()
        data = self.tmp / "data"
        data.mkdir()
        key = data / "log.key"
        self.signer = create_key_file(key, ORIGIN)
        settings = Settings(
            data_dir=data, database_url=self.db_url, log_origin=ORIGIN, log_key_file=key
        )
        led = open_ledger(settings)  # migrations + the empty signed log
        try:
            self.agent_key, _ = create_api_key(led.engine, "soak agent", "agent")
        finally:
            led.close()

        self.chain = DevChain(
            port=free_port(),
            chain_id=CHAIN_ID,
            state_file=data / "chain-state.json",
            log_file=data / "anvil.log",
            popen_kwargs={"start_new_session": True},
        ).start()
        anchor_key = data / "anchor.key"
        account = write_new_key(anchor_key)
        self.chain.set_balance(account.address, 10**21)
        w3 = Web3(Web3.HTTPProvider(self.chain.url, request_kwargs={"timeout": 10}))
        outcome = ensure_contract(w3, account, account.address, data)
        self.contract = outcome.client.address
        say(f"anvil on {self.chain.url}, LogAnchor at {self.contract}")

        self.env = dict(os.environ) | {
            "LEDGER_DATA_DIR": str(data),
            "LEDGER_DATABASE_URL": self.db_url,
            "LEDGER_LOG_ORIGIN": ORIGIN,
            "LEDGER_LOG_KEY_FILE": str(key),
            "LEDGER_REDIS_URL": self.args.redis_url,
            "LEDGER_RATE_LIMIT": "100000/second",
            "LEDGER_ANONYMOUS_FILING_LIMIT": "",  # the load files anonymously from one address
            "LEDGER_CHAIN_RPC_URL": self.chain.url,
            "LEDGER_CHAIN_ID": str(CHAIN_ID),
            "LEDGER_ANCHOR_CONTRACT": self.contract,
            "LEDGER_ANCHOR_KEY_FILE": str(anchor_key),
            "LEDGER_ANCHOR_INTERVAL_SECONDS": "2",
            "LEDGER_ANCHOR_EVERY_ENTRIES": "1",
            "LEDGER_ANCHOR_CONFIRMATIONS": "1",
            "LEDGER_ANCHOR_POLL_SECONDS": "0.5",
            "LEDGER_BIND": f"127.0.0.1:{self.port}",
            "LEDGER_WORKERS": str(self.args.workers),
            "LEDGER_THREADS": "8",
            "LEDGER_DB_POOL_SIZE": "5",
            "LEDGER_DB_CONNECT_TIMEOUT": "3",
            "LEDGER_LOG_LEVEL": "INFO",
            "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "prometheus"),
            "PYTHONUNBUFFERED": "1",
        }
        self.start_worker()
        self.server = Server(self.env, self.tmp / "gunicorn.log", self.url)
        self.server.start()
        if not self.server.wait_healthy(90):
            raise RuntimeError(f"the API did not start: see {self.tmp / 'gunicorn.log'}")
        say(f"API on {self.url} ({self.args.workers} workers), database {self.db_name}")

    def start_worker(self) -> None:
        self.worker = start_process(
            [sys.executable, "-m", "ledger.cli.anchor_worker"],
            log=self.tmp / "anchor_worker.log",
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )

    # --- observation -------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self.t0

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/readyz", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def log_size(self) -> int:
        note = requests.get(f"{self.url}/log/checkpoint", timeout=5).text
        return int(note.splitlines()[1])

    def chain_size(self) -> int:
        assert self.chain is not None
        w3 = Web3(Web3.HTTPProvider(self.chain.url, request_kwargs={"timeout": 5}))
        return LogAnchorClient(w3, self.contract).latest(log_id_for_origin(ORIGIN)).size

    def _ready_monitor(self) -> None:
        """Poll /readyz all along: (start time, ready?) for every poll."""
        while not self.monitor_stop.is_set():
            started = time.monotonic()
            ok = self.ready()
            with self.lock:
                self.ready_polls.append((started, ok))
            time.sleep(max(0.0, 0.25 - (time.monotonic() - started)))

    def _ready_back(self, since: float) -> float | None:
        """When /readyz was ready again: the first ready poll after the last unready one
        (polls started after ``since``); None while the latest poll is not ready."""
        with self.lock:
            polls = [(t, ok) for t, ok in self.ready_polls if t >= since]
        if not polls or not polls[-1][1]:
            return None
        last_bad = max((i for i, (_, ok) in enumerate(polls) if not ok), default=-1)
        return polls[last_bad + 1][0]

    def _writes_back(self, since: float) -> float | None:
        """When the first request sent after ``since`` was acknowledged."""
        assert self.load is not None
        tally = self.load.tally
        with tally.lock:
            if tally.last_ack_sent_at <= since:
                return None
            return min(a.acked_at for a in tally.acks.values() if a.sent_at > since)

    def wait_recovered(self, result: FaultResult, since: float, back: float) -> None:
        """Until a request sent after ``back`` (the fault lifted) is acknowledged and /readyz
        says 200 again; ``since`` is when the fault was injected."""
        assert self.load is not None
        result.outage_s = round(back - since, 3)
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while time.monotonic() < deadline:
            writes, ready = self._writes_back(back), self._ready_back(back)
            if writes is not None and ready is not None:
                result.writes_back_s = round(writes - back, 3)
                result.ready_back_s = round(ready - back, 3)
                done = max(writes, ready)
                result.recovery_s = round(done - since, 3)
                result.recovered = True
                with self.load.tally.lock:
                    window = [k for t, k in self.load.tally.errors if since <= t <= done]
                result.errors_503 = window.count("503")
                result.connection_errors = window.count("conn")
                return
            time.sleep(0.1)
        result.detail += f"not recovered within {RECOVERY_TIMEOUT:.0f}s; "

    # --- the faults ---------------------------------------------------------------------

    def fault_worker(self, result: FaultResult) -> None:
        assert self.server is not None
        workers = self.server.workers()
        if not workers:
            result.detail = "no worker found"
            return
        victim = random.choice(workers)
        since = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        result.detail = f"SIGKILL worker pid {victim}; "
        self.wait_recovered(result, since, since)

    def fault_server(self, result: FaultResult) -> None:
        assert self.server is not None
        since = time.monotonic()
        self.server.kill_all()
        time.sleep(1.0)  # the supervisor notices
        self.server.start()
        result.detail = "SIGKILL master and workers, restarted by the soak's supervisor; "
        self.wait_recovered(result, since, time.monotonic())

    def fault_postgres(self, result: FaultResult) -> None:
        since = time.monotonic()
        with open(PG_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                done = subprocess.run(
                    ["pg_ctlcluster", "--skip-systemctl-redirect", *PG_CLUSTER, "restart"],
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            finally:
                pg_ensure_running()
        result.detail = f"pg_ctlcluster restart (exit {done.returncode}); "
        self.wait_recovered(result, since, time.monotonic())

    def fault_chain(self, result: FaultResult) -> None:
        assert self.chain is not None
        since = time.monotonic()
        self.chain.stop()
        down = max(5.0, min(15.0, 0.08 * self.args.seconds))
        time.sleep(down)
        self.chain.start()
        back = time.monotonic()
        result.detail = f"anvil stopped for {down:.0f}s, restarted with its state; "
        target = self.log_size()
        if eventually(lambda: self.chain_size() >= target, RECOVERY_TIMEOUT, 0.25):
            anchored = time.monotonic()
            result.anchored_again_s = round(anchored - back, 3)
        else:
            result.detail += "the worker did not anchor again; "
        self.wait_recovered(result, since, back)
        if result.anchored_again_s is None:
            result.recovered = False
        elif result.recovery_s is not None:
            result.recovery_s = max(result.recovery_s, round(anchored - since, 3))

    def run_faults(self, faults: list[str]) -> None:
        for name in faults:
            at = SCHEDULE[name] * self.args.seconds
            while self.now() < at and not self.load.stop.is_set():  # type: ignore[union-attr]
                time.sleep(0.1)
            result = FaultResult(name, round(self.now(), 3))
            say(f"fault: {name}")
            try:
                getattr(self, f"fault_{name}")(result)
            except Exception as exc:
                result.detail += f"error: {type(exc).__name__}: {exc}"
            say(f"  -> recovered={result.recovered} in {result.recovery_s}s {result.detail}")
            self.results.append(result)

    # --- checks --------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        assert self.load is not None
        tally = self.load.tally
        out: dict[str, Any] = {}
        final_ready = eventually(self.ready, 60, 0.5)
        out["ready_at_end"] = final_ready
        size = self.log_size()
        anchored = eventually(lambda: self.chain_size() >= size, 90, 0.5)
        out["log_size"] = size
        out["anchored_size"] = self.chain_size()
        out["anchored_final_size"] = anchored

        # Proofs from the tiles, against the signed checkpoint (the log key is trusted).
        session = requests.Session()

        def fetch(path: str) -> bytes:
            resp = session.get(f"{self.url}/log/{path}", timeout=15)
            resp.raise_for_status()
            return resp.content

        client = TileClient(fetch, self.signer.verifier(), ORIGIN)
        cp, _note = client.checkpoint()
        found = proven = 0
        missing: list[str] = []
        for ack in tally.acks.values():
            leaf = parse_hash(ack.leaf_hash)
            if ack.log_index >= cp.size or client.leaf_hash(ack.log_index, cp.size) != leaf:
                missing.append(ack.key)
                continue
            found += 1
            proof = client.inclusion_proof(ack.log_index, cp.size)
            try:
                merkle.verify_inclusion(ack.log_index, cp.size, leaf, proof, cp.root)
                proven += 1
            except merkle.ProofError:
                missing.append(ack.key)
        sample = random.sample(list(tally.acks.values()), min(50, len(tally.acks)))
        api_proofs_ok = 0
        for ack in sample:
            r = session.get(
                f"{self.url}/v1/log/proof/inclusion",
                params={"index": ack.log_index, "tree_size": cp.size},
                timeout=15,
            ).json()
            proof = parse_hashes(r["proof"])
            with contextlib.suppress(merkle.ProofError):
                merkle.verify_inclusion(
                    ack.log_index, cp.size, parse_hash(ack.leaf_hash), proof, cp.root
                )
                api_proofs_ok += 1
        out |= {
            "checkpoint_size": cp.size,
            "found_on_log": found,
            "proven": proven,
            "lost": len(missing),
            "lost_keys": missing[:20],
            "api_proof_sample": len(sample),
            "api_proof_sample_ok": api_proofs_ok,
        }
        if anchored:
            w3 = Web3(Web3.HTTPProvider(self.chain.url, request_kwargs={"timeout": 5}))  # type: ignore[union-attr]
            head = LogAnchorClient(w3, self.contract).latest(log_id_for_origin(ORIGIN))
            out["anchor_consistent"] = client.root(head.size) == head.root
        else:
            out["anchor_consistent"] = False

        # Duplicates: one log entry per Idempotency-Key (from the stored bodies).
        engine = make_engine(self.db_url)
        try:
            per_key: Counter = Counter()
            with engine.connect() as conn:
                rows = conn.execute(
                    select(EventBody.body_jcs)
                    .join(ComplaintEvent, ComplaintEvent.leaf_hash == EventBody.leaf_hash)
                    .where(ComplaintEvent.type == "received")
                ).scalars()
                for body in rows:
                    description = json.loads(body or b"{}").get("description", "")
                    if description.startswith("soak event "):
                        per_key[description.removeprefix("soak event ")] += 1
                steps = conn.execute(
                    text(
                        "SELECT reference, count(*) FROM complaint_events "
                        "WHERE type = 'acknowledged' GROUP BY reference HAVING count(*) > 1"
                    )
                ).all()
            duplicates = sum(n - 1 for n in per_key.values() if n > 1) + sum(
                n - 1 for _, n in steps
            )
            acked_files = {k for k, a in tally.acks.items() if a.kind == "file"}
            out["duplicates"] = duplicates
            out["acked_filings_without_body"] = len(acked_files - set(per_key))
            store = LogStore(engine, ORIGIN, verifier=self.signer.verifier())
            report = check_integrity(store)
            out["integrity_ok"] = report.ok
            out["integrity_entries"] = report.entries
        finally:
            engine.dispose()
        return out

    # --- the run -----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        faults = [f for f in self.args.faults if f in SCHEDULE]
        self.setup()
        self.load = Load(self.url, self.agent_key, self.args.clients, self.args.think)
        self.t0 = time.monotonic()
        self.load.start()
        threading.Thread(target=self._ready_monitor, name="readyz", daemon=True).start()
        fault_thread = threading.Thread(target=self.run_faults, args=(faults,), daemon=True)
        fault_thread.start()
        # The load runs for --seconds, and on until every fault has been injected and
        # recovered from (plus a short tail), so each fault happens under load.
        limit = self.args.seconds + len(faults) * (RECOVERY_TIMEOUT + 60)
        while self.now() < self.args.seconds or (fault_thread.is_alive() and self.now() < limit):
            time.sleep(0.2)
        if self.now() > self.args.seconds + 1:
            time.sleep(3)
        say("load stops; in-flight events get their last retries")
        fault_thread.join(timeout=RECOVERY_TIMEOUT + 30)
        self.load.join(grace=20)
        self.monitor_stop.set()
        duration = self.now()
        checks = self.check()
        tally = self.load.tally
        acked = len(tally.acks)
        summary = {
            "command": " ".join(["scripts/soak.py", *sys.argv[1:]]),
            "seconds": self.args.seconds,
            "duration_s": round(duration, 1),
            "workers": self.args.workers,
            "clients": self.args.clients,
            "faults": faults,
            "events_sent": len(tally.sent_keys),
            "acknowledged": acked,
            "acknowledged_filings": sum(1 for a in tally.acks.values() if a.kind == "file"),
            "acknowledged_steps": sum(1 for a in tally.acks.values() if a.kind == "step"),
            "unacknowledged_at_end": len(tally.unacked),
            "acks_per_second": round(acked / max(duration, 1e-9), 1),
            "requests": tally.requests,
            "retries": tally.requests - len(tally.sent_keys),
            "status_counts": {str(k): v for k, v in sorted(tally.statuses.items())},
            "connection_errors": tally.connection_errors,
            "five_xx_non_503": len(tally.non503_5xx),
            "five_xx_non_503_samples": tally.non503_5xx[:10],
            "non_problem_503": tally.non_problem_503,
            "client_errors": len(tally.client_errors),
            "client_error_samples": tally.client_errors[:10],
            **checks,
            "fault_results": [asdict(r) for r in self.results],
            "server_starts": self.server.starts if self.server else 0,
        }
        summary["passed"] = bool(
            summary["lost"] == 0
            and summary["found_on_log"] == acked
            and summary["proven"] == acked
            and summary["duplicates"] == 0
            and summary["five_xx_non_503"] == 0
            and summary["non_problem_503"] == 0
            and summary["client_errors"] == 0
            and summary["integrity_ok"]
            and summary["anchor_consistent"]
            and summary["ready_at_end"]
            and summary["api_proof_sample_ok"] == summary["api_proof_sample"]
            and acked > 0
            and all(r.recovered for r in self.results)
            and len(self.results) == len(faults)
        )
        return summary

    def cleanup(self) -> None:
        self.monitor_stop.set()
        if self.load is not None:
            self.load.stop.set()
            self.load.hard_stop.set()
        if self.server is not None:
            self.server.stop()
        if self.worker is not None:
            stop_process(self.worker, 15)
        if self.chain is not None:
            self.chain.stop()
        pg_ensure_running()
        if not self.args.keep:
            with contextlib.suppress(Exception):
                admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
                admin.dispose()
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            say(f"kept {self.tmp} and database {self.db_name}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--think", type=float, default=0.02, help="mean pause between events")
    parser.add_argument(
        "--faults",
        default=",".join(ALL_FAULTS),
        help=f"comma-separated subset of {','.join(ALL_FAULTS)} ('' for none)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "LEDGER_SOAK_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server where a scratch database may be created",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "soak.json")
    parser.add_argument("--keep", action="store_true", help="keep the folder and database")
    args = parser.parse_args(argv)
    args.faults = [f for f in args.faults.split(",") if f]
    unknown = set(args.faults) - set(ALL_FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    soak = Soak(args)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    try:
        summary = soak.run()
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        soak.cleanup()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    keys = (
        "events_sent", "acknowledged", "unacknowledged_at_end", "found_on_log", "proven",
        "lost", "duplicates", "five_xx_non_503", "non_problem_503", "client_errors",
        "integrity_ok", "anchor_consistent", "acks_per_second", "status_counts",
    )  # fmt: skip
    for key in keys:
        print(f"  {key:24}: {summary[key]}")
    for r in summary["fault_results"]:
        print(
            f"  fault {r['fault']:9}: recovered={r['recovered']} in {r['recovery_s']}s "
            f"(outage {r['outage_s']}s; then writes {r['writes_back_s']}s, "
            f"ready {r['ready_back_s']}s; 503s {r['errors_503']}, "
            f"connection errors {r['connection_errors']}"
            + (f", anchored again {r['anchored_again_s']}s" if r["fault"] == "chain" else "")
            + ")"
        )
    print(f"soak {'PASSED' if summary['passed'] else 'FAILED'}; written to {args.out}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
