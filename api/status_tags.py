"""Conditional status reads: the ETag of ``GET /v1/complaints/<ref>`` changes exactly when the
answer would, so a client polling an unchanged status costs one small query and a 304.

The answer depends on the complaint's chain (its head), the reader's language and role (the
next steps allowed), the service rules in force, and on time only through clocks falling
due: an open clock turns overdue at its due instant, and nothing else in the answer moves with
the time (``deadlines._status``). So the tag covers the rules, the reference, the head, the
language, the role and how many of the open clocks' due instants have passed. Those instants
are kept per (reference, head) in process memory once a full answer was made; until then the
answer is made in full.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from datetime import datetime

from flask import current_app

from api.context import get_ledger
from ledger.casework.cache import BoundedCache
from ledger.complaints.deadlines import ClockStatus, DueReport
from ledger.complaints.service_rules import ServiceRules, rules_to_json

_OPEN = (ClockStatus.RUNNING, ClockStatus.OVERDUE)
_EXTENSION = "status_tags"


def due_instants(report: DueReport) -> tuple[datetime, ...]:
    """When the answer changes with time alone: the due instants of the open clocks."""
    return tuple(sorted(c.due_at for c in report.clocks if c.status in _OPEN and c.due_at))


class StatusTags:
    """The tags of status answers, and the due instants they need, per complaint head."""

    def __init__(self, rules: ServiceRules, size: int = 4096) -> None:
        text = json.dumps(rules_to_json(rules), sort_keys=True)
        self._rules = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self._instants: BoundedCache[tuple[str, str], tuple[datetime, ...]] = BoundedCache(size)

    def remember(self, reference: str, head: str, report: DueReport) -> tuple[datetime, ...]:
        instants = due_instants(report)
        self._instants.put((reference, head), instants)
        return instants

    def tag(self, reference: str, head: str, language: str, role: str, now: datetime) -> str | None:
        """The answer's tag at ``now``, or None when its due instants are not known here."""
        instants = self._instants.get((reference, head))
        if instants is None:
            return None
        passed = bisect_right(instants, now)
        parts = (self._rules, reference, head, language, role, str(passed))
        return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:32]


def status_tags() -> StatusTags:
    """This app's status tags (made on first use, for the ledger's service rules)."""
    tags = current_app.extensions.get(_EXTENSION)
    if tags is None:
        tags = current_app.extensions[_EXTENSION] = StatusTags(get_ledger().service_rules)
    return tags
