"""WSGI entry point: ``gunicorn wsgi:app`` (production: ``scripts/serve.sh``).

Logs are JSON lines on stderr (``LEDGER_LOG_FORMAT=text`` for plain text) at
``LEDGER_LOG_LEVEL``, written by a writer thread so request threads never wait on them;
every setting comes from the environment (docs/production.md).
A worker that starts while the database is unreachable waits for it (logging every few
seconds) instead of failing to boot, so the server comes back by itself when the database
does; ``LEDGER_STARTUP_DB_WAIT`` seconds (0: no limit) bounds that wait.
"""

import logging
import time

from sqlalchemy.exc import OperationalError

from api import create_app
from ledger.config import Settings
from ledger.logging_setup import configure_logging

settings = Settings()
configure_logging(settings.log_level, settings.log_format, buffered=True)


def _create_app():
    limit = settings.startup_db_wait
    started = time.monotonic()
    while True:
        try:
            return create_app(settings)
        except OperationalError as exc:
            waited = time.monotonic() - started
            if limit and waited > limit:
                raise
            logging.getLogger("ledger.startup").warning(
                "database unreachable at start (%s); retrying", type(exc).__name__
            )
            time.sleep(2)


app = _create_app()
