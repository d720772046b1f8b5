"""Monitor a complaint ledger from the outside; see ledger/cli/monitor.py."""

from ledger.cli.monitor import main

if __name__ == "__main__":
    raise SystemExit(main())
