"""Staff console sessions: a new id at every sign-in (the old one revoked), idle and absolute
expiry, sign-out, every session of an account ended at once, and the purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ledger.access.secrets import hash_secret
from ledger.access.staff_sessions import StaffSession, StaffSessions
from tests.support.staff import new_member


@pytest.fixture
def member(accounts):
    return new_member(accounts).member


def test_a_session_is_stored_hashed_with_its_own_csrf_token(sessions, member, engine, clock):
    session_id, live = sessions.open(member.id)
    assert live.account_id == member.id
    assert live.expires_at == clock.now + timedelta(hours=10)
    assert live.idle_expires_at == clock.now + timedelta(minutes=30)
    with engine.connect() as conn:
        rows = conn.execute(select(StaffSession.session_hash, StaffSession.csrf_token)).all()
    assert rows == [(hash_secret(session_id), live.csrf_token)]
    other_id, other = sessions.open(member.id)
    assert other_id != session_id and other.csrf_token != live.csrf_token
    assert sessions.find(session_id) == live
    assert sessions.find("not-a-session") is None


def test_signing_in_again_rotates_the_id(sessions, member) -> None:
    before, _ = sessions.open(member.id)
    after, live = sessions.open(member.id, replacing=before)
    assert after != before
    assert sessions.find(before) is None  # a fixed (planted) id is worth nothing after sign-in
    assert sessions.find(after) == live


def test_a_session_idles_out(sessions, member, clock) -> None:
    session_id, _ = sessions.open(member.id)
    clock.advance(minutes=29)
    assert sessions.find(session_id) is not None  # a request: idle expiry moves on
    clock.advance(minutes=29)
    assert sessions.find(session_id) is not None
    clock.advance(minutes=31)
    assert sessions.find(session_id) is None  # 31 minutes without a request


def test_absolute_expiry_holds_whatever_the_activity(sessions, member, clock) -> None:
    session_id, live = sessions.open(member.id)
    while clock.now + timedelta(minutes=20) < live.expires_at:
        clock.advance(minutes=20)
        assert sessions.find(session_id) is not None
    clock.now = live.expires_at
    assert sessions.find(session_id) is None


def test_sign_out_and_revoke_all(sessions, member, accounts, clock) -> None:
    first, _ = sessions.open(member.id)
    second, _ = sessions.open(member.id)
    other = new_member(accounts, "ines.duarte", name="Inês Duarte").member
    hers, _ = sessions.open(other.id)
    sessions.revoke(first)
    assert sessions.find(first) is None and sessions.find(second) is not None
    assert sessions.revoke_all(member.id) == 1
    assert sessions.find(second) is None
    assert sessions.find(hers) is not None  # another member's session is untouched
    clock.advance(days=2)
    assert sessions.purge() == 3


def test_lifetimes_must_be_positive(engine) -> None:
    with pytest.raises(ValueError):
        StaffSessions(engine, lifetime=timedelta(0), idle=timedelta(minutes=1))
