"""Officer signing keys: create one, show it, sign with it; see ledger/cli/officer.py."""

from ledger.cli.officer import main

if __name__ == "__main__":
    raise SystemExit(main())
