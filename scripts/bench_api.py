"""API load benchmark: the app under gunicorn on PostgreSQL, driven over HTTP from another process.

For each server configuration (gunicorn worker class, workers, threads) it creates a fresh
PostgreSQL database, a log key and API keys in a temporary data folder, starts gunicorn on a
free loopback port, and runs a separate driver process (aiohttp, a fixed number of concurrent
connections) that:

1. files ``--complaints`` complaints (each keeps its capability secret);
2. appends complaint events for ``--seconds``: ``evidence_added`` and ``note_added`` by an agent
   (API key) and ``evidence_added`` by the customer (the complaint's secret; a rating, once
   per rated step, cannot repeat), spread over the complaints
   so that per-complaint serialisation is not what is measured;
3. reads ``GET /v1/complaints/<ref>`` (status) for ``--seconds``, as agent or customer;
4. reads the app's ``GET /healthz`` for ``--seconds`` (the app's own per-request floor:
   routing, request id, metrics and the request log line, no database).

Beside each configuration it measures the ceiling of the stack on this machine: a hello-world
Flask app (one JSON route, nothing else) under the same gunicorn settings, driven the same way
(``baseline_per_s``). No endpoint of the app can beat it; it tells how far the figures are
from what this machine allows, whatever the targets say.

Each measured phase follows a short warm-up. Latency is per request, end to end, as the driver
sees it (closed loop: ``--concurrency`` requests in flight). After the run the log size is
checked against the successful appends. Then gunicorn is stopped and the database dropped.
Prints a table and writes bench/api.json (events/s, p50/p90/p99, errors, configuration, CPU).

Usage: python scripts/bench_api.py [--pg URL] [--config gthread:2:16 ...] [--seconds 15]
                                   [--complaints 2000] [--concurrency 32] [--out bench/api.json]

A configuration is ``CLASS:WORKERS:THREADS`` (``sync`` ignores threads). Several may be given;
the first is the headline result. The driver shares the machine's CPUs with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from ledger.processes import free_port, start_process, stop_process, wait_for_http

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "bench.ledger.example/complaints"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TARGETS = {"append_per_s": 1000, "append_p99_ms": 250, "read_per_s": 3000}
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
DRIVER_TIMEOUT_SLACK = 300.0
WARMUP_SECONDS = 2.0


# --- statistics ---------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def summarise(latencies: list[float], errors: int, elapsed: float, statuses: dict) -> dict:
    lat = sorted(x * 1000 for x in latencies)
    return {
        "requests": len(lat) + errors,
        "ok": len(lat),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "per_s": round(len(lat) / elapsed, 1) if elapsed > 0 else 0.0,
        "mean_ms": round(sum(lat) / len(lat), 2) if lat else None,
        "p50_ms": round(percentile(lat, 50), 2),
        "p90_ms": round(percentile(lat, 90), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(lat[-1], 2) if lat else None,
        "statuses": statuses,
    }


# --- the driver (a separate process) ------------------------------------------------------


async def _closed_loop(session, concurrency: int, seconds: float, make_request) -> dict:
    """``concurrency`` workers each sending ``make_request(i)`` back to back for ``seconds``."""
    import aiohttp

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors, counter
        while time.perf_counter() < deadline:
            i = counter
            counter += 1
            method, url, kwargs, expect = make_request(i)
            start = time.perf_counter()
            try:
                async with session.request(method, url, **kwargs) as resp:
                    await resp.read()
                    status = resp.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                status = type(exc).__name__
            took = time.perf_counter() - start
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status == expect:
                latencies.append(took)
            else:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarise(latencies, errors, time.perf_counter() - start, statuses)


async def _drive_baseline(cfg: dict) -> dict:
    """Only the hello-world phase (the stack's ceiling)."""
    import aiohttp

    url = f"{cfg['base_url']}/"
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=cfg["concurrency"], ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        return {"baseline": await _measured(session, cfg, lambda i: ("GET", url, {}, 200))}


async def _measured(session, cfg: dict, make) -> dict:
    """A warm-up, then ``cfg["seconds"]`` of closed loop with the cores used meanwhile."""
    warm = await _closed_loop(session, cfg["concurrency"], WARMUP_SECONDS, make)
    cpu0 = _cpu_snapshot(cfg)
    result = await _closed_loop(session, cfg["concurrency"], cfg["seconds"], make)
    cpu = result["cpu"] = _cpu_delta(cpu0, _cpu_snapshot(cfg), result["seconds"])
    # Server CPU per answered request: the figure to compare on a shared, noisy machine.
    cpu["gunicorn_ms_per_request"] = (
        round(1000 * cpu["gunicorn_cores"] / result["per_s"], 2) if result["per_s"] else None
    )
    result["warmup_ok"] = warm["ok"]
    result["warmup_errors"] = warm["errors"]
    return result


async def _drive(cfg: dict) -> dict:
    import aiohttp

    if cfg.get("baseline"):
        return await _drive_baseline(cfg)
    base = cfg["base_url"]
    agent = {"Authorization": f"Bearer {cfg['agent_token']}"}
    rng = random.Random(cfg["seed"])
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=cfg["concurrency"], ttl_dns_cache=None)
    out: dict = {}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # 1. File the complaints.
        complaints: list[tuple[str, str]] = []
        categories = ["stuck_transaction", "hacked_account", "interface_fault", "sync_fault"]

        async def file_one(i: int) -> None:
            body = {
                "category": categories[i % len(categories)],
                "channel": "web_form",
                "language": "en",
                "description": f"Benchmark complaint {i}: my withdrawal is pending.",
                "contact": {"email": f"customer{i}@example.org"},
            }
            async with session.post(f"{base}/v1/complaints", json=body) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 201:
                    raise RuntimeError(f"filing failed: {resp.status} {data}")
                complaints.append((data["reference"], data["secret"]))

        start = time.perf_counter()
        pending = list(range(cfg["complaints"]))
        sem = asyncio.Semaphore(cfg["concurrency"])

        async def bounded(i: int) -> None:
            async with sem:
                await file_one(i)

        await asyncio.gather(*(bounded(i) for i in pending))
        elapsed = time.perf_counter() - start
        out["filing"] = {
            "complaints": len(complaints),
            "seconds": round(elapsed, 2),
            "per_s": round(len(complaints) / elapsed, 1),
        }
        rng.shuffle(complaints)
        n = len(complaints)

        # 2. Append events, spread round-robin over the complaints.
        def append_request(i: int):
            ref, secret = complaints[i % n]
            kind = i % 3
            if kind == 0:
                payload = {"type": "evidence_added", "public": {"kind": "system_log"},
                           "body": {"description": f"log excerpt {i}"}}  # fmt: skip
                headers = agent
            elif kind == 1:
                payload = {"type": "note_added", "body": {"text": f"investigation note {i}"}}
                headers = agent
            else:
                payload = {"type": "evidence_added", "public": {"kind": "screenshot"},
                           "body": {"description": f"customer screenshot {i}"}}  # fmt: skip
                headers = {"Authorization": f"Bearer {secret}"}
            kwargs = {"json": payload, "headers": headers}
            return "POST", f"{base}/v1/complaints/{ref}/events", kwargs, 201

        def read_request(i: int):
            ref, secret = complaints[(i * 7919) % n]
            headers = agent if i % 2 else {"Authorization": f"Bearer {secret}"}
            return "GET", f"{base}/v1/complaints/{ref}", {"headers": headers}, 200

        def healthz_request(i: int):
            return "GET", f"{base}/healthz", {}, 200

        for phase, make in (
            ("append", append_request),
            ("read", read_request),
            ("healthz", healthz_request),
        ):
            out[phase] = await _measured(session, cfg, make)
    return out


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(entry))
    return out


