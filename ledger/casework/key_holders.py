"""Which staff account holds which officer key: the keys the console lets an officer sign with.

A registration on the log names the key and its authority, not the console account that uses
it. An officer links a registered key to their account by signing a fixed statement with it
(``link_statement``) in their browser: only the holder of the private key can, and the server
only ever sees the public key and the signature. One key, one account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Index, String, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.casework.clock import Clock, utc_now
from ledger.casework.officer_keys import OfficerKeys
from ledger.complaints.errors import AuthorityError
from ledger.complaints.officers import (
    COSIGNER_ROLE,
    OfficerKey,
    check_authority,
    verify_officer_signature,
)
from ledger.db import Base, UTCDateTime
from ledger.log.canonical import canonical_json

LINK_PURPOSE = "complaint-ledger console: I hold this officer key"


class OfficerKeyHolder(Base):
    """One officer key linked to the staff account that proved it holds the private key."""

    __tablename__ = "officer_key_holders"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_officer_key_holders_account_id", "account_id"),)


def link_statement(account_id: str, key_id: str) -> bytes:
    """The bytes an officer signs to link ``key_id`` to their account (JCS, UTF-8)."""
    return canonical_json({"account": account_id, "key_id": key_id, "purpose": LINK_PURPOSE})


@dataclass(frozen=True)
class HeldKey:
    """A registered officer key and whether it may sign now."""

    key: OfficerKey
    usable: bool
    why_not: str | None = None


class KeyHolders:
    """Link officer keys to staff accounts, and list the keys an account holds."""

    def __init__(self, engine: Engine, officer_keys: OfficerKeys, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.officer_keys = officer_keys
        self.clock = clock

    def holder_of(self, key_id: str) -> str | None:
        """The account that linked ``key_id``, if any."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(OfficerKeyHolder.account_id).where(OfficerKeyHolder.key_id == key_id)
            ).scalar_one_or_none()

    def keys_of(self, account_id: str) -> list[HeldKey]:
        """The registered keys linked to ``account_id``, each with whether it may sign now."""
        with self.engine.connect() as conn:
            ids = conn.execute(
                select(OfficerKeyHolder.key_id)
                .where(OfficerKeyHolder.account_id == account_id)
                .order_by(OfficerKeyHolder.linked_at)
            ).scalars()
            key_ids = list(ids)
        registry = self.officer_keys.registry()
        now = self.clock()
        held = []
        for key_id in key_ids:
            key = registry.get(key_id)
            if key is None:
                continue
            try:
                check_authority(registry, key_id, COSIGNER_ROLE, now)
            except AuthorityError as exc:
                held.append(HeldKey(key, False, exc.message))
            else:
                held.append(HeldKey(key, True))
        return held

    def link(self, account_id: str, key_id: str, signature: bytes) -> OfficerKey:
        """Link a registered officer key to ``account_id`` on proof of possession.

        Raises AuthorityError: KEY_UNKNOWN, the key's authority codes (it must be able to act
        as an officer now), SIGNATURE_INVALID, KEY_HELD_BY_OTHER.
        """
        registry = self.officer_keys.registry()
        check_authority(registry, key_id, COSIGNER_ROLE, self.clock())
        key = registry[key_id]
        if not verify_officer_signature(
            key.public_key, link_statement(account_id, key_id), signature
        ):
            raise AuthorityError(
                f"the signature does not verify with officer key {key_id}", "SIGNATURE_INVALID"
            )
        holder = self.holder_of(key_id)
        if holder == account_id:
            return key
        if holder is not None:
            raise _held_by_other(key_id)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(OfficerKeyHolder).values(
                        key_id=key_id, account_id=account_id, linked_at=self.clock()
                    )
                )
        except IntegrityError:  # linked by someone else meanwhile
            if self.holder_of(key_id) != account_id:
                raise _held_by_other(key_id) from None
        return key


def _held_by_other(key_id: str) -> AuthorityError:
    return AuthorityError(
        f"officer key {key_id} is linked to another staff account", "KEY_HELD_BY_OTHER"
    )
