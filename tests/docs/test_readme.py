"""The README as an executable document: its shell blocks, in order, against a running system.

Every fenced ``sh`` block of README.md runs in ONE bash process (``set -euo pipefail``, so
variables and functions carry over from block to block), with ``API`` and ``DATA`` pointing
at the whole system served by ``scripts/run.py`` on a free port with a fresh data folder. A
block is left out only when the README marks it, on the line just before it, with
``<!-- readme-test: skip (why) -->`` (the bootstrap commands, production setup).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.processes import free_port
from tests.support.paths import ROOT
from tests.support.run_command import START_TIMEOUT, Run, serving

README = ROOT / "README.md"
SKIP_MARK = re.compile(r"^<!--\s*readme-test:\s*skip\b.*-->$")
SCRIPT_TIMEOUT = 120


@dataclass(frozen=True)
class Block:
    line: int  # README line of the opening fence
    code: str
    skipped: bool


def shell_blocks(text: str) -> list[Block]:
    """The README's ```sh blocks, in order, each marked skipped or not."""
    blocks: list[Block] = []
    lines = text.splitlines()
    previous = ""  # the last non-blank line before the current one
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line == "```sh":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            code = "\n".join(lines[i + 1 : end])
            blocks.append(Block(i + 1, code, bool(SKIP_MARK.match(previous))))
            previous, i = "```", end + 1
            continue
        if line:
            previous = line
        i += 1
    return blocks


def bash_script(blocks: list[Block]) -> str:
    """One script: stop at the first failing command and say which README block it was in."""
    parts = [
        "set -euo pipefail",
        "README_LINE=0",
        "trap 'echo \"README.md block at line $README_LINE failed: $BASH_COMMAND\" >&2' ERR",
    ]
    for block in blocks:
        if not block.skipped:
            parts += [f"README_LINE={block.line}", block.code]
    return "\n".join(parts) + "\n"


def test_the_skip_marker_leaves_out_only_blocks_that_do_not_use_the_api():
    blocks = shell_blocks(README.read_text())
    skipped = [b for b in blocks if b.skipped]
    assert skipped and len(skipped) < len(blocks)
    for block in skipped:
        assert "$API" not in block.code, f"README.md line {block.line} is an API example"
    # Examples use $API, never a fixed address (it would pass here only by luck).
    for block in blocks:
        if not block.skipped:
            assert "127.0.0.1:" not in block.code.replace("${API:-http://127.0.0.1:8000}", "")


def test_parser_honours_the_marker_only_right_before_a_block():
    text = "<!-- readme-test: skip (x) -->\n\n```sh\nA\n```\ntext\n```sh\nB\n```\n"
    text += "<!-- readme-test: skip -->\nprose\n```sh\nC\n```\n"
    assert [(b.code, b.skipped) for b in shell_blocks(text)] == [
        ("A", True),
        ("B", False),
        ("C", False),
    ]


@pytest.mark.slow
@pytest.mark.evm
def test_readme_shell_blocks_run_in_order_against_the_running_system(tmp_path: Path):
    if shutil.which("jq") is None or shutil.which("curl") is None:
        pytest.fail("the README's examples need curl and jq: apt-get install -y curl jq")
    data, work = tmp_path / "data", tmp_path / "work"
    work.mkdir()
    # The README's commands run from the repository root; here from a scratch folder that
    # links what they use, so their output files (proof.json, evidence.zip, ...) stay out
    # of the checkout.
    for name in (".venv", "scripts"):
        (work / name).symlink_to(ROOT / name)
    api_port, chain_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    # Embedded defaults only, as `bash scripts/run.sh` on a fresh checkout.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    server_env = clean | {
        "LEDGER_DATA_DIR": str(data),
        "LEDGER_PORT": str(api_port),
        "LEDGER_DEV_CHAIN_PORT": str(chain_port),
        "LEDGER_WORKERS": "1",
        "LEDGER_ANCHOR_POLL_SECONDS": "0.2",
    }
    run = Run(server_env, tmp_path / "run.log")
    try:
        run.wait("the API", serving(api), START_TIMEOUT)
        script = bash_script(shell_blocks(README.read_text()))
        proc = subprocess.run(
            ["bash", "-c", script],
            cwd=work,
            env=clean | {"API": api, "DATA": str(data)},  # nothing else: the README sets it
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            check=False,
        )
        assert proc.returncode == 0, (
            f"{proc.stderr[-6000:]}\n--- stdout ---\n{proc.stdout[-4000:]}\n"
            f"--- server ---\n{(tmp_path / 'run.log').read_text()[-3000:]}"
        )
        # The public files the README reads: the verifier key and the chain record.
        assert (data / "log.vkey").stat().st_mode & 0o777 == 0o644
        assert (data / "chain.json").stat().st_mode & 0o777 == 0o644
        assert run.stop() == 0
    finally:
        run.kill_leftovers()
