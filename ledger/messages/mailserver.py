"""A local mail server for development and tests: keeps every message in a folder.

``ledger-mail-server`` (and the run command, when ``LEDGER_SMTP_URL`` is unset) listens on
127.0.0.1 with aiosmtpd and writes each message it receives to ``<data>/mail/<message-id>.eml``
(mode 0600: letters carry personal data). It is an idempotent receiver: the same Message-ID
again is kept once, as a real mailbox that deduplicates would; ``receipts.log`` gets one line
per receipt, so duplicates the transport delivered stay countable.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import threading
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller

from ledger.secretfiles import ensure_private_dir

MAIL_FOLDER = "mail"
RECEIPTS = "receipts.log"
DEFAULT_PORT = 8025
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def mail_folder(data_dir: Path) -> Path:
    return data_dir / MAIL_FOLDER


def stored_name(raw: bytes) -> str:
    """The file name a message is kept under: its Message-ID's left part (``msg_…``), or the
    SHA-256 of its bytes when it has none."""
    headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    mid = str(headers.get("Message-ID") or "").strip().strip("<>")
    left = _SAFE.sub("_", mid.partition("@")[0])[:120].lstrip(".")  # no hidden files
    return left if left.strip("._") else "sha256-" + hashlib.sha256(raw).hexdigest()


class MailFolder:
    """The folder of kept messages and the log of receipts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        ensure_private_dir(path)
        self._lock = threading.Lock()

    def store(self, raw: bytes) -> tuple[str, bool]:
        """Keep ``raw`` once per Message-ID; returns its name and whether it was new."""
        name = stored_name(raw)
        final = self.path / f"{name}.eml"
        tmp = self.path / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, final)  # atomic: whole or absent; an existing one is kept
            new = True
        except FileExistsError:
            new = False
        finally:
            tmp.unlink()
        line = f"{datetime.now(UTC).isoformat()} {name} {'kept' if new else 'duplicate'}\n"
        with self._lock:
            fd = os.open(self.path / RECEIPTS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as log:
                log.write(line)
        return name, new

    def names(self) -> list[str]:
        """The kept messages' names, sorted."""
        return sorted(p.stem for p in self.path.glob("*.eml"))

    def read(self, name: str) -> EmailMessage:
        raw = (self.path / f"{name}.eml").read_bytes()
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        return msg

    def receipts(self) -> list[str]:
        """One line per message received, duplicates included."""
        try:
            return (self.path / RECEIPTS).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []


class _Handler:
    def __init__(self, folder: MailFolder, reply_delay: float) -> None:
        self.folder = folder
        self.reply_delay = reply_delay

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        await asyncio.get_running_loop().run_in_executor(None, self.folder.store, raw)
        if self.reply_delay:  # tests: the message is kept, the sender not yet told
            await asyncio.sleep(self.reply_delay)
        return "250 Message accepted for delivery"


class MailServer:
    """aiosmtpd on ``host:port`` keeping messages in ``folder``; ``reply_delay`` seconds
    between keeping a message and answering 250 (for crash tests)."""

    def __init__(
        self, folder: Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
        reply_delay: float = 0.0,
    ) -> None:  # fmt: skip
        self.folder = MailFolder(folder)
        self.host = host
        self.port = port
        self._controller = Controller(
            _Handler(self.folder, reply_delay),
            hostname=host,
            port=port,
            enable_SMTPUTF8=True,
            ident="ledger-mail-server",
        )

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> MailServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        with contextlib.suppress(AssertionError, RuntimeError):  # not running
            self._controller.stop()

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
