"""Server-side browser sessions, shared by the customer portal and the staff console.

The browser holds only a random session id (an HttpOnly cookie); the table holds its
SHA-256, so a copy of the database opens no session. Each session has one owner (the
complaint a customer opened, or a staff account), a CSRF token, and ends at the first of:
its absolute expiry, ``idle`` without a request, or its revocation. A table of sessions
declares :class:`SessionColumns` plus its owner column; a store is a :class:`SessionStore`
naming that table and owner column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, LargeBinary, String, delete, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ledger.access.secrets import hash_secret, new_secret
from ledger.db import UTCDateTime

# A live session's last_seen_at is written at most this often (not on every page view).
TOUCH_EVERY = timedelta(seconds=60)
# Ended sessions are kept this long (for support questions), then deleted by ``purge``.
KEEP_ENDED = timedelta(days=1)


class SessionColumns:
    """The columns every session table has (a mixin of its mapped class)."""

    session_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # The synchronizer token every form of this session carries.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # absolute
    idle_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


@dataclass(frozen=True)
class Found:
    """A session that may be used now, with its owner."""

    owner: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    idle_expires_at: datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


class SessionStore:
    """Open, find, rotate and revoke the sessions of one table (``model``), by ``owner``."""

    model: ClassVar[Any]  # a mapped class with SessionColumns
    owner_column: ClassVar[str]  # its owner's column name
    what: ClassVar[str] = "session"

    def __init__(
        self,
        engine: Engine,
        *,
        lifetime: timedelta,
        idle: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if lifetime <= timedelta(0) or idle <= timedelta(0):
            raise ValueError(f"{self.what} lifetime and idle timeout must be positive")
        self.engine = engine
        self.lifetime = lifetime
        self.idle = idle
        self.clock = clock

    @property
    def _owner(self) -> Any:
        return getattr(self.model, self.owner_column)

    def open_session(self, owner: str, *, replacing: str | None = None) -> tuple[str, Found]:
        """A new session for ``owner``: its id (for the cookie, shown nowhere else) and the
        session. ``replacing``: the browser's previous session id, revoked in the same
        transaction (a new id at every sign-in: no session fixation)."""
        session_id = new_secret()
        now = self.clock()
        found = Found(
            owner=owner,
            csrf_token=new_secret(),
            created_at=now,
            expires_at=now + self.lifetime,
            idle_expires_at=min(now + self.idle, now + self.lifetime),
        )
        with self.engine.begin() as conn:
            if replacing:
                self._revoke_in(conn, replacing, now)
            conn.execute(
                insert(self.model).values(
                    session_hash=hash_secret(session_id),
                    csrf_token=found.csrf_token,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=found.expires_at,
                    idle_expires_at=found.idle_expires_at,
                    **{self.owner_column: owner},
                )
            )
        return session_id, found

    def find_session(self, session_id: str) -> Found | None:
        """The live session with this id (its idle expiry moved on), or None when there is
        none, or it was revoked or has expired."""
        m = self.model
        key = hash_secret(session_id)
        query = select(
            self._owner.label("owner"),
            m.csrf_token,
            m.created_at,
            m.last_seen_at,
            m.expires_at,
            m.idle_expires_at,
            m.revoked_at,
        ).where(m.session_hash == key)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        now = self.clock()
        if row.revoked_at is not None or now >= row.expires_at or now >= row.idle_expires_at:
            return None
        idle_until = row.idle_expires_at
        if now - row.last_seen_at >= TOUCH_EVERY:
            idle_until = min(now + self.idle, row.expires_at)
            with self.engine.begin() as conn:
                conn.execute(
                    update(m)
                    .where(m.session_hash == key)
                    .where(m.revoked_at.is_(None))
                    .values(last_seen_at=now, idle_expires_at=idle_until)
                )
        return Found(row.owner, row.csrf_token, row.created_at, row.expires_at, idle_until)

    def _revoke_in(self, conn: Connection, session_id: str, at: datetime) -> None:
        m, key = self.model, hash_secret(session_id)
        conn.execute(
            update(m)
            .where(m.session_hash == key)
            .where(m.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def revoke(self, session_id: str) -> None:
        """End the session now (a no-op for an unknown or ended one)."""
        with self.engine.begin() as conn:
            self._revoke_in(conn, session_id, self.clock())

    @classmethod
    def revoke_owner_in(cls, conn: Connection, owner: str, at: datetime) -> int:
        """End every live session of ``owner`` inside the caller's transaction."""
        m = cls.model
        done = conn.execute(
            update(m)
            .where(getattr(m, cls.owner_column) == owner)
            .where(m.revoked_at.is_(None))
            .where(m.expires_at > at)
            .values(revoked_at=at)
        )
        return done.rowcount or 0

    def revoke_owner(self, owner: str) -> int:
        """End every live session of ``owner``; returns how many."""
        with self.engine.begin() as conn:
            return self.revoke_owner_in(conn, owner, self.clock())

    def purge(self) -> int:
        """Delete sessions that ended more than ``KEEP_ENDED`` ago; returns how many."""
        m = self.model
        cutoff = self.clock() - KEEP_ENDED
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(m).where(
                    (m.expires_at < cutoff) | (m.idle_expires_at < cutoff) | (m.revoked_at < cutoff)
                )
            )
        return done.rowcount or 0
