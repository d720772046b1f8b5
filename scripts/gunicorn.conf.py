"""gunicorn settings for production (``scripts/serve.sh``); every value from the environment.

LEDGER_BIND            address to listen on (default: LEDGER_HOST:LEDGER_PORT, 127.0.0.1:8000)
LEDGER_WORKERS         worker processes (default 4)
LEDGER_THREADS         threads per worker (default 8; the log's group commit batches them)
LEDGER_WORKER_TIMEOUT  seconds before a silent worker is killed and replaced (default 30)
LEDGER_ACCESS_LOG      1: also write gunicorn's access log (JSON); the application already
                       logs one JSON line per request (logger ledger.request)
LEDGER_LOG_LEVEL       gunicorn's error log level too (default INFO)
FORWARDED_ALLOW_IPS    proxies whose X-Forwarded-* headers are trusted (gunicorn's own)
PROMETHEUS_MULTIPROC_DIR  metrics of all workers are summed through files here; it is
                       emptied when the server starts
"""

import os
import shutil
from pathlib import Path

_env = os.environ.get

bind = _env("LEDGER_BIND") or f"{_env('LEDGER_HOST', '127.0.0.1')}:{_env('LEDGER_PORT', '8000')}"
workers = int(_env("LEDGER_WORKERS", "4"))
threads = int(_env("LEDGER_THREADS", "8"))
worker_class = "gthread"
timeout = int(_env("LEDGER_WORKER_TIMEOUT", "30"))
graceful_timeout = int(_env("LEDGER_GRACEFUL_TIMEOUT", "10"))
keepalive = 5
control_socket_disable = True  # one per user by default: two servers would collide
errorlog = "-"
accesslog = "-" if _env("LEDGER_ACCESS_LOG", "0") == "1" else None
loglevel = _env("LEDGER_LOG_LEVEL", "info").lower()
logger_class = "ledger.logging_setup.GunicornLogger"
proc_name = "ledger-api"


def on_starting(server):
    """Empty the metrics folder: files of processes of an earlier run would be summed in."""
    folder = _env("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    """A worker exited (or was killed): drop its live gauges from the summed metrics."""
    if _env("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
