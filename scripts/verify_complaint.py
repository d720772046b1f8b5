"""Verify a complaint's proof offline: every leaf, proof, link, commitment and signature.

Usage:
  python scripts/verify_complaint.py PROOF.json --log-key VERIFIER_KEY
  python scripts/verify_complaint.py --url http://127.0.0.1:8000 --reference REF \\
      [--secret-file FILE] --log-key VERIFIER_KEY
The log's verifier key should come from a source you trust (not only from the server).
Exit status 0 only when every check passes, 1 otherwise (also for input that is not a
proof at all: unreadable, not JSON, wrong shape, nested too deeply), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ledger.complaints.payloads import MAX_DEPTH
from ledger.jsondepth import text_depth
from ledger.verify.complaint import WELL_FORMED, ProofReport, verify_complaint_proof


def parse_proof(data: bytes) -> Any:
    """The proof document from its bytes; ValueError saying why it is not one."""
    if text_depth(data, stop_above=MAX_DEPTH) > MAX_DEPTH:
        raise ValueError(f"the proof nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError too
        raise ValueError(f"not JSON: {exc}") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None


def _fetch(url: str, reference: str, secret_file: Path | None) -> bytes:
    import requests

    headers = {}
    if secret_file is not None:
        headers["Authorization"] = f"Bearer {_read(secret_file).decode('utf-8', 'replace').strip()}"
    try:
        r = requests.get(
            f"{url.rstrip('/')}/v1/complaints/{reference}/proof", headers=headers, timeout=30
        )
    except requests.RequestException as exc:
        raise ValueError(f"cannot fetch the proof: {type(exc).__name__}") from None
    if r.status_code != 200:
        raise ValueError(f"the server answered {r.status_code} instead of the proof")
    return r.content


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proof", nargs="?", type=Path, help="a saved proof JSON file")
    parser.add_argument("--url", help="server base URL, to fetch the proof")
    parser.add_argument("--reference", help="complaint reference (with --url)")
    parser.add_argument("--secret-file", type=Path, help="file holding the complaint's secret")
    parser.add_argument("--log-key", required=True, help="the log's verifier key")
    args = parser.parse_args(argv)
    if not args.proof and not (args.url and args.reference):
        parser.error("give a proof file, or --url and --reference")
    # Whatever the input, the answer is a verdict: a failed check naming the problem.
    try:
        if args.proof:
            data = _read(args.proof)
        else:
            data = _fetch(args.url, args.reference, args.secret_file)
        report = verify_complaint_proof(parse_proof(data), args.log_key)
    except ValueError as exc:
        report = ProofReport()
        report.add(WELL_FORMED, False, str(exc))
    for check in report.checks:
        mark = "PASS" if check.ok else "FAIL"
        print(f"[{mark}] {check.name}" + (f" — {check.detail}" if check.detail else ""))
    print("VERIFIED" if report.ok else "NOT VERIFIED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
