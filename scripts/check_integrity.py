"""Recompute the log and compare its tiles and checkpoints; see ledger/cli/check_integrity.py."""

from ledger.cli.check_integrity import main

if __name__ == "__main__":
    raise SystemExit(main())
