"""Create or revoke a scoped API key; see ledger/cli/create_api_key.py."""

from ledger.cli.create_api_key import main

if __name__ == "__main__":
    raise SystemExit(main())
