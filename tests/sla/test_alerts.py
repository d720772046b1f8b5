"""An untouched complaint: the owner's warning, the supervisors' alert, the automatic escalation,
each once and at its time (an injected clock), across restarts of the monitor."""

from __future__ import annotations

from datetime import timedelta

from ledger.complaints.events import Actor
from ledger.complaints.vocab import Role
from ledger.messages.alerts import alerts_for
from ledger.messages.dispatcher import DispatchConfig, Dispatcher
from ledger.messages.mailserver import MailServer
from ledger.messages.smtp import SmtpSender, parse_smtp_url
from ledger.messages.webhooks import WebhookSender
from ledger.processes import free_port
from tests.support.sla import (
    OWNER,
    STAFF,
    SUPERVISOR_EN,
    SetClock,
    alert_rows,
    claim,
    file_complaint,
    make_monitor,
    marks,
)

SECOND = timedelta(seconds=1)


def _events(ledger, ref: str) -> list:
    return [e.envelope for e in ledger.complaints.reads.events(ref)]


def test_an_untouched_complaint_warns_alerts_then_escalates(ledger) -> None:
    clock = SetClock()
    ledger.complaints.writes.clock = clock
    ref = file_complaint(ledger, category="stuck_transaction")  # first response: 2 h
    clock.at(minutes=5)
    claim(ledger, ref, OWNER)
    monitor = make_monitor(ledger, clock)

    # 75 % of the first response's two hours is 1 h 30 min after receipt.
    clock.at(minutes=90)
    clock.now -= SECOND
    assert monitor.scan() == 0 and marks(ledger) == []
    clock.at(minutes=90)
    assert monitor.scan() == 1
    assert marks(ledger) == [("first_response", "warning", OWNER.pseudonym, None, None)]
    assert alert_rows(ledger) == [(f"staff:{OWNER.pseudonym}", "sla_warning", "pending")]
    assert monitor.scan() == 0  # scanned twice: once

    monitor = make_monitor(ledger, clock)  # a restart
    clock.at(minutes=120)
    clock.now -= SECOND
    assert monitor.scan() == 0
    assert len(marks(ledger)) == 1

    breach_at = clock.at(minutes=120)
    assert monitor.scan() == 2  # the supervisors' alert, then the escalation
    assert marks(ledger)[1:] == [
        ("first_response", "breach", None, "supervisor", None),
        ("first_response", "escalation", None, "supervisor", "escalated"),
    ]
    # To the supervisors of the queue's language who have an address; nobody else.
    assert alert_rows(ledger)[1:] == [(f"staff:{SUPERVISOR_EN.pseudonym}", "sla_breach", "pending")]
    last = _events(ledger, ref)[-1]
    assert last.type == "escalated" and last.at_datetime == breach_at
    assert last.actor.to_json() == {"role": "system", "id": "sla-monitor"}
    assert last.public == {"state": "received", "level": "specialist", "specialism": "technical",
                           "reason": "deadline_risk"}  # fmt: skip

    # The escalation moved the complaint to the specialists' queue, without an owner.
    item = ledger.worklist.get(ref, breach_at)
    assert (item.queue, item.owner, item.level) == ("specialist-technical.en", None, "specialist")

    for _ in range(2):  # again, and after another restart: nothing repeats
        assert make_monitor(ledger, clock).scan() == 0
    assert len(marks(ledger)) == 3
    assert [e.type for e in _events(ledger, ref)].count("escalated") == 1
    # Staff alerts are not customer letters: nothing about them is on the complaint.
    assert "message_sent" not in [e.type for e in _events(ledger, ref)]


def test_an_unowned_complaint_warns_its_supervisors_and_the_console_lists_it(ledger) -> None:
    clock = SetClock()
    ledger.complaints.writes.clock = clock
    ref = file_complaint(ledger, category="refund_or_claim")  # no automatic escalation
    monitor = make_monitor(ledger, clock)
    clock.at(minutes=90)
    assert monitor.scan() == 1
    assert marks(ledger) == [("first_response", "warning", None, "supervisor", None)]
    assert alert_rows(ledger) == [(f"staff:{SUPERVISOR_EN.pseudonym}", "sla_warning", "pending")]
    clock.at(minutes=120)
    assert monitor.scan() == 1  # the breach; refunds are not escalated
    assert [e.type for e in _events(ledger, ref)] == ["received"]

    listed = alerts_for(ledger.engine, None, "supervisor")
    assert [(a.reference, a.kind) for a in listed] == [(ref, "breach"), (ref, "warning")]
    assert alerts_for(ledger.engine, OWNER.pseudonym, "agent") == []


def test_a_complaint_answered_in_time_raises_nothing(ledger) -> None:
    clock = SetClock()
    ledger.complaints.writes.clock = clock
    ref = file_complaint(ledger, category="stuck_transaction")
    clock.at(minutes=30)
    ledger.complaints.writes.record(
        ref, type="acknowledged", public={}, body={}, actor=Actor(Role.AGENT, OWNER.pseudonym)
    )
    monitor = make_monitor(ledger, clock, staff=STAFF)
    clock.at(minutes=119)
    assert monitor.scan() == 0
    # The next clock is the resolution target (4 h): its warning at 3 h, to the supervisors.
    clock.at(hours=3)
    assert monitor.scan() == 1
    assert marks(ledger) == [("target_resolution", "warning", None, "supervisor", None)]


def test_the_dispatcher_mails_a_staff_alert_and_records_nothing(ledger, tmp_path) -> None:
    clock = SetClock()
    ledger.complaints.writes.clock = clock
    ref = file_complaint(ledger, category="refund_or_claim", email=None)
    clock.at(minutes=90)
    make_monitor(ledger, clock).scan()
    port = free_port()
    with MailServer(tmp_path / "mail", port=port) as mail:
        dispatcher = Dispatcher(
            engine=ledger.engine, store=ledger.store, reads=ledger.complaints.reads,
            writes=ledger.complaints.writes, endpoints=ledger.messages.endpoints,
            mailer=SmtpSender(parse_smtp_url(f"smtp://127.0.0.1:{port}"), timeout=5),
            webhooks=WebhookSender(), config=DispatchConfig(mail_from="desk@ledger.example"),
            clock=clock, staff=STAFF,
        )  # fmt: skip
        assert dispatcher.step() == 1
        [name] = mail.folder.names()
        received = mail.folder.read(name)
    assert received["To"] == SUPERVISOR_EN.email
    assert received["Subject"].startswith(f"SLA warning: first_response of {ref}")
    text = received.get_content()
    assert "Jane" not in text and "example.org" not in text
    assert alert_rows(ledger) == [(f"staff:{SUPERVISOR_EN.pseudonym}", "sla_warning", "delivered")]
    assert [e.envelope.type for e in ledger.complaints.reads.events(ref)] == ["received"]
