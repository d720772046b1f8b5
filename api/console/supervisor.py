"""The supervisor's page (``/console/supervisor``): queues with their open and breached
complaints, the breaches, the customers' CSAT and NPS (the audit figures' own code), and per
handler the complaints they own, those breached, and the steps they recorded."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from flask import Response

from api.console.auth import staff_required
from api.console.blueprint import blp, page
from api.console.nav import CASEWORK, SUPERVISION
from api.console.staff_names import StaffNames
from api.context import get_ledger
from ledger.casework.facts import sql_figures
from ledger.casework.worklist import WorkFilter
from ledger.complaints.figures import Window

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BREACHES_SHOWN = 50
# Steps per handler are counted on this many most recently updated complaints.
RECENT_COMPLAINTS = 200


def _steps_by_actor() -> Counter[str]:
    reads = get_ledger().complaints.reads
    _, recent = reads.list(offset=0, limit=RECENT_COMPLAINTS)
    counts: Counter[str] = Counter()
    for row in recent:
        for e in reads.events(row.reference):
            counts[e.envelope.actor.id] += 1
    return counts


def _per_handler(now: datetime) -> list[dict[str, Any]]:
    ledger = get_ledger()
    steps = _steps_by_actor()
    rows = []
    for m in ledger.staff.members():
        if not any(m.has(r) for r in CASEWORK):
            continue
        owned, _ = ledger.worklist.items(WorkFilter(owner=m.pseudonym), now, 0, 1)
        late, _ = ledger.worklist.items(WorkFilter(owner=m.pseudonym, overdue=True), now, 0, 1)
        rows.append({"member": m, "owned": owned, "breached": late,
                     "steps": steps.get(m.pseudonym, 0)})  # fmt: skip
    return rows


@blp.get("/supervisor")
@staff_required(*SUPERVISION)
def supervisor() -> Response:
    ledger = get_ledger()
    now = datetime.now(UTC)
    counts = ledger.worklist.queue_counts(now)
    total_breached, breaches = ledger.worklist.items(
        WorkFilter(overdue=True), now, 0, BREACHES_SHOWN
    )
    figures = sql_figures(ledger.engine, Window.of(EPOCH, now, now))["totals"]
    return page(
        "supervisor.html", title="Supervisor", queues=sorted(counts.items()),
        breaches=breaches, total_breached=total_breached, csat=figures["csat"],
        nps=figures["nps"], handlers=_per_handler(now), names=StaffNames(),
        recent=RECENT_COMPLAINTS,
    )  # fmt: skip
