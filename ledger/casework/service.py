"""The complaint service: the reads and the write path over one cache of complaint states."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from ledger.attachments.store import AttachmentStore
from ledger.casework.clock import Clock, utc_now
from ledger.casework.letters import DEFAULT_SETTINGS, LetterSettings
from ledger.casework.officer_keys import OfficerKeys
from ledger.casework.reads import ComplaintReads
from ledger.casework.status_reads import StatusViews
from ledger.casework.work_items import DEFAULT_WARN_SHARE
from ledger.casework.writes import ComplaintWrites, StepListener
from ledger.complaints.service_rules import DEFAULT_RULES, ServiceRules
from ledger.logstore.sequencer import Sequencer
from ledger.logstore.store import LogStore


class ComplaintService:
    """``reads`` and ``writes`` of complaints; each write leaves the state it produced (and
    its audit fact) in the reads' cache, so the next step and the next read start from it."""

    def __init__(
        self,
        engine: Engine,
        store: LogStore,
        sequencer: Sequencer,
        officer_keys: OfficerKeys,
        clock: Clock = utc_now,
        cache_size: int = 4096,
        rules: ServiceRules = DEFAULT_RULES,
        listeners: Sequence[StepListener] = (),
        *,
        attachments: AttachmentStore | None = None,
        letters: LetterSettings = DEFAULT_SETTINGS,
        lookup_key: bytes | None = None,
        warn_share: float = DEFAULT_WARN_SHARE,
    ) -> None:
        self.reads = ComplaintReads(engine, store, cache_size)
        self.status_views = StatusViews(self.reads, rules)
        self.writes = ComplaintWrites(
            self.reads,
            officer_keys,
            sequencer,
            clock,
            rules,
            listeners=listeners,
            attachments=attachments,
            letters=letters,
            lookup_key=lookup_key,
            warn_share=warn_share,
        )
