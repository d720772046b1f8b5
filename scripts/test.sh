#!/usr/bin/env bash
# Run the whole test suite. SQLite by default; PostgreSQL when LEDGER_DATABASE_URL is set.
# Arguments go to pytest: scripts/test.sh -m "not slow" is the fast loop (under a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/install_system_packages.sh  # Debian's chromium, jq and promtool
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-logo  # the layer contract in pyproject.toml
.venv/bin/python -m mypy  # strict on the pure log, domain and verifiers (pyproject.toml)
# One worker per CPU (pytest-xdist); work stealing evens out the long tests. The caller's
# own -n wins: -n 0 runs in this one process (for --pdb, -s).
exec .venv/bin/python -m pytest -n auto --dist worksteal "$@"
