"""The one verification report (ledger/verify/report.py): its verdict, its text, its JSON shape
(docs/spec/README.md) and the guard that turns any exception into a failed check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ledger.verify.cli import bundle_main
from ledger.verify.report import Report, checked

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "bundles-v1"
VKEY = (VECTORS / "verifier-key.txt").read_text().strip()


def test_a_skip_is_neither_a_pass_nor_a_failure() -> None:
    report = Report()
    report.skip("the anchor was not checked against the chain", "no --rpc", "chain_anchor")
    assert not report.ok and report.failures == []  # nothing was verified
    assert report.add("checkpoint is signed by the log", True, "tree size 3", "checkpoint")
    assert report.ok
    assert not report.add("event 0 (received) is in the log", False, "", "inclusion")
    assert not report.ok and [c.name for c in report.failures] == [
        "event 0 (received) is in the log"
    ]
    assert report.lines() == [
        "passed: checkpoint is signed by the log (tree size 3)",
        "FAILED: event 0 (received) is in the log",
        "note: the anchor was not checked against the chain (no --rpc)",
        "RESULT: 1 of 2 checks FAILED",
    ]
    assert report.to_json() == {
        "ok": False,
        "checks": [
            {
                "category": "chain_anchor",
                "name": "the anchor was not checked against the chain",
                "status": "skip",
                "detail": "no --rpc",
            },
            {
                "category": "checkpoint",
                "name": "checkpoint is signed by the log",
                "status": "ok",
                "detail": "tree size 3",
            },
            {
                "category": "inclusion",
                "name": "event 0 (received) is in the log",
                "status": "fail",
                "detail": "",
            },
        ],
    }


def test_checked_turns_any_exception_into_a_failed_check() -> None:
    def recurse(n: int) -> int:
        return recurse(n + 1)

    def boom(report: Report) -> None:
        report.add("first check", True)
        raise KeyError("events")

    report = Report()
    checked(report, "the proof is well-formed", boom, report, category="checkpoint")
    checked(report, "the bundle could be checked", recurse, 0, category="files")
    assert [(c.name, c.status, c.detail, c.category) for c in report.checks] == [
        ("first check", "ok", "", ""),
        ("the proof is well-formed", "fail", "KeyError: 'events'", "checkpoint"),
        ("the bundle could be checked", "fail", "nested too deeply to verify", "files"),
    ]


def test_the_command_prints_the_report_as_json(capsys) -> None:
    assert bundle_main([str(VECTORS / "unanchored.zip"), "--log-key", VKEY, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and len(report["checks"]) > 25
    assert {c["status"] for c in report["checks"]} == {"ok", "skip"}
    assert all(set(c) == {"category", "name", "status", "detail"} for c in report["checks"])
    assert all(c["category"] for c in report["checks"])
    assert bundle_main([str(VECTORS / "unanchored.zip"), "--log-key", "x", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["checks"][-1]["category"] == "key"


def test_the_complaint_command_prints_a_failed_report_as_json(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text("[1, 2]")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify_complaint.py"), str(path),
         "--log-key", VKEY, "--json"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout) == {
        "ok": False,
        "checks": [
            {
                "category": "checkpoint",
                "name": "the proof is well-formed",
                "status": "fail",
                "detail": "a proof is a JSON object, not list",
            }
        ],
    }
