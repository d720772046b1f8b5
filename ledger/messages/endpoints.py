"""Webhook endpoints: registered by an admin, their secrets sealed at rest, the active ones
cached so that a step's write transaction asks the database at most every few seconds."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, insert, select, update

from ledger.complaints.vocab import COMPLAINT_EVENTS
from ledger.errors import LedgerError
from ledger.messages.ids import SLA_ALERT
from ledger.messages.models import WebhookEndpoint
from ledger.messages.webhooks import new_secret
from ledger.sealing import SecretBox

ALL_EVENTS = "*"
MAX_URL = 2000
CACHE_SECONDS = 5.0


class EndpointError(LedgerError, ValueError):
    """A webhook endpoint's URL or event types are not acceptable; ``field`` names which."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    event_types: tuple[str, ...]
    created_by: str
    created_at: datetime
    disabled_at: datetime | None

    def receives(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def check_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError:
        raise EndpointError("url", "not a URL") from None
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise EndpointError("url", "no spaces or control characters")
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        raise EndpointError("url", f"an http(s) URL of at most {MAX_URL} characters")
    if parts.username or parts.password:
        raise EndpointError("url", "no credentials in the URL: the signature authenticates us")
    if parts.fragment:
        raise EndpointError("url", "no fragment")
    return url


def check_event_types(event_types: Iterable[str] | None) -> tuple[str, ...]:
    """The subscribed step types, sorted; None or ``["*"]``: every step."""
    if event_types is None:
        return (ALL_EVENTS,)
    chosen = sorted(set(event_types))
    # Complaint steps, and the staff SLA alerts (ledger.messages.alerts; only when named:
    # "*" means every complaint step).
    known = {str(e) for e in COMPLAINT_EVENTS} | {SLA_ALERT}
    unknown = [e for e in chosen if e != ALL_EVENTS and e not in known]
    if not chosen or unknown:
        raise EndpointError(
            "event_types", f"complaint step types or '*' (unknown: {', '.join(unknown) or '-'})"
        )
    return (ALL_EVENTS,) if ALL_EVENTS in chosen else tuple(chosen)


_COLUMNS = (
    WebhookEndpoint.id,
    WebhookEndpoint.url,
    WebhookEndpoint.event_types,
    WebhookEndpoint.created_by,
    WebhookEndpoint.created_at,
    WebhookEndpoint.disabled_at,
)


def _endpoint(row) -> Endpoint:
    return Endpoint(row[0], row[1], tuple(row[2]), row[3], row[4], row[5])


class WebhookEndpoints:
    """The registry of endpoints; ``active(conn)`` is what the outbox asks on every step."""

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.box = box
        self.cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._active: tuple[float, tuple[Endpoint, ...]] | None = None
        self._lock = threading.Lock()

    def create(
        self, url: str, event_types: Iterable[str] | None, created_by: str
    ) -> tuple[Endpoint, str]:
        """Register an endpoint; returns it and its signing secret (shown this once)."""
        url, types = check_url(url), check_event_types(event_types)
        endpoint_id = "ep_" + secrets.token_hex(12)
        secret = new_secret()
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                insert(WebhookEndpoint).values(
                    id=endpoint_id,
                    url=url,
                    event_types=list(types),
                    secret_sealed=self.box.seal(endpoint_id, secret),
                    created_by=created_by,
                    created_at=now,
                )
            )
        self.forget()
        return Endpoint(endpoint_id, url, types, created_by, now, None), secret

    def list(self) -> list[Endpoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_COLUMNS).order_by(WebhookEndpoint.created_at))
            return [_endpoint(row) for row in rows]

    def get(self, endpoint_id: str) -> Endpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(WebhookEndpoint.id == endpoint_id)).first()
        return None if row is None else _endpoint(row)

    def disable(self, endpoint_id: str) -> Endpoint | None:
        """Stop sending to it (its undelivered messages are skipped); None if unknown."""
        with self.engine.begin() as conn:
            conn.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None))
                .values(disabled_at=datetime.now(UTC))
            )
        self.forget()
        return self.get(endpoint_id)

    def secret(self, endpoint_id: str) -> str | None:
        """The endpoint's signing secret, while it is active."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(WebhookEndpoint.secret_sealed).where(
                    WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None)
                )
            ).first()
        return None if row is None else self.box.open(endpoint_id, row[0])

    def active(self, conn: Connection) -> Sequence[Endpoint]:
        """The active endpoints, read through ``conn`` at most every ``cache_seconds``
        (another process's registration shows up here after that long)."""
        now = self._monotonic()
        cached = self._active
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        rows = conn.execute(select(*_COLUMNS).where(WebhookEndpoint.disabled_at.is_(None)))
        found = tuple(_endpoint(row) for row in rows)
        with self._lock:
            self._active = (now, found)
        return found

    def forget(self) -> None:
        with self._lock:
            self._active = None
