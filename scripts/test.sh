#!/usr/bin/env bash
# Run the whole test suite. SQLite by default; PostgreSQL when LEDGER_DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
