"""Wiring for a running ledger: engine, schema, log signing key, log store and sequencer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ledger.access import models as _access_models  # noqa: F401  (registers tables)
from ledger.complaints import records as _complaint_records  # noqa: F401
from ledger.complaints.service import ComplaintService
from ledger.config import Settings
from ledger.db import Base, make_engine
from ledger.log import models as _log_models  # noqa: F401
from ledger.log.keys import ensure_key_file, load_key_file
from ledger.log.sequencer import Sequencer
from ledger.log.store import LogStore


@dataclass
class Ledger:
    settings: Settings
    engine: Engine
    store: LogStore
    sequencer: Sequencer
    complaints: ComplaintService

    def close(self) -> None:
        self.sequencer.close()
        self.engine.dispose()


def create_schema(engine: Engine) -> None:
    Base.metadata.create_all(engine)


def open_ledger(settings: Settings, create_key: bool = False) -> Ledger:
    """Open (and if needed initialise) the log described by ``settings``."""
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    create_schema(engine)
    key_file = settings.log_key_file
    assert key_file is not None
    signer = (
        ensure_key_file(key_file, settings.log_origin) if create_key else load_key_file(key_file)
    )
    store = LogStore(engine, settings.log_origin, signer)
    store.initialise()
    sequencer = Sequencer(store, settings.sequencer_max_batch)
    return Ledger(settings, engine, store, sequencer, ComplaintService(engine, store, sequencer))
