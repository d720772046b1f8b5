"""``Idempotency-Key`` on POST: a retry returns the first outcome and never appends twice.

The record is written in the same transaction as the log entry it answers for. It is found
by a keyed hash of (caller, key) and its answer (which may hold a capability secret shown
once) is sealed with a key derived from the server secret, the caller, the Idempotency-Key
and the request: see ``ledger.idempotency``. Records expire after LEDGER_IDEMPOTENCY_TTL.

Scope of a key:

- An authenticated caller (API key, or a complaint's secret) owns its keys: a retry of the
  same request gets the first answer, a different request with a used key gets 422
  ``idempotency-key-reused``.
- Anonymous filers all share one principal, so their keys are bound to the request too: a
  record is found only by a byte-identical request (same method, path and body), and is
  opened with material from that request. Another filer reusing a key with any other
  body files a new complaint and learns nothing about the key's earlier use; an
  anonymous retry must resend exactly the same body.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from flask import g, request
from sqlalchemy import Connection, Engine

from api.auth import ANONYMOUS
from api.context import get_ledger
from api.problems import Problem
from ledger.idempotency import CannotOpen, IdempotencyRecords, RecordKeys
from ledger.logstore.store import Rejected

MAX_KEY_LENGTH = 200


class AlreadyDone(Rejected):
    """The same Idempotency-Key was used by a request that already committed."""


@dataclass(frozen=True)
class Plan:
    records: IdempotencyRecords
    keys: RecordKeys

    def check(self, conn: Connection) -> None:
        """Inside the write transaction: refuse if this key already committed."""
        if self.records.taken(conn, self.keys):
            raise AlreadyDone("this Idempotency-Key was already used")

    def writer(self, outcome: dict[str, Any], status: int = 201):
        """A write hook storing ``outcome`` plus the new entry's log index."""

        def write(
            conn: Connection, index: int, leaf_hash: bytes, more: dict[str, Any] | None = None
        ) -> None:
            answer = {**outcome, **(more or {}), "log_index": index, "leaf_hash": leaf_hash.hex()}
            self.records.write(conn, self.keys, answer, status)

        return write


def _anonymous(principal: str) -> bool:
    caller = g.get("caller")
    return principal == ANONYMOUS.id or (caller is not None and caller.role == ANONYMOUS.role)


def plan_for(principal: str) -> Plan | None:
    """The plan for this request, or None when it carries no Idempotency-Key."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem("bad-request", "Idempotency-Key must be 1 to 200 printable characters")
    request_hash = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + request.get_data()
    ).digest()
    records = get_ledger().idempotency
    keys = records.keys_for(principal, key, request_hash, bind_request=_anonymous(principal))
    return Plan(records, keys)


def previous_outcome(engine: Engine, plan: Plan | None) -> dict[str, Any] | None:
    """The stored outcome of an earlier request with the same key (same request only)."""
    if plan is None:
        return None
    with engine.connect() as conn:
        found = plan.records.find(conn, plan.keys)
    if found is None:
        return None
    if not plan.keys.same_request(found.request_mac):
        raise Problem(
            "idempotency-key-reused",
            "this Idempotency-Key was used for a different request",
        )
    try:
        return plan.keys.open(found.response)
    except CannotOpen as exc:
        raise Problem("conflict", "stored idempotent outcome cannot be opened") from exc
