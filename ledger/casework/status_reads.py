"""The status answer's read model as readers get it: one small query, or the chain when the
complaint's row has no view.

The write path stores each complaint's ``status_view`` (``ledger.complaints.status_view``)
in its worklist row with every step. A reader asks the row's ``seq`` (the step it was made
after): when this process holds the view of that step, that is the answer's read model, else
the view is read (and kept). A row without a view (written before the read model existed),
or one made under other service rules than the deployment's, is not used: the view is then
made from the chain, as the write path would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, select

from ledger.casework.cache import BoundedCache
from ledger.casework.reads import ComplaintReads
from ledger.casework.work_items import clocks_report
from ledger.casework.worklist import WorkItemRow
from ledger.complaints.deadlines import Clock, DueReport
from ledger.complaints.service_rules import ServiceRules
from ledger.complaints.status_view import (
    VIEW_FORMAT,
    due_instants,
    fingerprint,
    status_view,
    view_clocks,
)

_SEQ = select(WorkItemRow.seq).where(WorkItemRow.reference == bindparam("reference"))
_VIEW = select(WorkItemRow.seq, WorkItemRow.status_view).where(
    WorkItemRow.reference == bindparam("reference")
)


@dataclass(frozen=True)
class StoredView:
    """A complaint's status view after step ``seq``, with its clocks parsed once."""

    seq: int
    view: dict[str, Any]
    clocks: tuple[Clock, ...]  # as of the step
    instants: tuple[datetime, ...]  # the open clocks' due instants, sorted

    @classmethod
    def of(cls, seq: int, view: dict[str, Any]) -> StoredView:
        clocks = view_clocks(view)
        return cls(seq, view, clocks, due_instants(clocks))


class StatusViews:
    def __init__(self, reads: ComplaintReads, rules: ServiceRules, cache_size: int = 8192) -> None:
        self.reads = reads
        self.rules = rules
        self.rules_fingerprint = fingerprint(rules)
        self._held: BoundedCache[str, StoredView] = BoundedCache(cache_size)
        # The status read is the API's hottest: its statements skip SQLAlchemy's pool.
        self.direct = reads.direct

    def get(self, reference: str) -> StoredView:
        """The complaint's status view after its last committed step (ComplaintNotFound)."""
        params = {"reference": reference}
        held = self._held.get(reference)
        if held is not None:
            row = self.direct.first(_SEQ, params)
            current = held.view["rules"] == self.rules_fingerprint
            if row is not None and row[0] == held.seq and current:
                return held
        row = self.direct.first(_VIEW, params)
        if row is not None and row[1] is not None:
            seq, stored_json = row
            view: dict[str, Any] = orjson.loads(stored_json)
            if view.get("format") == VIEW_FORMAT and view.get("rules") == self.rules_fingerprint:
                stored = StoredView.of(seq, view)
                self._held.put(reference, stored)
                return stored
        return self.from_chain(reference)

    def from_chain(self, reference: str) -> StoredView:
        """The view made from the complaint's chain (what the write path stores)."""
        events = self.reads.events(reference)
        state = self.reads.state_of(reference, events)
        envelopes = [e.envelope for e in events]
        report = clocks_report(reference, envelopes, self.rules)
        if report is None:  # no clocks can be computed: the answer shows none
            report = DueReport(envelopes[-1].at_datetime, ())
        return StoredView.of(state.seq, status_view(state, report, self.rules_fingerprint))
