"""API load benchmark: the app under gunicorn or granian on PostgreSQL, driven over HTTP.

For each server configuration it creates a fresh PostgreSQL database, a log key and API keys
in a temporary data folder, starts the server on a free loopback port, and runs a separate
driver process (aiohttp, a fixed number of concurrent connections) that:

1. files ``--complaints`` complaints (each keeps its capability secret);
2. ``append``: appends complaint events: ``evidence_added`` and ``note_added`` by an agent
   (API key) and ``evidence_added`` by the customer (the complaint's secret; a rating, once
   per rated step, cannot repeat), spread over the complaints so that per-complaint
   serialisation is not what is measured;
3. ``read``: ``GET /v1/complaints/<ref>`` (status), half as agent, half as customer;
4. ``not_modified``: the same reads, conditional: the driver first reads every complaint's
   status once per caller kind to learn its ``ETag`` (the tag depends on the reader's role
   and language), then sends it back as ``If-None-Match``; only a 304 counts as a success;
5. ``healthz``: the app's ``GET /healthz`` (the app's own per-request floor: routing,
   request id, metrics and the request log line, no database).

Each phase is measured for ``--seconds`` after a short warm-up. Beside the app, every run
measures the ceiling of the stack on this machine: a hello-world Flask app (one JSON route,
nothing else) under the same server settings, driven the same way (``baseline``). No
endpoint of the app can beat it, and the targets are shares of it, so that they hold on any
machine: appends at least 25% of the baseline's requests per second with a p99 of at most
250 ms, status reads at least 50% (``TARGETS``; ``*_share`` in the report).

Latency is per request, end to end, as the driver sees it (closed loop: ``--concurrency``
requests in flight). After the run the log size is checked against the successful appends.
Then the server is stopped and the database dropped. ``--runs N`` repeats the whole
measurement (baseline and app, each run on a fresh database); the headline has the median of
each figure over the runs and the per-run values (``runs_<figure>``). Prints a table and the
shares, and writes bench/api.json (requests/s, p50/p90/p99, errors, configuration, CPU).

Usage: python scripts/bench_api.py [--pg URL] [--config gthread:2:16 ...] [--runs 1]
                                   [--seconds 15] [--complaints 2000] [--concurrency 32]
                                   [--out bench/api.json] [--profile DIR]

A configuration is ``KIND:WORKERS:THREADS``: ``gthread`` or ``sync`` (gunicorn's worker class;
``sync`` ignores threads) or ``granian`` (granian's WSGI interface, THREADS blocking threads
per worker, one Rust runtime thread). Several may be given; the first is the headline
result. The driver shares the machine's CPUs with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path

from ledger.processes import free_port, start_process, stop_process, wait_for_http

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "bench.ledger.example/complaints"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# Shares of the baseline's requests per second in the same run, and the appends' p99.
TARGETS = {"append_share": 0.25, "append_p99_ms": 250, "read_share": 0.5}
APP_PHASES = ("append", "read", "not_modified", "healthz")
SHARES = {"append_share": "append", "read_share": "read", "not_modified_share": "not_modified"}
CPU_SHARES = {"append_cpu_share": "append", "read_cpu_share": "read"}
# The phases whose share has a target, and that target's key in TARGETS.
TARGETED_PHASES = {"append": "append_share", "read": "read_share"}
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


def share(per_s: float, baseline_per_s: float) -> float | None:
    """A phase's requests per second as a share of the baseline's (None without a baseline)."""
    return round(per_s / baseline_per_s, 3) if baseline_per_s else None


def run_figures(run: dict) -> dict[str, float | None]:
    """The headline figures of one run (app phases, baseline, shares of the baseline)."""
    base = run["baseline"]["per_s"]
    figures: dict[str, float | None] = {}
    for prefix, phase in (
        ("events", "append"),
        ("reads", "read"),
        ("not_modified", "not_modified"),
    ):
        figures[f"{prefix}_per_s"] = run[phase]["per_s"]
        figures[f"{prefix}_p50_ms"] = run[phase]["p50_ms"]
        figures[f"{prefix}_p99_ms"] = run[phase]["p99_ms"]
    figures["baseline_per_s"] = base
    figures["healthz_per_s"] = run["healthz"]["per_s"]
    for name, phase in SHARES.items():
        figures[name] = share(run[phase]["per_s"], base)
    for name, phase in CPU_SHARES.items():
        figures[name] = cpu_share(run[phase], run["baseline"])
    figures["baseline_server_ms"] = run["baseline"].get("cpu", {}).get("server_ms_per_request")
    for phase, target in TARGETED_PHASES.items():
        figures[f"{phase}_server_ms"] = run[phase].get("cpu", {}).get("server_ms_per_request")
        figures[f"{phase}_server_budget_ms"] = server_budget(
            run[phase], run["baseline"], TARGETS[target]
        )
    return figures


def cpu_share(phase: dict, baseline: dict) -> float | None:
    """The share of the baseline's req/s a phase would reach if both used the machine's CPUs
    to the full: the baseline's CPU time per request (every process) over the phase's. What
    is left between it and the measured share is time the phase spent waiting, not working."""
    mine = phase.get("cpu", {}).get("machine_ms_per_request")
    theirs = baseline.get("cpu", {}).get("machine_ms_per_request")
    return round(theirs / mine, 3) if mine and theirs else None


def server_budget(phase: dict, baseline: dict, target: float) -> float | None:
    """The server's CPU time per request (ms) at which a phase would reach ``target`` share
    if it kept the cores as busy as the baseline: the machine's time per request that the
    target allows (the baseline's over the share) less what PostgreSQL and the driver spend
    on each of the phase's requests. Negative: the target is out of reach whatever the
    server does. None without CPU figures."""
    cpu, base = phase.get("cpu", {}), baseline.get("cpu", {})
    machine, server = cpu.get("machine_ms_per_request"), cpu.get("server_ms_per_request")
    allowed = base.get("machine_ms_per_request")
    if not (machine and server is not None and allowed):
        return None
    return round(allowed / target - (machine - server), 3)


def meets_targets(figures: dict) -> bool:
    """Whether headline figures (one run's or the medians) meet ``TARGETS``, as reported
    (shares to 3 decimals)."""
    append, read, p99 = figures["append_share"], figures["read_share"], figures["events_p99_ms"]
    if append is None or read is None or p99 is None or p99 != p99:  # NaN: no successful append
        return False
    return (
        append >= TARGETS["append_share"]
        and p99 <= TARGETS["append_p99_ms"]
        and read >= TARGETS["read_share"]
    )


def median(values: list[float | None]) -> float | None:
    """The median of the known values, rounded like the figures (None when none is known)."""
    known = [v for v in values if v is not None and v == v]  # not None, not NaN
    return round(statistics.median(known), 3) if known else None


def headline(label: str, runs: list[dict]) -> dict:
    """Each headline figure's median over ``runs`` and its per-run values (``runs_<name>``)."""
    per_run = [run_figures(r) for r in runs]
    out: dict = {"server": label, "runs": len(runs)}
    for name in per_run[0]:
        values = [figures[name] for figures in per_run]
        out[name] = median(values)
        out[f"runs_{name}"] = values
    out["meets_targets"] = meets_targets(out)
    out["runs_meets_targets"] = [meets_targets(figures) for figures in per_run]
    return out


# --- the requests (shared with bench_app_cpu.py) ---------------------------------------------

CATEGORIES = ("stuck_transaction", "hacked_account", "interface_fault", "sync_fault")


def complaint_body(i: int) -> dict:
    """The i-th complaint filed."""
    return {
        "category": CATEGORIES[i % len(CATEGORIES)],
        "channel": "web_form",
        "language": "en",
        "description": f"Benchmark complaint {i}: my withdrawal is pending.",
        "contact": {"email": f"customer{i}@example.org"},
    }


def append_call(
    i: int, complaints: list[tuple[str, str]], agent: dict[str, str]
) -> tuple[str, dict, dict[str, str]]:
    """The i-th append (path, JSON body, headers), round-robin over ``complaints`` (reference,
    secret): evidence and a note by the agent, evidence by the customer."""
    ref, secret = complaints[i % len(complaints)]
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
    return f"/v1/complaints/{ref}/events", payload, headers


def caller_headers(secret: str, as_agent: bool, agent: dict[str, str]) -> dict[str, str]:
    """A status reader's headers: the agent's, or the customer's with the complaint's secret."""
    return agent if as_agent else {"Authorization": f"Bearer {secret}"}


def read_call(
    i: int, complaints: list[tuple[str, str]], agent: dict[str, str]
) -> tuple[str, bool, dict[str, str]]:
    """The i-th status read: which complaint, whether the agent asks, the headers."""
    ref, secret = complaints[(i * 7919) % len(complaints)]
    as_agent = bool(i % 2)
    return ref, as_agent, caller_headers(secret, as_agent, agent)


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


def _start_profiler(cfg: dict, phase: str) -> subprocess.Popen | None:
    """With ``--profile DIR``: py-spy sampling every server process through the phase
    (collapsed stacks in DIR/<phase>.txt; the sampling costs the server some CPU)."""
    if not cfg.get("profile_dir"):
        return None
    out = Path(cfg["profile_dir"]) / f"{phase}.txt"
    cmd = [
        str(Path(sys.executable).with_name("py-spy")), "record",
        "--pid", str(cfg["server_pid"]), "--subprocesses", "--threads", "--nonblocking",
        "--rate", "200", "--duration", str(int(cfg["seconds"])),
        "--format", "raw", "--output", str(out),
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _measured(session, cfg: dict, make, phase: str = "baseline") -> dict:
    """A warm-up, then ``cfg["seconds"]`` of closed loop with the cores used meanwhile."""
    warm = await _closed_loop(session, cfg["concurrency"], WARMUP_SECONDS, make)
    profiler = _start_profiler(cfg, phase)
    cpu0 = _cpu_snapshot(cfg)
    result = await _closed_loop(session, cfg["concurrency"], cfg["seconds"], make)
    if profiler is not None:
        profiler.wait(timeout=60)
    cpu = result["cpu"] = _cpu_delta(cpu0, _cpu_snapshot(cfg), result["seconds"])
    # Server CPU per answered request: the figure to compare on a shared, noisy machine.
    cpu["server_ms_per_request"] = (
        round(1000 * cpu["server_cores"] / result["per_s"], 2) if result["per_s"] else None
    )
    # Every process's (server, PostgreSQL, driver): what a request costs the whole machine.
    cores = cpu["server_cores"] + cpu["postgres_cores"] + cpu["driver_cores"]
    cpu["machine_ms_per_request"] = (
        round(1000 * cores / result["per_s"], 3) if result["per_s"] else None
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

        async def file_one(i: int) -> None:
            body = complaint_body(i)
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

        # 2. Append events, spread round-robin over the complaints.
        def append_request(i: int):
            path, payload, headers = append_call(i, complaints, agent)
            return "POST", base + path, {"json": payload, "headers": headers}, 201

        def read_request(i: int):
            ref, _, headers = read_call(i, complaints, agent)
            return "GET", f"{base}/v1/complaints/{ref}", {"headers": headers}, 200

        # 4. Conditional reads send back the tag of the status they hold. The tag depends on
        # the reader's role and language: one per (complaint, caller kind), learnt below.
        tags: dict[tuple[str, bool], str] = {}

        def not_modified_request(i: int):
            ref, as_agent, headers = read_call(i, complaints, agent)
            kwargs = {"headers": {**headers, "If-None-Match": tags[(ref, as_agent)]}}
            return "GET", f"{base}/v1/complaints/{ref}", kwargs, 304

        async def learn_tag(ref: str, secret: str, as_agent: bool) -> None:
            async with sem:
                url = f"{base}/v1/complaints/{ref}"
                headers = caller_headers(secret, as_agent, agent)
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
                    etag = resp.headers.get("ETag")
                    if resp.status != 200 or not etag:
                        raise RuntimeError(f"status read failed: {resp.status}, ETag {etag!r}")
                    tags[(ref, as_agent)] = etag

        def healthz_request(i: int):
            return "GET", f"{base}/healthz", {}, 200

        out["append"] = await _measured(session, cfg, append_request, "append")
        out["read"] = await _measured(session, cfg, read_request, "read")
        start = time.perf_counter()
        await asyncio.gather(
            *(learn_tag(ref, secret, a) for ref, secret in complaints for a in (False, True))
        )
        out["tags"] = {"learnt": len(tags), "seconds": round(time.perf_counter() - start, 2)}
        out["not_modified"] = await _measured(session, cfg, not_modified_request, "not_modified")
        out["healthz"] = await _measured(session, cfg, healthz_request, "healthz")
    return out


def proc_cpu(pid: int) -> float:
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


def postgres_pids() -> list[int]:
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
    # Both servers' workers are child processes of the main one (their threads are counted
    # in their process's figures); grandchildren would be missed, neither server has any.
    server = [cfg["server_pid"], *_children(cfg["server_pid"])]
    return {
        "driver": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "server": {p: proc_cpu(p) for p in server},
        "postgres": {p: proc_cpu(p) for p in postgres_pids()},
    }


def _cpu_delta(before: dict, after: dict, seconds: float) -> dict:
    """Cores used during a phase: driver, server (main process and workers), PostgreSQL
    (machine-wide); and how many server processes were counted."""

    def used(key: str) -> float:
        return sum(v - before[key].get(p, 0.0) for p, v in after[key].items())

    return {
        "driver_cores": round((after["driver"] - before["driver"]) / seconds, 2),
        "server_cores": round(used("server") / seconds, 2),
        "postgres_cores": round(used("postgres") / seconds, 2),
        "server_processes": len(after["server"]),
    }


def driver_main(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    result = asyncio.run(_drive(cfg))
    print(json.dumps(result))
    return 0


# --- orchestration ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    kind: str  # gunicorn's worker class (gthread, sync) or granian
    workers: int
    threads: int

    @classmethod
    def parse(cls, text: str) -> ServerConfig:
        parts = text.split(":")
        if len(parts) != 3 or parts[0] not in ("gthread", "sync", "granian"):
            raise argparse.ArgumentTypeError(
                "a configuration is gthread|sync|granian:WORKERS:THREADS"
            )
        kind, workers, threads = parts[0], int(parts[1]), int(parts[2])
        return cls(kind, workers, 1 if kind == "sync" else threads)

    @property
    def server(self) -> str:
        return "granian" if self.kind == "granian" else "gunicorn"

    @property
    def label(self) -> str:
        if self.kind == "sync":
            return f"sync x{self.workers}"
        return f"{self.kind} {self.workers}w x {self.threads}t"


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


class Server(ABC):
    """A WSGI server serving ``app`` from ``app_dir`` on a loopback port, its output in ``log``
    (one subclass per server kind: the command line and what its log says)."""

    name = "server"
    boot_line = ""  # the log line of each worker (re)started
    fault_lines: tuple[str, ...] = ()  # log lines that say a worker died or hung

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
        self.url = f"http://127.0.0.1:{port}"
        cmd = self.command(cfg, port, log, app_dir, app, switch_interval)
        self.proc = start_process(cmd, log=log, env=env, cwd=app_dir)

    @abstractmethod
    def command(
        self,
        cfg: ServerConfig,
        port: int,
        log: Path,
        app_dir: Path,
        app: str,
        switch_interval: float | None,
    ) -> list[str]:
        """The command line (files it needs, such as a config, are written beside ``log``)."""

    @property
    def pid(self) -> int:
        """The main process (its workers are its children)."""
        return self.proc.pid

    def wait_ready(self) -> None:
        def running() -> None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")

        url = f"{self.url}{self.ready_path}"
        wait_for_http(url, START_TIMEOUT, check=running, what=f"{self.name} on {url}")

    def stop(self) -> None:
        stop_process(self.proc, STOP_TIMEOUT)


class Gunicorn(Server):
    name = "gunicorn"
    boot_line = "Booting worker"
    fault_lines = ("TIMEOUT",)

    def command(
        self,
        cfg: ServerConfig,
        port: int,
        log: Path,
        app_dir: Path,
        app: str,
        switch_interval: float | None,
    ) -> list[str]:
        cmd = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--chdir", str(app_dir),
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(cfg.workers),
            "--worker-class", cfg.kind,
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
        return cmd


class Granian(Server):
    """granian's WSGI interface: ``cfg.threads`` blocking threads (the ones running the app)
    per worker process, one Rust runtime thread (the I/O; more buys nothing on a few cores),
    HTTP/1.1 only like gunicorn; the backpressure stays granian's default (backlog / workers,
    far above ``--concurrency``)."""

    name = "granian"
    boot_line = "Spawning worker"
    fault_lines = ("Unexpected exit",)

    def command(
        self,
        cfg: ServerConfig,
        port: int,
        log: Path,
        app_dir: Path,
        app: str,
        switch_interval: float | None,
    ) -> list[str]:
        if switch_interval:
            raise ValueError("--switch-interval applies to gunicorn only")
        return [
            str(ROOT / ".venv" / "bin" / "granian"),
            "--interface", "wsgi",
            "--working-dir", str(app_dir),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--workers", str(cfg.workers),
            "--blocking-threads", str(cfg.threads),
            "--runtime-threads", "1",
            "--http", "1",
            "--no-ws",
            "--backlog", "2048",
            "--workers-kill-timeout", "10",
            app,
        ]  # fmt: skip


SERVERS: dict[str, type[Server]] = {"gunicorn": Gunicorn, "granian": Granian}


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
    """The hello-world Flask app under the same server settings and driver (the ceiling)."""
    with tempfile.TemporaryDirectory(prefix="bench-hello-") as tmp:
        app_dir = Path(tmp)
        (app_dir / "bench_hello.py").write_text(HELLO_APP)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        server = SERVERS[cfg.server](
            cfg,
            env,
            free_port(),
            app_dir / "server.log",
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
                "server_pid": server.pid,
            }
            budget = args.seconds + WARMUP_SECONDS + DRIVER_TIMEOUT_SLACK
            return _run_driver(driver_cfg, app_dir, budget)["baseline"]
        finally:
            server.stop()


def _profile_dir(args: argparse.Namespace, cfg: ServerConfig, run: int) -> str | None:
    """Where py-spy writes a run's phases: ``--profile DIR`` itself for a single measurement,
    else one subfolder per configuration and run."""
    if not args.profile:
        return None
    out = args.profile
    if args.runs > 1 or len(args.config or ()) > 1:
        out = out / f"{cfg.kind}-{cfg.workers}x{cfg.threads}-run{run}"
    out.mkdir(parents=True, exist_ok=True)
    return str(out)


def run_once(cfg: ServerConfig, args: argparse.Namespace, run: int) -> dict:
    """One run of a configuration: the baseline, then the app on a fresh database."""
    print(f"\n== {cfg.label}, run {run} of {args.runs}", flush=True)
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
        log = data_dir / "server.log"
        server = SERVERS[cfg.server](cfg, env, free_port(), log, args.app_dir, args.switch_interval)
        try:
            server.wait_ready()
            driver_cfg = {
                "base_url": server.url,
                "agent_token": token,
                "complaints": args.complaints,
                "seconds": args.seconds,
                "concurrency": args.concurrency,
                "seed": args.seed,
                "server_pid": server.pid,
                "profile_dir": _profile_dir(args, cfg, run),
            }
            phases = len(APP_PHASES)
            budget = phases * (args.seconds + WARMUP_SECONDS) + DRIVER_TIMEOUT_SLACK
            try:
                result = _run_driver(driver_cfg, data_dir, budget)
            except RuntimeError as exc:  # the server's side of the failure
                tail = log.read_text(errors="replace")[-4000:]
                raise RuntimeError(f"{exc}\n{server.name} log:\n{tail}") from None
        finally:
            server.stop()
        log_text = log.read_text(errors="replace")
        entries = count_entries(db.url)
        filed, append = result["filing"]["complaints"], result["append"]
        appended = filed + append["ok"] + append["warmup_ok"]
        result["log_entries"] = entries
        result["log_entries_expected"] = appended
        if entries != appended:
            print(f"warning: log has {entries} entries, {appended} appends succeeded")
        result["worker_boots"] = log_text.count(server.boot_line)
        if "Traceback" in log_text[-2000:] or any(line in log_text for line in server.fault_lines):
            result["server_log_tail"] = log_text[-2000:]
        result["postgres_version"] = db.server_version()
        # The machine may be shared: its load before and after tells how much was ours.
        result["loadavg_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    result["baseline"] = baseline
    result["shares"] = {
        name: share(result[p]["per_s"], baseline["per_s"]) for name, p in SHARES.items()
    }
    return {"run": run, **result}


def run_config(cfg: ServerConfig, args: argparse.Namespace) -> dict:
    """``args.runs`` runs of one configuration and their headline (medians)."""
    runs = [run_once(cfg, args, run) for run in range(1, args.runs + 1)]
    server = {**asdict(cfg), "server": cfg.server, "label": cfg.label}
    return {"server": server, "headline": headline(cfg.label, runs), "runs": runs}


def print_table(configs: list[dict]) -> None:
    head = f"{'server':<20}{'run':>4}  {'phase':<13}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}"
    head += f"{'p99 ms':>8}{'max ms':>9}{'errors':>7}{'server':>8}{'pg':>6}{'driver':>7}"
    print("\n" + head)
    print("-" * len(head))
    for c in configs:
        for r in c["runs"]:
            for phase in (*APP_PHASES, "baseline"):
                p = r[phase]
                cpu = p["cpu"]
                print(
                    f"{c['server']['label']:<20}{r['run']:>4}  {phase:<13}{p['per_s']:>8.0f}"
                    f"{p['p50_ms']:>8.1f}{p['p90_ms']:>8.1f}{p['p99_ms']:>8.1f}"
                    f"{p['max_ms'] or 0:>9.1f}{p['errors']:>7}{cpu['server_cores']:>8.2f}"
                    f"{cpu['postgres_cores']:>6.2f}{cpu['driver_cores']:>7.2f}"
                )
    print("(cpu columns: cores used during the phase; server is its main process and workers,")
    print(" pg every PostgreSQL process; not_modified: the reads with If-None-Match, 304;")
    print(" healthz: the app's GET /healthz; baseline: a hello-world Flask app, same server)")
    print_shares(configs)


def print_shares(configs: list[dict]) -> None:
    """Each run's phases as shares of its baseline, the medians, and the targets; then the
    CPU-bound shares of the same rows."""
    rows = [(c["server"]["label"], run, figures) for c in configs for run, figures in _rows(c)]
    print("\nshares of the baseline's req/s (targets: append >= "
          f"{TARGETS['append_share']} with p99 <= {TARGETS['append_p99_ms']} ms, "
          f"read >= {TARGETS['read_share']})")  # fmt: skip
    for label, run, figures in rows:
        print(
            f"{label:<20}{run:>6}  append {_fmt(figures['append_share'])}"
            f"  read {_fmt(figures['read_share'])}"
            f"  not_modified {_fmt(figures['not_modified_share'])}"
            f"  (baseline {figures['baseline_per_s']:.0f}/s)"
            f"  {'meets targets' if figures['meets_targets'] else 'below targets'}"
        )
    print("\nCPU-bound shares (the baseline's CPU time per request over the phase's, every "
          "process counted: the share if both kept the cores busy)")  # fmt: skip
    for label, run, figures in rows:
        print(
            f"{label:<20}{run:>6}  append {_fmt(figures['append_cpu_share'])}"
            f"  read {_fmt(figures['read_cpu_share'])}"
        )
    print("\nserver CPU per request against its budget (ms; the budget is what the server may "
          "spend for the target share, PostgreSQL's and the driver's time per request "
          "taken off)")  # fmt: skip
    for label, run, figures in rows:
        print(
            f"{label:<20}{run:>6}"
            + "".join(
                f"  {phase} {_fmt(figures[f'{phase}_server_ms'])}"
                f" of {_fmt(figures[f'{phase}_server_budget_ms'])}"
                for phase in TARGETED_PHASES
            )
            + f"  (the baseline's server {_fmt(figures['baseline_server_ms'])})"
        )


def _rows(config: dict) -> list[tuple[str, dict]]:
    """A configuration's headline figures per run, then their medians (with several runs),
    each with ``meets_targets``."""
    rows = [(str(r["run"]), run_figures(r)) for r in config["runs"]]
    for _, figures in rows:
        figures["meets_targets"] = meets_targets(figures)
    if len(rows) > 1:
        rows.append(("median", config["headline"]))
    return rows


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--pg", default=os.environ.get("LEDGER_BENCH_PG", DEFAULT_PG))
    parser.add_argument(
        "--config",
        type=ServerConfig.parse,
        action="append",
        help="KIND:WORKERS:THREADS, KIND gthread|sync (gunicorn) or granian "
        "(repeatable; default gthread:2:16)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="measure each configuration this many times (the headline has the medians)",
    )
    parser.add_argument("--complaints", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "api.json")
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="set each gunicorn worker's sys.setswitchinterval (seconds; Python's default "
        "is 0.005)",
    )
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=ROOT,
        help="serve the app from another checkout (before/after comparisons)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record each phase of the app with py-spy into this folder, one subfolder per "
        "configuration and run (see profile_summary)",
    )
    args = parser.parse_args(argv)
    if args.drive:
        return driver_main(args.drive)
    configs = args.config or [ServerConfig("gthread", 2, 16)]
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.switch_interval and any(c.server != "gunicorn" for c in configs):
        parser.error("--switch-interval applies to gunicorn configurations only")
    results = [run_config(cfg, args) for cfg in configs]
    print_table(results)
    first_run = results[0]["runs"][0]
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgres": first_run.get("postgres_version"),
        },
        "driver": {
            "client": "aiohttp, one process, closed loop",
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "warmup_seconds": WARMUP_SECONDS,
            "complaints": args.complaints,
            "runs": args.runs,
            "switch_interval": args.switch_interval,
            "app_dir": str(args.app_dir),
            "append_mix": "evidence_added and note_added (agent), evidence_added (customer)",
            "read_mix": "GET /v1/complaints/<ref>, half agent key, half customer secret",
            "not_modified_mix": "the read mix with If-None-Match: the tag learnt per "
            "(complaint, caller kind); only 304 counts",
            "baseline": "hello-world Flask app (GET /, JSON), same server settings and driver",
        },
        "targets": TARGETS,
        "headline": results[0]["headline"],
        "configs": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
