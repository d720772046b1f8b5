"""The alerting rules shipped in docs/alerts/ pass promtool's check and their unit tests, and
name only metrics the ledger exports."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support.paths import ROOT

RULES = ROOT / "docs" / "alerts"


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool from Debian's prometheus package, installed if missing."""
    if shutil.which("promtool") is None:
        subprocess.run(["bash", str(ROOT / "scripts" / "install_system_packages.sh")], check=False,
                       capture_output=True, timeout=900)  # fmt: skip
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is required: scripts/install_system_packages.sh did not install it")
    return found


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=RULES, capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_rules(promtool: str) -> None:
    done = _run(promtool, "check", "rules", "ledger.rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_pass_their_unit_tests(promtool: str) -> None:
    done = _run(promtool, "test", "rules", "ledger.rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_use_exported_metrics(client) -> None:
    exported = client.get("/metrics").get_data(as_text=True)
    names = set(re.findall(r"\b(ledger_[a-z_]+)", (RULES / "ledger.rules.yml").read_text()))
    missing = {n for n in names if not re.search(rf"^(# TYPE )?{n}[{{ ]", exported, re.M)}
    assert not missing
