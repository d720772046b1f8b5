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
