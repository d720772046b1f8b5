"""Deploy LogAnchor once per chain; see ledger/cli/deploy_contract.py."""

from ledger.cli.deploy_contract import main

if __name__ == "__main__":
    raise SystemExit(main())
