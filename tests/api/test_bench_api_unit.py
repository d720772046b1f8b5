"""The API benchmark's arithmetic: shares of the baseline, medians over runs, the targets,
and configuration parsing (scripts/bench_api.py; no server is started)."""

from __future__ import annotations

import argparse
import math

import pytest

from tests.support.scripts import load_script

bench = load_script("bench_api")


def _phase(per_s: float, p50: float = 10.0, p99: float = 100.0) -> dict:
    return {"per_s": per_s, "p50_ms": p50, "p99_ms": p99}


def _run(append: float, read: float, not_modified: float, baseline: float, p99: float) -> dict:
    return {
        "append": _phase(append, p99=p99),
        "read": _phase(read),
        "not_modified": _phase(not_modified),
        "healthz": _phase(2000.0),
        "baseline": _phase(baseline),
    }


def test_shares_are_per_s_over_the_same_runs_baseline() -> None:
    figures = bench.run_figures(_run(500.0, 1500.0, 2500.0, 4000.0, 120.0))
    assert figures["append_share"] == 0.125
    assert figures["read_share"] == 0.375
    assert figures["not_modified_share"] == 0.625
    assert figures["events_p99_ms"] == 120.0
    assert figures["baseline_per_s"] == 4000.0


def test_cpu_share_is_the_baselines_cpu_per_request_over_the_phases() -> None:
    run = _run(500.0, 1500.0, 2500.0, 4000.0, 120.0)
    run["append"]["cpu"] = {"machine_ms_per_request": 4.0}
    run["read"]["cpu"] = {"machine_ms_per_request": 1.0}
    run["baseline"]["cpu"] = {"machine_ms_per_request": 0.45}
    figures = bench.run_figures(run)
    assert figures["append_cpu_share"] == 0.113  # 0.45 / 4.0, rounded like the shares
    assert figures["read_cpu_share"] == 0.45
    # A run without CPU figures (or none measured) has no CPU-bound share.
    assert bench.run_figures(_run(500.0, 1500.0, 2500.0, 4000.0, 120.0))["read_cpu_share"] is None


def test_no_baseline_gives_no_share() -> None:
    assert bench.share(100.0, 0.0) is None


def test_targets_need_both_shares_and_the_append_p99() -> None:
    meets = bench.meets_targets
    assert meets(bench.run_figures(_run(1000.0, 2000.0, 3000.0, 4000.0, 250.0)))
    assert not meets(bench.run_figures(_run(1000.0, 2000.0, 3000.0, 4000.0, 250.1)))
    assert not meets(bench.run_figures(_run(990.0, 2000.0, 3000.0, 4000.0, 100.0)))
    assert not meets(bench.run_figures(_run(1000.0, 1990.0, 3000.0, 4000.0, 100.0)))
    assert not meets(bench.run_figures(_run(1000.0, 2000.0, 3000.0, 4000.0, math.nan)))


def test_headline_has_the_medians_and_the_per_run_values() -> None:
    runs = [
        _run(1000.0, 2000.0, 3000.0, 4000.0, 300.0),  # shares 0.25, 0.5; p99 too high
        _run(900.0, 2400.0, 2800.0, 4000.0, 200.0),  # shares 0.225, 0.6
        _run(1100.0, 2000.0, 3300.0, 4400.0, 150.0),  # shares 0.25, 0.455
    ]
    head = bench.headline("granian 2w x 16t", runs)
    assert head["runs"] == 3
    assert head["runs_append_share"] == [0.25, 0.225, 0.25]
    assert head["append_share"] == 0.25
    assert head["read_share"] == 0.5
    assert head["events_p99_ms"] == 200.0
    assert head["baseline_per_s"] == 4000.0
    # Each run misses a target, the medians meet them all.
    assert head["runs_meets_targets"] == [False, False, False]
    assert head["meets_targets"] is True


def test_median_of_an_even_count_and_of_unknown_values() -> None:
    assert bench.median([0.2, 0.3]) == 0.25
    assert bench.median([None, 0.4, math.nan]) == 0.4
    assert bench.median([None]) is None


@pytest.mark.parametrize(
    ("text", "server", "label"),
    [
        ("gthread:2:16", "gunicorn", "gthread 2w x 16t"),
        ("sync:3:8", "gunicorn", "sync x3"),
        ("granian:2:16", "granian", "granian 2w x 16t"),
    ],
)
def test_configurations(text: str, server: str, label: str) -> None:
    cfg = bench.ServerConfig.parse(text)
    assert (cfg.server, cfg.label) == (server, label)
    assert bench.SERVERS[cfg.server].name == server


def test_an_unknown_server_kind_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        bench.ServerConfig.parse("uwsgi:2:16")


def test_server_budget_is_the_targets_machine_time_less_postgres_and_driver() -> None:
    run = _run(500.0, 1500.0, 2500.0, 4000.0, 120.0)
    run["baseline"]["cpu"] = {"machine_ms_per_request": 0.45, "server_ms_per_request": 0.3}
    # An append costs the machine 4.0 ms, 3.2 of them in the server: PostgreSQL and the
    # driver take 0.8 ms of the 1.8 ms that 25% of the baseline allows.
    run["append"]["cpu"] = {"machine_ms_per_request": 4.0, "server_ms_per_request": 3.2}
    # A read whose PostgreSQL and driver take 1.0 ms: more than the 0.9 ms 50% allows.
    run["read"]["cpu"] = {"machine_ms_per_request": 1.2, "server_ms_per_request": 0.2}
    figures = bench.run_figures(run)
    assert figures["append_server_ms"] == 3.2
    assert figures["append_server_budget_ms"] == 1.0
    assert figures["read_server_budget_ms"] == -0.1  # out of reach whatever the server does
    assert figures["baseline_server_ms"] == 0.3
    # Without CPU figures there is no budget.
    assert (
        bench.run_figures(_run(500.0, 1500.0, 2500.0, 4000.0, 120.0))["append_server_budget_ms"]
        is None
    )
