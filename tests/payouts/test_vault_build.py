"""The vault's and the test token's artifacts are what the pinned compiler builds today."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "contracts" / "build"
NAMES = ("CompensationVault", "TestToken")


def test_artifacts_match_their_sources_and_the_pinned_compiler():
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["solc"]
    for name in NAMES:
        art = json.loads((BUILD / f"{name}.json").read_text())
        source = (ROOT / art["sourcePath"]).read_bytes()
        assert art["sourceSha256"] == hashlib.sha256(source).hexdigest(), (
            f"{name}: run scripts/build_contracts.py and commit"
        )
        assert art["compiler"]["version"].startswith(pinned + "+commit.")
        assert art["settings"]["metadata"] == {"bytecodeHash": "none"}
    # The vault's anchor and log id are immutables: code comparisons must skip them.
    vault = json.loads((BUILD / "CompensationVault.json").read_text())
    assert len(vault["immutableReferences"]) == 2


@pytest.mark.slow
def test_rebuild_is_byte_identical(tmp_path: Path):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_contracts.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in NAMES:
        committed = (BUILD / f"{name}.json").read_bytes()
        assert (tmp_path / f"{name}.json").read_bytes() == committed, name
