"""Create, check and revoke scoped API keys. A key is ``lk_<key id>_<secret>``.

``authenticate`` keeps each looked-up key row (its secret's hash, role, name, revocation; or
that the id is unknown) for ``CACHE_TTL`` seconds per process, so a busy API does not read the
same row on every request. Revocation through ``revoke_api_key`` takes effect at once in its own
process and within ``CACHE_TTL`` seconds in every other one.
"""

from __future__ import annotations

import secrets as _secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, select, update

from ledger.access.models import ApiKey
from ledger.access.secrets import hash_secret, new_secret, secret_matches

PREFIX = "lk_"
ROLES = ("agent", "officer", "supervisor", "legal", "regulator", "admin")
# A fixed hash to compare against when the key id is unknown, so timing does not tell.
_DUMMY_HASH = hash_secret("unknown-key")
CACHE_TTL = 2.0  # seconds a key row (or its absence) is trusted without reading it again
_CACHE_SIZE = 4096
_LOOKUP = select(ApiKey.secret_hash, ApiKey.role, ApiKey.name, ApiKey.revoked_at).where(
    ApiKey.key_id == bindparam("key_id")
)


@dataclass(frozen=True)
class _KeyRow:
    secret_hash: bytes
    role: str
    name: str
    revoked: bool


class _KeyCache:
    """Key rows by (database, key id), each trusted for ``CACHE_TTL`` seconds (LRU-bounded)."""

    def __init__(self) -> None:
        self._rows: OrderedDict[tuple[str, str], tuple[float, _KeyRow | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> tuple[bool, _KeyRow | None]:
        """(found in the cache and fresh, the row or None when the id is unknown)."""
        with self._lock:
            hit = self._rows.get(key)
            if hit is None or time.monotonic() - hit[0] > CACHE_TTL:
                return False, None
            self._rows.move_to_end(key)
            return True, hit[1]

    def put(self, key: tuple[str, str], row: _KeyRow | None) -> None:
        with self._lock:
            self._rows[key] = (time.monotonic(), row)
            self._rows.move_to_end(key)
            while len(self._rows) > _CACHE_SIZE:
                self._rows.popitem(last=False)

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._rows.pop(key, None)


_cache = _KeyCache()


def _cache_key(engine: Engine, key_id: str) -> tuple[str, str]:
    return (engine.url.render_as_string(hide_password=True), key_id)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: ``id`` is non-personal and may appear in the log."""

    role: str
    id: str
    name: str = ""


def create_api_key(engine: Engine, name: str, role: str) -> tuple[str, Principal]:
    """Create a key; the returned token is shown once and never stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key_id = _secrets.token_hex(8)
    secret = new_secret()
    with engine.begin() as conn:
        conn.execute(
            ApiKey.__table__.insert().values(
                key_id=key_id,
                name=name,
                role=role,
                secret_hash=hash_secret(secret),
                created_at=datetime.now(UTC),
            )
        )
    _cache.forget(_cache_key(engine, key_id))
    return f"{PREFIX}{key_id}_{secret}", Principal(role, key_id, name)


def authenticate(engine: Engine, token: str) -> Principal | None:
    """The principal of a valid, unrevoked key, else None (same work either way)."""
    key_id, secret = "", token
    if token.startswith(PREFIX) and token.count("_") >= 2:
        key_id, _, secret = token[len(PREFIX) :].partition("_")
    cache_key = _cache_key(engine, key_id)
    fresh, row = _cache.get(cache_key)
    if not fresh:
        with engine.connect() as conn:
            found = conn.execute(_LOOKUP, {"key_id": key_id}).first()
        row = None
        if found is not None:
            row = _KeyRow(found.secret_hash, found.role, found.name, found.revoked_at is not None)
        _cache.put(cache_key, row)
    stored = row.secret_hash if row is not None else _DUMMY_HASH
    ok = secret_matches(secret, stored)
    if row is None or not ok or row.revoked:
        return None
    return Principal(row.role, key_id, row.name)


def revoke_api_key(engine: Engine, key_id: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    _cache.forget(_cache_key(engine, key_id))
    return result.rowcount == 1
