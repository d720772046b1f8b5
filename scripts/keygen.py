"""Create the log signing key; see ledger/cli/keygen.py."""

from ledger.cli.keygen import main

if __name__ == "__main__":
    raise SystemExit(main())