def _postgres_pids() -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "postgres":
                        out.append(int(entry))
            except OSError:
                continue
    return out


def _cpu_snapshot(cfg: dict) -> dict:
    server = [cfg["server_pid"], *_children(cfg["server_pid"])]
    return {
        "driver": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "server": {p: _proc_cpu(p) for p in server},
        "postgres": {p: _proc_cpu(p) for p in _postgres_pids()},
    }


def _cpu_delta(before: dict, after: dict, seconds: float) -> dict:
    """Cores used during a phase: driver, gunicorn (all workers), PostgreSQL (machine-wide)."""

    def used(key: str) -> float:
        return sum(v - before[key].get(p, 0.0) for p, v in after[key].items())

    return {
        "driver_cores": round((after["driver"] - before["driver"]) / seconds, 2),
        "gunicorn_cores": round(used("server") / seconds, 2),
        "postgres_cores": round(used("postgres") / seconds, 2),
    }


def driver_main(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    result = asyncio.run(_drive(cfg))
    print(json.dumps(result))
    return 0


# --- orchestration ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    worker_class: str
    workers: int
    threads: int

    @classmethod
    def parse(cls, text: str) -> ServerConfig:
        parts = text.split(":")
        if len(parts) != 3 or parts[0] not in ("gthread", "sync"):
            raise argparse.ArgumentTypeError("a configuration is gthread|sync:WORKERS:THREADS")
        return cls(parts[0], int(parts[1]), int(parts[2]) if parts[0] == "gthread" else 1)

    @property
    def label(self) -> str:
        if self.worker_class == "sync":
            return f"sync x{self.workers}"
        return f"gthread {self.workers}w x {self.threads}t"


class Database:
    """A fresh PostgreSQL database on the server of ``admin_url``, dropped on exit."""

    def __init__(self, admin_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        admin = make_url(admin_url).set(drivername="postgresql+psycopg")
        self.name = f"bench_api_{uuid.uuid4().hex[:12]}"
        self._admin = create_engine(admin, isolation_level="AUTOCOMMIT")
        self.url = admin.set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> Database:
        from sqlalchemy import text

        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self

    def server_version(self) -> str:
        from sqlalchemy import text

        with self._admin.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())

    def __exit__(self, *exc) -> None:
        from sqlalchemy import text

        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()


def prepare(db_url: str, data_dir: Path) -> tuple[str, Path]:
    """Schema, log and its key, and an agent API key; returns (agent token, key file)."""
    from ledger.access.apikeys import create_api_key
    from ledger.config import Settings
    from ledger.log.keys import create_key_file
    from ledger.runtime import open_ledger

    key_file = data_dir / "log.key"
    create_key_file(key_file, ORIGIN)
    settings = Settings(
        data_dir=data_dir, database_url=db_url, log_origin=ORIGIN, log_key_file=key_file
    )
    ledger = open_ledger(settings)
    try:
        token, _ = create_api_key(ledger.engine, "bench agent", "agent")
    finally:
        ledger.close()
    return token, key_file


HELLO_APP = """from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return {"status": "ok"}
"""


class Gunicorn:
    def __init__(
        self,
        cfg: ServerConfig,
        env: dict[str, str],
        port: int,
        log: Path,
        app_dir: Path,
        switch_interval: float | None = None,
        app: str = "wsgi:app",
        ready_path: str = "/v1/log/keys",
    ) -> None:
        self.ready_path = ready_path
        cmd = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--chdir", str(app_dir),
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(cfg.workers),
            "--worker-class", cfg.worker_class,
            "--threads", str(cfg.threads),
            "--backlog", "2048",
            "--keep-alive", "30",
            "--graceful-timeout", "10",
            "--no-control-socket",
            app,
        ]  # fmt: skip
        if switch_interval:
            # A gunicorn config whose only effect: each worker's GIL switch interval.
            conf = log.with_name("gunicorn_bench.conf.py")
            conf.write_text(
                "import sys\n\n\ndef post_fork(server, worker):\n"
                f"    sys.setswitchinterval({switch_interval!r})\n"
            )
            cmd[1:1] = ["--config", str(conf)]
        self.url = f"http://127.0.0.1:{port}"
        self.proc = start_process(cmd, log=log, env=env)

    def wait_ready(self) -> None:
        def running() -> None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")

        url = f"{self.url}{self.ready_path}"
        wait_for_http(url, START_TIMEOUT, check=running, what=f"gunicorn on {url}")

    def stop(self) -> None:
        stop_process(self.proc, STOP_TIMEOUT)


