"""Idempotency records at rest: found by a keyed hash, answers sealed, expired ones purged.

A POST retried with the same ``Idempotency-Key`` gets the first answer back, and that
answer may hold a customer's capability secret (shown once). So the database row holds:

- ``key_hash`` = HMAC-SHA256(server secret, principal, Idempotency-Key): the key is never
  stored, and a row cannot be tied to a key or to a caller without the server secret. For
  anonymous filers (who all share one principal) the request hash is part of it too, so a
  record is found only by a byte-identical request (see ``api/idempotency.py``).
- ``request_mac`` = HMAC-SHA256(server secret, key_hash, request hash): tells a retry from a
  different request under the same key.
- ``response``: the answer sealed with AES-256-GCM under a key derived from the server
  secret, the principal, the raw Idempotency-Key and the request hash. Only a caller
  retrying the same request holds the last two: neither a copy of the database nor the
  server secret alone opens a record.
- ``created_at``: a record older than the TTL (``LEDGER_IDEMPOTENCY_TTL``, 24 h by default)
  is ignored, and deleted when the ledger opens and then every hour (``ledger.periodic.Periodic``).

The server secret is a 32-byte file (``LEDGER_SERVER_KEY_FILE``, default
``<data>/server.key``, mode 0600), made on first start. Every API process of one ledger
must use the same file; losing it only makes stored records unrecognisable (a retry after
that is a new request).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, delete, insert, select

from ledger.casework.records import IdempotencyRecord
from ledger.errors import LedgerError
from ledger.periodic import Periodic

PURGE_INTERVAL_SECONDS = 3600.0
NONCE_BYTES = 12


class CannotOpen(LedgerError):
    """A stored answer does not open with this request's keys (tampered or foreign row)."""


def _mac(secret: bytes, label: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256 over a label and length-prefixed parts (no two inputs encode alike)."""
    msg = label + b"\0" + b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return hmac.new(secret, msg, hashlib.sha256).digest()


@dataclass(frozen=True)
class RecordKeys:
    """What one request's idempotency record is found, checked and sealed with (derived)."""

    key_hash: bytes
    request_mac: bytes = field(repr=False)
    seal_key: bytes = field(repr=False)

    def seal(self, outcome: dict[str, Any]) -> str:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(outcome).encode()
        sealed = AESGCM(self.seal_key).encrypt(nonce, plain, self.key_hash)
        return base64.b64encode(nonce + sealed).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            raw = base64.b64decode(sealed, validate=True)
            plain = AESGCM(self.seal_key).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], self.key_hash
            )
        except (InvalidTag, ValueError) as exc:  # ValueError: not base64, or too short
            raise CannotOpen("stored idempotent outcome cannot be opened") from exc
        return json.loads(plain)

    def same_request(self, stored_mac: bytes) -> bool:
        return hmac.compare_digest(self.request_mac, stored_mac)


@dataclass(frozen=True)
class Found:
    """A live (not expired) record."""

    request_mac: bytes
    response: str


class IdempotencyRecords:
    """The idempotency records of one ledger: key derivation, lookup, writing, purging."""

    def __init__(self, engine: Engine, server_secret: bytes, ttl_seconds: int) -> None:
        if len(server_secret) < 32:
            raise ValueError("the idempotency server secret must be at least 32 bytes")
        self.engine = engine
        self._secret = server_secret
        self.ttl = timedelta(seconds=ttl_seconds)
        self._purger: Periodic | None = None

    def __repr__(self) -> str:  # never the secret
        return f"IdempotencyRecords(ttl={self.ttl.total_seconds():g}s)"

    def keys_for(
        self, principal: str, key: str, request_hash: bytes, *, bind_request: bool
    ) -> RecordKeys:
        """The keys of the record of ``key`` sent by ``principal`` with this request.

        ``bind_request``: the record is found only by this exact request (anonymous filers).
        """
        who, what = principal.encode(), key.encode()
        scope = request_hash if bind_request else b""
        key_hash = _mac(self._secret, b"ledger-idempotency-key", who, what, scope)
        return RecordKeys(
            key_hash=key_hash,
            request_mac=_mac(self._secret, b"ledger-idempotency-request", key_hash, request_hash),
            seal_key=_mac(self._secret, b"ledger-idempotency-seal", who, what, request_hash),
        )

    def cutoff(self, now: datetime | None = None) -> datetime:
        """Records created at or before this instant have expired."""
        return (now or datetime.now(UTC)) - self.ttl

    def find(self, conn: Connection, keys: RecordKeys) -> Found | None:
        """The live record with ``keys.key_hash``, if any."""
        row = conn.execute(
            select(IdempotencyRecord.request_mac, IdempotencyRecord.response).where(
                IdempotencyRecord.key_hash == keys.key_hash,
                IdempotencyRecord.created_at > self.cutoff(),
            )
        ).first()
        return None if row is None else Found(row.request_mac, row.response)

    def taken(self, conn: Connection, keys: RecordKeys) -> bool:
        """Whether a live record holds ``keys.key_hash``; an expired one is deleted so a new
        record can take its place. One round trip when there is no record (the usual case:
        this runs inside the log's write transaction)."""
        created = conn.execute(
            select(IdempotencyRecord.created_at).where(IdempotencyRecord.key_hash == keys.key_hash)
        ).scalar()
        if created is None:
            return False
        if created > self.cutoff():
            return True
        conn.execute(delete(IdempotencyRecord).where(IdempotencyRecord.key_hash == keys.key_hash))
        return False

    def write(
        self, conn: Connection, keys: RecordKeys, outcome: dict[str, Any], status: int
    ) -> None:
        """Store ``outcome`` sealed (in the caller's transaction: the log entry's own)."""
        conn.execute(
            insert(IdempotencyRecord).values(
                key_hash=keys.key_hash,
                request_mac=keys.request_mac,
                status=status,
                response=keys.seal(outcome),
                created_at=datetime.now(UTC),
            )
        )

    def purge(self, now: datetime | None = None) -> int:
        """Delete every expired record; the number deleted."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at <= self.cutoff(now))
            )
        return result.rowcount or 0

    def start_purging(self, interval: float = PURGE_INTERVAL_SECONDS) -> None:
        """Purge now, then every ``interval`` seconds in a daemon thread until ``close``."""
        self.purge()
        if self._purger is None:
            self._purger = Periodic("idempotency-purge", interval, self.purge)

    def close(self) -> None:
        if self._purger is not None:
            self._purger.stop()
            self._purger = None
