"""Two API hosts on one PostgreSQL database: two separate gunicorn masters (two gthread
workers each) append to the same complaints of one log at the same time.

The log's writers are serialised across processes by the advisory lock each append batch
takes (``ledger.logstore.store``), and each step's chain head is checked inside that
transaction (``ledger.casework.writes``), a conflict being rebuilt on the new head. After the
load, from the database and through both masters: the log's indexes are exactly 0..N-1 for
the N acknowledged entries, every receipt names its entry and proves it under its signed
checkpoint, every complaint's chain is linked seq by seq, the checkpoints grow in commit
order and each extends the one before, and the offline verifier accepts a complaint
fetched through each master. A 409 ``chain-conflict`` (the step's retries ran out) is
counted as not written, and the test checks that it was not.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, select

from ledger.casework.records import EventBody
from ledger.db import make_engine
from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from ledger.log.note import Verifier
from ledger.logstore.integrity import check_integrity
from ledger.logstore.models import LogCheckpoint
from ledger.logstore.store import LogStore
from tests.support.log_audit import (
    LoggedEntry,
    chain_problems,
    checkpoint_order_problems,
    complaint_chains,
    index_problems,
    index_table_problems,
    logged_entries,
)
from tests.support.masters import Master, prepare_shared_ledger, running_masters
from tests.support.paths import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ORIGIN = "masters.ledger.example/log"
COMPLAINTS = 8  # few, so that both masters keep appending to the same chains
CLIENTS_PER_MASTER = 8
LOAD_SECONDS = 6.0
CONSISTENCY_PAIRS = 40  # successive checkpoint pairs proven through the API
MARKER = re.compile(rb"mark-[a-z]-\d+-\d+")
CHAIN_CONFLICT = "/problems/chain-conflict"


@dataclass(frozen=True)
class Answer:
    """One POST and what came back: an HTTP status, or the name of the error that left
    the client without an answer."""

    master: str
    marker: str  # unique text in the request's body
    status: int | str
    body: dict[str, Any]

    @property
    def written(self) -> bool:
        return self.status == 201

    @property
    def conflict(self) -> bool:
        return self.status == 409 and str(self.body.get("type", "")).endswith(CHAIN_CONFLICT)


def _post(session: requests.Session, url: str, payload: dict) -> tuple[int | str, dict]:
    try:
        resp = session.post(url, json=payload, timeout=30)
        return resp.status_code, resp.json()
    except (requests.RequestException, ValueError) as exc:
        return type(exc).__name__, {}


def _file(masters: list[Master]) -> list[Answer]:
    """``COMPLAINTS`` complaints, filed in turn through each master."""
    answers = []
    with requests.Session() as session:
        for i in range(COMPLAINTS):
            master = masters[i % len(masters)]
            marker = f"mark-{master.name}-0-{i}"
            payload = {
                "category": "stuck_transaction",
                "channel": "web_form",
                "language": "en",
                "description": f"My withdrawal is pending ({marker}).",
                "contact": {"email": f"customer{i}@example.org"},
            }
            status, body = _post(session, f"{master.url}/v1/complaints", payload)
            answers.append(Answer(master.name, marker, status, body))
    return answers


def _append_load(masters: list[Master], refs: list[str], token: str) -> list[Answer]:
    """``CLIENTS_PER_MASTER`` clients per master, each appending agent steps (evidence and
    notes) to random complaints of ``refs`` back to back for ``LOAD_SECONDS``."""
    answers: list[Answer] = []  # list.append is atomic: the clients share it
    deadline = time.monotonic() + LOAD_SECONDS

    def client(master: Master, n: int) -> None:
        rng = random.Random(f"{master.name}-{n}")
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            i = 0
            while time.monotonic() < deadline:
                ref, marker = rng.choice(refs), f"mark-{master.name}-{n + 1}-{i}"
                if i % 2:
                    payload = {"type": "note_added", "body": {"text": f"note {marker}"}}
                else:
                    payload = {"type": "evidence_added", "public": {"kind": "system_log"},
                               "body": {"description": f"log excerpt {marker}"}}  # fmt: skip
                status, body = _post(session, f"{master.url}/v1/complaints/{ref}/events", payload)
                answers.append(Answer(master.name, marker, status, body))
                i += 1

    with ThreadPoolExecutor(len(masters) * CLIENTS_PER_MASTER) as pool:
        futures = [pool.submit(client, m, n) for m in masters for n in range(CLIENTS_PER_MASTER)]
        for future in futures:
            future.result()
    return answers


def _receipt_problems(
    answer: Answer, by_index: dict[int, LoggedEntry], reference_of: dict[int, str], v: Verifier
) -> list[str]:
    """The 201's receipt names an entry that is on the log with its leaf hash, as the event's
    seq of this complaint, and proves it under the checkpoint it carries."""
    receipt, event = answer.body["receipt"], answer.body["event"]
    index = receipt["log_index"]
    entry = by_index.get(index)
    where = f"{answer.marker} (master {answer.master}, log index {index})"
    if entry is None:
        return [f"{where}: acknowledged but not on the log"]
    problems = []
    if entry.leaf_hash.hex() != receipt["leaf_hash"]:
        problems.append(f"{where}: the log has leaf {entry.leaf_hash.hex()}")
    if (event["seq"], event["log_index"]) != (entry.envelope.seq, index):
        problems.append(f"{where}: answered seq {event['seq']}, the log has {entry.envelope.seq}")
    if reference_of.get(index) != answer.body["reference"]:
        problems.append(f"{where}: the entry belongs to {reference_of.get(index)}")
    try:
        cp = open_checkpoint(receipt["checkpoint"], v, ORIGIN)
        proof = [bytes.fromhex(h) for h in receipt["inclusion_proof"]]
        merkle.verify_inclusion(index, cp.size, bytes.fromhex(receipt["leaf_hash"]), proof, cp.root)
    except (CheckpointError, merkle.ProofError) as exc:
        problems.append(f"{where}: the receipt does not prove it: {exc}")
    return problems


def _markers_in_bodies(engine: Engine) -> list[str]:
    """The load's markers found in the stored bodies, once per body that holds one."""
    with engine.connect() as conn:
        bodies = conn.execute(select(EventBody.body_jcs)).scalars().all()
    return [m.decode() for body in bodies if body for m in MARKER.findall(bytes(body))]