def count_entries(db_url: str) -> int:
    from sqlalchemy import text

    from ledger.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM log_entries")).scalar())
    finally:
        engine.dispose()


def _run_driver(driver_cfg: dict, data_dir: Path, budget: float) -> dict:
    cfg_path = data_dir / "driver.json"
    cfg_path.write_text(json.dumps(driver_cfg))
    done = subprocess.run(
        [sys.executable, __file__, "--drive", str(cfg_path)],
        capture_output=True,
        text=True,
        timeout=budget,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"driver failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_baseline(cfg: ServerConfig, args: argparse.Namespace) -> dict:
    """The hello-world Flask app under the same gunicorn settings and driver (the ceiling)."""
    with tempfile.TemporaryDirectory(prefix="bench-hello-") as tmp:
        app_dir = Path(tmp)
        (app_dir / "bench_hello.py").write_text(HELLO_APP)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        server = Gunicorn(
            cfg,
            env,
            free_port(),
            app_dir / "gunicorn.log",
            app_dir,
            args.switch_interval,
            app="bench_hello:app",
            ready_path="/",
        )
        try:
            server.wait_ready()
            driver_cfg = {
                "baseline": True,
                "base_url": server.url,
                "seconds": args.seconds,
                "concurrency": args.concurrency,
                "server_pid": server.proc.pid,
            }
            budget = args.seconds + WARMUP_SECONDS + DRIVER_TIMEOUT_SLACK
            return _run_driver(driver_cfg, app_dir, budget)["baseline"]
        finally:
            server.stop()


def run_config(cfg: ServerConfig, args: argparse.Namespace) -> dict:
    print(f"\n== {cfg.label}", flush=True)
    baseline = run_baseline(cfg, args)
    load_before = os.getloadavg()[0]
    with Database(args.pg) as db, tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        data_dir = Path(tmp)
        token, key_file = prepare(db.url, data_dir)
        env = {
            **os.environ,
            "LEDGER_DATABASE_URL": db.url,
            "LEDGER_DATA_DIR": str(data_dir),
            "LEDGER_LOG_KEY_FILE": str(key_file),
            "LEDGER_LOG_ORIGIN": ORIGIN,
            "LEDGER_RATE_LIMIT": "",  # the limiter would distort a load test
            "LEDGER_ANONYMOUS_FILING_LIMIT": "",  # the load files anonymously from one address
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("LEDGER_REDIS_URL", None)
        if args.app_dir != ROOT:  # its packages before the installed (editable) ones
            env["PYTHONPATH"] = str(args.app_dir)
        server = Gunicorn(
            cfg, env, free_port(), data_dir / "gunicorn.log", args.app_dir, args.switch_interval
        )
        try:
            server.wait_ready()
            driver_cfg = {
                "base_url": server.url,
                "agent_token": token,
                "complaints": args.complaints,
                "seconds": args.seconds,
                "concurrency": args.concurrency,
                "seed": args.seed,
                "server_pid": server.proc.pid,
            }
            budget = 3 * args.seconds + 3 * WARMUP_SECONDS + DRIVER_TIMEOUT_SLACK
            result = _run_driver(driver_cfg, data_dir, budget)
        finally:
            server.stop()
        log_tail = (data_dir / "gunicorn.log").read_text(errors="replace")[-2000:]
        entries = count_entries(db.url)
        filed, append = result["filing"]["complaints"], result["append"]
        appended = filed + append["ok"] + append["warmup_ok"]
        result["log_entries"] = entries
        result["log_entries_expected"] = appended
        if entries != appended:
            print(f"warning: log has {entries} entries, {appended} appends succeeded")
        log_text = (data_dir / "gunicorn.log").read_text(errors="replace")
        result["worker_boots"] = log_text.count("Booting worker")
        if "Traceback" in log_tail or "TIMEOUT" in log_text:
            result["server_log_tail"] = log_tail
        result["postgres_version"] = db.server_version()
        # The machine may be shared: its load before and after tells how much was ours.
        result["loadavg_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    result["baseline"] = baseline
    return {"server": {**asdict(cfg), "label": cfg.label}, **result}


def print_table(results: list[dict]) -> None:
    head = f"{'server':<22}{'phase':<8}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
    head += f"{'max ms':>9}{'errors':>8}{'gunicorn':>10}{'pg':>6}{'driver':>8}"
    print("\n" + head)
    print("-" * len(head))
    for r in results:
        for phase in ("append", "read", "healthz", "baseline"):
            p = r[phase]
            cpu = p["cpu"]
            print(
                f"{r['server']['label']:<22}{phase:<8}{p['per_s']:>9.0f}{p['p50_ms']:>9.1f}"
                f"{p['p90_ms']:>9.1f}{p['p99_ms']:>9.1f}{p['max_ms'] or 0:>9.1f}{p['errors']:>8}"
                f"{cpu['gunicorn_cores']:>10.2f}{cpu['postgres_cores']:>6.2f}"
                f"{cpu['driver_cores']:>8.2f}"
            )
    print("(cpu columns: cores used during the phase; pg is every PostgreSQL process;")
    print(" healthz: the app's GET /healthz; baseline: a hello-world Flask app, same gunicorn)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--pg", default=os.environ.get("LEDGER_BENCH_PG", DEFAULT_PG))
    parser.add_argument(
        "--config",
        type=ServerConfig.parse,
        action="append",
        help="gunicorn CLASS:WORKERS:THREADS (repeatable; default gthread:2:16)",
    )
    parser.add_argument("--complaints", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "api.json")
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="set each worker's sys.setswitchinterval (seconds; Python's default is 0.005)",
    )
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=ROOT,
        help="serve the app from another checkout (before/after comparisons)",
    )
    args = parser.parse_args(argv)
    if args.drive:
        return driver_main(args.drive)
    configs = args.config or [ServerConfig("gthread", 2, 16)]
    results = [run_config(cfg, args) for cfg in configs]
    print_table(results)
    head = results[0]
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgres": head.get("postgres_version"),
        },
        "driver": {
            "client": "aiohttp, one process, closed loop",
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "warmup_seconds": WARMUP_SECONDS,
            "complaints": args.complaints,
            "switch_interval": args.switch_interval,
            "app_dir": str(args.app_dir),
            "append_mix": "evidence_added and note_added (agent), evidence_added (customer)",
            "read_mix": "GET /v1/complaints/<ref>, half agent key, half customer secret",
            "baseline": "hello-world Flask app (GET /, JSON), same gunicorn settings and driver",
        },
        "targets": TARGETS,
        "headline": {
            "server": head["server"]["label"],
            "events_per_s": head["append"]["per_s"],
            "events_p50_ms": head["append"]["p50_ms"],
            "events_p99_ms": head["append"]["p99_ms"],
            "reads_per_s": head["read"]["per_s"],
            "reads_p50_ms": head["read"]["p50_ms"],
            "reads_p99_ms": head["read"]["p99_ms"],
            "baseline_per_s": head["baseline"]["per_s"],
            "healthz_per_s": head["healthz"]["per_s"],
            "meets_targets": head["append"]["per_s"] >= TARGETS["append_per_s"]
            and head["append"]["p99_ms"] < TARGETS["append_p99_ms"]
            and head["read"]["per_s"] >= TARGETS["read_per_s"],
        },
        "runs": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
