"""Processes the tests start as a user would (scripts/run.py, gunicorn): waiting for them
while they live, probing their HTTP API, and making sure none is left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import requests

from ledger import processes
from ledger.processes import WaitTimeout, start_process, stop_process
from tests.support.paths import ROOT

START_TIMEOUT = 90  # bootstrapping gunicorn and the worker on a busy 2-core machine
STOP_TIMEOUT = 60


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_while_alive(what: str, condition: Callable[[], object], proc, log: Path, timeout: float):
    """``condition``'s true value; fails with ``proc``'s log when it exits or time runs out."""

    def check() -> object:
        if proc.poll() is not None:
            raise AssertionError(f"run.py exited ({proc.returncode}):\n{log.read_text()}")
        return condition()

    try:
        return processes.wait_for(check, timeout, what=what)
    except WaitTimeout as exc:
        raise AssertionError(f"{exc}:\n{log.read_text()[-4000:]}") from None


def get(url: str):
    try:
        return requests.get(url, timeout=5)
    except requests.RequestException:
        return None


def serving(api: str) -> Callable[[], bool]:
    def check() -> bool:
        r = get(f"{api}/v1/log/keys")
        return r is not None and r.status_code == 200

    return check


def confirmed_at(api: str, size: int) -> Callable[[], dict | None]:
    """The latest anchor once it is confirmed and covers ``size`` entries."""

    def check() -> dict | None:
        r = get(f"{api}/v1/anchors/latest")
        if r is None or r.status_code != 200:
            return None
        body = r.json()
        return body if body["state"] == "confirmed" and body["tree_size"] >= size else None

    return check


class Run:
    """One run.py process; remembers every process it started, to be sure they end."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = start_process(
            [sys.executable, str(ROOT / "scripts" / "run.py")], log=log, env=env, cwd=ROOT
        )
        self.seen: set[int] = set()

    def wait(self, what: str, condition: Callable[[], object], timeout: float):
        def check():
            self.seen |= descendants(self.proc.pid)
            return condition()

        return wait_while_alive(what, check, self.proc, self.log, timeout)

    def stop(self) -> int:
        self.seen |= descendants(self.proc.pid)
        return stop_process(self.proc, STOP_TIMEOUT)

    def kill_leftovers(self) -> None:
        """Never leave a process behind, whatever failed."""
        if self.proc.poll() is None:
            self.seen |= descendants(self.proc.pid)
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in self.seen:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
