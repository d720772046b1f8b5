"""The app's own CPU time per request, without a server or a load driver, on PostgreSQL.

``bench_api.py`` measures the whole stack over HTTP: there the server's and the driver's
time are part of every request, and a run's figures move by a quarter and more from run to
run on a shared machine, so a small change to a route does not show. Here each request is
a direct WSGI call of the app (the one ``wsgi.py`` serves, its request log lines written to
/dev/null by the same writer thread), and what is counted is CPU time: this process's
(request threads, the sequencer's writer, the log writer) and PostgreSQL's, per call, the
median over ``--rounds`` rounds. The hello-world app of bench_api's baseline is measured
the same way beside it.

Routes, with bench_api's request mix: ``hello`` (the baseline app), ``healthz``, ``read``
(complaint status, half agent, half customer), ``not_modified`` (the same reads with the
ETag the caller holds: 304), ``append`` (complaint events). Each route is measured with each
``--threads`` count: 1 is one request at a time (an append is then a log batch of its own);
more run as many request threads, as a worker's do (appends then share batches).

It also bounds bench_api's shares from above (``ceilings``, from each run of ``--api``,
bench/api.json by default). Over HTTP, every request costs the machine what the hello world
costs it (``H``: server, driver, kernel) less the hello world's own app time measured here
(``h``), plus its own app and PostgreSQL time measured here (``A``, the least over the
thread counts); so a phase's share of the hello world is at most about ``H / (A + H - h)``,
and only if serving it cost the server and the driver no more than a hello world (an
append's JSON body and inclusion proof cost more). ``H`` comes from another run than
``A``: on a noisy machine the ceiling is an estimate, within that noise.
A target share above that ceiling is out of reach until the app's own time per request is
at most ``H / target - H + h`` (``budget_ms``).

Usage: python scripts/bench_app_cpu.py [--pg URL] [--calls 3000] [--rounds 5]
                                       [--threads 1 --threads 16] [--complaints 500]
                                       [--api bench/api.json] [--out bench/app_cpu.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench_api import (
    DEFAULT_PG,
    HELLO_APP,
    ORIGIN,
    TARGETED_PHASES,
    TARGETS,
    Database,
    append_call,
    complaint_body,
    postgres_pids,
    prepare,
    proc_cpu,
    read_call,
)
from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
ROUTES = ("hello", "healthz", "read", "not_modified", "append")
WARMUP_CALLS = 200

# A prepared request: the WSGI environ without its body stream, and the body.
Request = tuple[dict, bytes]


def request(method: str, path: str, headers: dict[str, str] | None = None, body=None) -> Request:
    builder = EnvironBuilder(method=method, path=path, headers=headers, json=body)
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    return environ, environ.pop("wsgi.input").read()


def call(app: Callable, prepared: Request) -> tuple[int, dict[str, str], bytes]:
    """One WSGI call: status, headers, body."""
    environ, body = prepared
    environ = {**environ, "wsgi.input": io.BytesIO(body)}
    started: list = []

    def start_response(status: str, headers: list, exc_info=None) -> None:
        started.append((int(status[:3]), dict(headers)))

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started[0][0], started[0][1], content


def _calls(app: Callable, requests: list[Request], expect: int, first: int, count: int) -> None:
    for i in range(first, first + count):
        status, _, content = call(app, requests[i % len(requests)])
        if status != expect:
            raise RuntimeError(f"expected {expect}, got {status}: {content[:300]!r}")


def run_calls(
    app: Callable, requests: list[Request], expect: int, first: int, count: int, threads: int
) -> None:
    """``count`` calls from ``threads`` threads (requests ``first`` onwards, round-robin)."""
    if threads == 1:
        _calls(app, requests, expect, first, count)
        return
    share = count // threads
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            _calls(app, requests, expect, first + t * share, share)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]


def _postgres_cpu() -> float:
    return sum(proc_cpu(p) for p in postgres_pids())


def measure(
    app: Callable, requests: list[Request], expect: int, args: argparse.Namespace, threads: int
) -> dict:
    """CPU milliseconds per call (this process, PostgreSQL): medians and every round's."""
    run_calls(app, requests, expect, 0, WARMUP_CALLS, threads)
    calls = args.calls - args.calls % threads
    rounds: list[dict[str, float]] = []
    for r in range(args.rounds):
        pg0, cpu0, wall0 = _postgres_cpu(), time.process_time(), time.perf_counter()
        run_calls(app, requests, expect, WARMUP_CALLS + r * calls, calls, threads)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        rounds.append(
            {
                "app_ms": 1000 * cpu / calls,
                "postgres_ms": 1000 * (_postgres_cpu() - pg0) / calls,
                "per_s": calls / wall,
            }
        )
    out: dict = {"threads": threads, "calls": calls, "rounds": args.rounds}
    for key in ("app_ms", "postgres_ms", "per_s"):
        values = [r[key] for r in rounds]
        out[key] = round(statistics.median(values), 4 if key != "per_s" else 1)
        out[f"rounds_{key}"] = [round(v, 4 if key != "per_s" else 1) for v in values]
    out["app_ms_spread"] = round((max(out["rounds_app_ms"]) - min(out["rounds_app_ms"])), 4)
    return out


