"""Run the payout worker; see ledger/cli/payout_worker.py."""

from ledger.cli.payout_worker import main

if __name__ == "__main__":
    raise SystemExit(main())
