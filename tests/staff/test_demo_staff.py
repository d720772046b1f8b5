"""The demo's staff: an account per role (and a second officer, a security specialist), whose
passwords and TOTP secrets are only in the 0600 credentials file; the run command says how
to sign in without showing them."""

from __future__ import annotations

import argparse
import json

import pyotp
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ledger.access.staff import STAFF_ROLES
from ledger.cli.run import print_demo
from ledger.complaints.officers import officer_key_id
from ledger.demo import DEMO_OFFICER, DEMO_STAFF, OFFICER_KEY, seed_demo


def test_the_demo_creates_staff_who_can_sign_in(ledger, tmp_path, capsys) -> None:
    info = seed_demo(ledger, tmp_path)
    assert info.staff_usernames == tuple(s.username for s in DEMO_STAFF)
    creds = json.loads(info.credentials_file.read_text())
    assert (info.credentials_file.stat().st_mode & 0o777) == 0o600
    staff = {s["username"]: s for s in creds["staff"]}
    members = {m.username: m for m in ledger.staff.members()}
    assert set(staff) == set(members)
    assert {r for m in members.values() for r in m.roles} == set(STAFF_ROLES)
    assert len(ledger.staff.members("officer")) == 2
    assert members["rui.costa"].languages == ("en", "pt")
    assert members["marta.soler"].specialisms == ("security",)

    rui = staff["rui.costa"]
    code = pyotp.TOTP(rui["totp_secret"]).now()
    assert ledger.staff.authenticate("rui.costa", rui["password"], code) == members["rui.costa"]

    # The agent's steps carry the handler's pseudonym (not a name: the log is public).
    _, rows = ledger.complaints.reads.list(limit=100)
    actors = {
        e.envelope.actor.id for r in rows for e in ledger.complaints.reads.events(r.reference)
    }
    assert members["marta.soler"].pseudonym in actors and "demo-agent" not in actors

    # The first officer signs in the browser with the demo key file: it is linked to her.
    key = load_pem_private_key((tmp_path / OFFICER_KEY).read_bytes(), password=None)
    assert ledger.drafts.holders.holder_of(officer_key_id(key)) == members[DEMO_OFFICER].id

    # Later runs still know the usernames; the run command prints them, never a secret.
    again = seed_demo(ledger, tmp_path)
    assert not again.created and again.staff_usernames == info.staff_usernames
    print_demo(argparse.Namespace(host="127.0.0.1", port=8000), again)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/console/sign-in" in out and "rui.costa" in out
    assert str(info.credentials_file) in out and str(tmp_path / OFFICER_KEY) in out
    for s in creds["staff"]:
        assert s["password"] not in out and s["totp_secret"] not in out
