"""Wiring for a running ledger: engine, schema, log signing key, log store and sequencer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ledger import migrations
from ledger.access import models as _access_models  # noqa: F401  (registers tables)
from ledger.access.passkeys import StaffPasskeys
from ledger.access.staff import StaffAccounts
from ledger.access.staff_sessions import StaffSessions
from ledger.anchoring.config import ConfigError
from ledger.anchoring.status import anchor_coverage
from ledger.attachments.config import backend_for
from ledger.attachments.store import AttachmentStore
from ledger.backup import ensure_servable
from ledger.casework import records as _complaint_records  # noqa: F401
from ledger.casework.access_log import AccessLog
from ledger.casework.drafts import Drafts, forget_on_erasure
from ledger.casework.key_holders import KeyHolders
from ledger.casework.letters import DEFAULT_PORTAL_URL, LetterSettings
from ledger.casework.officer_keys import OfficerKeys
from ledger.casework.service import ComplaintService
from ledger.casework.work_items import backfill as backfill_worklist
from ledger.casework.worklist import Worklist
from ledger.complaints.errors import RulesError
from ledger.complaints.service_rules import DEFAULT_RULES, ServiceRules, rules_from_json
from ledger.config import Settings
from ledger.db import make_engine
from ledger.errors import LedgerError
from ledger.idempotency import IdempotencyRecords
from ledger.log.keys import ensure_key_file, load_key_file
from ledger.logstore import models as _log_models  # noqa: F401
from ledger.logstore.sequencer import Sequencer
from ledger.logstore.store import LogStore
from ledger.messages.service import Messages
from ledger.sealing import SecretBox
from ledger.secretfiles import ensure_private_dir, ensure_secret_key


class SchemaNotCurrent(LedgerError, RuntimeError):
    """The database is not at the migrations' head and LEDGER_AUTO_MIGRATE is off."""


@dataclass
class Ledger:
    settings: Settings
    engine: Engine
    store: LogStore
    sequencer: Sequencer
    complaints: ComplaintService
    officer_keys: OfficerKeys
    access_log: AccessLog
    idempotency: IdempotencyRecords
    # The deployment's service times (LEDGER_SERVICE_RULES), for intake deadlines, clocks,
    # the identity threshold of payouts and the disclosure gate.
    service_rules: ServiceRules = DEFAULT_RULES
    # Customer messages: the outbox every step writes to, webhook endpoints (docs/messages.md).
    messages: Messages | None = None
    # Files uploaded to complaints (docs/attachments.md): the portal and the API store them.
    attachments: AttachmentStore | None = None
    # The worklist read model (docs/sla.md): what falls due next, filters and search.
    worklist: Worklist | None = None
    # Staff accounts (password + TOTP, the access record) and their console sessions.
    staff: StaffAccounts | None = None
    staff_sessions: StaffSessions | None = None
    # Passkeys members may use instead of the TOTP code (docs/staff.md).
    staff_passkeys: StaffPasskeys | None = None
    # Decision drafts officers sign in the console, and the officer keys each account holds.
    drafts: Drafts | None = None

    @property
    def reader(self) -> Engine:
        """The engine for single-statement reads (autocommit on PostgreSQL)."""
        return self.complaints.reads.reader

    def anchor_for(self, tree_size: int) -> dict[str, Any] | None:
        """The anchor covering ``tree_size`` on any chain this database has anchored on."""
        return anchor_coverage(self.engine, self.store, tree_size)

    def close(self) -> None:
        self.idempotency.close()
        if self.attachments is not None:
            self.attachments.close()
        self.sequencer.close()
        self.complaints.reads.direct.close()
        self.engine.dispose()


def create_schema(engine: Engine) -> None:
    """Migrate the database to the latest revision (``alembic upgrade heads``)."""
    migrations.upgrade(engine)


def load_service_rules(path: Path | None) -> ServiceRules:
    """The service rules in the JSON file at ``path`` (``DEFAULT_RULES`` without one).

    Raises ConfigError naming the variable, the file and what is wrong with it, so a bad
    file stops the server at start rather than giving wrong deadlines later.
    """
    if path is None:
        return DEFAULT_RULES
    where = f"LEDGER_SERVICE_RULES ({path})"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{where} is not valid JSON: {exc}") from exc
    try:
        return rules_from_json(doc)
    except RulesError as exc:
        raise ConfigError(f"{where}: {exc.message}") from exc
    except (TypeError, AttributeError) as exc:  # a value of the wrong JSON type
        raise ConfigError(f"{where}: malformed service rules ({exc})") from exc


