"""Run the local mail server; see ledger/cli/mail_server.py."""

from ledger.cli.mail_server import main

if __name__ == "__main__":
    raise SystemExit(main())
