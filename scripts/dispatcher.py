"""Run the message dispatcher; see ledger/cli/dispatcher.py."""

from ledger.cli.dispatcher import main

if __name__ == "__main__":
    raise SystemExit(main())