def letter_settings(settings: Settings) -> LetterSettings:
    """What the customer letters quote from the deployment: the portal's address (absolute
    with LEDGER_PUBLIC_URL) and the block explorers (LEDGER_EXPLORER_TX_URLS)."""
    portal = f"{settings.public_url or ''}{DEFAULT_PORTAL_URL}"
    return LetterSettings(portal_url=portal, explorer_tx_urls=settings.explorer_tx_urls)


def staff_accounts(engine: Engine, settings: Settings) -> StaffAccounts:
    """Staff accounts, their TOTP secrets sealed under LEDGER_STAFF_KEY_FILE (made on first
    use) and the lockout of the settings."""
    assert settings.staff_key_file is not None
    return StaffAccounts(
        engine,
        SecretBox(settings.staff_key_file),
        max_failures=settings.staff_max_failures,
        lockout=timedelta(minutes=settings.staff_lockout_minutes),
    )


def lookup_key(settings: Settings) -> bytes:
    """The key of the worklist's search keys (LEDGER_LOOKUP_KEY_FILE, made on first use)."""
    assert settings.lookup_key_file is not None
    return ensure_secret_key(settings.lookup_key_file)


def open_worklist(
    engine: Engine, settings: Settings, lookup_key: bytes, rules: ServiceRules
) -> Worklist:
    """The worklist under ``lookup_key`` (the write path keeps it with that key and the
    warning share); rows a migration made without them are done now."""
    with engine.begin() as conn:
        backfill_worklist(conn, rules, lookup_key, settings.sla_warn_share, only_unindexed=True)
    return Worklist(engine, lookup_key)


def open_ledger(settings: Settings, create_key: bool = False) -> Ledger:
    """Open (and if needed initialise) the log described by ``settings``."""
    service_rules = load_service_rules(settings.service_rules_file)  # before any connection
    attachment_storage = backend_for(settings)  # a half-configured bucket stops the start
    if settings.database_url.startswith("sqlite"):
        ensure_private_dir(settings.data_dir)  # 0700: the database holds personal data
    engine = make_engine(settings.database_url, **settings.engine_options())
    try:
        if settings.auto_migrate:
            create_schema(engine)
        elif not migrations.is_current(engine):
            raise SchemaNotCurrent(
                "the database is not at the latest schema revision: run "
                "`alembic upgrade heads` (or set LEDGER_AUTO_MIGRATE=1)"
            )
        # A database restored from a backup is served only once its check passed.
        ensure_servable(engine)
    except BaseException:
        engine.dispose()
        raise
    key_file = settings.log_key_file
    assert key_file is not None
    signer = (
        ensure_key_file(key_file, settings.log_origin) if create_key else load_key_file(key_file)
    )
    assert settings.server_key_file is not None
    idempotency = IdempotencyRecords(
        engine, ensure_secret_key(settings.server_key_file), settings.idempotency_ttl
    )
    store = LogStore(engine, settings.log_origin, signer)
    store.initialise()
    idempotency.start_purging()  # expired records: deleted now, then every hour
    sequencer = Sequencer(store, settings.sequencer_max_batch)
    officer_keys = OfficerKeys(engine, store, sequencer)
    messages = Messages(engine, settings)
    attachments = AttachmentStore(engine, attachment_storage, settings.attachment_max_bytes)
    attachments.start_purging()  # erased files still in storage: deleted now, then hourly
    search_key = lookup_key(settings)
    complaints = ComplaintService(
        engine,
        store,
        sequencer,
        officer_keys,
        rules=service_rules,
        # The outbox queues each step's letter; drafts forget their copies at an erasure.
        listeners=[messages.outbox.enqueue, forget_on_erasure],
        attachments=attachments,  # an erasure's files go after its commit
        letters=letter_settings(settings),
        lookup_key=search_key,
        warn_share=settings.sla_warn_share,
    )
    access_log = AccessLog(engine)
    worklist = open_worklist(engine, settings, search_key, service_rules)
    staff = staff_accounts(engine, settings)
    return Ledger(
        settings,
        engine,
        store,
        sequencer,
        complaints,
        officer_keys,
        access_log,
        idempotency,
        service_rules,
        messages=messages,
        attachments=attachments,
        worklist=worklist,
        staff=staff,
        staff_sessions=StaffSessions(
            engine,
            lifetime=timedelta(hours=settings.staff_session_hours),
            idle=timedelta(minutes=settings.staff_idle_minutes),
        ),
        drafts=Drafts(engine, complaints, KeyHolders(engine, officer_keys)),
        staff_passkeys=StaffPasskeys(staff),
    )
