"""WebAuthn challenges of the console's passkeys: random, single-use, short-lived, kept only
as SHA-256 and bound to one browser (the SHA-256 of its pre-session or session cookie).

A challenge is never taken from the client on trust: the one in the client's answer is
looked up by its hash, deleted (used or not), and accepted only for the same browser, the same
purpose and before it expires. A database copy holds no challenge that could be replayed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, ForeignKey, Index, LargeBinary, String, delete, insert, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, UTCDateTime

PURPOSES = ("register", "sign_in")
CHALLENGE_BYTES = 32


class PasskeyChallenge(Base):
    """One open challenge: its hash, the browser and account it is for, and until when."""

    __tablename__ = "staff_passkey_challenges"

    challenge_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    binding_hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # SHA-256 of the cookie
    purpose: Mapped[str] = mapped_column(String(16))  # PURPOSES
    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("staff_accounts.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_staff_passkey_challenges_binding_hash", "binding_hash"),
        Index("ix_staff_passkey_challenges_expires_at", "expires_at"),
    )


def _sha256(value: bytes | str) -> bytes:
    return hashlib.sha256(value.encode() if isinstance(value, str) else value).digest()


class PasskeyChallenges:
    """Issue and take (once) the challenges of passkey registrations and sign-ins."""

    def __init__(self, engine: Engine, ttl: timedelta, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.ttl = ttl
        self.clock = clock

    def issue(self, account_id: str, purpose: str, binding: str) -> bytes:
        """A new challenge for ``account_id`` on the browser ``binding``; the browser's earlier
        one of the same purpose, and every expired one, are dropped."""
        assert purpose in PURPOSES and binding
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        now = self.clock()
        c = PasskeyChallenge
        bound = _sha256(binding)
        with self.engine.begin() as conn:
            conn.execute(
                delete(c).where(
                    or_(c.expires_at <= now, (c.binding_hash == bound) & (c.purpose == purpose))
                )
            )
            conn.execute(
                insert(c).values(
                    challenge_hash=_sha256(challenge),
                    binding_hash=bound,
                    purpose=purpose,
                    account_id=account_id,
                    expires_at=now + self.ttl,
                )
            )
        return challenge

    def take(self, challenge: bytes, purpose: str, binding: str) -> str | None:
        """The account the challenge was issued to, when it is live, for this purpose and
        this browser; else None. Either way it can never be taken again."""
        c = PasskeyChallenge
        with self.engine.begin() as conn:
            row = conn.execute(select(c).where(c.challenge_hash == _sha256(challenge))).first()
            if row is None:
                return None
            gone = conn.execute(delete(c).where(c.challenge_hash == row.challenge_hash))
        if gone.rowcount != 1:  # a parallel request took it first
            return None
        if row.purpose != purpose or row.binding_hash != _sha256(binding):
            return None
        return row.account_id if self.clock() < row.expires_at else None
