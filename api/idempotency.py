"""``Idempotency-Key`` on POST: a retry returns the first outcome and never appends twice.

The record is written in the same transaction as the log entry it answers for. What it
stores (enough to rebuild the response, including a capability secret shown once) is
encrypted with a key derived from the caller and the Idempotency-Key itself, so the
database alone does not reveal it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import request
from sqlalchemy import Connection, Engine, insert, select

from api.problems import Problem
from ledger.complaints.records import IdempotencyRecord
from ledger.log.store import Rejected

MAX_KEY_LENGTH = 200


class AlreadyDone(Rejected):
    """The same Idempotency-Key was used by a request that already committed."""


@dataclass(frozen=True)
class Plan:
    principal: str
    key: str
    request_hash: bytes

    def _aead(self) -> AESGCM:
        material = f"ledger-idempotency\n{self.principal}\n{self.key}".encode()
        return AESGCM(hashlib.sha256(material).digest())

    def seal(self, outcome: dict[str, Any]) -> str:
        nonce = os.urandom(12)
        ct = self._aead().encrypt(nonce, json.dumps(outcome).encode(), None)
        return base64.b64encode(nonce + ct).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        raw = base64.b64decode(sealed)
        try:
            return json.loads(self._aead().decrypt(raw[:12], raw[12:], None))
        except InvalidTag as exc:
            raise Problem("conflict", "stored idempotent outcome cannot be opened") from exc

    def check(self, conn: Connection) -> None:
        """Inside the write transaction: refuse if this key already committed."""
        if _find(conn, self) is not None:
            raise AlreadyDone("this Idempotency-Key was already used")

    def writer(self, outcome: dict[str, Any], status: int = 201):
        """A write hook storing ``outcome`` plus the new entry's log index."""

        def write(
            conn: Connection, index: int, leaf_hash: bytes, more: dict[str, Any] | None = None
        ) -> None:
            sealed = self.seal(
                {**outcome, **(more or {}), "log_index": index, "leaf_hash": leaf_hash.hex()}
            )
            conn.execute(
                insert(IdempotencyRecord).values(
                    principal=self.principal,
                    key=self.key,
                    request_hash=self.request_hash,
                    status=status,
                    response=sealed,
                    created_at=datetime.now(UTC),
                )
            )

        return write


def _find(conn: Connection, plan: Plan):
    return conn.execute(
        select(IdempotencyRecord.request_hash, IdempotencyRecord.response).where(
            IdempotencyRecord.principal == plan.principal, IdempotencyRecord.key == plan.key
        )
    ).first()


def plan_for(principal: str) -> Plan | None:
    """The plan for this request, or None when it carries no Idempotency-Key."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem("bad-request", "Idempotency-Key must be 1 to 200 printable characters")
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + request.get_data()
    ).digest()
    return Plan(principal, key, digest)


def previous_outcome(engine: Engine, plan: Plan | None) -> dict[str, Any] | None:
    """The stored outcome of an earlier request with the same key (same request only)."""
    if plan is None:
        return None
    with engine.connect() as conn:
        row = _find(conn, plan)
    if row is None:
        return None
    if row.request_hash != plan.request_hash:
        raise Problem(
            "idempotency-key-reused",
            "this Idempotency-Key was used for a different request",
        )
    return plan.open(row.response)
