"""A daemon thread that runs one task every few seconds until stopped (purges, sweeps)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Run ``task`` every ``interval`` seconds in a daemon thread named ``name``.

    A failing run is logged and retried at the next tick (the database may be away for a
    moment); ``stop`` ends the thread and waits for a run in progress.
    """

    def __init__(self, name: str, interval: float, task: Callable[[], object]) -> None:
        self.name = name
        self._interval = interval
        self._task = task
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                done = self._task()
            except Exception:
                log.warning("%s failed; trying again in %ss", self.name, self._interval,
                            exc_info=True)  # fmt: skip
                continue
            if done:
                log.info("%s: %s", self.name, done)
