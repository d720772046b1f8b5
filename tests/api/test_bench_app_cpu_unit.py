"""The in-process CPU benchmark's WSGI calls (scripts/bench_app_cpu.py; no database): a
prepared request can be called any number of times, from several threads, and a wrong
status stops the measure instead of being counted."""

from __future__ import annotations

import threading

import pytest

from tests.support.scripts import load_script

cpu = load_script("bench_app_cpu")


def _echo_app():
    """A WSGI app answering 201 with the body it read, counting calls per thread."""
    seen: dict[str, int] = {}  # by thread name: an ident may be reused
    lock = threading.Lock()

    def app(environ, start_response):
        with lock:
            name = threading.current_thread().name
            seen[name] = seen.get(name, 0) + 1
        body = environ["wsgi.input"].read()
        start_response(
            "201 Created", [("Content-Type", "application/json"), ("X-Path", environ["PATH_INFO"])]
        )
        return [body]

    return app, seen


def test_a_prepared_request_is_sent_whole_on_every_call() -> None:
    app, _ = _echo_app()
    prepared = cpu.request("POST", "/v1/things", {"Authorization": "Bearer x"}, {"a": 1})
    for _ in range(3):  # the body stream is fresh each time
        status, headers, body = cpu.call(app, prepared)
        assert (status, headers["X-Path"], body) == (201, "/v1/things", b'{"a": 1}')


def test_calls_are_spread_over_the_threads() -> None:
    app, seen = _echo_app()
    requests = [cpu.request("POST", f"/{i}", body={"i": i}) for i in range(5)]
    cpu.run_calls(app, requests, 201, first=0, count=40, threads=4)
    assert len(seen) == 4 and sum(seen.values()) == 40


@pytest.mark.parametrize("threads", [1, 3])
def test_an_unexpected_status_stops_the_measure(threads: int) -> None:
    app, _ = _echo_app()
    with pytest.raises(RuntimeError, match="expected 200, got 201"):
        cpu.run_calls(app, [cpu.request("GET", "/")], 200, first=0, count=6, threads=threads)


def test_the_hello_app_is_bench_apis_baseline() -> None:
    status, _, body = cpu.call(cpu.hello_app(), cpu.request("GET", "/"))
    assert (status, body.strip()) == (200, b'{"status":"ok"}')


def test_a_shares_ceiling_and_the_apps_budget() -> None:
    # The hello world costs the machine 0.45 ms over HTTP, 0.05 of them its app: a request
    # whose app takes 1.2 ms costs at least 1.2 + 0.4, a share of at most 0.45 / 1.6.
    assert cpu.ceiling(0.45, 0.05, 1.2) == 0.281
    # A quarter of the hello world allows 1.8 ms a request: 1.4 of them beyond the server's.
    assert cpu.budget(0.45, 0.05, 0.25) == 1.4
    # At its budget, a phase's ceiling is the target.
    assert cpu.ceiling(0.45, 0.05, cpu.budget(0.45, 0.05, 0.5)) == 0.5


def test_ceilings_of_each_run_use_that_runs_hello_world_and_the_apps_least_cost() -> None:
    # Per route, the cheaper of the thread counts counts: a ceiling is generous.
    results = {
        route: [
            {"threads": 1, "app_ms": app * 1.5, "postgres_ms": pg},
            {"threads": 16, "app_ms": app, "postgres_ms": pg},
        ]
        for route, app, pg in (("hello", 0.05, 0.0), ("append", 3.0, 0.4), ("read", 0.6, 0.1))
    }
    config = {
        "server": {"label": "gthread 2w x 16t"},
        "runs": [
            {"run": 1, "baseline": {"cpu": {"machine_ms_per_request": 0.45}},
             "shares": {"append_share": 0.07, "read_share": 0.35}},
            {"run": 2, "baseline": {}, "shares": {"append_share": 0.08, "read_share": 0.4}},
        ],
    }  # fmt: skip
    first, second = cpu.ceilings(results, config)["runs"]
    assert first["append"] == {
        "share": 0.07, "ceiling": 0.118, "target": 0.25, "app_ms": 3.4, "budget_ms": 1.4
    }  # fmt: skip
    assert first["read"]["ceiling"] == 0.409 and first["read"]["budget_ms"] == 0.5
    # A run without CPU figures has no ceiling; nor has a route not measured.
    assert second["append"]["ceiling"] is None
    del results["read"]
    assert cpu.ceilings(results, config)["runs"][0]["read"]["ceiling"] is None
