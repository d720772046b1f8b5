"""Staff accounts for tests: cheap argon2 parameters, a clock the test moves, TOTP codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import Engine

from ledger.access.staff import NewAccount, StaffAccounts
from ledger.access.staff_sessions import StaffSessions
from ledger.access.totp import TOTP_STEP_SECONDS
from ledger.sealing import SecretBox

# argon2id at its smallest cost: the tests check the flow, not the work factor.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery staple"


@dataclass
class Clock:
    """A clock that moves only when told (starts in the middle of a TOTP step)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, 10, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def next_step(self) -> None:
        """To the next TOTP time step (a new code)."""
        self.advance(seconds=TOTP_STEP_SECONDS)


def code(secret: str, at: datetime) -> str:
    """The TOTP code of ``secret`` at ``at`` (what the member's authenticator shows)."""
    return pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS).at(at)


def staff_accounts(
    engine: Engine, key_file: Path, clock: Clock, *, max_failures: int = 5, **kw
) -> StaffAccounts:
    return StaffAccounts(
        engine,
        SecretBox(key_file),
        max_failures=max_failures,
        lockout=timedelta(minutes=15),
        clock=clock,
        hasher=kw.pop("hasher", FAST_HASHER),
        **kw,
    )


def staff_sessions(engine: Engine, clock: Clock) -> StaffSessions:
    return StaffSessions(engine, lifetime=timedelta(hours=10), idle=timedelta(minutes=30),
                         clock=clock)  # fmt: skip


def new_member(accounts: StaffAccounts, username: str = "rui.costa", **kw) -> NewAccount:
    kw.setdefault("roles", ["agent"])
    return accounts.create(username, kw.pop("name", "Rui Costa"), kw.pop("password", PASSWORD),
                           **kw)  # fmt: skip
