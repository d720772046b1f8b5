"""Back up, restore and verify the ledger's database; see ledger/cli/backup.py."""

from ledger.cli.backup import main

if __name__ == "__main__":
    raise SystemExit(main())