def _signed_checkpoints(engine: Engine, log_id: int, v: Verifier) -> list[Checkpoint]:
    with engine.connect() as conn:
        notes = conn.execute(
            select(LogCheckpoint.note)
            .where(LogCheckpoint.log_id == log_id)
            .order_by(LogCheckpoint.size)
        ).scalars()
        return [open_checkpoint(note, v, ORIGIN) for note in notes]


def _consistency_problems(masters: list[Master], checkpoints: list[Checkpoint]) -> list[str]:
    """Successive signed checkpoints (a spread sample, and the first against the last) are
    proven consistent through the API, asking each master in turn."""
    grown = [cp for cp in checkpoints if cp.size > 0]
    step = max(1, (len(grown) - 1) // CONSISTENCY_PAIRS)
    pairs = [(grown[i], grown[i + 1]) for i in range(0, len(grown) - 1, step)]
    pairs.append((grown[0], grown[-1]))
    problems = []
    for n, (old, new) in enumerate(pairs):
        master = masters[n % len(masters)]
        resp = requests.get(
            f"{master.url}/v1/log/proof/consistency",
            params={"from": old.size, "to": new.size},
            timeout=30,
        )
        if resp.status_code != 200:
            problems.append(f"{old.size}->{new.size} via {master.name}: {resp.status_code}")
            continue
        proof = [bytes.fromhex(h) for h in resp.json()["proof"]]
        try:
            merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
        except merkle.ProofError as exc:
            problems.append(f"{old.size}->{new.size} via {master.name}: {exc}")
    return problems


def _verifier_report(master: Master, reference: str, token_file: Path, v: Verifier) -> dict:
    """The offline verifier (scripts/verify_complaint.py) on a proof fetched from ``master``."""
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "scripts" / "verify_complaint.py"),
            "--url", master.url, "--reference", reference,
            "--secret-file", str(token_file), "--log-key", str(v), "--json",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout, done.stderr[-3000:]
    return {"exit": done.returncode, **json.loads(done.stdout)}


def _master_switches(appended: list[Answer]) -> int:
    """How often, along the log, the entry's writer changes from one master to the other."""
    by_index = sorted(appended, key=lambda a: a.body["receipt"]["log_index"])
    return sum(1 for a, b in itertools.pairwise(by_index) if a.master != b.master)


def _fail_if(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} {what}:\n" + "\n".join(problems[:30])


def _marker_problems(
    engine: Engine, acknowledged: list[Answer], refused: list[Answer]
) -> list[str]:
    """Each acknowledged request's body is stored exactly once; a refused one's not at all."""
    stored = Counter(_markers_in_bodies(engine))
    problems = [f"{a.marker} acknowledged, stored {stored[a.marker]} times"
                for a in acknowledged if stored[a.marker] != 1]  # fmt: skip
    problems += [f"{a.marker} refused (409) but stored" for a in refused if stored[a.marker]]
    expected = {a.marker for a in acknowledged}
    problems += [f"{m} stored but never acknowledged" for m in stored if m not in expected]
    return problems


