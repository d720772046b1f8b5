"""The verifier a legal team or regulator installs alone: `pip install '.[verify]'` into a
fresh virtualenv gives `ledger-verify-bundle`, which verifies a bundle made here and fails a
tampered one, with no database, web framework or chain library installed."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support.bundles import get_bundle
from tests.support.complaint_api import run_lifecycle

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, cwd=cwd
    )


def test_pip_install_verify_gives_a_working_ledger_verify_bundle(
    actors, vkey, tmp_path, live_server
) -> None:
    ref, _ = run_lifecycle(actors)
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(get_bundle(actors, ref).content)
    live_server.stop()

    # From a copy of the source: a build in the checkout would leave build/ behind.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("ledger", "api"):
        shutil.copytree(ROOT / package, source / package, ignore=skip)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = _run(
        python, "-m", "pip", "install", "--quiet", "--no-input", f"{source}[verify]", cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # The small core: none of the server's libraries came with it.
    for absent in ("sqlalchemy", "flask", "web3", "reportlab"):
        probe = _run(python, "-c", f"import {absent}", cwd=tmp_path)
        assert probe.returncode != 0, f"{absent} was installed by the [verify] extra"

    tool = env_dir / "bin" / "ledger-verify-bundle"
    ok = _run(tool, bundle, "--log-key", vkey, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "passed: manifest.sig is the log key's signature over this manifest" in ok.stdout
    assert ok.stdout.strip().endswith("checks passed")

    with zipfile.ZipFile(bundle) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    proof = bytearray(files["proof.json"])
    proof[len(proof) // 2] ^= 1
    bad = tmp_path / "bad.zip"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in {**files, "proof.json": bytes(proof)}.items():
            zf.writestr(name, data)
    bad.write_bytes(out.getvalue())
    failed = _run(tool, bad, "--log-key", vkey, cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAILED" in failed.stdout
    assert sys.executable != str(python)
