"""The offline verifiers' commands: ``ledger-verify-bundle`` and ``ledger-verify-complaint``.

    ledger-verify-bundle BUNDLE.zip --log-key 'origin+1234abcd+AQ...'
    ledger-verify-bundle BUNDLE.zip --log-key ... --rpc https://rpc.example \\
        --contract 0x... --confirmations 6
    ledger-verify-complaint PROOF.json --log-key VERIFIER_KEY
    ledger-verify-complaint --url http://127.0.0.1:8000 --reference REF \\
        [--secret-file FILE] --log-key VERIFIER_KEY

(``python scripts/verify_bundle.py`` and ``python scripts/verify_complaint.py`` are the same.)
The log's verifier key should come from a source you trust, not only from the server or the
bundle. Both print every check in plain words (``--json``: the verification report,
``docs/spec/README.md``). Exit status: 0 only when every check passed, 1 otherwise (also for
input that is not a bundle or proof at all: unreadable, not JSON, wrong shape, nested too
deeply), 2 on a usage error.

The bundle checks (docs/evidence.md): every file's SHA-256 against the manifest, the
manifest's signature by the log key, the signed checkpoint, every inclusion proof, the
per-complaint hash chain and state machine, every disclosed body against its commitment,
officer signatures and their authority, erasures, and the consistency proof to the anchored
checkpoint. With --rpc also: the anchor transaction (block, confirmations, Anchored event,
LogAnchor code, the contract's stored state) and every on-chain compensation payment.

Imports only the standard library and the pure packages: no database, web framework or web3.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ledger.complaints.payloads import MAX_DEPTH
from ledger.jsondepth import text_depth
from ledger.verify.bundle import Options, verify_path
from ledger.verify.complaint import WELL_FORMED, verify_complaint_proof
from ledger.verify.onchain import DEFAULT_CONFIRMATIONS
from ledger.verify.report import Report
from ledger.verify.rpc import JsonRpcChain


def _print_json(report: Report) -> None:
    print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))


# --- evidence bundles and exports --------------------------------------------------------------


def _bundle_parser() -> argparse.ArgumentParser:
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
    parser.add_argument(
        "--explorer",
        action="append",
        default=[],
        metavar="CHAIN_ID=URL",
        help="a block explorer's transaction page for a chain, {tx} standing for the hash "
        "(e.g. 1=https://etherscan.io/tx/{tx}); payout checks name the link (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="print failures and the result only")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _explorers(values: list[str]) -> dict[int, str] | None:
    """``CHAIN_ID=URL`` arguments as a mapping; None when one is malformed."""
    out: dict[int, str] = {}
    for value in values:
        chain, _, url = value.partition("=")
        if not chain.isdigit() or "{tx}" not in url or not url.startswith(("https://", "http://")):
            return None
        out[int(chain)] = url
    return out


def bundle_main(argv: list[str] | None = None) -> int:
    """Verify an evidence bundle or export; prints every check, then notes and the result."""
    args = _bundle_parser().parse_args(argv)
    if not args.bundle.exists():
        print(f"error: {args.bundle} does not exist", file=sys.stderr)
        return 2
    if args.confirmations < 1:
        print("error: --confirmations must be at least 1", file=sys.stderr)
        return 2
    if (args.contract or args.payment_rpc) and not args.rpc:
        print("error: --contract and --payment-rpc need --rpc", file=sys.stderr)
        return 2
    explorers = _explorers(args.explorer)
    if explorers is None:
        print("error: --explorer is CHAIN_ID=URL with {tx} in the URL", file=sys.stderr)
        return 2
    options = Options(
        log_key=args.log_key,
        contract=args.contract,
        chain=JsonRpcChain(args.rpc) if args.rpc else None,
        payment_chains=tuple(JsonRpcChain(url) for url in args.payment_rpc),
        confirmations=args.confirmations,
        explorers=explorers,
    )
    report = verify_path(args.bundle, options)
    if args.json:
        _print_json(report)
    else:
        for line in report.lines():
            if not args.quiet or not line.startswith(("passed:", "note:")):
                print(line)
    return 0 if report.ok else 1


# --- complaint proofs ----------------------------------------------------------------------------


def _parse_proof(data: bytes) -> Any:
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
    """The proof from the server at ``url``; ValueError saying why it could not be had."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"cannot fetch the proof: {url} is not an http(s) URL")
    headers = {}
    if secret_file is not None:
        headers["Authorization"] = f"Bearer {_read(secret_file).decode('utf-8', 'replace').strip()}"
    request = urllib.request.Request(
        f"{url.rstrip('/')}/v1/complaints/{urllib.parse.quote(reference, safe='')}/proof",
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:  # an answer, but not the proof
        exc.close()
        status, body = exc.code, b""
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise ValueError(f"cannot fetch the proof: {type(exc).__name__}") from None
    if status != 200:
        raise ValueError(f"the server answered {status} instead of the proof")
    return bytes(body)


def complaint_main(argv: list[str] | None = None) -> int:
    """Verify a complaint's proof; prints every check, then the verdict (as the bundle tool)."""
    parser = argparse.ArgumentParser(
        description="Verify a complaint's proof offline: every leaf, proof, link, commitment "
        "and signature."
    )
    parser.add_argument("proof", nargs="?", type=Path, help="a saved proof JSON file")
    parser.add_argument("--url", help="server base URL, to fetch the proof")
    parser.add_argument("--reference", help="complaint reference (with --url)")
    parser.add_argument("--secret-file", type=Path, help="file holding the complaint's secret")
    parser.add_argument("--log-key", required=True, help="the log's verifier key")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not args.proof and not (args.url and args.reference):
        parser.error("give a proof file, or --url and --reference")
    # Whatever the input, the answer is a verdict: a failed check naming the problem.
    try:
        if args.proof:
            data = _read(args.proof)
        else:
            data = _fetch(args.url, args.reference, args.secret_file)
        report = verify_complaint_proof(_parse_proof(data), args.log_key)
    except ValueError as exc:
        report = Report()
        report.add(WELL_FORMED, False, str(exc), "checkpoint")
    if args.json:
        _print_json(report)
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1
