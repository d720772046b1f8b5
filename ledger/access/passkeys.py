"""Staff passkeys (WebAuthn, ``webauthn`` by Duo Labs): a second factor a member may use instead
of the TOTP code, after the password (the code stays enrolled).

A member registers passkeys from the console; each is kept as its credential id and COSE
public key (nothing a database copy could sign in with), its signature counter, transports
and a name. Signing in takes two requests: the password first (``StaffAccounts.password_checked``,
counted toward the lockout when wrong), which gives the options with a challenge; then the
passkey's assertion, verified against that challenge (single-use, short-lived, bound to the
browser: ``ledger.access.passkey_challenges``), the relying party id (the console's host name)
and origin. A signature counter that does not move on is refused. Every registration, removal,
passkey sign-in and refusal is in the staff access record; refusals count toward the same
lockout as wrong codes (``StaffAccounts.refuse``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_client_data_json
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.parse_authentication_credential_json import (
    parse_authentication_credential_json,
)
from webauthn.helpers.parse_registration_credential_json import (
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ledger.access.passkey_challenges import PasskeyChallenges
from ledger.access.staff import StaffAccounts, StaffMember
from ledger.access.staff_record import record
from ledger.db import Base, UTCDateTime
from ledger.errors import LedgerError

RP_NAME = "Complaints console"  # what the browser shows when asking for a passkey
TIMEOUT_MS = 120_000  # how long the browser waits for the authenticator
MAX_NAME = 60
MAX_PASSKEYS = 10  # per member
MAX_ANSWER = 16_384  # characters of a credential's JSON: a bound on what is parsed


class PasskeyError(LedgerError, ValueError):
    """A passkey could not be added or removed (the message says why; no secret in it)."""


class StaffPasskey(Base):
    """One registered passkey: public data only (credential id, COSE public key)."""

    __tablename__ = "staff_passkeys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, for the console
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("staff_accounts.id"))
    public_key: Mapped[bytes] = mapped_column(LargeBinary())  # COSE_Key
    sign_count: Mapped[int] = mapped_column(BigInteger())
    transports: Mapped[str] = mapped_column(String(200))  # comma-separated, may be empty
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_staff_passkeys_account_id", "account_id"),)


@dataclass(frozen=True)
class Passkey:
    """A member's passkey as the console lists it."""

    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    transports: tuple[str, ...]


def _passkey(row: Any) -> Passkey:
    transports = tuple(t for t in row.transports.split(",") if t)
    return Passkey(row.id, row.name, row.created_at, row.last_used_at, transports)


def _descriptor(row: Any) -> PublicKeyCredentialDescriptor:
    known = {t.value for t in AuthenticatorTransport}
    transports = [AuthenticatorTransport(t) for t in row.transports.split(",") if t in known]
    return PublicKeyCredentialDescriptor(id=row.credential_id, transports=transports or None)


def _challenge_of(credential: RegistrationCredential | AuthenticationCredential) -> bytes:
    """The challenge the client says it signed (looked up, never trusted as such)."""
    return parse_client_data_json(bytes(credential.response.client_data_json)).challenge


def _parsed_registration(answer: str) -> tuple[RegistrationCredential, bytes]:
    if len(answer) > MAX_ANSWER:
        raise PasskeyError("the passkey's answer is too long")
    try:
        credential = parse_registration_credential_json(answer)
        return credential, _challenge_of(credential)
    except (InvalidJSONStructure, InvalidRegistrationResponse, ValueError) as exc:
        raise PasskeyError("the passkey's answer could not be read") from exc


def _parsed_assertion(answer: str) -> tuple[AuthenticationCredential, bytes] | None:
    if len(answer) > MAX_ANSWER:
        return None
    try:
        credential = parse_authentication_credential_json(answer)
        return credential, _challenge_of(credential)
    except (InvalidJSONStructure, InvalidAuthenticationResponse, ValueError):
        return None


