"""Staff accounts: argon2id passwords, TOTP required and never replayed, lockout, the access
record, and what an admin changes (roles, password, TOTP, disabling, unlocking)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from ledger.access.staff import (
    SignInRefused,
    StaffAccount,
    StaffError,
    normal_username,
)
from ledger.complaints.events import ACTOR_ID
from ledger.sealing import SealError, SecretBox
from tests.support.staff import PASSWORD, code, new_member, staff_accounts


def refused(accounts, username, password, totp, reason: str) -> SignInRefused:
    with pytest.raises(SignInRefused) as caught:
        accounts.authenticate(username, password, totp, client="192.0.2.7")
    assert caught.value.reason == reason
    assert str(caught.value) == "the username, password or code is not right"  # one message
    return caught.value


def test_an_account_stores_an_argon2id_hash_and_a_sealed_totp_secret(accounts, engine) -> None:
    new = new_member(accounts, "Rui.Costa", languages=["pt", "en"], email="rui@example.org")
    member = new.member
    assert member.username == "rui.costa" and member.display_name == "Rui Costa"
    assert member.roles == ("agent",) and member.languages == ("en", "pt")
    assert ACTOR_ID.fullmatch(member.pseudonym) and member.pseudonym.startswith("staff-")
    assert new.provisioning_uri.startswith("otpauth://totp/")
    assert f"secret={new.totp_secret}" in new.provisioning_uri
    with engine.connect() as conn:
        row = conn.execute(select(StaffAccount).where(StaffAccount.id == member.id)).one()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    assert new.totp_secret.encode() not in row.totp_sealed
    assert accounts.by_username("RUI.COSTA") == member
    assert accounts.by_pseudonym(member.pseudonym) == member
    assert accounts.get(member.id) == member


def test_bad_accounts_are_refused(accounts) -> None:
    new_member(accounts)
    with pytest.raises(StaffError, match="taken"):
        new_member(accounts, "RUI.COSTA")
    for kw in (
        {"roles": ["regulator"]},
        {"roles": []},
        {"languages": ["fr"]},
        {"specialisms": ["cooking"]},
        {"password": "short"},
        {"email": "not an address"},
    ):
        with pytest.raises(StaffError):
            new_member(accounts, "other.person", **kw)
    with pytest.raises(StaffError):
        new_member(accounts, "has space")
    assert normal_username("  Ana.Lopes ") == "ana.lopes"


def test_password_and_code_are_both_required(accounts, clock) -> None:
    new = new_member(accounts)
    right = code(new.totp_secret, clock.now)
    refused(accounts, "rui.costa", "wrong password!!", right, "password")
    refused(accounts, "rui.costa", PASSWORD, "000000" if right != "000000" else "111111", "code")
    refused(accounts, "rui.costa", PASSWORD, "", "code")
    member = accounts.authenticate("Rui.Costa", PASSWORD, right, client="192.0.2.7")
    assert member == new.member
    kinds = [(e.kind, e.reason) for e in reversed(accounts.events()[1])]
    assert kinds == [
        ("created", None),
        ("sign_in_failed", "password"),
        ("sign_in_failed", "code"),
        ("sign_in_failed", "code"),
        ("signed_in", None),
    ]
    event = accounts.events(kind="signed_in")[1][0]
    assert event.account_id == new.member.id and event.username == "rui.costa"
    assert event.client == "192.0.2.7" and event.by == "system"


def test_a_code_of_the_previous_or_next_step_is_accepted_once(accounts, clock) -> None:
    new = new_member(accounts)
    early = code(new.totp_secret, clock.now + timedelta(seconds=30))  # a clock running ahead
    accounts.authenticate("rui.costa", PASSWORD, early)
    # Replayed within its window (same step, then the next one): refused.
    refused(accounts, "rui.costa", PASSWORD, early, "replayed")
    clock.next_step()
    refused(accounts, "rui.costa", PASSWORD, early, "replayed")
    # The current step's code is no later than the one used: refused too.
    refused(accounts, "rui.costa", PASSWORD, code(new.totp_secret, clock.now), "replayed")
    clock.next_step()
    accounts.authenticate("rui.costa", PASSWORD, code(new.totp_secret, clock.now))
    clock.next_step()
    clock.next_step()
    refused(accounts, "rui.costa", PASSWORD, early, "code")  # too old now


def test_repeated_failures_lock_the_account_for_a_while(accounts, clock) -> None:
    new = new_member(accounts)
    for _ in range(4):
        refused(accounts, "rui.costa", "wrong password!!", "123456", "password")
    locked = refused(accounts, "rui.costa", PASSWORD, "000000", "code")  # the fifth: locked
    assert locked.locked_until == clock.now + timedelta(minutes=15)
    clock.next_step()
    right = code(new.totp_secret, clock.now)
    refused(accounts, "rui.costa", PASSWORD, right, "locked")  # right credentials, still locked
    clock.advance(minutes=15)
    right = code(new.totp_secret, clock.now)
    assert accounts.authenticate("rui.costa", PASSWORD, right) == new.member
    kinds = [e.kind for e in reversed(accounts.events(account_id=new.member.id)[1])]
    assert kinds == ["created", *["sign_in_failed"] * 5, "locked", "sign_in_failed", "signed_in"]
    status = next(s for s in accounts.accounts() if s.member.id == new.member.id)
    assert status.failed_count == 0 and status.locked_until is None


def test_success_resets_the_failure_count(accounts, clock) -> None:
    new = new_member(accounts)
    for _ in range(4):
        refused(accounts, "rui.costa", "wrong password!!", "123456", "password")
    accounts.authenticate("rui.costa", PASSWORD, code(new.totp_secret, clock.now))
    for _ in range(4):
        refused(accounts, "rui.costa", "wrong password!!", "123456", "password")
    clock.next_step()
    accounts.authenticate("rui.costa", PASSWORD, code(new.totp_secret, clock.now))


def test_an_admin_unlocks_a_locked_account(accounts, clock) -> None:
    new = new_member(accounts)
    admin = new_member(accounts, "jordi.puig", name="Jordi Puig", roles=["admin"]).member
    for _ in range(5):
        refused(accounts, "rui.costa", "wrong password!!", "123456", "password")
    refused(accounts, "rui.costa", PASSWORD, code(new.totp_secret, clock.now), "locked")
    accounts.unlock(new.member.id, by=admin.pseudonym)
    accounts.authenticate("rui.costa", PASSWORD, code(new.totp_secret, clock.now))
    unlocked = accounts.events(kind="unlocked")[1][0]
    assert unlocked.by == admin.pseudonym and unlocked.account_id == new.member.id


def test_an_unknown_username_costs_the_same_and_is_recorded_without_it(accounts, clock) -> None:
    calls = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):
            calls.append(hash)
            return super().verify(hash, password)

    counting = staff_accounts(
        accounts.engine, accounts.box.key_file, clock,
        hasher=Counting(time_cost=1, memory_cost=8, parallelism=1),
    )  # fmt: skip
    refused(counting, "someone.else@example.org", "their password!", "123456", "unknown")
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")  # a real verify was made
    total, events = counting.events(kind="sign_in_failed")
    assert total == 1
    event = events[0]
    assert event.account_id is None and event.username is None and event.reason == "unknown"
    assert "someone" not in repr(event)


def test_a_disabled_account_cannot_sign_in_and_leaves_the_members(accounts, clock) -> None:
    new = new_member(accounts)
    disabled = accounts.disable(new.member.id, by="system")
    assert not disabled.active
    refused(accounts, "rui.costa", PASSWORD, code(new.totp_secret, clock.now), "disabled")
    assert accounts.members() == [] and accounts.members("agent") == []
    assert accounts.get(new.member.id) == disabled  # the account and its record stay


def test_members_by_role(accounts) -> None:
    agent = new_member(accounts).member
    officer = new_member(accounts, "ines.duarte", name="Inês Duarte",
                         roles=["officer", "agent"]).member  # fmt: skip
    assert accounts.members() == [officer, agent]  # by display name
    assert accounts.members("officer") == [officer]
    assert officer.roles == ("agent", "officer") and officer.has("officer")
    with pytest.raises(StaffError):
        accounts.members("regulator")


def test_role_change_is_recorded_and_ends_the_sessions(accounts, sessions, clock) -> None:
    new = new_member(accounts)
    session_id, _ = sessions.open(new.member.id)
    other_id, _ = sessions.open(new.member.id)
    changed = accounts.set_roles(new.member.id, ["agent", "supervisor"], by="staff-00c0ffee")
    assert changed.roles == ("agent", "supervisor")
    assert sessions.find(session_id) is None and sessions.find(other_id) is None
    event = accounts.events(kind="roles_changed")[1][0]
    assert event.detail == {"old": ["agent"], "new": ["agent", "supervisor"]}
    assert event.by == "staff-00c0ffee"
    with pytest.raises(StaffError):
        accounts.set_roles(new.member.id, ["regulator"], by="system")
    with pytest.raises(StaffError):
        accounts.set_roles("0" * 16, ["agent"], by="system")


def test_password_change_and_totp_reset(accounts, sessions, clock) -> None:
    new = new_member(accounts)
    session_id, _ = sessions.open(new.member.id)
    accounts.set_password(new.member.id, "a new password of some length", by="system")
    assert sessions.find(session_id) is None
    refused(accounts, "rui.costa", PASSWORD, code(new.totp_secret, clock.now), "password")
    reset = accounts.reset_totp(new.member.id, by="system")
    assert reset.totp_secret != new.totp_secret and reset.member.id == new.member.id
    clock.next_step()
    password = "a new password of some length"
    refused(accounts, "rui.costa", password, code(new.totp_secret, clock.now), "code")
    accounts.authenticate("rui.costa", password, code(reset.totp_secret, clock.now))
    kinds = {e.kind for e in accounts.events()[1]}
    assert {"password_changed", "totp_reset"} <= kinds


def test_the_hash_is_renewed_when_the_parameters_change(accounts, engine, clock) -> None:
    new = new_member(accounts)
    stronger_hasher = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    stronger = staff_accounts(engine, accounts.box.key_file, clock, hasher=stronger_hasher)
    stronger.authenticate("rui.costa", PASSWORD, code(new.totp_secret, clock.now))
    with engine.connect() as conn:
        stored = conn.execute(select(StaffAccount.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=16,t=2,p=1$")


def test_a_sealed_totp_secret_does_not_open_with_another_key_file(
    accounts, engine, clock, tmp_path
) -> None:
    new = new_member(accounts)
    with engine.connect() as conn:
        sealed = conn.execute(select(StaffAccount.totp_sealed)).scalar_one()
    assert SecretBox(accounts.box.key_file).open(f"staff-totp:{new.member.id}", sealed) == (
        new.totp_secret
    )
    other = SecretBox(tmp_path / "other.key")
    with pytest.raises(SealError):
        other.open(f"staff-totp:{new.member.id}", sealed)
    # Nor with this key under another account's id (copied to another row).
    with pytest.raises(SealError):
        SecretBox(accounts.box.key_file).open("staff-totp:0000000000000000", sealed)
    wrong_key = staff_accounts(engine, tmp_path / "other.key", clock)
    with pytest.raises(SealError):
        wrong_key.authenticate("rui.costa", PASSWORD, code(new.totp_secret, clock.now))


def test_two_parallel_sign_ins_with_one_code_let_one_in(accounts, clock) -> None:
    new = new_member(accounts)
    right = code(new.totp_secret, clock.now)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            accounts.authenticate("rui.costa", PASSWORD, right)
            outcomes.append("in")
        except SignInRefused as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["in", "replayed"]
