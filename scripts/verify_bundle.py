#!/usr/bin/env python3
"""Verify an evidence bundle (or a multi-complaint export) offline, with no ledger server.

    python scripts/verify_bundle.py BUNDLE.zip --log-key 'origin+1234abcd+AQ...'
    python scripts/verify_bundle.py BUNDLE.zip --log-key ... --rpc https://rpc.example \\
        --contract 0x... --confirmations 6

BUNDLE is a bundle ZIP, an export ZIP (index.json + bundles/), or an unpacked directory.
Prints every check as passed or FAILED in plain words, then notes on what could not be
checked. Exit status: 0 when every check passed, 1 when any failed, 2 on a usage error.

Checks (docs/evidence.md): every file's SHA-256 against the manifest, the manifest's
signature by the log key, the signed checkpoint, every inclusion proof, the per-complaint
hash chain and state machine, every disclosed body against its commitment, officer
signatures and their authority, erasures, and the consistency proof to the anchored
checkpoint. With --rpc also: the anchor transaction (block, confirmations, Anchored event,
LogAnchor code, the contract's stored state) and every on-chain compensation payment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.verify.bundle import DEFAULT_CONFIRMATIONS, Options, verify_path
from ledger.verify.rpc import JsonRpcChain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Verify an evidence bundle offline (exit 0 only if every check passes)."
    )
    parser.add_argument("bundle", type=Path, help="bundle or export ZIP, or an unpacked folder")
    parser.add_argument(
        "--log-key",
        metavar="VKEY",
        help="the log's verifier key (name+keyid+base64), obtained independently; "
        "without it the key named in the bundle is used (and a note says so)",
    )
    parser.add_argument("--rpc", metavar="URL", help="JSON-RPC URL of the anchor chain")
    parser.add_argument(
        "--contract", metavar="ADDRESS", help="the operator's published anchor contract"
    )
    parser.add_argument(
        "--confirmations",
        type=int,
        default=DEFAULT_CONFIRMATIONS,
        metavar="N",
        help=f"blocks required on top of each transaction, itself included "
        f"(default {DEFAULT_CONFIRMATIONS})",
    )
    parser.add_argument(
        "--payment-rpc",
        action="append",
        default=[],
        metavar="URL",
        help="JSON-RPC URL of another chain on which compensation was paid (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="print failures and the result only")
    args = parser.parse_args(argv)
    if not args.bundle.exists():
        print(f"error: {args.bundle} does not exist", file=sys.stderr)
        return 2
    if args.confirmations < 1:
        print("error: --confirmations must be at least 1", file=sys.stderr)
        return 2
    if (args.contract or args.payment_rpc) and not args.rpc:
        print("error: --contract and --payment-rpc need --rpc", file=sys.stderr)
        return 2
    options = Options(
        log_key=args.log_key,
        contract=args.contract,
        chain=JsonRpcChain(args.rpc) if args.rpc else None,
        payment_chains=tuple(JsonRpcChain(url) for url in args.payment_rpc),
        confirmations=args.confirmations,
    )
    report = verify_path(args.bundle, options)
    for line in report.lines():
        if not args.quiet or not line.startswith(("passed:", "note:")):
            print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
