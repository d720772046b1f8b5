"""The dispatcher: sends what the outbox holds, retries, and records each customer message.

One step (``Dispatcher.step``):

1. claim due rows (``pending``, or ``sending`` whose lease ran out: a dispatcher died while
   sending) and mark them ``sending`` until ``now + lease``, with one more attempt. On
   PostgreSQL the claim skips rows another dispatcher holds (``FOR UPDATE SKIP LOCKED``), so
   several may run; on SQLite run one.
2. send each: an email over SMTP, a webhook as a signed POST. Delivered: ``delivered``.
   Refused for good (an SMTP 5xx, an endpoint's 410) or out of attempts: ``dead``. Else
   ``pending`` again after an exponential backoff with jitter. Nothing left to say (the
   request was answered before its reminder, the contact or letter erased, the endpoint
   removed): ``skipped``.
3. record each customer email delivered or dead as a ``message_sent`` step (actor system,
   ``dispatcher``): its public part commits to the SHA-256 of the exact text, its body holds
   the address, subject and text. The outbox row is marked ``recorded`` in the same
   transaction as that step, and the step is refused if the row was already marked, so each
   message is recorded once however the dispatcher is stopped.

Delivery is at least once: a dispatcher killed after the receiver took a message but before
it marked the row sends it again when the lease runs out, with the same message id (the
email's Message-ID, the webhook's ``webhook-id``). A receiver that keeps messages by that id
(the local mail server does; Standard Webhooks receivers should) keeps each message once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from ledger.casework.appends import Hooks
from ledger.casework.reads import ComplaintReads
from ledger.casework.records import ComplaintRecord
from ledger.casework.writes import ComplaintWrites
from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Actor
from ledger.complaints.payloads import message_text_sha256
from ledger.complaints.vocab import EventType, Role
from ledger.db import is_sqlite
from ledger.logstore.store import LogStore, Rejected
from ledger.messages.alert_content import alert_payload, staff_letter
from ledger.messages.alerts import SLA_ALERT, SlaMonitor, StaffDirectory
from ledger.messages.content import Letter, Queued, Skip, letter_for, webhook_payload
from ledger.messages.endpoints import WebhookEndpoints
from ledger.messages.errors import DeliveryError, safe_reason
from ledger.messages.models import WAITING, Channel, OutboxMessage, OutboxState
from ledger.messages.smtp import SmtpSender, build_email
from ledger.messages.webhooks import WebhookSender

log = logging.getLogger(__name__)

ACTOR = Actor(Role.SYSTEM, "dispatcher")
# A recording refused by the domain is retried this much later (an operator looks at it).
RECORD_RETRY = timedelta(minutes=10)
CONFLICT_RETRY = timedelta(seconds=5)
_M = OutboxMessage


class AlreadyRecorded(Rejected):
    """The message's message_sent step is on the log already (another dispatcher, or this
    one before a restart): nothing is appended."""


@dataclass(frozen=True)
class DispatchConfig:
    mail_from: str
    max_attempts: int = 8
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 6 * 3600.0
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0
    batch: int = 20


def backoff(attempts: int, base: float, cap: float, rng: Callable[[], float]) -> timedelta:
    """The wait after the ``attempts``-th failure: base·2^(attempts−1), capped, times a
    random factor in [0.5, 1) so that retries of many messages spread out."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * (0.5 + rng() / 2))