def _check_log(
    engine: Engine, verifier: Verifier, acknowledged: list[Answer], refused: list[Answer]
) -> tuple[LogStore, dict[str, list[LoggedEntry]]]:
    """The log and its chains, straight from the database, against what the clients were
    told; returns the store and the complaints' chains."""
    store = LogStore(engine, ORIGIN, verifier=verifier)
    entries = logged_entries(engine, store.log_id)
    _fail_if(index_problems([e.index for e in entries]), "index problems")
    assert len(entries) == len(acknowledged), (
        f"{len(entries)} entries on the log for {len(acknowledged)} acknowledged"
    )
    integrity = check_integrity(store)  # leaf hashes, tiles, checkpoint roots and signatures
    assert integrity.ok, [str(d) for d in integrity.divergences]

    chains = complaint_chains(entries)
    reference_of = {e.index: ref for ref, chain in chains.items() for e in chain}
    by_index = {e.index: e for e in entries}
    _fail_if(
        [p for a in acknowledged for p in _receipt_problems(a, by_index, reference_of, verifier)],
        "receipt problems",
    )
    _fail_if(_marker_problems(engine, acknowledged, refused), "body problems")
    _fail_if(
        [p for ref, chain in chains.items() for p in chain_problems(ref, chain)],
        "chain problems",
    )
    _fail_if(index_table_problems(engine, chains), "index table problems")
    return store, chains


def _check_checkpoints(engine: Engine, store: LogStore, masters: list[Master], size: int) -> None:
    """Checkpoints grow in commit order, the latest (of ``size``) is what both masters serve,
    and successive ones are consistent."""
    _fail_if(checkpoint_order_problems(engine, store.log_id), "checkpoint order problems")
    checkpoints = _signed_checkpoints(engine, store.log_id, store.verifier)
    assert checkpoints[-1].size == size
    for master in masters:
        note = requests.get(f"{master.url}/log/checkpoint", timeout=30).text
        assert open_checkpoint(note, store.verifier, ORIGIN) == checkpoints[-1], master.name
    _fail_if(_consistency_problems(masters, checkpoints), "consistency problems")


def test_two_masters_append_to_one_log(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several API hosts share a PostgreSQL database (LEDGER_DATABASE_URL)")
    data = tmp_path / "data"
    data.mkdir()
    shared = prepare_shared_ledger(database_url, data, ORIGIN)
    verifier = shared.signer.verifier()
    token_file = tmp_path / "agent.token"
    token_file.write_text(shared.agent_token)
    engine = make_engine(database_url)
    try:
        with running_masters(shared, tmp_path) as masters:
            filed = _file(masters)
            _fail_if([f"{a.marker}: {a.status} {a.body}" for a in filed if not a.written],
                     "filings refused")  # fmt: skip
            refs = [a.body["reference"] for a in filed]
            steps = _append_load(masters, refs, shared.agent_token)

            appended = [a for a in steps if a.written]
            conflicts = [a for a in steps if a.conflict]
            others = [a for a in steps if not (a.written or a.conflict)]
            _fail_if([f"{a.marker} via {a.master}: {a.status} {a.body}" for a in others],
                     "answers neither 201 nor 409 chain-conflict")  # fmt: skip
            per_master = {m.name: sum(a.master == m.name for a in appended) for m in masters}
            switches = _master_switches(appended)
            print(f"\n{len(filed)} filed, {len(appended)} appended {per_master}, "
                  f"{len(conflicts)} chain conflicts, writer changed {switches} times")  # fmt: skip
            assert all(per_master.values()), f"a master committed nothing: {per_master}"
            assert switches >= 10, f"the masters did not append at the same time ({switches})"

            store, chains = _check_log(engine, verifier, filed + appended, conflicts)
            assert sorted(chains) == sorted(refs)
            _check_checkpoints(engine, store, masters, len(filed) + len(appended))

            # The offline verifier accepts a complaint's proof fetched through each master.
            for master, ref in zip(masters, refs, strict=False):
                report = _verifier_report(master, ref, token_file, verifier)
                failed = [c for c in report["checks"] if c["status"] == "fail"]
                assert report["exit"] == 0 and report["ok"], (master.name, ref, failed[:5])
    finally:
        engine.dispose()
