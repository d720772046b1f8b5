"""A copy of the database opens nothing: no password, TOTP secret or code, and no session
id is in any row of any table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import MetaData, select

from ledger.access.staff import SignInRefused
from tests.support.staff import PASSWORD, code, new_member


def every_value(engine) -> str:
    """Every value of every row of every table, as text (bytes both raw and as hex)."""
    metadata = MetaData()
    metadata.reflect(engine)
    out = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes):
                        out += [value.decode("latin-1"), value.hex()]
                    else:
                        out.append(str(value))
    return "\n".join(out)


def test_no_secret_is_stored_in_clear(accounts, sessions, engine, clock) -> None:
    new = new_member(accounts)
    used = code(new.totp_secret, clock.now)
    member = accounts.authenticate("rui.costa", PASSWORD, used, client="192.0.2.7")
    session_id, live = sessions.open(member.id)
    clock.next_step()
    wrong = code(new.totp_secret, clock.now + timedelta(hours=1))
    with pytest.raises(SignInRefused):
        accounts.authenticate("rui.costa", "a wrong password!", wrong)
    reset = accounts.reset_totp(member.id, by="system")
    dump = every_value(engine)
    assert "rui.costa" in dump and live.csrf_token in dump  # the dump does read the rows
    for secret in (PASSWORD, "a wrong password!", new.totp_secret, reset.totp_secret,
                   session_id):  # fmt: skip
        assert secret not in dump
    for totp in (used, wrong):  # a 6-digit code may occur by chance in a number: not a field
        assert not any(line == totp or f'"{totp}"' in line for line in dump.splitlines())
