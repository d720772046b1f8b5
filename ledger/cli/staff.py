"""Staff accounts for the console: create, list, change roles, reset TOTP, unlock, disable.

Usage:
  ledger-staff create --username rui.costa --name "Rui Costa" --role agent [--role ...]
      [--email E] [--language pt ...] [--specialism security ...] [--password-file F]
      asks for the password (or reads the first line of --password-file) and prints the
      TOTP secret and its otpauth:// URI once, to enrol in an authenticator app.
  ledger-staff list
  ledger-staff roles USERNAME ROLE [ROLE ...]     # the account's sessions end
  ledger-staff reset-totp USERNAME                # prints the new secret once
  ledger-staff unlock USERNAME
  ledger-staff disable USERNAME

Changes are recorded in the access record with ``by`` "system". The TOTP secrets are
sealed under LEDGER_STAFF_KEY_FILE: run this with the API's settings.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ledger.access.staff import (
    STAFF_ROLES,
    SYSTEM,
    NewAccount,
    StaffAccounts,
    StaffError,
    StaffMember,
)
from ledger.complaints.vocab import Language, Specialism
from ledger.config import Settings
from ledger.db import make_engine
from ledger.runtime import create_schema, staff_accounts
from ledger.secretfiles import ensure_private_dir


def _password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise StaffError("the passwords differ")
    return first


def _enrolment(new: NewAccount) -> None:
    print(f"account {new.member.username}: id {new.member.id}, pseudonym {new.member.pseudonym}")
    print("TOTP (shown once: enrol it in the member's authenticator app, then forget it):")
    print(f"  secret: {new.totp_secret}")
    print(f"  uri   : {new.provisioning_uri}")


def _member(accounts: StaffAccounts, username: str) -> StaffMember:
    member = accounts.by_username(username)
    if member is None:
        raise StaffError(f"no staff account {username}")
    return member


def _list(accounts: StaffAccounts) -> None:
    for status in accounts.accounts():
        m = status.member
        state = "disabled" if status.disabled_at else "active"
        if status.locked_until is not None:
            state += f", locked until {status.locked_until.isoformat(timespec='seconds')}"
        print(
            f"{m.username:<24} {m.pseudonym:<15} {','.join(m.roles):<24} "
            f"{','.join(m.languages) or '-':<12} {','.join(m.specialisms) or '-':<12} "
            f"{state}  {m.display_name}"
        )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ledger-staff", description=__doc__.splitlines()[0])
    p.add_argument("--database-url", help="default: LEDGER_DATABASE_URL or the data folder's")
    sub = p.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="a new account (prints its TOTP secret once)")
    create.add_argument("--username", required=True)
    create.add_argument("--name", required=True, help="display name (shown to customers)")
    create.add_argument("--role", action="append", required=True, choices=STAFF_ROLES)
    create.add_argument("--email", help="for alerts")
    create.add_argument("--language", action="append", default=[],
                        choices=[str(v) for v in Language])  # fmt: skip
    create.add_argument("--specialism", action="append", default=[],
                        choices=[str(v) for v in Specialism])  # fmt: skip
    create.add_argument("--password-file", type=Path, help="first line: the password")
    sub.add_parser("list", help="every account, with roles and lock state")
    roles = sub.add_parser("roles", help="set an account's roles (its sessions end)")
    roles.add_argument("username")
    roles.add_argument("roles", nargs="+", choices=STAFF_ROLES)
    for name, what in (
        ("reset-totp", "a new TOTP secret (printed once; the old one stops working)"),
        ("unlock", "end a lockout"),
        ("disable", "no more sign-ins; its sessions end"),
    ):
        sub.add_parser(name, help=what).add_argument("username")
    return p


def run(args: argparse.Namespace, accounts: StaffAccounts) -> None:
    if args.command == "create":
        _enrolment(
            accounts.create(
                args.username,
                args.name,
                _password(args),
                args.role,
                email=args.email,
                languages=args.language,
                specialisms=args.specialism,
                by=SYSTEM,
            )
        )
    elif args.command == "list":
        _list(accounts)
    elif args.command == "roles":
        member = accounts.set_roles(_member(accounts, args.username).id, args.roles, by=SYSTEM)
        print(f"{member.username}: {', '.join(member.roles)} (its sessions ended)")
    elif args.command == "reset-totp":
        _enrolment(accounts.reset_totp(_member(accounts, args.username).id, by=SYSTEM))
    elif args.command == "unlock":
        accounts.unlock(_member(accounts, args.username).id, by=SYSTEM)
        print(f"{args.username}: unlocked")
    elif args.command == "disable":
        accounts.disable(_member(accounts, args.username).id, by=SYSTEM)
        print(f"{args.username}: disabled (its sessions ended)")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    url = args.database_url or settings.database_url
    if url == settings.database_url and url.startswith("sqlite"):
        ensure_private_dir(settings.data_dir)  # 0700: the database holds personal data
    engine = make_engine(url, connect_timeout=settings.db_connect_timeout)
    try:
        create_schema(engine)
        run(args, staff_accounts(engine, settings))
    except StaffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
