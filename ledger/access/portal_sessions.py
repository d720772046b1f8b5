"""Customer portal sessions (api/portal): the hash of a random session id, the one complaint
it opens, its CSRF token, and when it ends.

The browser holds only the session id (an HttpOnly cookie); the table holds its SHA-256, so
a copy of the database opens no session. A session ends at the first of: its absolute
expiry, ``idle`` without a request, or its revocation (signing out, or signing in again from
the same browser). The customer's capability secret is checked once, at sign-in, and never
stored here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Engine,
    Index,
    LargeBinary,
    String,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.access.secrets import hash_secret, new_secret
from ledger.db import Base, UTCDateTime

# A live session's last_seen_at is written at most this often (not on every page view).
TOUCH_EVERY = timedelta(seconds=60)
# Ended sessions are kept this long (for support questions), then deleted by ``purge``.
KEEP_ENDED = timedelta(days=1)


class PortalSession(Base):
    """One signed-in browser, opening one complaint."""

    __tablename__ = "portal_sessions"

    session_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    # The synchronizer token every form of this session carries (api/portal/csrf.py).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # absolute
    idle_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_portal_sessions_reference", "reference"),
        Index("ix_portal_sessions_expires_at", "expires_at"),
    )


@dataclass(frozen=True)
class LiveSession:
    """A session that may be used now."""

    reference: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    idle_expires_at: datetime


_FIND = select(
    PortalSession.reference,
    PortalSession.csrf_token,
    PortalSession.created_at,
    PortalSession.last_seen_at,
    PortalSession.expires_at,
    PortalSession.idle_expires_at,
    PortalSession.revoked_at,
).where(PortalSession.session_hash == bindparam("key"))


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PortalSessions:
    """Open, find, and revoke portal sessions."""

    def __init__(
        self,
        engine: Engine,
        *,
        lifetime: timedelta,
        idle: timedelta,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if lifetime <= timedelta(0) or idle <= timedelta(0):
            raise ValueError("portal session lifetime and idle timeout must be positive")
        self.engine = engine
        self.lifetime = lifetime
        self.idle = idle
        self.clock = clock

    def open(self, reference: str) -> tuple[str, LiveSession]:
        """A new session for ``reference``: its id (for the cookie, shown nowhere else) and
        the session."""
        session_id = new_secret()
        now = self.clock()
        live = LiveSession(
            reference=reference,
            csrf_token=new_secret(),
            created_at=now,
            expires_at=now + self.lifetime,
            idle_expires_at=min(now + self.idle, now + self.lifetime),
        )
        with self.engine.begin() as conn:
            conn.execute(
                insert(PortalSession).values(
                    session_hash=hash_secret(session_id),
                    reference=reference,
                    csrf_token=live.csrf_token,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=live.expires_at,
                    idle_expires_at=live.idle_expires_at,
                )
            )
        return session_id, live

    def find(self, session_id: str) -> LiveSession | None:
        """The live session with this id (its idle expiry moved on), or None when there is
        none, or it was revoked or has expired."""
        key = hash_secret(session_id)
        with self.engine.connect() as conn:
            row = conn.execute(_FIND, {"key": key}).first()
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
                    update(PortalSession)
                    .where(PortalSession.session_hash == key)
                    .values(last_seen_at=now, idle_expires_at=idle_until)
                )
        return LiveSession(
            row.reference, row.csrf_token, row.created_at, row.expires_at, idle_until
        )

    def revoke(self, session_id: str) -> None:
        """End the session now (a no-op for an unknown or ended one)."""
        key = hash_secret(session_id)
        with self.engine.begin() as conn:
            conn.execute(
                update(PortalSession)
                .where(PortalSession.session_hash == key)
                .where(PortalSession.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )

    def purge(self) -> int:
        """Delete sessions that ended more than ``KEEP_ENDED`` ago; returns how many."""
        cutoff = self.clock() - KEEP_ENDED
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(PortalSession).where(
                    (PortalSession.expires_at < cutoff)
                    | (PortalSession.idle_expires_at < cutoff)
                    | (PortalSession.revoked_at < cutoff)
                )
            )
        return done.rowcount or 0
