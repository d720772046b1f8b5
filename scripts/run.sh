#!/usr/bin/env bash
# Run the whole system on embedded defaults (data folder ./data, SQLite, API on 127.0.0.1:8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python scripts/run.py "$@"