class StaffPasskeys:
    """Register, list, remove and sign in with staff passkeys (see module docstring)."""

    def __init__(
        self, accounts: StaffAccounts, *, challenge_ttl: timedelta = timedelta(minutes=2)
    ) -> None:
        self.accounts = accounts
        self.engine = accounts.engine
        self.clock = accounts.clock
        self.challenges = PasskeyChallenges(self.engine, challenge_ttl, accounts.clock)

    def _rows(self, conn: Connection, account_id: str) -> Sequence[Any]:
        return conn.execute(
            select(StaffPasskey)
            .where(StaffPasskey.account_id == account_id)
            .order_by(StaffPasskey.created_at, StaffPasskey.id)
        ).all()

    def of(self, account_id: str) -> list[Passkey]:
        """The member's passkeys, oldest first."""
        with self.engine.connect() as conn:
            return [_passkey(r) for r in self._rows(conn, account_id)]

    # --- registering and removing -------------------------------------------------------

    def registration_options(self, member: StaffMember, *, binding: str, rp_id: str) -> str:
        """The options (JSON) for ``navigator.credentials.create`` on the browser ``binding``
        (its session cookie); the member's passkeys are excluded."""
        with self.engine.connect() as conn:
            existing = self._rows(conn, member.id)
        challenge = self.challenges.issue(member.id, "register", binding)
        options = generate_registration_options(
            rp_id=rp_id,
            rp_name=RP_NAME,
            user_name=member.username,
            user_id=member.id.encode(),  # random account id: nothing personal
            user_display_name=member.display_name,
            challenge=challenge,
            timeout=TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[_descriptor(r) for r in existing],
        )
        return options_to_json(options)

    def register(
        self,
        member: StaffMember,
        answer: str,
        name: str,
        *,
        binding: str,
        rp_id: str,
        origin: str,
        client: str = "",
    ) -> Passkey:
        """Keep the passkey ``answer`` (the JSON of ``navigator.credentials.create``) made for
        this member's live challenge on this browser; recorded as ``passkey_added``."""
        name = " ".join(name.split())
        if not 0 < len(name) <= MAX_NAME:
            raise PasskeyError(f"a passkey's name has 1 to {MAX_NAME} characters")
        credential, challenge = _parsed_registration(answer)
        if self.challenges.take(challenge, "register", binding) != member.id:
            raise PasskeyError("the passkey request was out of date; try again")
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
            )
        except (InvalidRegistrationResponse, ValueError) as exc:
            raise PasskeyError("the passkey's answer could not be verified") from exc
        transports = ",".join(t.value for t in credential.response.transports or ())
        now = self.clock()
        row = {
            "id": secrets.token_hex(8),
            "credential_id": verified.credential_id,
            "account_id": member.id,
            "public_key": verified.credential_public_key,
            "sign_count": verified.sign_count,
            "transports": transports[:200],
            "name": name,
            "created_at": now,
            "last_used_at": None,
        }
        try:
            with self.engine.begin() as conn:
                count = conn.execute(
                    select(func.count())
                    .select_from(StaffPasskey)
                    .where(StaffPasskey.account_id == member.id)
                ).scalar_one()
                if count >= MAX_PASSKEYS:
                    raise PasskeyError(f"a member has at most {MAX_PASSKEYS} passkeys")
                conn.execute(insert(StaffPasskey).values(**row))
                record(
                    conn,
                    now,
                    member.id,
                    member.username,
                    "passkey_added",
                    by=member.pseudonym,
                    client=client,
                    detail={"passkey": row["id"], "name": name},
                )
        except IntegrityError as exc:  # its credential id is registered already
            raise PasskeyError("this passkey is registered already") from exc
        return _passkey(SimpleNamespace(**row))

    def remove(self, member: StaffMember, passkey_id: str, *, client: str = "") -> None:
        """Remove one of the member's passkeys; recorded as ``passkey_removed``."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(StaffPasskey).where(
                    StaffPasskey.id == passkey_id, StaffPasskey.account_id == member.id
                )
            ).first()
            if row is None:
                raise PasskeyError("no such passkey")
            conn.execute(delete(StaffPasskey).where(StaffPasskey.id == row.id))
            record(
                conn,
                self.clock(),
                member.id,
                member.username,
                "passkey_removed",
                by=member.pseudonym,
                client=client,
                detail={"passkey": row.id, "name": row.name},
            )

    # --- signing in ---------------------------------------------------------------------

    def sign_in_options(self, username: str, *, binding: str, rp_id: str) -> str:
        """The options (JSON) for ``navigator.credentials.get``: the account's passkeys and a
        challenge bound to ``binding`` (the browser's pre-session cookie). Nothing is checked or
        recorded yet: the password is checked with the passkey's answer (``sign_in``), so
        these options never tell whether a password is right. A username no active account
        has gets a challenge that no answer can use."""
        member = self.accounts.by_username(username)
        if member is None or not member.active:
            challenge, existing = secrets.token_bytes(32), []
        else:
            challenge = self.challenges.issue(member.id, "sign_in", binding)
            with self.engine.connect() as conn:
                existing = self._rows(conn, member.id)
        options = generate_authentication_options(
            rp_id=rp_id,
            challenge=challenge,
            timeout=TIMEOUT_MS,
            allow_credentials=[_descriptor(r) for r in existing],
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        return options_to_json(options)

    def sign_in(
        self,
        answer: str,
        username: str,
        password: str,
        *,
        binding: str,
        rp_id: str,
        origin: str,
        client: str = "",
    ) -> StaffMember:
        """The member, when ``password`` is theirs and ``answer`` (the JSON of
        ``navigator.credentials.get``) is a valid assertion of one of their passkeys over their
        live challenge on this browser; else SignInRefused (recorded, counted toward the
        lockout), the same whichever was wrong."""
        parsed = _parsed_assertion(answer)
        # Taken (and so spent) whatever happens next.
        account_id = None if parsed is None else self.challenges.take(parsed[1], "sign_in", binding)

        def passkey(conn: Connection, row: Any, now: datetime) -> None:
            if parsed is None:
                raise self.accounts.refuse(conn, row, now, "passkey", client=client)
            if account_id != row.id:  # spent, expired, another browser's or never issued
                raise self.accounts.refuse(conn, row, now, "replayed", client=client)
            credential, challenge = parsed
            key = conn.execute(
                select(StaffPasskey).where(
                    StaffPasskey.credential_id == bytes(credential.raw_id),
                    StaffPasskey.account_id == row.id,
                )
            ).first()
            handle = credential.response.user_handle
            if key is None or (handle is not None and bytes(handle) != row.id.encode()):
                raise self.accounts.refuse(conn, row, now, "passkey", client=client)
            try:
                verified = verify_authentication_response(
                    credential=credential,
                    expected_challenge=challenge,
                    expected_rp_id=rp_id,
                    expected_origin=origin,
                    credential_public_key=key.public_key,
                    # A counter that does not move on is refused (a cloned authenticator).
                    credential_current_sign_count=key.sign_count,
                )
            except (InvalidAuthenticationResponse, ValueError):
                raise self.accounts.refuse(conn, row, now, "passkey", client=client) from None
            conn.execute(
                update(StaffPasskey)
                .where(StaffPasskey.id == key.id)
                .values(sign_count=verified.new_sign_count, last_used_at=now)
            )

        return self.accounts.sign_in_with(
            username, password, passkey, factor="passkey", client=client
        )
