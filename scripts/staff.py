"""Staff accounts: create, list, roles, reset TOTP, unlock, disable; see ledger/cli/staff.py."""

from ledger.cli.staff import main

if __name__ == "__main__":
    raise SystemExit(main())