def hello_app() -> Callable:
    namespace: dict = {"__name__": "hello"}
    exec(compile(HELLO_APP, "hello.py", "exec"), namespace)
    return namespace["app"]


def measure_all(args: argparse.Namespace) -> dict:
    from api import create_app
    from ledger.config import Settings
    from ledger.logging_setup import configure_logging

    # Left open: the log's writer thread may write to it until the process exits.
    devnull = open(os.devnull, "w")  # noqa: SIM115
    configure_logging("INFO", "json", stream=devnull, buffered=True)
    results: dict = {}
    with Database(args.pg) as db, tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        data_dir = Path(tmp)
        token, key_file = prepare(db.url, data_dir)
        settings = Settings(
            data_dir=data_dir,
            database_url=db.url,
            log_origin=ORIGIN,
            log_key_file=key_file,
            redis_url=None,
            rate_limit="",  # as in bench_api: the limiter would distort the measure
            anonymous_filing_limit="",
        )
        app = create_app(settings)
        try:
            agent = {"Authorization": f"Bearer {token}"}
            complaints = []
            for i in range(args.complaints):
                status, _, content = call(
                    app, request("POST", "/v1/complaints", body=complaint_body(i))
                )
                if status != 201:
                    raise RuntimeError(f"filing failed: {status} {content[:300]!r}")
                filed = json.loads(content)
                complaints.append((filed["reference"], filed["secret"]))
            reads, conditional = [], []
            for i in range(len(complaints) * 2):
                ref, _, headers = read_call(i, complaints, agent)
                reads.append(request("GET", f"/v1/complaints/{ref}", headers))
                _, answer_headers, _ = call(app, reads[-1])
                tag = {"If-None-Match": answer_headers["ETag"]}
                conditional.append(request("GET", f"/v1/complaints/{ref}", {**headers, **tag}))
            appends = []
            for i in range(args.calls):
                path, payload, headers = append_call(i, complaints, agent)
                appends.append(request("POST", path, headers, payload))
            plan = {
                "hello": (hello_app(), [request("GET", "/")], 200),
                "healthz": (app, [request("GET", "/healthz")], 200),
                "read": (app, reads, 200),
                "not_modified": (app, conditional, 304),
                "append": (app, appends, 201),
            }
            for route in args.routes:
                target, requests, expect = plan[route]
                results[route] = []
                for threads in args.threads:
                    figures = measure(target, requests, expect, args, threads)
                    results[route].append(figures)
                    print(
                        f"{route:<13}{threads:>8}{figures['app_ms']:>10.3f}"
                        f"{figures['postgres_ms']:>10.3f}{figures['app_ms_spread']:>10.3f}"
                        f"{figures['per_s']:>10.0f}",
                        flush=True,
                    )
        finally:
            app.extensions["ledger"].close()
    return results


