"""Start the ledger on embedded defaults: data folder, log key, database, API server.

Usage: python scripts/run.py [--host 127.0.0.1] [--port 8000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ledger.config import Settings
from ledger.runtime import open_ledger

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("LEDGER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LEDGER_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("LEDGER_WORKERS", "2")))
    args = parser.parse_args(argv)

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = open_ledger(settings, create_key=True)  # creates key, schema and log if missing
    print(f"data folder : {settings.data_dir}")
    print(f"database    : {settings.database_url}")
    print(f"log         : {settings.log_origin}")
    print(f"verifier key: {ledger.store.verifier}")
    print(f"API         : http://{args.host}:{args.port}/  (OpenAPI at /openapi.json)")
    ledger.close()
    sys.stdout.flush()
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    os.execv(
        str(gunicorn),
        [
            str(gunicorn),
            "--chdir", str(ROOT),
            "--bind", f"{args.host}:{args.port}",
            "--workers", str(args.workers),
            "--threads", "8",
            "--access-logfile", "-",
            "wsgi:app",
        ],
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
