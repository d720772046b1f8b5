"""Run the anchor worker; see ledger/cli/anchor_worker.py."""

from ledger.cli.anchor_worker import main

if __name__ == "__main__":
    raise SystemExit(main())
