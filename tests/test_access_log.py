"""gunicorn as the run command starts it: access lines are redacted JSON with route templates."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ledger.cli.run import gunicorn_command
from ledger.processes import free_port, start_process, stop_process
from tests.support.paths import ROOT
from tests.support.run_command import START_TIMEOUT, serving, wait_while_alive

pytestmark = pytest.mark.slow  # a gunicorn process

EMAIL = "jane.doe@example.com"


def test_access_lines_carry_no_reference_secret_or_query_string(tmp_path: Path):
    data, port = tmp_path / "data", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {"LEDGER_DATA_DIR": str(data), "LEDGER_RATE_LIMIT": "", "PYTHONUNBUFFERED": "1"}
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "keygen.py"), "--if-missing"],
        env=env, cwd=ROOT, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    args = argparse.Namespace(host="127.0.0.1", port=port, workers=1)
    log = tmp_path / "gunicorn.log"
    server = start_process(gunicorn_command(args), log=log, env=env, cwd=ROOT)
    try:
        api = f"http://127.0.0.1:{port}"
        wait_while_alive("gunicorn", serving(api), server, log, START_TIMEOUT)
        filed = requests.post(
            f"{api}/v1/complaints",
            json={"category": "sync_fault", "channel": "in_app", "description": EMAIL},
            timeout=10,
        ).json()
        ref, secret = filed["reference"], filed["secret"]
        status = requests.get(
            f"{api}/v1/complaints/{ref}",
            params={"lang": "pt", "email": EMAIL},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        )
        assert status.status_code == 200
        missing = requests.get(f"{api}/nowhere/{ref}?secret={secret}", timeout=10)
        assert missing.status_code == 404
    finally:
        stop_process(server, 30)

    text = log.read_text()
    for leaked in (ref, secret, secret.removeprefix("cs_"), EMAIL, "lang=pt", "/nowhere/"):
        assert leaked not in text, f"{leaked!r} in the server's output"
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    # Every line gunicorn or the application wrote is a JSON object (nothing plain).
    assert len(lines) == len([line for line in text.splitlines() if line.strip()])
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    seen = [(a["method"], a["path"], a["status"]) for a in access]
    # The readiness probes aside. Sorted: a thread logs its request after answering, so on a
    # busy machine the lines of consecutive requests may come out of order.
    assert sorted(s for s in seen if s[1] != "/v1/log/keys") == [
        ("GET", "/v1/complaints/<reference>", 200),
        ("GET", "<unmatched>", 404),
        ("POST", "/v1/complaints", 201),
    ]
    assert all(a["request_id"] and a["duration_ms"] >= 0 for a in access)
