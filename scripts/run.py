"""Run the whole ledger: database, chain and contract, anchor worker, API; see ledger/cli/run.py."""

from ledger.cli.run import main

if __name__ == "__main__":
    raise SystemExit(main())
