"""The local mail server's folder: one private file per Message-ID, every receipt logged."""

from __future__ import annotations

import hashlib
import os
import stat
import threading

from ledger.messages.mailserver import MailFolder, stored_name


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw(message_id: str | None, body: str = "Hello") -> bytes:
    head = f"Message-ID: {message_id}\r\n" if message_id else ""
    return f"{head}Subject: s\r\nTo: jane@example.org\r\n\r\n{body}\r\n".encode()


def test_each_message_id_is_kept_once_and_every_receipt_logged(tmp_path) -> None:
    old = os.umask(0)
    try:
        folder = MailFolder(tmp_path / "mail")
        first = raw("<msg_" + "a" * 32 + "@desk.example>")
        assert folder.store(first) == ("msg_" + "a" * 32, True)
        assert folder.store(raw("<msg_" + "a" * 32 + "@desk.example>", "Hello again")) == (
            "msg_" + "a" * 32, False,
        )  # fmt: skip
    finally:
        os.umask(old)
    assert folder.names() == ["msg_" + "a" * 32]
    assert (folder.path / f"msg_{'a' * 32}.eml").read_bytes() == first  # the first is kept
    lines = folder.receipts()
    assert [line.split()[1:] for line in lines] == [
        ["msg_" + "a" * 32, "kept"], ["msg_" + "a" * 32, "duplicate"],
    ]  # fmt: skip
    assert mode(folder.path) == 0o700
    assert mode(folder.path / f"msg_{'a' * 32}.eml") == 0o600
    assert mode(folder.path / "receipts.log") == 0o600
    assert [p.name for p in folder.path.iterdir() if p.name.startswith(".")] == []


def test_names_of_messages_without_a_usable_id() -> None:
    anonymous = raw(None)
    assert stored_name(anonymous) == "sha256-" + hashlib.sha256(anonymous).hexdigest()
    assert stored_name(raw("<../../etc/passwd@x>")) == "_.._etc_passwd"
    assert stored_name(raw("<..@x>")).startswith("sha256-")


def test_concurrent_receipts_of_one_message_keep_one_file(tmp_path) -> None:
    folder = MailFolder(tmp_path / "mail")
    message = raw("<msg_" + "b" * 32 + "@desk.example>")
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(folder.store(message)[1])) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert folder.names() == ["msg_" + "b" * 32] and len(folder.receipts()) == 8
