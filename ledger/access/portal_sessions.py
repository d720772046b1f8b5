"""Customer portal sessions (api/portal): the hash of a random session id, the one complaint
it opens, its CSRF token, and when it ends.

The browser holds only the session id (an HttpOnly cookie); the table holds its SHA-256, so
a copy of the database opens no session. A session ends at the first of: its absolute
expiry, ``idle`` without a request, or its revocation (signing out, or signing in again from
the same browser). The customer's capability secret is checked once, at sign-in, and never
stored here. The store itself is ``ledger.access.sessions``, shared with the staff console.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.access.sessions import KEEP_ENDED, TOUCH_EVERY, Found, SessionColumns, SessionStore
from ledger.db import Base

__all__ = ["KEEP_ENDED", "TOUCH_EVERY", "LiveSession", "PortalSession", "PortalSessions"]


class PortalSession(SessionColumns, Base):
    """One signed-in browser, opening one complaint."""

    __tablename__ = "portal_sessions"

    reference: Mapped[str] = mapped_column(String(40))

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


def _live(found: Found) -> LiveSession:
    return LiveSession(
        found.owner, found.csrf_token, found.created_at, found.expires_at, found.idle_expires_at
    )


class PortalSessions(SessionStore):
    """Open, find, and revoke portal sessions."""

    model = PortalSession
    owner_column = "reference"
    what = "portal session"

    def open(self, reference: str) -> tuple[str, LiveSession]:
        """A new session for ``reference``: its id (for the cookie, shown nowhere else) and
        the session."""
        session_id, found = self.open_session(reference)
        return session_id, _live(found)

    def find(self, session_id: str) -> LiveSession | None:
        """The live session with this id (its idle expiry moved on), or None when there is
        none, or it was revoked or has expired."""
        found = self.find_session(session_id)
        return None if found is None else _live(found)
