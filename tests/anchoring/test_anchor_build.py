"""The committed contract artifacts are exactly what the pinned compiler builds today."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "contracts" / "build"


@pytest.mark.slow
def test_rebuild_is_byte_identical_to_committed_artifacts(tmp_path: Path):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_contracts.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in ("LogAnchor", "PlainRootStore"):
        committed = (BUILD / f"{name}.json").read_bytes()
        rebuilt = (tmp_path / f"{name}.json").read_bytes()
        assert rebuilt == committed, f"{name}: run scripts/build_contracts.py and commit"
        art = json.loads(committed)
        assert art["deployedBytecode"].startswith("0x") and len(art["deployedBytecode"]) > 100
        assert art["settings"]["metadata"] == {"bytecodeHash": "none"}


def test_artifact_records_the_pinned_compiler():
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["solc"]
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/solc"]["version"] == pinned
    for name in ("LogAnchor", "PlainRootStore"):
        art = json.loads((BUILD / f"{name}.json").read_text())
        assert art["compiler"]["version"].startswith(pinned + "+commit.")


def test_anvil_is_pinned_with_its_linux_binary_package():
    pkg = json.loads((ROOT / "package.json").read_text())["dependencies"]["@foundry-rs/anvil"]
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    assert lock["node_modules/@foundry-rs/anvil"]["version"] == pkg
    assert lock["node_modules/@foundry-rs/anvil-linux-amd64"]["version"] == pkg
