"""Run the message dispatcher: send what the outbox holds, record each customer message.

Configuration (environment; docs/messages.md):
  LEDGER_SMTP_URL                 smtp://, smtp+starttls:// or smtps://[user:password@]host[:port]
                                  (default: the local mail server, smtp://127.0.0.1:LEDGER_MAIL_PORT
                                  or 8025)
  LEDGER_MAIL_FROM                the sender address (default complaints@ledger.example)
  LEDGER_OUTBOX_MAX_ATTEMPTS      attempts before a message is dead (default 8)
  LEDGER_OUTBOX_BACKOFF_SECONDS   first retry delay, doubled per attempt, jittered (default 30)
  LEDGER_OUTBOX_LEASE_SECONDS     how long a claimed message is left to its dispatcher before
                                  another may send it again (default 120)
  LEDGER_OUTBOX_POLL_SECONDS      pause when there is nothing to do (default 1)
  LEDGER_SLA_SCAN_SECONDS         how often SLA warnings, breaches and automatic escalations
                                  are looked for (default 60; docs/sla.md)
  LEDGER_SLA_WARN_SHARE           share of a clock's span at which its warning goes (0.75)
  LEDGER_DATABASE_URL, LEDGER_DATA_DIR, LEDGER_LOG_ORIGIN, LEDGER_LOG_KEY_FILE   as for the
                                  rest of the ledger (it records message_sent on the log)

On PostgreSQL several dispatchers may run side by side; on SQLite run one.
"""

from __future__ import annotations

import argparse
import logging

from ledger.config import Settings
from ledger.log.keys import KeyFileError
from ledger.logstore.store import LogError
from ledger.messages.alerts import SlaMonitor
from ledger.messages.dispatcher import DispatchConfig, Dispatcher
from ledger.messages.errors import ConfigError
from ledger.messages.mailserver import DEFAULT_PORT
from ledger.messages.smtp import SmtpSender, parse_smtp_url, sender_domain
from ledger.messages.webhooks import WebhookSender
from ledger.processes import stop_on_signals
from ledger.runtime import Ledger, open_ledger

log = logging.getLogger("dispatcher")


def smtp_url(settings: Settings) -> str:
    """The configured SMTP server, or the local mail server's address."""
    return settings.smtp_url or f"smtp://127.0.0.1:{settings.mail_port or DEFAULT_PORT}"


def dispatch_config(settings: Settings) -> DispatchConfig:
    sender_domain(settings.mail_from)  # ConfigError now rather than at the first letter
    return DispatchConfig(
        mail_from=settings.mail_from,
        max_attempts=settings.outbox_max_attempts,
        backoff_seconds=settings.outbox_backoff_seconds,
        lease_seconds=settings.outbox_lease_seconds,
        poll_seconds=settings.outbox_poll_seconds,
    )


def build_monitor(ledger: Ledger) -> SlaMonitor:
    """The SLA monitor over the ledger's complaints, rules, staff and webhook endpoints."""
    assert ledger.messages is not None
    return SlaMonitor(
        engine=ledger.engine,
        reads=ledger.complaints.reads,
        writes=ledger.complaints.writes,
        endpoints=ledger.messages.endpoints,
        rules=ledger.service_rules,
        staff=ledger.staff,
        warn_share=ledger.settings.sla_warn_share,
    )


def build_dispatcher(ledger: Ledger) -> Dispatcher:
    settings = ledger.settings
    assert ledger.messages is not None
    return Dispatcher(
        engine=ledger.engine,
        store=ledger.store,
        reads=ledger.complaints.reads,
        writes=ledger.complaints.writes,
        endpoints=ledger.messages.endpoints,
        mailer=SmtpSender(parse_smtp_url(smtp_url(settings))),
        webhooks=WebhookSender(),
        config=dispatch_config(settings),
        staff=ledger.staff,
        sla=build_monitor(ledger),
        sla_every=settings.sla_scan_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="run one step and exit")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings()
        dispatch_config(settings)
        server = parse_smtp_url(smtp_url(settings))
        ledger = open_ledger(settings)
    except (ConfigError, KeyFileError, LogError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    try:
        dispatcher = build_dispatcher(ledger)
        log.info("dispatcher: SMTP %s, from %s", server.redacted(), settings.mail_from)
        if args.once:
            log.info("SLA: %d alert(s)", dispatcher.scan_sla())
            log.info("step: %d message(s)", dispatcher.step())
            return 0
        stop = stop_on_signals()
        dispatcher.run(stop)
        log.info("dispatcher stopped")
        return 0
    finally:
        ledger.close()


if __name__ == "__main__":
    raise SystemExit(main())
