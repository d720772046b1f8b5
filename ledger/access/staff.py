"""Staff accounts: one per person, with roles, a display name and the pseudonym the log shows.

The console, the SLA alerts and the run command build on the dataclasses and methods here.

A staff member signs in with password (argon2id) and a TOTP code (RFC 6238, ``pyotp``); both
are required for every staff role. The TOTP secret must stay usable, so it is sealed at rest
(``ledger.sealing.SecretBox`` under ``Settings.staff_key_file``), bound to the account id.
A code's time step is remembered, so a code is accepted once (no replay). Repeated failures
lock the account for a while. A passkey (``ledger.access.passkeys``) may stand in for the code: it
signs in through ``sign_in_with``, ``refuse`` and ``admit`` here, so
its failures count toward the same lockout. Every sign-in, failure, lockout and role change
is written to ``staff_access_events`` (the access record), never a password, code or secret.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    String,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.access.staff_record import (
    SYSTEM,
    AccessEvent,
    access_events,
    record,
)
from ledger.access.staff_sessions import StaffSessions
from ledger.access.totp import matching_step, new_totp_secret, provisioning_uri
from ledger.complaints.events import ACTOR_ID
from ledger.complaints.vocab import Language, Specialism
from ledger.db import Base, UTCDateTime
from ledger.errors import LedgerError
from ledger.sealing import SecretBox

STAFF_ROLES = ("agent", "officer", "supervisor", "legal", "admin")
ISSUER = "Complaint ledger"  # the name authenticator apps show next to the code
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes any length: a bound keeps a request from costing more
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class StaffError(LedgerError, ValueError):
    """A staff account request that cannot be done (unknown role, taken username...)."""


class SignInRefused(LedgerError, PermissionError):
    """Sign-in refused; ``reason`` is for the access record only, the user sees one message."""

    def __init__(self, reason: str, *, locked_until: datetime | None = None) -> None:
        super().__init__("the username, password or code is not right")
        self.reason = reason  # "unknown", "password", "code", "replayed", "locked", "disabled"
        self.locked_until = locked_until
        # A locked account refused although its password and code were right: only then may
        # the member be told it is locked (otherwise a guesser learns which usernames exist).
        self.credentials_ok = False

    @property
    def may_say_locked(self) -> bool:
        return self.reason == "locked" and self.credentials_ok


class StaffAccount(Base):
    """A staff member's account; secrets only hashed (password) or sealed (TOTP)."""

    __tablename__ = "staff_accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # case-folded
    display_name: Mapped[str] = mapped_column(String(200))
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)  # the log's actor id
    roles: Mapped[str] = mapped_column(String(200))  # comma-separated, STAFF_ROLES order
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    languages: Mapped[str] = mapped_column(String(100))  # comma-separated
    specialisms: Mapped[str] = mapped_column(String(100))  # comma-separated
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string
    totp_sealed: Mapped[bytes] = mapped_column(LargeBinary())
    # The time step of the last accepted code: a code of this step or an earlier one is refused.
    totp_last_step: Mapped[int] = mapped_column(BigInteger())
    failed_count: Mapped[int] = mapped_column(Integer())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


