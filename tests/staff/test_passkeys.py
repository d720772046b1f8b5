"""Staff passkeys: registration and sign-in verified by ``webauthn`` against a software
authenticator; challenges single-use and bound to the browser; origin, rp id and signature
counter checked; failures recorded and counted toward the lockout; only public data stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ledger.access.passkey_challenges import PasskeyChallenge
from ledger.access.passkeys import PasskeyError, StaffPasskey, StaffPasskeys
from ledger.access.staff import SignInRefused
from tests.support.passkeys import ORIGIN, RP_ID, SoftAuthenticator, unb64url
from tests.support.staff import PASSWORD

BROWSER = "pre-session-cookie-of-one-browser"
SESSION = "session-cookie-of-one-browser"


@pytest.fixture
def passkeys(accounts) -> StaffPasskeys:
    return StaffPasskeys(accounts)


@pytest.fixture
def member(accounts):
    return accounts.create("rui", "Rui Costa", PASSWORD, ["agent"]).member


def register(passkeys, member, device=None, name="Laptop", **kw) -> SoftAuthenticator:
    device = device or SoftAuthenticator()
    options = passkeys.registration_options(member, binding=SESSION, rp_id=RP_ID)
    passkeys.register(
        member, device.create(options), name, binding=SESSION, rp_id=RP_ID, origin=ORIGIN, **kw
    )
    return device


def options_for(passkeys, username="rui", binding=BROWSER) -> str:
    return passkeys.sign_in_options(username, binding=binding, rp_id=RP_ID)


def sign_in(passkeys, answer, binding=BROWSER, username="rui", password=PASSWORD, **kw):
    return passkeys.sign_in(
        answer,
        username,
        password,
        binding=binding,
        rp_id=kw.pop("rp_id", RP_ID),
        origin=kw.pop("origin", ORIGIN),
    )


def kinds(accounts, member) -> list[tuple[str, str | None]]:
    return [(e.kind, e.reason) for e in accounts.events(account_id=member.id)[1]]


def test_register_then_sign_in_with_the_passkey(accounts, passkeys, member) -> None:
    device = register(passkeys, member)
    [key] = passkeys.of(member.id)
    assert (key.name, key.transports, key.last_used_at) == ("Laptop", ("internal",), None)
    options = json.loads(options_for(passkeys))
    assert options["rpId"] == RP_ID
    assert [unb64url(c["id"]) for c in options["allowCredentials"]] == [device.credential_id]
    signed_in = sign_in(passkeys, device.get(options))
    assert signed_in == member
    assert passkeys.of(member.id)[0].last_used_at == accounts.clock()
    assert kinds(accounts, member)[:2] == [("signed_in", "passkey"), ("passkey_added", None)]
    added = accounts.events(account_id=member.id, kind="passkey_added")[1][0]
    assert added.by == member.pseudonym and added.detail["name"] == "Laptop"


def test_registration_options_exclude_the_members_passkeys(passkeys, member) -> None:
    device = register(passkeys, member)
    options = json.loads(passkeys.registration_options(member, binding=SESSION, rp_id=RP_ID))
    assert [unb64url(c["id"]) for c in options["excludeCredentials"]] == [device.credential_id]
    assert unb64url(options["user"]["id"]) == member.id.encode()


def test_a_challenge_is_used_once(accounts, passkeys, member) -> None:
    device = register(passkeys, member)
    options = options_for(passkeys)
    answer = device.get(options)
    sign_in(passkeys, answer)
    with pytest.raises(SignInRefused) as refused:
        sign_in(passkeys, answer)  # the same answer again
    assert refused.value.reason == "replayed"
    again = device.get(options, count=device.sign_count + 5)  # a new signature, old challenge
    with pytest.raises(SignInRefused):
        sign_in(passkeys, again)
    last = accounts.events(kind="sign_in_failed")[1][0]
    assert (last.reason, last.account_id) == ("replayed", member.id)


def test_a_challenge_is_bound_to_its_browser_and_expires(accounts, passkeys, member) -> None:
    device = register(passkeys, member)
    with pytest.raises(SignInRefused):
        sign_in(passkeys, device.get(options_for(passkeys)), binding="another browser")
    options = options_for(passkeys)
    accounts.clock.advance(minutes=3)  # past the challenge's two minutes
    with pytest.raises(SignInRefused):
        sign_in(passkeys, device.get(options))
    # A challenge made for registration does not sign in, nor the other way round.
    reg = passkeys.registration_options(member, binding=BROWSER, rp_id=RP_ID)
    with pytest.raises(SignInRefused):
        sign_in(passkeys, device.get(reg))


def test_a_challenge_the_server_never_issued_is_refused(passkeys, member) -> None:
    device = register(passkeys, member)
    made_up = {"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
    with pytest.raises(SignInRefused) as refused:
        sign_in(passkeys, device.get(made_up))
    assert refused.value.reason == "replayed"


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("origin", "https://evil.example"),
        ("origin", "http://localhost:9"),
        ("rp_id", "evil.example"),
    ],
)
def test_wrong_origin_or_rp_id_is_refused(accounts, passkeys, member, where, value) -> None:
    device = register(passkeys, member)
    with pytest.raises(SignInRefused) as refused:
        sign_in(passkeys, device.get(options_for(passkeys), **{where: value}))
    assert refused.value.reason == "passkey"
    assert kinds(accounts, member)[0] == ("sign_in_failed", "passkey")


def test_registration_with_wrong_origin_or_rp_id_is_refused(passkeys, member) -> None:
    for where, value in (("origin", "https://evil.example"), ("rp_id", "evil.example")):
        options = passkeys.registration_options(member, binding=SESSION, rp_id=RP_ID)
        answer = SoftAuthenticator().create(options, **{where: value})
        with pytest.raises(PasskeyError):
            passkeys.register(member, answer, "Phone", binding=SESSION, rp_id=RP_ID, origin=ORIGIN)
    assert passkeys.of(member.id) == []


def test_registration_needs_the_members_own_live_challenge(accounts, passkeys, member) -> None:
    other = accounts.create("olga", "Olga Officer", PASSWORD, ["officer"]).member
    options = passkeys.registration_options(other, binding=SESSION, rp_id=RP_ID)
    answer = SoftAuthenticator().create(options)
    with pytest.raises(PasskeyError):  # made for another member
        passkeys.register(member, answer, "Phone", binding=SESSION, rp_id=RP_ID, origin=ORIGIN)
    with pytest.raises(PasskeyError):  # and now used up for her too
        passkeys.register(other, answer, "Phone", binding=SESSION, rp_id=RP_ID, origin=ORIGIN)


def test_sign_count_regression_is_refused(accounts, passkeys, member) -> None:
    device = register(passkeys, member)
    sign_in(passkeys, device.get(options_for(passkeys), count=7))
    for count in (7, 3):  # the same counter again, or one turned back: a cloned authenticator
        with pytest.raises(SignInRefused) as refused:
            sign_in(passkeys, device.get(options_for(passkeys), count=count))
        assert refused.value.reason == "passkey"
    assert sign_in(passkeys, device.get(options_for(passkeys), count=8)) == member


def test_another_members_passkey_does_not_sign_in(accounts, passkeys, member) -> None:
    other = accounts.create("olga", "Olga Officer", PASSWORD, ["officer"]).member
    hers = register(passkeys, other)
    register(passkeys, member)
    with pytest.raises(SignInRefused):
        sign_in(passkeys, hers.get(options_for(passkeys, "rui")))
    unknown = SoftAuthenticator()  # a passkey never registered
    with pytest.raises(SignInRefused):
        sign_in(passkeys, unknown.get(options_for(passkeys, "rui")))


def test_the_password_is_checked_with_the_passkey_never_before(accounts, passkeys, member) -> None:
    device = register(passkeys, member)
    before = accounts.events()[0]
    # Options for any username, right or not, look alike and record nothing: no oracle.
    known, unknown = json.loads(options_for(passkeys)), json.loads(options_for(passkeys, "nobody"))
    assert set(known) == set(unknown) and accounts.events()[0] == before
    # The passkey's answer with a wrong password: one refusal, recorded as the password's.
    with pytest.raises(SignInRefused) as refused:
        sign_in(passkeys, device.get(known), password="not the password!")
    assert str(refused.value) == "the username, password or code is not right"
    assert kinds(accounts, member)[0] == ("sign_in_failed", "password")
    with pytest.raises(SignInRefused):  # the challenge went with that attempt
        sign_in(passkeys, device.get(known, count=device.sign_count + 1))
    # An answer to an unknown username's options signs in no one.
    with pytest.raises(SignInRefused):
        sign_in(passkeys, device.get(unknown))


def test_failures_count_toward_the_same_lockout(accounts, passkeys, member) -> None:
    device = register(passkeys, member)
    for _ in range(2):
        with pytest.raises(SignInRefused):
            sign_in(passkeys, device.get(options_for(passkeys)), password="not the password!")
    for _ in range(3):
        with pytest.raises(SignInRefused):
            sign_in(passkeys, device.get(options_for(passkeys), origin="https://evil.example"))
    assert ("locked", None) in kinds(accounts, member)
    with pytest.raises(SignInRefused) as refused:  # locked: even the right password and passkey
        sign_in(passkeys, device.get(options_for(passkeys)))
    assert refused.value.reason == "locked"
    accounts.clock.advance(minutes=16)
    assert sign_in(passkeys, device.get(options_for(passkeys))) == member


def test_a_disabled_account_cannot_sign_in_with_its_passkey(accounts, passkeys, member) -> None:
    device = register(passkeys, member)
    options = options_for(passkeys)
    accounts.disable(member.id, by="system")
    with pytest.raises(SignInRefused) as refused:
        sign_in(passkeys, device.get(options))
    assert refused.value.reason == "disabled"


def test_remove_a_passkey(accounts, passkeys, member) -> None:
    device = register(passkeys, member)
    [key] = passkeys.of(member.id)
    other = accounts.create("olga", "Olga Officer", PASSWORD, ["officer"]).member
    with pytest.raises(PasskeyError):
        passkeys.remove(other, key.id)  # not hers
    passkeys.remove(member, key.id)
    assert passkeys.of(member.id) == []
    assert kinds(accounts, member)[0] == ("passkey_removed", None)
    with pytest.raises(SignInRefused):
        sign_in(passkeys, device.get(options_for(passkeys)))


def test_names_and_duplicates(passkeys, member) -> None:
    with pytest.raises(PasskeyError):
        register(passkeys, member, name="   ")
    device = register(passkeys, member, name="  Work   laptop ")
    assert passkeys.of(member.id)[0].name == "Work laptop"
    with pytest.raises(PasskeyError):
        register(passkeys, member, device=device)  # its credential id is registered already


def test_nothing_stored_could_sign_in(engine, passkeys, member) -> None:
    """The database keeps public keys and hashes: no challenge, no private key."""
    device = register(passkeys, member)
    options = json.loads(options_for(passkeys))
    challenge = unb64url(options["challenge"])
    with engine.connect() as conn:
        stored = conn.execute(select(PasskeyChallenge)).all()
        keys = conn.execute(select(StaffPasskey)).all()
    assert stored and all(challenge not in bytes(r.challenge_hash) for r in stored)
    assert all(BROWSER.encode() != bytes(r.binding_hash) for r in stored)
    private = device.key.private_numbers().private_value.to_bytes(32, "big")
    for row in keys:
        assert all(private not in bytes(v) for v in row if isinstance(v, bytes))
    dump = "\n".join(repr(tuple(r)) for r in stored + keys)
    assert options["challenge"] not in dump and challenge.hex() not in dump
