"""Processes as they run: ``ledger-mail-server`` and ``ledger-dispatcher``, the dispatcher
SIGKILLed while the mail server holds a message it has kept but not yet acknowledged. The
restarted dispatcher sends that message again with the same id: the receiver keeps every
message once, and each is recorded once as message_sent."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from ledger.messages.mailserver import MailFolder
from ledger.processes import free_port, start_process, stop_process, wait_for
from tests.messages.conftest import acknowledge, events_of, file_complaint, outbox
from tests.support.paths import ROOT

pytestmark = pytest.mark.slow  # real processes

MESSAGES = 5


def _environment(ledger, smtp_port: int) -> dict[str, str]:
    settings = ledger.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return env | {
        "LEDGER_DATA_DIR": str(settings.data_dir),
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_LOG_ORIGIN": settings.log_origin,
        "LEDGER_LOG_KEY_FILE": str(settings.log_key_file),
        "LEDGER_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "LEDGER_MAIL_PORT": str(smtp_port),
        "LEDGER_OUTBOX_LEASE_SECONDS": "3",
        "LEDGER_OUTBOX_POLL_SECONDS": "0.2",
        "LEDGER_OUTBOX_BACKOFF_SECONDS": "0.5",
        "PYTHONUNBUFFERED": "1",
    }


def _start(module: str, env: dict, log: Path, *args: str):
    cmd = [sys.executable, "-m", module, *args]
    return start_process(cmd, env=env, cwd=ROOT, log=log)


def test_a_dispatcher_killed_mid_send_delivers_each_message_once(ledger, tmp_path) -> None:
    refs = [file_complaint(ledger) for _ in range(MESSAGES)]
    for ref in refs:
        acknowledge(ledger, ref)
    port = free_port()
    env = _environment(ledger, port)
    folder = MailFolder(ledger.settings.data_dir / "mail")
    mail = _start("ledger.cli.mail_server", env, tmp_path / "mail.log", "--reply-delay", "1")
    first = second = None
    try:
        wait_for(lambda: "mail server on" in (tmp_path / "mail.log").read_text(), 30,
                 what="the mail server")  # fmt: skip
        first = _start("ledger.cli.dispatcher", env, tmp_path / "dispatcher1.log")
        # The mail server has kept a message and not yet answered: kill the sender now.
        wait_for(lambda: folder.receipts(), 60, interval=0.05, what="a first message kept")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert len(folder.names()) < MESSAGES

        second = _start("ledger.cli.dispatcher", env, tmp_path / "dispatcher2.log")

        def all_recorded() -> bool:
            return {r.state for r in outbox(ledger)} == {"recorded"}

        wait_for(all_recorded, 120, interval=0.3, what="every message recorded")
        assert stop_process(second, 20) == 0
    finally:
        for proc in (first, second, mail):
            if proc is not None:
                stop_process(proc, 10)
    rows = outbox(ledger)
    names = folder.names()
    receipts = folder.receipts()
    assert sorted(names) == sorted(r.message_id for r in rows)  # outbox == distinct deliveries
    assert len(names) == MESSAGES
    assert len(receipts) > MESSAGES  # the killed one arrived twice ...
    assert sum("duplicate" in line for line in receipts) >= 1  # ... and was kept once
    for ref in refs:
        [sent] = events_of(ledger, ref, "message_sent")  # recorded once
        assert sent.envelope.public["outcome"] == "delivered"
    resent = [r for r in rows if r.attempts > 1]
    assert resent, "the message in flight at the kill was sent again"
    log = (tmp_path / "dispatcher1.log").read_text() + (tmp_path / "dispatcher2.log").read_text()
    assert "jane.roe@example.org" not in log
