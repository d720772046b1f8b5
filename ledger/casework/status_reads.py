"""The status answer's read model as readers get it: one row, or the chain when the row has none.

The write path stores each complaint's ``status_view`` (``ledger.complaints.status_view``)
in its worklist row with every step, so a status read is one small query. A row without one
(written before the read model existed), or one made under other service rules than the
deployment's, is not used: the view is then made from the chain, as the write path would have.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import bindparam, select

from ledger.casework.reads import ComplaintReads
from ledger.casework.work_items import clocks_report
from ledger.casework.worklist import WorkItemRow
from ledger.complaints.deadlines import DueReport
from ledger.complaints.service_rules import ServiceRules
from ledger.complaints.status_view import VIEW_FORMAT, fingerprint, status_view

_VIEW = select(WorkItemRow.status_view).where(WorkItemRow.reference == bindparam("reference"))


class StatusViews:
    def __init__(self, reads: ComplaintReads, rules: ServiceRules) -> None:
        self.reads = reads
        self.rules = rules
        self.rules_fingerprint = fingerprint(rules)

    def get(self, reference: str) -> dict[str, Any]:
        """The complaint's status view after its last committed step (ComplaintNotFound)."""
        with self.reads.reader.connect() as conn:
            stored = conn.execute(_VIEW, {"reference": reference}).scalar()
        if stored is not None:
            view: dict[str, Any] = orjson.loads(stored)
            if view.get("format") == VIEW_FORMAT and view.get("rules") == self.rules_fingerprint:
                return view
        return self.from_chain(reference)

    def from_chain(self, reference: str) -> dict[str, Any]:
        """The view made from the complaint's chain (what the write path stores)."""
        events = self.reads.events(reference)
        state = self.reads.state_of(reference, events)
        envelopes = [e.envelope for e in events]
        report = clocks_report(reference, envelopes, self.rules)
        if report is None:  # no clocks can be computed: the answer shows none
            report = DueReport(envelopes[-1].at_datetime, ())
        return status_view(state, report, self.rules)
