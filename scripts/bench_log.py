"""Benchmark the log against pymerkle (InmemoryTree, SqliteTree) on the same work.

Measures durable append throughput (SQLite, PostgreSQL), inclusion and consistency proof
generation at 1M entries, proof verification, and peak RSS while appending 1M entries.
Prints a table and writes bench/log.json.

Usage: python scripts/bench_log.py [--entries 1000000] [--pg URL] [--seconds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY_SIZE = 256
BATCH = 1000
ORIGIN = "bench.ledger.example/log"


def entry(i: int) -> bytes:
    seed = hashlib.sha256(i.to_bytes(8, "big")).digest()
    return (seed * (ENTRY_SIZE // 32 + 1))[:ENTRY_SIZE]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def rate(fn, seconds: float, items: list) -> float:
    """Calls per second of ``fn(item)`` cycling through ``items`` for about ``seconds``."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for it in items:
            fn(it)
        n += len(items)
        if time.perf_counter() >= deadline:
            break
    return n / (time.perf_counter() - start)


# --- our log ----------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(url: str):
    """A fresh database for one measurement: a new PostgreSQL database, or the SQLite file."""
    if not url.startswith("postgresql"):
        yield url
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url).set(drivername="postgresql+psycopg")
    name = f"bench_log_{os.getpid()}_{time.monotonic_ns()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def open_store(url: str):
    from ledger.db import make_engine
    from ledger.log.note import Signer
    from ledger.logstore.store import LogStore
    from ledger.runtime import create_schema

    engine = make_engine(url)
    create_schema(engine)
    store = LogStore(engine, ORIGIN, Signer.generate(ORIGIN))
    store.initialise()
    return store


def ours_append(url: str, n: int) -> float:
    with scratch_database(url) as db:
        store = open_store(db)
        start = time.perf_counter()
        for i in range(0, n, BATCH):
            store.append_batch([entry(j) for j in range(i, min(n, i + BATCH))])
        elapsed = time.perf_counter() - start
        store.engine.dispose()
    return n / elapsed


def ours_sequencer(url: str, n: int, producers: int) -> tuple[float, float]:
    """Appends of one entry each from many threads; returns (entries/s, mean batch size)."""
    from ledger.logstore.sequencer import Sequencer

    with scratch_database(url) as db:
        store = open_store(db)
        result = _drive_sequencer(Sequencer(store), n, producers)
        store.engine.dispose()
    return result


