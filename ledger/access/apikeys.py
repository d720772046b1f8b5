"""Create, check and revoke scoped API keys. A key is ``lk_<key id>_<secret>``."""

from __future__ import annotations

import secrets as _secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from ledger.access.models import ApiKey
from ledger.access.secrets import hash_secret, new_secret, secret_matches

PREFIX = "lk_"
ROLES = ("agent", "officer", "supervisor", "legal", "regulator", "admin")
# A fixed hash to compare against when the key id is unknown, so timing does not tell.
_DUMMY_HASH = hash_secret("unknown-key")


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
    return f"{PREFIX}{key_id}_{secret}", Principal(role, key_id, name)


def authenticate(engine: Engine, token: str) -> Principal | None:
    """The principal of a valid, unrevoked key, else None (same work either way)."""
    key_id, secret = "", token
    if token.startswith(PREFIX) and token.count("_") >= 2:
        key_id, _, secret = token[len(PREFIX) :].partition("_")
    with engine.connect() as conn:
        row = conn.execute(
            select(ApiKey.secret_hash, ApiKey.role, ApiKey.name, ApiKey.revoked_at).where(
                ApiKey.key_id == key_id
            )
        ).first()
    stored = row.secret_hash if row is not None else _DUMMY_HASH
    ok = secret_matches(secret, stored)
    if row is None or not ok or row.revoked_at is not None:
        return None
    return Principal(row.role, key_id, row.name)


def revoke_api_key(engine: Engine, key_id: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return result.rowcount == 1
