"""Verify a complaint's proof offline: every leaf, proof, link, commitment and signature.

Usage:
  python scripts/verify_complaint.py PROOF.json --log-key VERIFIER_KEY
  python scripts/verify_complaint.py --url http://127.0.0.1:8000 --reference REF \\
      [--secret-file FILE] --log-key VERIFIER_KEY
The log's verifier key should come from a source you trust (not only from the server).
Exit status 0 only when every check passes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ledger.complaints.proofs import verify_complaint_proof


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proof", nargs="?", type=Path, help="a saved proof JSON file")
    parser.add_argument("--url", help="server base URL, to fetch the proof")
    parser.add_argument("--reference", help="complaint reference (with --url)")
    parser.add_argument("--secret-file", type=Path, help="file holding the complaint's secret")
    parser.add_argument("--log-key", required=True, help="the log's verifier key")
    args = parser.parse_args(argv)
    if args.proof:
        proof = json.loads(args.proof.read_text())
    elif args.url and args.reference:
        import requests

        headers = {}
        if args.secret_file:
            headers["Authorization"] = f"Bearer {args.secret_file.read_text().strip()}"
        r = requests.get(
            f"{args.url.rstrip('/')}/v1/complaints/{args.reference}/proof",
            headers=headers,
            timeout=30,
        )
        r.raise_for_status()
        proof = r.json()
    else:
        parser.error("give a proof file, or --url and --reference")
    report = verify_complaint_proof(proof, args.log_key)
    for check in report.checks:
        mark = "PASS" if check.ok else "FAIL"
        print(f"[{mark}] {check.name}" + (f" — {check.detail}" if check.detail else ""))
    print("VERIFIED" if report.ok else "NOT VERIFIED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
