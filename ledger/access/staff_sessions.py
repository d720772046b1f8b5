"""Staff console sessions: the hash of a random session id, the staff account it signs in,
its CSRF token, and when it ends (absolute and idle expiry, revocation).

Like the portal's (``ledger.access.sessions`` is the store of both): the browser holds only
the id, the table its SHA-256. A new id is issued at every sign-in and the browser's
previous one revoked (``open(..., replacing=...)``); ``revoke_all`` ends every session of an
account when its roles change, its password or TOTP is reset, or it is disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.access.sessions import Found, SessionColumns, SessionStore
from ledger.db import Base


class StaffSession(SessionColumns, Base):
    """One signed-in browser of one staff member."""

    __tablename__ = "staff_sessions"

    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("staff_accounts.id"))

    __table_args__ = (
        Index("ix_staff_sessions_account_id", "account_id"),
        Index("ix_staff_sessions_expires_at", "expires_at"),
    )


@dataclass(frozen=True)
class LiveStaffSession:
    """A staff session that may be used now."""

    account_id: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    idle_expires_at: datetime


def _live(found: Found) -> LiveStaffSession:
    return LiveStaffSession(
        found.owner, found.csrf_token, found.created_at, found.expires_at, found.idle_expires_at
    )


class StaffSessions(SessionStore):
    """Open, find, rotate and revoke staff sessions."""

    model = StaffSession
    owner_column = "account_id"
    what = "staff session"

    def open(
        self, account_id: str, *, replacing: str | None = None
    ) -> tuple[str, LiveStaffSession]:
        """A new session for ``account_id`` (at sign-in): its id, for the cookie only, and the
        session. ``replacing``: the id the browser sent before signing in, revoked."""
        session_id, found = self.open_session(account_id, replacing=replacing)
        return session_id, _live(found)

    def find(self, session_id: str) -> LiveStaffSession | None:
        """The live session with this id (its idle expiry moved on), or None."""
        found = self.find_session(session_id)
        return None if found is None else _live(found)

    def revoke_all(self, account_id: str) -> int:
        """End every live session of the account; returns how many. (Inside another
        transaction: ``StaffSessions.revoke_owner_in(conn, account_id, at)``.)"""
        return self.revoke_owner(account_id)
