"""ledger-staff: create (password from a file or the prompt; TOTP secret printed once),
list, roles, reset-totp, unlock and disable, on the configured database and key file."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ledger.access.staff import SignInRefused
from ledger.cli import staff as cli
from tests.support.staff import PASSWORD, Clock, code, staff_accounts


@pytest.fixture
def env(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("LEDGER_STAFF_KEY_FILE", str(tmp_path / "staff.key"))
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    return password_file


def secret_in(out: str) -> str:
    match = re.search(r"secret: ([A-Z2-7]+)\n", out)
    assert match, out
    return match.group(1)


def test_create_list_roles_reset_unlock_disable(env, capsys, engine, tmp_path) -> None:
    clock = Clock(datetime.now(UTC))  # the command's own clock tells whether it is locked
    create = ["create", "--username", "Rui.Costa", "--name", "Rui Costa", "--role", "agent",
              "--language", "pt", "--language", "en", "--password-file", str(env)]  # fmt: skip
    assert cli.main(create) == 0
    out = capsys.readouterr().out
    secret = secret_in(out)
    assert "otpauth://totp/" in out and PASSWORD not in out
    assert cli.main(create) == 1  # the username is taken
    assert "taken" in capsys.readouterr().err

    accounts = staff_accounts(engine, tmp_path / "staff.key", clock)
    member = accounts.authenticate("rui.costa", PASSWORD, code(secret, clock.now))
    assert member.languages == ("en", "pt") and member.roles == ("agent",)

    assert cli.main(["roles", "rui.costa", "agent", "supervisor"]) == 0
    assert accounts.get(member.id).roles == ("agent", "supervisor")
    assert cli.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "rui.costa" in listed and "agent,supervisor" in listed and "active" in listed
    assert secret not in listed

    assert cli.main(["reset-totp", "rui.costa"]) == 0
    new_secret = secret_in(capsys.readouterr().out)
    clock.next_step()
    with pytest.raises(SignInRefused):
        accounts.authenticate("rui.costa", PASSWORD, code(secret, clock.now))
    accounts.authenticate("rui.costa", PASSWORD, code(new_secret, clock.now))

    for _ in range(5):
        with pytest.raises(SignInRefused):
            accounts.authenticate("rui.costa", "not the password", "123456")
    assert cli.main(["list"]) == 0
    assert "locked until" in capsys.readouterr().out
    assert cli.main(["unlock", "rui.costa"]) == 0
    clock.next_step()
    accounts.authenticate("rui.costa", PASSWORD, code(new_secret, clock.now))

    assert cli.main(["disable", "rui.costa"]) == 0
    clock.next_step()
    with pytest.raises(SignInRefused) as refused:
        accounts.authenticate("rui.costa", PASSWORD, code(new_secret, clock.now))
    assert refused.value.reason == "disabled"
    assert cli.main(["unlock", "nobody"]) == 1
    by_cli = {e.kind: e.by for e in accounts.events()[1]}
    assert by_cli["roles_changed"] == by_cli["disabled"] == "system"


def test_create_asks_for_the_password_twice(env, capsys, monkeypatch) -> None:
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: next(answers))
    args = ["create", "--username", "li.wei", "--name", "Li Wei", "--role", "supervisor"]
    assert cli.main(args) == 1
    assert "differ" in capsys.readouterr().err
    answers = iter([PASSWORD, PASSWORD])
    assert cli.main(args) == 0
    assert "secret: " in capsys.readouterr().out


def test_unknown_roles_are_refused_by_the_parser(env) -> None:
    with pytest.raises(SystemExit):
        cli.main(["create", "--username", "x.y", "--name", "X", "--role", "regulator"])
