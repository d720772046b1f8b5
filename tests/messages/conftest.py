"""A ledger whose steps queue messages, a local mail server, a dispatcher with a clock the
test moves, and a webhook receiver that checks every delivery's signature."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ledger.complaints.events import Actor
from ledger.complaints.vocab import Role
from ledger.messages.dispatcher import DispatchConfig, Dispatcher
from ledger.messages.mailserver import MailServer
from ledger.messages.models import OutboxMessage
from ledger.messages.smtp import SmtpSender, parse_smtp_url
from ledger.messages.webhooks import WebhookSender
from ledger.processes import free_port

CUSTOMER = Actor(Role.CUSTOMER, "customer")
AGENT = Actor(Role.AGENT, "agent-7")
EMAIL = "jane.roe@example.org"
MAIL_FROM = "Complaints desk <complaints@ledger.example>"


def file_complaint(
    ledger, *, email: str | None = EMAIL, consent: bool = True, language: str = "en"
) -> str:
    """A complaint whose customer gave (or refused) an address to write to."""
    public = {"category": "sync_fault", "channel": "web_form", "language": language,
              "jurisdiction": "EU-PSD2"}  # fmt: skip
    contact: dict = {"name": "Jane Roe", "consent": consent}
    if email is not None:
        contact["email"] = email
    body = {"description": "My balance shows 0.", "contact": contact}
    recorded, _ = ledger.complaints.writes.file(public, body, CUSTOMER)
    return recorded.state.reference


def letter(subject: str = "We have your complaint", text: str = "Dear Jane Roe,\nThanks.") -> dict:
    return {"language": "en", "subject": subject, "text": text}


def acknowledge(ledger, reference: str, **kwargs):
    """The acknowledgement, with a letter written here (the templates are tested elsewhere)."""
    body = {"responsible": "Ana Agent", "message": letter(**kwargs)}
    return ledger.complaints.writes.record(
        reference, type="acknowledged", public={}, body=body, actor=AGENT
    )


def outbox(ledger) -> list[OutboxMessage]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.__table__).order_by("created_at")).all()
    return [OutboxMessage(**r._mapping) for r in rows]


def events_of(ledger, reference: str, type_: str) -> list:
    return [e for e in ledger.complaints.reads.events(reference) if e.envelope.type == type_]


class Clock:
    """The dispatcher's time: real time plus what the test skipped ahead."""

    def __init__(self) -> None:
        self.skipped = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.skipped

    def advance(self, seconds: float) -> None:
        self.skipped += timedelta(seconds=seconds)


@pytest.fixture
def mail_port() -> int:
    return free_port()


@pytest.fixture
def mail(tmp_path: Path, mail_port: int) -> Iterator[MailServer]:
    server = MailServer(tmp_path / "mail", port=mail_port).start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_dispatcher(ledger, mail_port: int, clock=None, **config) -> Dispatcher:
    config = {"backoff_seconds": 10.0, "max_attempts": 4, "lease_seconds": 60.0} | config
    return Dispatcher(
        engine=ledger.engine,
        store=ledger.store,
        reads=ledger.complaints.reads,
        writes=ledger.complaints.writes,
        endpoints=ledger.messages.endpoints,
        mailer=SmtpSender(parse_smtp_url(f"smtp://127.0.0.1:{mail_port}"), timeout=5),
        webhooks=WebhookSender(),
        config=DispatchConfig(mail_from=MAIL_FROM, **config),
        clock=clock or Clock(),
        rng=lambda: 0.0,  # backoff: exactly half the nominal delay
    )


@pytest.fixture
def dispatcher(ledger, mail_port: int, clock: Clock) -> Dispatcher:
    return make_dispatcher(ledger, mail_port, clock)


# --- a webhook receiver -------------------------------------------------------------------


@dataclass
class Receiver:
    """Verifies every request with standardwebhooks' Webhook.verify (all must pass) and keeps
    each webhook-id once; answers ``fail_first`` requests with 503 first."""

    secret: str = ""
    fail_first: int = 0
    requests: list[dict] = field(default_factory=list)  # every request, verified or not
    kept: dict[str, dict] = field(default_factory=dict)  # webhook-id -> payload
    bad_signatures: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.requests.append({"headers": headers, "body": raw})
                failing = len(receiver.requests) <= receiver.fail_first
            try:
                payload = Webhook(receiver.secret).verify(raw, headers)
            except WebhookVerificationError:
                with receiver.lock:
                    receiver.bad_signatures += 1
                self.send_response(400)
                self.end_headers()
                return
            if failing:
                self.send_response(503)
                self.end_headers()
                return
            with receiver.lock:
                receiver.kept.setdefault(headers["webhook-id"], payload)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(r))
    r.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield r
    server.shutdown()
    server.server_close()


def payloads(receiver: Receiver) -> list[dict]:
    return [json.loads(r["body"]) for r in receiver.requests]