@dataclass(frozen=True)
class StaffMember:
    """A signed-in (or looked-up) staff member; holds no secret."""

    id: str  # random account id (not shown on the log)
    username: str
    display_name: str  # personal: bodies only (letters, assignment bodies), never a leaf
    pseudonym: str  # the actor id on the log (events.ACTOR_ID format, e.g. "staff-3f9a2b1c")
    roles: tuple[str, ...]
    email: str | None
    languages: tuple[str, ...]
    specialisms: tuple[str, ...]
    active: bool = True  # False once disabled: no sign-in, no session, not in ``members``

    def has(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class NewAccount:
    """What creating an account gives back once: the member, and the TOTP secret to enrol."""

    member: StaffMember
    totp_secret: str  # base32; shown once (provisioning URI), then only sealed at rest
    provisioning_uri: str  # otpauth://totp/...


@dataclass(frozen=True)
class AccountStatus:
    """An account as an admin sees it: the member, and whether it is locked or disabled."""

    member: StaffMember
    created_at: datetime
    failed_count: int
    locked_until: datetime | None  # None when not locked now
    disabled_at: datetime | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _joined(values: Sequence[str]) -> str:
    return ",".join(values)


def _split(text: str) -> tuple[str, ...]:
    return tuple(v for v in text.split(",") if v)


def _member(row: Any) -> StaffMember:
    return StaffMember(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        pseudonym=row.pseudonym,
        roles=_split(row.roles),
        email=row.email,
        languages=_split(row.languages),
        specialisms=_split(row.specialisms),
        active=row.disabled_at is None,
    )


def normal_username(username: str) -> str:
    """The stored form of a username: trimmed and case-folded."""
    return username.strip().casefold()


def _checked_roles(roles: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(roles) - set(STAFF_ROLES))
    if unknown:
        raise StaffError(f"unknown staff role(s) {', '.join(unknown)}: one of {STAFF_ROLES}")
    if not roles:
        raise StaffError("a staff account needs at least one role")
    return tuple(r for r in STAFF_ROLES if r in roles)


def _checked(values: Sequence[str], allowed: type[Language] | type[Specialism]) -> tuple[str, ...]:
    known = [str(v) for v in allowed]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise StaffError(f"unknown {allowed.__name__.lower()}(s) {', '.join(unknown)}: {known}")
    return tuple(v for v in known if v in values)


def check_password(password: str) -> None:
    """Refuse a password too short (or absurdly long) to keep; says nothing of its content."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise StaffError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")


class StaffAccounts:
    """Create, authenticate and manage staff accounts (see module docstring)."""

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        *,
        max_failures: int = 5,
        lockout: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] = _utc_now,
        hasher: PasswordHasher | None = None,
        issuer: str = ISSUER,
    ) -> None:
        if max_failures < 1 or lockout <= timedelta(0):
            raise ValueError("staff max failures must be at least 1 and the lockout positive")
        self.engine = engine
        self.box = box
        self.max_failures = max_failures
        self.lockout = lockout
        self.clock = clock
        self.hasher = hasher or PasswordHasher()  # argon2id, the library's current defaults
        self.issuer = issuer
        self._dummy_hash: str | None = None

    # --- creating and reading -----------------------------------------------------------

    def create(
        self,
        username: str,
        display_name: str,
        password: str,
        roles: Sequence[str],
        *,
        email: str | None = None,
        languages: Sequence[str] = (),
        specialisms: Sequence[str] = (),
        by: str = SYSTEM,
    ) -> NewAccount:
        """A new account; its TOTP secret and provisioning URI are in the answer only."""
        name = normal_username(username)
        if not USERNAME.fullmatch(name):
            raise StaffError(
                "a username has 2 to 64 letters a-z, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        display_name = display_name.strip()
        if not 0 < len(display_name) <= 200:
            raise StaffError("a display name has 1 to 200 characters")
        if email is not None and not EMAIL.fullmatch(email.strip()):
            raise StaffError("not an e-mail address")
        check_password(password)
        row = {
            "id": secrets.token_hex(8),
            "username": name,
            "display_name": display_name,
            "pseudonym": f"staff-{secrets.token_hex(4)}",
            "roles": _joined(_checked_roles(roles)),
            "email": email.strip() if email else None,
            "languages": _joined(_checked(languages, Language)),
            "specialisms": _joined(_checked(specialisms, Specialism)),
        }
        assert ACTOR_ID.fullmatch(row["pseudonym"])
        secret = new_totp_secret()
        now = self.clock()
        row |= {
            "password_hash": self.hasher.hash(password),
            "totp_sealed": self.box.seal(f"staff-totp:{row['id']}", secret),
            "totp_last_step": 0,
            "failed_count": 0,
            "locked_until": None,
            "created_at": now,
            "disabled_at": None,
        }
        try:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    select(StaffAccount.id).where(StaffAccount.username == name)
                ).first()
                if taken is not None:
                    raise StaffError(f"the username {name} is taken")
                conn.execute(insert(StaffAccount).values(**row))
                record(
                    conn,
                    now,
                    row["id"],
                    name,
                    "created",
                    by=by,
                    detail={"roles": list(_split(row["roles"]))},
                )
        except IntegrityError as exc:  # a parallel create took the name (or the pseudonym)
            raise StaffError(f"the username {name} is taken") from exc
        member = _member(SimpleNamespace(**row))
        return NewAccount(member, secret, self._uri(name, secret))

    def _uri(self, username: str, secret: str) -> str:
        return provisioning_uri(secret, username, self.issuer)

    def _one(self, *where: Any) -> StaffMember | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(StaffAccount).where(*where)).first()
        return None if row is None else _member(row)

    def get(self, account_id: str) -> StaffMember | None:
        return self._one(StaffAccount.id == account_id)

    def by_pseudonym(self, pseudonym: str) -> StaffMember | None:
        return self._one(StaffAccount.pseudonym == pseudonym)

    def by_username(self, username: str) -> StaffMember | None:
        return self._one(StaffAccount.username == normal_username(username))

    def members(self, role: str | None = None) -> list[StaffMember]:
        """Active members (with ``role``, if given), by display name."""
        if role is not None:
            _checked_roles([role])
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(StaffAccount)
                .where(StaffAccount.disabled_at.is_(None))
                .order_by(StaffAccount.display_name, StaffAccount.id)
            )
            found = [_member(r) for r in rows]
        return [m for m in found if role is None or m.has(role)]

    def accounts(self) -> list[AccountStatus]:
        """Every account, disabled ones included, with its lock state (for admins)."""
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(select(StaffAccount).order_by(StaffAccount.username))
            return [
                AccountStatus(
                    _member(r),
                    r.created_at,
                    r.failed_count,
                    r.locked_until if r.locked_until and r.locked_until > now else None,
                    r.disabled_at,
                )
                for r in rows
            ]

    # --- signing in ---------------------------------------------------------------------

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _password(self, name: str, password: str) -> tuple[Any, bool, str | None]:
        """The account's id and hash (None: no such username), whether ``password`` is its
        password (argon2, slow on purpose), and a new hash when the parameters changed."""
        with self.engine.connect() as conn:
            seen = conn.execute(
                select(StaffAccount.id, StaffAccount.password_hash).where(
                    StaffAccount.username == name
                )
            ).first()
        if seen is None or len(password) > MAX_PASSWORD:
            self._verify(self._dummy(), password[:MAX_PASSWORD])  # the same cost: no oracle
            return seen, False, None
        password_ok = self._verify(seen.password_hash, password)
        rehashed = None
        if password_ok and self.hasher.check_needs_rehash(seen.password_hash):
            rehashed = self.hasher.hash(password)  # new parameters: stored at this sign-in
        return seen, password_ok, rehashed

    def attempt_sign_in(
        self,
        account_id: str | None,
        attempt: Callable[[Connection, Any, datetime], StaffMember],
        *,
        client: str = "",
    ) -> StaffMember:
        """Run ``attempt(conn, row, now)`` in one transaction holding the account's row; a
        SignInRefused it raises is recorded (the transaction commits), then raised.
        ``account_id`` None: a username no account has, recorded as such."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.info["sqlite_begin"] = "IMMEDIATE"  # one writer at a time: the row lock
            with conn.begin():
                now = self.clock()
                if account_id is None:
                    record(conn, now, None, None, "sign_in_failed", reason="unknown", client=client)
                    refused = SignInRefused("unknown")
                else:
                    row = conn.execute(
                        select(StaffAccount).where(StaffAccount.id == account_id).with_for_update()
                    ).one()
                    try:
                        return attempt(conn, row, now)
                    except SignInRefused as exc:
                        refused = exc  # recorded: the transaction commits
        raise refused

    def authenticate(
        self, username: str, password: str, code: str, *, client: str = ""
    ) -> StaffMember:
        """The member, when password and TOTP code are right; else SignInRefused (recorded).

        The password is checked (argon2, slow on purpose) before the account's row is
        locked; the rest is one transaction holding the row: the lock state, the code and
        its time step, the failure count and the access record, so two parallel attempts
        cannot both use one code.
        """
        seen, password_ok, rehashed = self._password(normal_username(username), password)
        client = client[:64]

        def attempt(conn: Connection, row: Any, now: datetime) -> StaffMember:
            # The password checked above is still the account's (not changed since).
            unchanged = hmac.compare_digest(row.password_hash, seen.password_hash)
            return self._attempt(conn, row, now, password_ok and unchanged, code, client, rehashed)

        return self.attempt_sign_in(None if seen is None else seen.id, attempt, client=client)

    def sign_in_with(
        self,
        username: str,
        password: str,
        second: Callable[[Connection, Any, datetime], None],
        *,
        factor: str,
        client: str = "",
    ) -> StaffMember:
        """The member, when the password and a second factor other than a TOTP code (a
        passkey) are both right; else SignInRefused (recorded, counted toward the lockout).

        ``second(conn, row, now)`` checks the factor while the account's row is held and
        raises ``refuse(...)`` when it fails. Both are checked before anything is said, so the
        answer never tells whether the password alone was right.
        """
        seen, password_ok, rehashed = self._password(normal_username(username), password)
        client = client[:64]

        def attempt(conn: Connection, row: Any, now: datetime) -> StaffMember:
            unchanged = hmac.compare_digest(row.password_hash, seen.password_hash)
            self.refuse_unless_open(conn, row, now, client=client)
            if not (password_ok and unchanged):
                raise self.refuse(conn, row, now, "password", client=client)
            second(conn, row, now)
            values = {} if rehashed is None else {"password_hash": rehashed}
            return self.admit(conn, row, now, client=client, values=values, factor=factor)

        return self.attempt_sign_in(None if seen is None else seen.id, attempt, client=client)

    def refuse(
        self,
        conn: Connection,
        row: Any,  # the locked staff_accounts row
        now: datetime,
        reason: str,
        *,
        client: str,
        count: bool = True,
    ) -> SignInRefused:
        """Record a refused sign-in of ``row`` and (``count``) count it toward the lockout,
        locking the account at the limit; the error to raise."""
        ident = (row.id, row.username)
        record(conn, now, *ident, "sign_in_failed", reason=reason, client=client)
        locked_until = row.locked_until if reason == "locked" else None
        if count:
            failures = row.failed_count + 1
            values: dict[str, Any] = {"failed_count": failures}
            if failures >= self.max_failures:
                locked_until = now + self.lockout
                values = {"failed_count": 0, "locked_until": locked_until}
                record(
                    conn,
                    now,
                    *ident,
                    "locked",
                    client=client,
                    detail={"failures": failures, "until": locked_until.isoformat()},
                )
            conn.execute(update(StaffAccount).where(StaffAccount.id == row.id).values(values))
        return SignInRefused(reason, locked_until=locked_until)

    def refuse_unless_open(
        self,
        conn: Connection,
        row: Any,
        now: datetime,
        *,
        client: str,
        credentials_ok: Callable[[], bool] | None = None,
    ) -> None:
        """Raise SignInRefused (recorded, not counted) when the account is disabled or locked;
        ``credentials_ok`` says (without using them up) whether this attempt's credentials were
        right, so that only their holder is told the account is locked."""
        if row.disabled_at is not None:
            raise self.refuse(conn, row, now, "disabled", client=client, count=False)
        if row.locked_until is not None and now < row.locked_until:
            # Not counted: the lockout does not grow.
            refused = self.refuse(conn, row, now, "locked", client=client, count=False)
            refused.credentials_ok = credentials_ok is not None and credentials_ok()
            raise refused

    def admit(
        self,
        conn: Connection,
        row: Any,  # the locked staff_accounts row
        now: datetime,
        *,
        client: str,
        values: dict[str, Any] | None = None,
        factor: str | None = None,
    ) -> StaffMember:
        """Record the sign-in of ``row`` (``factor``: "passkey" when not a TOTP code), forget
        its failures and store ``values``; the member."""
        update_values = {"failed_count": 0, "locked_until": None} | (values or {})
        conn.execute(update(StaffAccount).where(StaffAccount.id == row.id).values(update_values))
        record(conn, now, row.id, row.username, "signed_in", reason=factor, client=client)
        return _member(row)

    def _attempt(
        self,
        conn: Connection,
        row: Any,  # the locked staff_accounts row
        now: datetime,
        password_ok: bool,
        code: str,
        client: str,
        rehashed: str | None,
    ) -> StaffMember:
        """The checks made while the row is held; a refusal is recorded, then raised."""
        secret = self.box.open(f"staff-totp:{row.id}", row.totp_sealed)
        step = matching_step(secret, code, now)

        def right() -> bool:  # checked, never stored: a locked account keeps its last step
            return password_ok and step is not None and step > row.totp_last_step

        self.refuse_unless_open(conn, row, now, client=client, credentials_ok=right)
        if not password_ok:
            raise self.refuse(conn, row, now, "password", client=client)
        if step is None:
            raise self.refuse(conn, row, now, "code", client=client)
        if step <= row.totp_last_step:
            raise self.refuse(conn, row, now, "replayed", client=client)
        values: dict[str, Any] = {"totp_last_step": step}
        if rehashed is not None:
            values["password_hash"] = rehashed
        return self.admit(conn, row, now, client=client, values=values)

    def signed_out(self, account_id: str, *, client: str = "") -> None:
        """Record that the member signed out (the console ends the session itself)."""
        with self.engine.begin() as conn:
            username = conn.execute(
                select(StaffAccount.username).where(StaffAccount.id == account_id)
            ).scalar_one_or_none()
            if username is not None:
                record(conn, self.clock(), account_id, username, "signed_out", client=client[:64])

    # --- changes by an admin ------------------------------------------------------------

    def _change(
        self,
        account_id: str,
        kind: str,
        values: Callable[[Any], dict[str, Any]],
        *,
        by: str,
        detail: Callable[[Any], dict[str, Any] | None] = lambda _: None,
        revoke_sessions: bool = True,
    ) -> StaffMember:
        """Change one account, record it, and end its sessions, in one transaction."""
        with self.engine.begin() as conn:
            now = self.clock()
            row = conn.execute(
                select(StaffAccount).where(StaffAccount.id == account_id).with_for_update()
            ).first()
            if row is None:
                raise StaffError(f"no staff account {account_id}")
            new = values(row)
            note = detail(row)
            conn.execute(update(StaffAccount).where(StaffAccount.id == account_id).values(new))
            record(conn, now, row.id, row.username, kind, by=by, detail=note)
            if revoke_sessions:
                StaffSessions.revoke_owner_in(conn, account_id, now)
            after = conn.execute(select(StaffAccount).where(StaffAccount.id == account_id))
            return _member(after.one())

    def set_roles(self, account_id: str, roles: Sequence[str], *, by: str) -> StaffMember:
        """New roles; the member's sessions end (signing in again gives the new ones)."""
        checked = _checked_roles(roles)
        return self._change(
            account_id,
            "roles_changed",
            lambda _: {"roles": _joined(checked)},
            by=by,
            detail=lambda row: {"old": list(_split(row.roles)), "new": list(checked)},
        )

    def set_password(self, account_id: str, password: str, *, by: str) -> StaffMember:
        """A new password; the member's sessions end."""
        check_password(password)
        hashed = self.hasher.hash(password)
        return self._change(
            account_id, "password_changed", lambda _: {"password_hash": hashed}, by=by
        )

    def reset_totp(self, account_id: str, *, by: str) -> NewAccount:
        """A new TOTP secret (the old one stops working); shown once in the answer. The
        member's sessions end."""
        secret = new_totp_secret()
        sealed = self.box.seal(f"staff-totp:{account_id}", secret)
        member = self._change(
            account_id,
            "totp_reset",
            lambda _: {"totp_sealed": sealed, "totp_last_step": 0},
            by=by,
        )
        return NewAccount(member, secret, self._uri(member.username, secret))

    def disable(self, account_id: str, *, by: str) -> StaffMember:
        """No more sign-ins; its sessions end. The account and its record stay."""
        now = self.clock()
        return self._change(account_id, "disabled", lambda _: {"disabled_at": now}, by=by)

    def unlock(self, account_id: str, *, by: str) -> StaffMember:
        """End a lockout (and forget the failures counted so far)."""
        return self._change(
            account_id,
            "unlocked",
            lambda _: {"locked_until": None, "failed_count": 0},
            by=by,
            revoke_sessions=False,
        )

    # --- the access record --------------------------------------------------------------

    def events(
        self,
        *,
        account_id: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[AccessEvent]]:
        """The access record, newest first (of one account, of one kind), and its total."""
        return access_events(
            self.engine, account_id=account_id, kind=kind, limit=limit, offset=offset
        )
