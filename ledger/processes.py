"""Ports, bounded waits and child processes, for the run command, the dev chain and the tools.

Standard library only: the run command, the development chain, the soak and benchmark scripts
and the tests start, wait for and stop their processes through these few functions.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ledger.errors import LedgerError

T = TypeVar("T")

KILL_WAIT = 10.0  # seconds to reap a child after SIGKILL


class WaitTimeout(LedgerError, TimeoutError):
    """A bounded wait ran out before its condition held."""


# --- ports ---------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_free(host: str, port: int) -> bool:
    """False only when something listens there (other bind errors: let the server report)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno != errno.EADDRINUSE
    return True


# --- waiting -------------------------------------------------------------------------------


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.2,
    what: str = "the condition",
    ignore: tuple[type[Exception], ...] = (),
) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something true, and
    return that; raise WaitTimeout naming ``what`` after ``timeout`` seconds.

    An exception of a type in ``ignore`` counts as "not yet"; any other one propagates (a
    predicate raises to give up early, e.g. when the process it waits for died).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except ignore:
            result = None  # type: ignore[assignment]
        if result:
            return result
        if time.monotonic() > deadline:
            raise WaitTimeout(f"gave up waiting for {what} after {timeout:g}s")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when GET ``url`` answers 200; False when it answers otherwise or not at all."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def wait_for_http(
    url: str,
    timeout: float,
    *,
    interval: float = 0.2,
    check: Callable[[], object] | None = None,
    what: str | None = None,
) -> None:
    """Wait until GET ``url`` answers 200. ``check`` runs before every try and raises to give
    up early (typically: the server's process exited)."""

    def answered() -> bool:
        if check is not None:
            check()
        return http_ok(url)

    wait_for(answered, timeout, interval=interval, what=what or url)


# --- child processes -----------------------------------------------------------------------


def start_process(
    cmd: Sequence[str], *, log: Path | None = None, **popen: Any
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with its stdout and stderr appended to ``log`` (None: this process's own
    streams). Other keywords go to subprocess.Popen (``start_new_session=True`` gives the child
    its own process group, for ``stop_process(..., group=True)``)."""
    if log is None:
        return subprocess.Popen(cmd, **popen)
    with open(log, "ab") as out:  # the child holds its own copy of the descriptor
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **popen)


def signal_process(proc: subprocess.Popen[Any], sig: int, *, group: bool = False) -> None:
    """Send ``sig`` to ``proc``, or to its whole process group; nothing when it is gone."""
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)


def stop_process(
    proc: subprocess.Popen[Any],
    timeout: float,
    *,
    sig: int = signal.SIGTERM,
    group: bool = False,
    on_kill: Callable[[], object] | None = None,
) -> int:
    """Stop ``proc``: ``sig`` (to its process group with ``group``), wait up to ``timeout``
    seconds, then SIGKILL (after calling ``on_kill``) and reap it. Returns its exit code."""
    if proc.poll() is not None:
        return proc.returncode
    signal_process(proc, sig, group=group)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        if on_kill is not None:
            on_kill()
        signal_process(proc, signal.SIGKILL, group=group)
        return proc.wait(timeout=KILL_WAIT)


def stop_on_signals() -> threading.Event:
    """An event that SIGINT or SIGTERM sets: a long-running command's loop runs until it is
    set, then stops cleanly (main thread only, where Python installs signal handlers)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
