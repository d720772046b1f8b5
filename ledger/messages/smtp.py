"""Email over SMTP (smtplib): the URL of the server, the message, and its delivery.

``LEDGER_SMTP_URL``: ``smtp://host[:25]`` (plain, for a local relay), ``smtp+starttls://
host[:587]`` (STARTTLS required) or ``smtps://host[:465]`` (TLS from the start), with an
optional percent-encoded ``user:password@``. Each letter is a text/plain UTF-8 message whose
Message-ID is ``<message_id@domain of the sender>``: the same on every retry, so a receiver
that keeps messages by Message-ID keeps each once.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

from ledger.messages.errors import ConfigError, DeliveryError

SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}
TIMEOUT = 30.0  # seconds per SMTP command and connection
HEADER_MESSAGE_ID = "X-Ledger-Message-Id"
HEADER_REFERENCE = "X-Ledger-Reference"


@dataclass(frozen=True)
class SmtpServer:
    security: str  # "plain", "starttls" or "tls"
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def redacted(self) -> str:
        """The URL without the password, for logs and the run command's summary."""
        scheme = next(s for s, (sec, _) in SCHEMES.items() if sec == self.security)
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpServer:
    """The server of an ``LEDGER_SMTP_URL``; ConfigError says what is wrong (never quoting
    the password)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(
            f"LEDGER_SMTP_URL must start with {', '.join(s + '://' for s in SCHEMES)}"
        )
    security, default_port = SCHEMES[scheme]
    if not parts.hostname:
        raise ConfigError("LEDGER_SMTP_URL has no host")
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise ConfigError("LEDGER_SMTP_URL has an invalid port") from exc
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError("LEDGER_SMTP_URL takes no path, query or fragment")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ConfigError("LEDGER_SMTP_URL has a password without a user")
    return SmtpServer(security, parts.hostname, port, username, password)


def sender_domain(mail_from: str) -> str:
    """The domain of ``LEDGER_MAIL_FROM`` (``Name <box@domain>`` or ``box@domain``)."""
    _, address = parseaddr(mail_from)
    box, at, domain = address.rpartition("@")
    if not (box and at and domain) or any(c.isspace() for c in address):
        raise ConfigError("LEDGER_MAIL_FROM must be an address such as complaints@example.com")
    return domain


def delivered_text(text: str) -> str:
    """The text exactly as a reader of the delivered message decodes it: lines ending in
    ``\\n``, the last one too (what a text/plain part carries)."""
    return "".join(line + "\n" for line in text.splitlines())


def build_email(
    *,
    mail_from: str,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    reference: str,
    when: datetime,
) -> EmailMessage:
    """A text/plain UTF-8 message with a Message-ID derived from ``message_id``."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{message_id}@{sender_domain(mail_from)}>"
    msg[HEADER_MESSAGE_ID] = message_id
    msg[HEADER_REFERENCE] = reference
    msg.set_content(delivered_text(text), subtype="plain", charset="utf-8")
    return msg


def valid_address(address: str) -> bool:
    """Whether ``address`` can go in a To header (one mailbox, no display name)."""
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError):
        return False
    return True


class SmtpSender:
    """Delivers messages to one SMTP server, one connection per message (a dispatcher sends
    a few at a time; a failure leaves no half-open session behind)."""

    def __init__(self, server: SmtpServer, timeout: float = TIMEOUT) -> None:
        self.server = server
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        s = self.server
        if s.security == "tls":
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=context)
        conn = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        if s.security == "starttls":
            conn.starttls(context=ssl.create_default_context())
        return conn

    def send(self, msg: EmailMessage) -> None:
        """Deliver ``msg``; DeliveryError (permanent for a 5xx reply) when it was not taken."""
        try:
            with self._connect() as conn:
                if self.server.username:
                    conn.login(self.server.username, self.server.password or "")
                refused = conn.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"SMTP recipient refused ({', '.join(map(str, codes))})",
                permanent=all(c >= 500 for c in codes),
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            # The operator's credentials, not this message: retried once they are fixed.
            raise DeliveryError(f"SMTP authentication failed ({exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            detail = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: {detail}", permanent=exc.smtp_code >= 500
            ) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS
            raise DeliveryError(f"SMTP server unreachable: {type(exc).__name__}") from None
        if refused:
            codes = [code for code, _ in refused.values()]
            raise DeliveryError(
                f"SMTP recipient refused ({', '.join(map(str, codes))})",
                permanent=all(c >= 500 for c in codes),
            )
