"""Deploy LogAnchor once per chain and remember its address in the data folder (idempotent).

Re-running finds the recorded address, checks the code there is the committed artifact's
runtime bytecode, makes sure the submitter is authorised, and deploys nothing. A recorded
address without that code (a dev chain that was reset) is redeployed and the record replaced.

    LEDGER_CHAIN_RPC_URL=http://127.0.0.1:8545 LEDGER_ANCHOR_KEY_FILE=data/anchor.key \\
        python scripts/deploy_contract.py [--owner-key-file F] [--create-key] [--dev-fund]

The owner key (default: the submitter key) deploys and owns the contract; the submitter key's
address is authorised to anchor. Keys are read from files and never printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from web3 import Web3

from ledger.anchoring.config import ConfigError, load_account, write_new_key
from ledger.anchoring.deploy import DeployError, ensure_contract
from ledger.config import Settings

DEV_FUNDING = 10**21


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc-url", default=settings.chain_rpc_url)
    parser.add_argument(
        "--key-file",
        type=Path,
        default=settings.anchor_env.get("LEDGER_ANCHOR_KEY_FILE"),
        help="submitter key file",
    )
    parser.add_argument("--owner-key-file", type=Path, help="owner key file (default: submitter)")
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--create-key", action="store_true", help="create a missing key file")
    parser.add_argument(
        "--dev-fund", action="store_true", help="on anvil only: give the keys test ether"
    )
    args = parser.parse_args(argv)
    if not args.rpc_url or not args.key_file:
        parser.error("LEDGER_CHAIN_RPC_URL and LEDGER_ANCHOR_KEY_FILE (or flags) are required")
    try:
        if args.create_key and not args.key_file.exists():
            write_new_key(args.key_file)
            print(f"created submitter key file {args.key_file}")
        submitter = load_account(args.key_file)
        owner = load_account(args.owner_key_file) if args.owner_key_file else submitter
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    w3 = Web3(Web3.HTTPProvider(args.rpc_url, request_kwargs={"timeout": 30}))
    if args.dev_fund:
        if not str(w3.client_version).lower().startswith("anvil"):
            print("error: --dev-fund only works on anvil", file=sys.stderr)
            return 2
        for account in {owner.address, submitter.address}:
            w3.provider.make_request("anvil_setBalance", [account, hex(DEV_FUNDING)])

    try:
        ensure_contract(w3, owner, submitter.address, args.data_dir, say=print)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
