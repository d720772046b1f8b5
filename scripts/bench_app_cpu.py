"""The app's own CPU time per request, without a server or a load driver, on PostgreSQL.

``bench_api.py`` measures the whole stack over HTTP: there the server's and the driver's
time are part of every request, and a run's figures move by a third from run to run on a
shared machine, so a change of a few percent in a route does not show. Here each request is
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

It tells what a route costs the app and where a budget stands: bench_api's "server CPU
budget" is what a whole server may spend per request for a target share; a server's own
overhead per request is its baseline's server time less this script's ``hello``.

Usage: python scripts/bench_app_cpu.py [--pg URL] [--calls 3000] [--rounds 5]
                                       [--threads 1 --threads 16] [--complaints 500]
                                       [--out bench/app_cpu.json]
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

    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
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
    devnull.close()
    return results


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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
