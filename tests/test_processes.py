"""ledger/processes.py: the one place that finds ports, waits with a bound, and starts and
stops child processes."""

from __future__ import annotations

import signal
import socket
import sys

import pytest

from ledger.errors import LedgerError
from ledger.processes import (
    WaitTimeout,
    free_port,
    port_free,
    start_process,
    stop_process,
    wait_for,
)


def test_a_free_port_can_be_bound_and_is_then_taken() -> None:
    port = free_port()
    assert port_free("127.0.0.1", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert not port_free("127.0.0.1", port)


def test_wait_for_returns_the_first_true_value() -> None:
    calls = iter([None, 0, "ready"])
    assert wait_for(lambda: next(calls), 5, interval=0) == "ready"


def test_wait_for_gives_up_naming_what_it_waited_for() -> None:
    with pytest.raises(WaitTimeout, match="the moon after 0s") as caught:
        wait_for(lambda: False, 0, interval=0, what="the moon")
    assert isinstance(caught.value, LedgerError) and isinstance(caught.value, TimeoutError)


def test_wait_for_ignores_only_the_named_errors() -> None:
    attempts = iter([ConnectionError(), ConnectionError(), "up"])

    def probe() -> str:
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    assert wait_for(probe, 5, interval=0, ignore=(ConnectionError,)) == "up"
    with pytest.raises(KeyError):
        wait_for(lambda: {}["gone"], 5, interval=0, ignore=(ConnectionError,))


def test_a_child_logs_to_its_file_and_is_stopped(tmp_path) -> None:
    log = tmp_path / "child.log"
    code = "import sys, time; print('started', flush=True); time.sleep(60)"
    proc = start_process([sys.executable, "-c", code], log=log)
    wait_for(lambda: "started" in log.read_text(), 30, interval=0.05, what="the child's line")
    assert stop_process(proc, 10) == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path) -> None:
    log = tmp_path / "stubborn.log"
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ignoring', flush=True); time.sleep(60)"
    )
    proc = start_process([sys.executable, "-c", code], log=log)
    wait_for(lambda: "ignoring" in log.read_text(), 30, interval=0.05, what="the child's line")
    killed: list[bool] = []
    assert stop_process(proc, 0.5, on_kill=lambda: killed.append(True)) == -signal.SIGKILL
    assert killed == [True]
