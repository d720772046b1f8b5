"""LEDGER_SMTP_URL, the letter as an email, and the message id every retry keeps."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from ledger.messages.errors import ConfigError, DeliveryError, safe_reason
from ledger.messages.ids import message_id, receiver_kind, webhook_receiver
from ledger.messages.smtp import (
    SmtpSender,
    build_email,
    delivered_text,
    parse_smtp_url,
    sender_domain,
)
from ledger.processes import free_port

LEAF = "ab" * 32


@pytest.mark.parametrize(
    ("url", "security", "host", "port", "user", "password"),
    [
        ("smtp://127.0.0.1:2525", "plain", "127.0.0.1", 2525, None, None),
        ("smtp://relay.internal", "plain", "relay.internal", 25, None, None),
        ("smtp+starttls://mail.example.com", "starttls", "mail.example.com", 587, None, None),
        ("smtps://mail.example.com", "tls", "mail.example.com", 465, None, None),
        ("SMTPS://u:pw-42@mail.example.com:2465", "tls", "mail.example.com", 2465, "u", "pw-42"),
        # Percent-encoded user and password: '@', ':' and '/' in either survive.
        ("smtp+starttls://desk%40example.com:p%40ss%3Aw%2Fd@smtp.example.com",
         "starttls", "smtp.example.com", 587, "desk@example.com", "p@ss:w/d"),
    ],
)  # fmt: skip
def test_smtp_urls(url, security, host, port, user, password) -> None:
    server = parse_smtp_url(url)
    assert (server.security, server.host, server.port) == (security, host, port)
    assert (server.username, server.password) == (user, password)
    assert password is None or password not in repr(server)
    assert password is None or password not in server.redacted()


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "smtp://mail.example.com:notaport",
        "smtp://mail.example.com/path",
        "smtp://mail.example.com?x=1",
        "smtp://:s3cret-pw@mail.example.com",
        "mail.example.com:25",
    ],
)
def test_bad_smtp_urls_are_refused_without_quoting_a_password(url) -> None:
    with pytest.raises(ConfigError) as err:
        parse_smtp_url(url)
    assert "s3cret-pw" not in str(err.value)


def test_the_message_id_is_stable_and_per_receiver() -> None:
    expected = "msg_" + hashlib.sha256(f"{LEAF}/email".encode()).hexdigest()[:32]
    assert message_id(LEAF, "email") == expected == message_id(LEAF, "email")
    ids = {
        message_id(LEAF, r)
        for r in (
            "email",
            "email:info_reminder",
            webhook_receiver("ep_1"),
            webhook_receiver("ep_2"),
        )
    }
    assert len(ids) == 4
    assert message_id("cd" * 32, "email") != expected
    assert receiver_kind(webhook_receiver("ep_1")) == "webhook"
    assert receiver_kind("email:info_reminder") == "email"


def test_a_letter_as_an_email() -> None:
    when = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    msg = build_email(
        mail_from="Complaints desk <complaints@desk.example>",
        to="jane.roe@example.org",
        subject="Ваша жалоба 投诉",
        text="Dear Jane,\r\nline two\nthree",
        message_id="msg_" + "0" * 32,
        reference="ABCD-EFGH",
        when=when,
    )
    assert msg["Message-ID"] == f"<msg_{'0' * 32}@desk.example>"
    assert msg["X-Ledger-Message-Id"] == "msg_" + "0" * 32
    assert msg["Subject"] == "Ваша жалоба 投诉" and msg["To"] == "jane.roe@example.org"
    assert msg["Date"] == "Mon, 07 Dec 2026 09:30:00 +0000"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg.get_content() == "Dear Jane,\nline two\nthree\n"
    assert delivered_text("Dear Jane,\r\nline two\nthree") == msg.get_content()
    assert delivered_text(delivered_text("a\nb")) == "a\nb\n"


def test_the_sender_must_be_an_address() -> None:
    assert sender_domain("Desk <complaints@desk.example>") == "desk.example"
    assert sender_domain("complaints@desk.example") == "desk.example"
    for bad in ("", "complaints", "Desk <complaints>", "@desk.example"):
        with pytest.raises(ConfigError):
            sender_domain(bad)


def test_an_unreachable_server_is_a_temporary_failure_without_details() -> None:
    sender = SmtpSender(parse_smtp_url(f"smtp://127.0.0.1:{free_port()}"), timeout=2)
    msg = build_email(
        mail_from="c@desk.example", to="jane.roe@example.org", subject="s", text="t",
        message_id="msg_" + "1" * 32, reference="R", when=datetime.now(UTC),
    )  # fmt: skip
    with pytest.raises(DeliveryError) as err:
        sender.send(msg)
    assert not err.value.permanent
    assert "jane.roe" not in err.value.reason


def test_stored_reasons_carry_no_address_or_credentials() -> None:
    reason = safe_reason(
        "550 5.1.1 <jane.roe@example.org>: Recipient address rejected by "
        "https://user:pw@relay.example/x\n" + "x" * 500
    )
    assert "jane.roe" not in reason and "user:pw" not in reason and "\n" not in reason
    assert len(reason) <= 200
