#!/usr/bin/env bash
# Run the whole test suite. SQLite by default; PostgreSQL when LEDGER_DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/install_browser.sh  # Debian's chromium, for the /verify page browser tests
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