def _route_ms(results: dict, route: str) -> float | None:
    """App and PostgreSQL CPU ms per call of ``route``, the least over the thread counts
    measured (None: not measured). The least, so that a ceiling is generous: one thread
    has no contention, many share the appends' batches."""
    costs = [f["app_ms"] + f["postgres_ms"] for f in results.get(route, ())]
    return min(costs) if costs else None


def ceiling(hello_machine_ms: float, hello_app_ms: float, app_ms: float) -> float:
    """The most a phase's share of the hello world can be: ``H / (A + H - h)``."""
    return round(hello_machine_ms / (app_ms + hello_machine_ms - hello_app_ms), 3)


def budget(hello_machine_ms: float, hello_app_ms: float, target: float) -> float:
    """The app's own CPU ms per request (PostgreSQL's included) that ``target`` allows."""
    return round(hello_machine_ms / target - hello_machine_ms + hello_app_ms, 3)


def ceilings(results: dict, config: dict) -> dict:
    """Each run of one bench_api configuration: its targeted phases' measured shares, their
    ceilings and the app's budget per request, from this measure's figures."""
    hello = _route_ms(results, "hello")
    runs = []
    for run in config["runs"]:
        machine = run["baseline"].get("cpu", {}).get("machine_ms_per_request")
        row: dict = {"run": run["run"], "hello_machine_ms": machine}
        for route, target in TARGETED_PHASES.items():
            app = _route_ms(results, route)
            known = machine and hello is not None and app is not None
            row[route] = {
                "share": run["shares"][target],
                "ceiling": ceiling(machine, hello, app) if known else None,
                "target": TARGETS[target],
                "app_ms": None if app is None else round(app, 3),
                "budget_ms": budget(machine, hello, TARGETS[target]) if known else None,
            }
        runs.append(row)
    return {"server": config["server"]["label"], "runs": runs}


def print_ceilings(report: dict) -> None:
    print(
        f"\nceilings of {report['api']}'s shares (from the app's least CPU per request over "
        "the thread counts): measured share <= ceiling (target; the app's ms per request of "
        "its budget)"
    )
    for config in report["configs"]:
        for row in config["runs"]:
            cells = "".join(
                f"  {route} {row[route]['share']} <= {row[route]['ceiling']}"
                f" (target {row[route]['target']}; {row[route]['app_ms']} ms of"
                f" {row[route]['budget_ms']})"
                for route in TARGETED_PHASES
            )
            print(f"{config['server']:<20}{row['run']:>4}{cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("LEDGER_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--calls", type=int, default=3000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--complaints", type=int, default=500)
    parser.add_argument(
        "--threads",
        type=int,
        action="append",
        help="request threads (repeatable; default 1 and 16)",
    )
    parser.add_argument("--route", dest="routes", action="append", choices=ROUTES)
    parser.add_argument(
        "--api",
        type=Path,
        default=ROOT / "bench" / "api.json",
        help="bench_api's report whose runs' shares are bounded (skipped if absent)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "app_cpu.json")
    args = parser.parse_args(argv)
    args.threads = args.threads or [1, 16]
    args.routes = args.routes or list(ROUTES)
    if min(args.threads) < 1 or args.calls < max(args.threads) or args.rounds < 1:
        parser.error("--threads and --rounds must be at least 1, --calls at least --threads")
    print(f"{'route':<13}{'threads':>8}{'app ms':>10}{'pg ms':>10}{'spread':>10}{'calls/s':>10}")
    results = measure_all(args)
    print("(CPU ms per call: app = this process, every thread; pg = every PostgreSQL process;")
    print(" spread = the app figure's max - min over the rounds; medians of the rounds)")
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "calls": args.calls,
            "rounds": args.rounds,
            "complaints": args.complaints,
            "threads": args.threads,
            "calls_by": "direct WSGI calls in this process; request log lines to /dev/null",
        },
        "routes": results,
    }
    if args.api.exists():
        api = json.loads(args.api.read_text())
        report["ceilings"] = {
            "api": str(args.api),
            "configs": [ceilings(results, config) for config in api["configs"]],
        }
        print_ceilings(report["ceilings"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