def _drive_sequencer(seq, n: int, producers: int) -> tuple[float, float]:
    per = n // producers

    def work(t: int) -> None:
        for i in range(per):
            seq.append(entry(t * per + i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(producers)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    sizes = seq.batch_sizes
    seq.close()
    return per * producers / elapsed, sum(sizes) / max(1, len(sizes))


def build_big_log(path: Path, n: int) -> dict:
    """Child process: append n entries to a SQLite log, sampling RSS; returns the figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--child-build", str(path), "--entries", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_build(path: Path, n: int) -> None:
    from ledger.log.keys import create_key_file

    key = path.with_suffix(".key")
    signer = create_key_file(key, ORIGIN)
    from ledger.db import make_engine
    from ledger.logstore.store import LogStore
    from ledger.runtime import create_schema

    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    store = LogStore(engine, ORIGIN, signer)
    store.initialise()
    samples = {}
    start = time.perf_counter()
    for i in range(0, n, BATCH):
        store.append_batch([entry(j) for j in range(i, min(n, i + BATCH))])
        done = i + BATCH
        if done in (n // 10, n // 2, n):
            samples[str(done)] = round(rss_mb(), 1)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"entries_per_s": n / elapsed, "rss_mb": samples, "peak_rss_mb": peak}))


def ours_proofs(path: Path, n: int, seconds: float) -> dict:
    from ledger.db import make_engine
    from ledger.log import merkle
    from ledger.log.keys import load_key_file
    from ledger.logstore.store import LogStore

    store = LogStore(
        make_engine(f"sqlite:///{path}"), ORIGIN, load_key_file(path.with_suffix(".key"))
    )
    rnd = random.Random(1)
    idx = [rnd.randrange(n) for _ in range(20_000)]
    cold_start = time.perf_counter()
    for i in idx[:2000]:
        store.inclusion_proof(i, n)
    cold = 2000 / (time.perf_counter() - cold_start)
    # A serving process keeps its tile cache warm: fill it once, then measure.
    for i in idx:
        store.inclusion_proof(i, n)
    warm = rate(lambda i: store.inclusion_proof(i, n), seconds, idx)
    sizes = [rnd.randrange(1, n) for _ in range(5000)]
    store.clear_caches()
    cons = rate(lambda s: store.consistency_proof(s, n), seconds, sizes)
    root = store.latest_checkpoint().root
    samples = []
    for i in idx[:2000]:
        samples.append((i, merkle.leaf_hash(entry(i)), store.inclusion_proof(i, n)))
    verify = rate(lambda s: merkle.verify_inclusion(s[0], n, s[1], s[2], root), seconds, samples)
    csamples = [(s, store.root_at(s), store.consistency_proof(s, n)) for s in sizes[:300]]
    cverify = rate(
        lambda s: merkle.verify_consistency(s[0], n, s[1], root, s[2]), seconds, csamples
    )
    return {
        "inclusion_per_s_cold_cache": cold,
        "inclusion_per_s": warm,
        "consistency_per_s": cons,
        "verify_inclusion_per_s": verify,
        "verify_consistency_per_s": cverify,
    }


# --- pymerkle ---------------------------------------------------------------------------


def pymerkle_append_sqlite(path: Path, n: int) -> float:
    from pymerkle import SqliteTree

    tree = SqliteTree(str(path))
    start = time.perf_counter()
    for i in range(0, n, BATCH):
        tree.append_entries([entry(j) for j in range(i, min(n, i + BATCH))])
    elapsed = time.perf_counter() - start
    tree.close()
    return n / elapsed


def pymerkle_proofs(tree, n: int, seconds: float) -> dict:
    from pymerkle import verify_inclusion

    rnd = random.Random(1)
    idx = [rnd.randrange(1, n + 1) for _ in range(2000)]
    incl = rate(lambda i: tree.prove_inclusion(i, n), seconds, idx)
    sizes = [rnd.randrange(1, n) for _ in range(500)]
    cons = rate(lambda s: tree.prove_consistency(s, n), seconds, sizes)
    root = tree.get_root(n)
    samples = [(tree.get_leaf(i), tree.prove_inclusion(i, n)) for i in idx[:300]]
    verify = rate(lambda s: verify_inclusion(s[0], root, s[1]), seconds, samples)
    return {"inclusion_per_s": incl, "consistency_per_s": cons, "verify_inclusion_per_s": verify}


def child_pymerkle_memory(n: int) -> None:
    from pymerkle import InmemoryTree

    tree = InmemoryTree()
    samples = {}
    start = time.perf_counter()
    for i in range(0, n, BATCH):
        for j in range(i, min(n, i + BATCH)):
            tree.append_entry(entry(j))
        done = i + BATCH
        if done in (n // 10, n // 2, n):
            samples[str(done)] = round(rss_mb(), 1)
    elapsed = time.perf_counter() - start
    figures = {"entries_per_s": n / elapsed, "rss_mb": samples}
    figures["proofs"] = pymerkle_proofs(tree, n, float(os.environ.get("BENCH_SECONDS", "3")))
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def run_child(args: list[str], seconds: float) -> dict:
    env = {**os.environ, "BENCH_SECONDS": str(seconds)}
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- main -------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=1_000_000, help="log size for proof figures")
    p.add_argument("--append-entries", type=int, default=200_000)
    p.add_argument("--pymerkle-sqlite-entries", type=int, default=1_000_000)
    p.add_argument("--pg", default=os.environ.get("LEDGER_BENCH_PG_URL"), help="PostgreSQL URL")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "log.json")
    p.add_argument("--child-build", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--child-pymerkle-memory", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_build:
        child_build(args.child_build, args.entries)
        return 0
    if args.child_pymerkle_memory:
        child_pymerkle_memory(args.entries)
        return 0

    results: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "entry_bytes": ENTRY_SIZE,
        "batch": BATCH,
    }
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        tmpd = Path(tmp)
        print(f"appending {args.append_entries:,} entries (batches of {BATCH}) ...", flush=True)
        # The median of three runs: fsync times on a shared disk vary from run to run.
        runs = [
            ours_append(f"sqlite:///{tmpd / f'a{k}.sqlite3'}", args.append_entries)
            for k in range(3)
        ]
        results["append_sqlite_runs"] = runs
        results["append_sqlite"] = sorted(runs)[1]
        seq_rate, seq_batch = ours_sequencer(f"sqlite:///{tmpd / 's.sqlite3'}", 50_000, 64)
        results["append_sqlite_sequencer_64_threads"] = {"per_s": seq_rate, "mean_batch": seq_batch}
        if args.pg:
            results["append_postgres"] = ours_append(args.pg, args.append_entries)
            pg_rate, pg_batch = ours_sequencer(args.pg, 50_000, 64)
            results["append_postgres_sequencer_64_threads"] = {
                "per_s": pg_rate,
                "mean_batch": pg_batch,
            }
        results["pymerkle_sqlite_append"] = pymerkle_append_sqlite(
            tmpd / "pm.sqlite3", args.append_entries
        )

        print(f"building a {args.entries:,}-entry log in a child process ...", flush=True)
        big = tmpd / "big.sqlite3"
        results["build_1m"] = build_big_log(big, args.entries)
        print("proofs on our log ...", flush=True)
        results["ours_proofs"] = ours_proofs(big, args.entries, args.seconds)

        print("pymerkle InmemoryTree (child process) ...", flush=True)
        results["pymerkle_inmemory"] = run_child(
            ["--child-pymerkle-memory", "--entries", str(args.entries)], args.seconds
        )
        print(f"pymerkle SqliteTree at {args.pymerkle_sqlite_entries:,} ...", flush=True)
        from pymerkle import SqliteTree

        pm_path = tmpd / "pm-big.sqlite3"
        pymerkle_append_sqlite(pm_path, args.pymerkle_sqlite_entries)
        tree = SqliteTree(str(pm_path))
        results["pymerkle_sqlite_proofs"] = {
            "entries": args.pymerkle_sqlite_entries,
            **pymerkle_proofs(tree, args.pymerkle_sqlite_entries, args.seconds),
        }
        tree.close()

    print_table(results, args.entries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


def print_table(r: dict, n: int) -> None:
    def f(x) -> str:
        return f"{x:>12,.0f}" if isinstance(x, int | float) else f"{x!s:>12}"

    ours, pmm, pms = r["ours_proofs"], r["pymerkle_inmemory"]["proofs"], r["pymerkle_sqlite_proofs"]
    rows = [
        ("durable append/s, SQLite (batch 1000)", r["append_sqlite"], "-",
         r["pymerkle_sqlite_append"]),
        (
            "durable append/s, SQLite, 64 threads x 1",
            r["append_sqlite_sequencer_64_threads"]["per_s"],
            "-",
            "-",
        ),
        ("durable append/s, PostgreSQL (batch 1000)", r.get("append_postgres", "n/a"), "-", "-"),
        (
            "durable append/s, PostgreSQL, 64 thr x 1",
            r.get("append_postgres_sequencer_64_threads", {}).get("per_s", "n/a"),
            "-",
            "-",
        ),
        ("append/s while building the 1M log", r["build_1m"]["entries_per_s"],
         r["pymerkle_inmemory"]["entries_per_s"], "-"),
        (f"inclusion proofs/s at {n:,}", ours["inclusion_per_s"], pmm["inclusion_per_s"],
         pms["inclusion_per_s"]),
        ("  ... cold tile cache", ours["inclusion_per_s_cold_cache"], "-", "-"),
        (f"consistency proofs/s at {n:,}", ours["consistency_per_s"], pmm["consistency_per_s"],
         pms["consistency_per_s"]),
        ("inclusion verifications/s", ours["verify_inclusion_per_s"],
         pmm["verify_inclusion_per_s"], pms["verify_inclusion_per_s"]),
        ("consistency verifications/s", ours["verify_consistency_per_s"], "-", "-"),
        ("peak RSS MB appending 1M", r["build_1m"]["peak_rss_mb"],
         r["pymerkle_inmemory"]["peak_rss_mb"], "-"),
    ]  # fmt: skip
    print(f"\n{'measure':44} {'ours':>12} {'pm memory':>12} {'pm sqlite':>12}")
    for name, a, b, c in rows:
        print(f"{name:44} {f(a)} {f(b)} {f(c)}")
    print(f"RSS samples (MB) ours: {r['build_1m']['rss_mb']}")
    print(f"RSS samples (MB) pymerkle in-memory: {r['pymerkle_inmemory']['rss_mb']}")
    print(f"pymerkle SqliteTree proofs measured at {pms['entries']:,} entries")


if __name__ == "__main__":
    raise SystemExit(main())
