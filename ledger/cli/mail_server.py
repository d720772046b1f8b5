"""Run the local mail server: keep every message received in <data>/mail/<message-id>.eml.

For development and tests (the run command starts it when LEDGER_SMTP_URL is unset): it
listens on 127.0.0.1 only, keeps each Message-ID once and logs every receipt in
<data>/mail/receipts.log. Not a relay: nothing leaves the machine.
"""

from __future__ import annotations

import argparse

from ledger.config import Settings
from ledger.messages.mailserver import DEFAULT_PORT, MailServer, mail_folder
from ledger.processes import stop_on_signals


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=settings.mail_port or DEFAULT_PORT,
        help=f"port to listen on (LEDGER_MAIL_PORT, default {DEFAULT_PORT})",
    )  # fmt: skip
    parser.add_argument(
        "--reply-delay", type=float, default=0.0, metavar="SECONDS",
        help="wait this long between keeping a message and answering 250 (fault tests)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    folder = mail_folder(settings.data_dir)
    try:
        server = MailServer(folder, args.host, args.port, args.reply_delay).start()
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", flush=True)
        return 2
    print(f"mail server on {server.url}; messages kept in {folder}", flush=True)
    stop = stop_on_signals()
    try:
        stop.wait()
    finally:
        server.stop()
    print("mail server stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
