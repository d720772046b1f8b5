#!/usr/bin/env bash
# Production API server: gunicorn, several workers, every setting from the environment
# (docs/production.md lists them). The schema is migrated once before any worker starts.
#
#   LEDGER_DATABASE_URL=postgresql://ledger@db:5432/ledger \
#   LEDGER_REDIS_URL=redis://cache:6379/0 \
#   LEDGER_LOG_KEY_FILE=/etc/ledger/log.key \
#   LEDGER_BIND=0.0.0.0:8000 LEDGER_WORKERS=4 bash scripts/serve.sh
#
# Extra arguments go to gunicorn (e.g. --workers 8).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${LEDGER_PYTHON:-.venv/bin/python}
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-${LEDGER_DATA_DIR:-data}/prometheus}
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
"$PY" -m ledger.migrations upgrade
exec "$PY" -m gunicorn --config scripts/gunicorn.conf.py wsgi:app "$@"
