"""Several API servers on one database, as separate hosts run them: each its own gunicorn
master (``scripts/gunicorn.conf.py``, gthread workers) on its own loopback port, all with the
same database URL, log origin and log signing key file."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from ledger.access.apikeys import create_api_key
from ledger.config import Settings
from ledger.log.keys import create_key_file
from ledger.log.note import Signer
from ledger.processes import free_port, start_process, stop_process, wait_for_http
from ledger.runtime import open_ledger
from tests.support.paths import ROOT

GUNICORN = Path(sys.executable).with_name("gunicorn")
START_TIMEOUT = 90.0  # several masters booting at once on a busy 2-core machine
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class SharedLedger:
    """What every master serves: one database, one log (origin and signing key), and an
    agent API key made in that database."""

    database_url: str
    data_dir: Path
    origin: str
    key_file: Path
    signer: Signer
    agent_token: str


def prepare_shared_ledger(database_url: str, data_dir: Path, origin: str) -> SharedLedger:
    """The log's signing key, the log initialised in the (migrated) database, an agent key."""
    key_file = data_dir / "log.key"
    signer = create_key_file(key_file, origin)
    settings = Settings(
        data_dir=data_dir, database_url=database_url, log_origin=origin, log_key_file=key_file
    )
    ledger = open_ledger(settings)
    try:
        token, _ = create_api_key(ledger.engine, "masters agent", "agent")
    finally:
        ledger.close()
    return SharedLedger(database_url, data_dir, origin, key_file, signer, token)


@dataclass
class Master:
    """One gunicorn master and its workers, in their own process group."""

    name: str
    url: str
    proc: Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def master_env(
    shared: SharedLedger, port: int, metrics_dir: Path, workers: int, threads: int
) -> dict[str, str]:
    """The environment of one master: the shared ledger's settings, no rate limits (the load
    comes from one address), its own port and metrics folder (emptied when it starts)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LEDGER_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    return env | {
        "LEDGER_DATABASE_URL": shared.database_url,
        "LEDGER_DATA_DIR": str(shared.data_dir),
        "LEDGER_LOG_KEY_FILE": str(shared.key_file),
        "LEDGER_LOG_ORIGIN": shared.origin,
        "LEDGER_RATE_LIMIT": "",
        "LEDGER_ANONYMOUS_FILING_LIMIT": "",
        "LEDGER_BIND": f"127.0.0.1:{port}",
        "LEDGER_WORKERS": str(workers),
        "LEDGER_THREADS": str(threads),
        # Few connections per worker: the PostgreSQL server is shared with other tests.
        "LEDGER_DB_POOL_SIZE": str(threads),
        "LEDGER_DB_MAX_OVERFLOW": "2",
        "LEDGER_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONUNBUFFERED": "1",
    }


def _start(shared: SharedLedger, name: str, folder: Path, workers: int, threads: int) -> Master:
    port = free_port()
    env = master_env(shared, port, folder / f"prometheus-{name}", workers, threads)
    log = folder / f"gunicorn-{name}.log"
    proc = start_process(
        [str(GUNICORN), "--config", str(ROOT / "scripts" / "gunicorn.conf.py"), "wsgi:app"],
        log=log,
        cwd=ROOT,
        env=env,
        start_new_session=True,  # stopped with its workers as one process group
    )
    return Master(name, f"http://127.0.0.1:{port}", proc, log)


def _wait_ready(master: Master) -> None:
    def running() -> None:
        if master.proc.poll() is not None:
            raise AssertionError(
                f"master {master.name} exited ({master.proc.returncode}):\n{master.log_tail()}"
            )

    url = f"{master.url}/v1/log/keys"
    wait_for_http(url, START_TIMEOUT, check=running, what=f"master {master.name} on {url}")


@contextlib.contextmanager
def running_masters(
    shared: SharedLedger, folder: Path, count: int = 2, workers: int = 2, threads: int = 4
) -> Iterator[list[Master]]:
    """``count`` masters serving ``shared``, started together and all stopped on exit (also
    when starting one of them failed)."""
    masters: list[Master] = []
    try:
        for i in range(count):
            masters.append(_start(shared, chr(ord("a") + i), folder, workers, threads))
        for master in masters:
            _wait_ready(master)
        yield masters
    finally:
        for master in masters:
            stop_process(master.proc, STOP_TIMEOUT, group=True)