def _now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(
        self,
        *,
        engine: Engine,
        store: LogStore,
        reads: ComplaintReads,
        writes: ComplaintWrites,
        endpoints: WebhookEndpoints,
        mailer: SmtpSender | None,
        webhooks: WebhookSender,
        config: DispatchConfig,
        clock: Callable[[], datetime] = _now,
        rng: Callable[[], float] = random.random,
        staff: StaffDirectory | None = None,
        sla: SlaMonitor | None = None,
        sla_every: float = 60.0,
    ) -> None:
        self.engine = engine
        self.store = store
        self.reads = reads
        self.writes = writes
        self.endpoints = endpoints
        self.mailer = mailer
        self.webhooks = webhooks
        self.config = config
        self.clock = clock
        self.rng = rng
        # Staff alerts (ledger.messages.alerts): the addresses of their receivers, and the
        # monitor raising them, run from this loop every ``sla_every`` seconds.
        self.staff = staff
        self.sla = sla
        self.sla_every = sla_every
        self._sla_due = 0.0  # time.monotonic() of the next scan

    # --- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Step until ``stop`` is set; a failing step (the database away) is logged and the
        next one tried after the poll interval."""
        while not stop.is_set():
            self.scan_sla()
            try:
                busy = self.step()
            except Exception:
                log.exception("dispatcher step failed; retrying")
                busy = 0
            if not busy:
                stop.wait(self.config.poll_seconds)

    def scan_sla(self) -> int:
        """Run the SLA monitor when its interval is up; returns the alerts raised. A failure
        is logged and the scan tried again at the next interval."""
        if self.sla is None or time.monotonic() < self._sla_due:
            return 0
        self._sla_due = time.monotonic() + self.sla_every
        try:
            return self.sla.scan(self.clock())
        except Exception:
            log.exception("SLA scan failed; retrying at the next interval")
            return 0

    def step(self) -> int:
        """Send the due messages and record the sent ones; returns how many were handled."""
        claimed = self.claim()
        # Rows not started while half their lease is left go back (another dispatcher, or
        # the next step, takes them): a slow batch must not outlive its claim.
        deadline = self.clock() + timedelta(seconds=self.config.lease_seconds / 2)
        for i, row in enumerate(claimed):
            if self.clock() > deadline:
                self._release(claimed[i:])
                break
            self._deliver(row)
        return len(claimed) + self.record_pending()

    # --- claiming ------------------------------------------------------------------------

    def claim(self) -> list[Queued]:
        now = self.clock()
        due = (
            select(_M.message_id)
            .where(_M.state.in_(WAITING), _M.next_attempt_at <= now)
            .order_by(_M.next_attempt_at, _M.due_at)
            .limit(self.config.batch)
        )
        lease = now + timedelta(seconds=self.config.lease_seconds)
        with self.engine.connect() as conn:
            if is_sqlite(self.engine):
                conn.info["sqlite_begin"] = "IMMEDIATE"  # one claimer at a time
            else:
                due = due.with_for_update(skip_locked=True)
            with conn.begin():
                ids = list(conn.execute(due).scalars())
                if not ids:
                    return []
                conn.execute(
                    update(_M)
                    .where(_M.message_id.in_(ids))
                    .values(state=OutboxState.SENDING, attempts=_M.attempts + 1,
                            next_attempt_at=lease)
                )  # fmt: skip
                rows = conn.execute(
                    _queued().where(_M.message_id.in_(ids)).order_by(_M.due_at, _M.message_id)
                ).all()  # in the order they fell due
        return [Queued(*row) for row in rows]

    def _release(self, rows: list[Queued]) -> None:
        """Give claimed rows back unsent (their attempt not counted)."""
        with self.engine.begin() as conn:
            for row in rows:
                conn.execute(
                    update(_M)
                    .where(
                        _M.message_id == row.message_id,
                        _M.state == OutboxState.SENDING,
                        _M.attempts == row.attempts,
                    )
                    .values(state=OutboxState.PENDING, attempts=row.attempts - 1,
                            next_attempt_at=self.clock())
                )  # fmt: skip

    # --- sending -------------------------------------------------------------------------

    def _deliver(self, row: Queued) -> None:
        try:
            if row.channel == Channel.EMAIL:
                letter = self._letter(row)
                if isinstance(letter, Skip):
                    self._finish(row, OutboxState.SKIPPED, letter.reason)
                    return
                self._send_email(row, letter)
            else:
                if self._send_webhook(row) is False:
                    return
        except DeliveryError as exc:
            self._failed(row, exc)
            return
        except (OperationalError, InterfaceError):
            raise  # the database is away: the row's lease brings it back
        except Exception as exc:  # a fault of ours with this message: retried, then dead
            log.exception("message %s could not be prepared", row.message_id)
            self._failed(row, DeliveryError(f"not sent: {type(exc).__name__}"))
            return
        delivered = self._finish(row, OutboxState.DELIVERED, None)
        # A customer letter is recorded on the complaint; a staff alert is not.
        if delivered and row.channel == Channel.EMAIL and row.event_type != SLA_ALERT:
            self.record(row, letter, "delivered")

    def _letter(self, row: Queued) -> Letter | Skip:
        with self.engine.connect() as conn:
            if row.event_type == SLA_ALERT:
                return staff_letter(conn, row, self.staff)
            return letter_for(conn, row, self.reads, self.writes.letters)

    def _send_email(self, row: Queued, letter: Letter) -> None:
        if self.mailer is None:
            raise DeliveryError("no SMTP server configured (LEDGER_SMTP_URL)")
        msg = build_email(
            mail_from=self.config.mail_from,
            to=letter.to,
            subject=letter.subject,
            text=letter.text,
            message_id=row.message_id,
            reference=row.reference,
            when=self.clock(),
        )
        self.mailer.send(msg)

    def _send_webhook(self, row: Queued) -> bool:
        """Send the row's webhook; False when its endpoint is gone (the row is skipped)."""
        endpoint_id = row.receiver.partition(":")[2]
        secret = self.endpoints.secret(endpoint_id)
        endpoint = self.endpoints.get(endpoint_id) if secret is not None else None
        if endpoint is None or secret is None:
            self._finish(row, OutboxState.SKIPPED, "the webhook endpoint was removed")
            return False
        with self.engine.connect() as conn:
            if row.event_type == SLA_ALERT:
                payload = alert_payload(conn, row)
            else:
                payload = webhook_payload(conn, row, self.store)
        if payload is None:
            self._finish(row, OutboxState.SKIPPED, "the alert is gone")
            return False
        self.webhooks.send(endpoint.url, secret, row.message_id, payload, self.clock())
        return True

    def _failed(self, row: Queued, exc: DeliveryError) -> None:
        if exc.permanent or row.attempts >= self.config.max_attempts:
            why = exc.reason if exc.permanent else f"{exc.reason} (gave up after {row.attempts})"
            log.warning("message %s dead: %s", row.message_id, why)
            # An email's message_sent (outcome failed) follows in this step's record_pending.
            self._finish(row, OutboxState.DEAD, why)
            return
        wait = backoff(
            row.attempts, self.config.backoff_seconds, self.config.backoff_max_seconds, self.rng
        )
        log.info("message %s not delivered (%s); retry in %.0fs", row.message_id, exc.reason,
                 wait.total_seconds())  # fmt: skip
        self._finish(row, OutboxState.PENDING, exc.reason, self.clock() + wait)

    def _finish(
        self, row: Queued, state: OutboxState, error: str | None, at: datetime | None = None
    ) -> bool:
        """Leave ``sending`` for ``state``; False when the claim is no longer ours (its lease
        ran out and another dispatcher took the row)."""
        now = self.clock()
        values: dict = {"state": state, "last_error": error, "next_attempt_at": at or now}
        if state == OutboxState.DELIVERED:
            values["sent_at"] = now
        with self.engine.begin() as conn:
            done = conn.execute(
                update(_M)
                .where(
                    _M.message_id == row.message_id,
                    _M.state == OutboxState.SENDING,
                    _M.attempts == row.attempts,
                )
                .values(**values)
            )
        return done.rowcount == 1

    # --- recording -----------------------------------------------------------------------

    def record_pending(self) -> int:
        """Record the emails delivered or dead whose message_sent is not on the log yet (a
        dispatcher stopped between sending and recording, or a recording that failed)."""
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(
                _queued()
                .add_columns(_M.state)
                .where(
                    _M.channel == Channel.EMAIL,
                    _M.event_type != SLA_ALERT,  # staff alerts are not customer letters
                    _M.recorded_seq.is_(None),
                    _M.state.in_((OutboxState.DELIVERED, OutboxState.DEAD)),
                    _M.next_attempt_at <= now,
                )
                .order_by(_M.next_attempt_at)
                .limit(self.config.batch)
            ).all()
        for *columns, state in rows:
            queued = Queued(*columns)
            try:
                letter = self._letter(queued)
            except (OperationalError, InterfaceError):
                raise
            except Exception as exc:  # a fault of ours: this row waits, the others go on
                log.exception("message %s: its text could not be read again", queued.message_id)
                self._postpone(queued, f"not recorded: {type(exc).__name__}", RECORD_RETRY)
                continue
            if isinstance(letter, Skip):  # erased since: nothing can be recorded any more
                self._postpone(queued, f"not recorded: {letter.reason}", timedelta(days=30))
                continue
            self.record(queued, letter, "delivered" if state == OutboxState.DELIVERED else "failed")
        return len(rows)

    def record(self, row: Queued, letter: Letter, outcome: str) -> int | None:
        """Append ``message_sent`` for ``row`` and mark the row in the same transaction;
        returns the step's seq (None: recorded already, or refused and retried later)."""
        public = {
            "channel": "email",
            "template": row.template,
            "language": letter.language,
            "for_seq": row.for_seq,
            "text_sha256": message_text_sha256(letter.text),
            "outcome": outcome,
            "message_id": row.message_id,
            "attempts": max(1, row.attempts),
        }
        body = {"to": letter.to, "subject": letter.subject, "text": letter.text}
        final = OutboxState.RECORDED if outcome == "delivered" else OutboxState.DEAD
        mid, reference = row.message_id, row.reference

        def check(conn: Connection) -> None:
            found = conn.execute(select(_M.recorded_seq).where(_M.message_id == mid)).first()
            if found is None or found[0] is not None:
                raise AlreadyRecorded(f"message {mid} is recorded already")

        def write(conn: Connection, _index: int, _leaf: bytes) -> None:
            # The step's seq: one past the chain head, which moves for the whole append batch
            # after its writes (``RowGuard``); a batch holds at most one step per complaint,
            # as each is built on a committed head.
            seq = select(ComplaintRecord.seq + 1).where(ComplaintRecord.reference == reference)
            conn.execute(
                update(_M)
                .where(_M.message_id == mid)
                .values(state=final, recorded_seq=seq.scalar_subquery())
            )

        try:
            recorded = self.writes.record(
                reference, type=EventType.MESSAGE_SENT, public=public, body=body, actor=ACTOR,
                hooks=Hooks(check, write),
            )  # fmt: skip
        except AlreadyRecorded:
            return None
        except ComplaintError as exc:
            log.error("message %s: message_sent refused (%s)", mid, exc.code)
            self._postpone(row, safe_reason(f"not recorded: {exc.code}"), RECORD_RETRY)
            return None
        except Rejected as exc:  # the complaint kept moving (ChainConflict): soon again
            self._postpone(row, safe_reason(f"not recorded: {exc}"), CONFLICT_RETRY)
            return None
        return recorded.envelope.seq

    def _postpone(self, row: Queued, error: str, wait: timedelta) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(_M)
                .where(_M.message_id == row.message_id, _M.recorded_seq.is_(None))
                .values(last_error=error, next_attempt_at=self.clock() + wait)
            )


def _queued():
    return select(
        _M.message_id, _M.reference, _M.for_seq, _M.leaf_hash, _M.event_type, _M.receiver,
        _M.channel, _M.template, _M.language, _M.attempts,
    )  # fmt: skip
