"""A complaint's status as its readers get it, made once per step: the read model of
``GET /v1/complaints/<ref>``.

``status_view(state, report)`` is everything the status answer says that does not depend on
who asks, in which language, or when: the state's facts, the next steps of every reader role,
and each clock as of the complaint's last step. The write path stores it with the step, so a
reader needs one row instead of the chain. Time moves a view in one way only: a running clock
turns overdue at its due instant (``deadlines._status``: nothing else in a clock depends on
the time asked), which ``clocks_at`` applies. ``fingerprint(rules)`` names the service rules a
view was made under; a view made under other rules is not used.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from ledger.complaints.deadlines import Clock, ClockName, ClockStatus, DueReport
from ledger.complaints.service_rules import ServiceRules, rules_to_json
from ledger.complaints.states import ComplaintState, allowed_events

VIEW_FORMAT = 1
# Every role that may read a complaint's status (a customer with its secret, staff, regulator).
READER_ROLES = ("customer", "agent", "officer", "supervisor", "legal", "admin", "regulator")
_OPEN = (ClockStatus.RUNNING, ClockStatus.OVERDUE)


def fingerprint(rules: ServiceRules) -> str:
    """A short name of the service rules (views and status tags carry it)."""
    text = json.dumps(rules_to_json(rules), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _clock_json(clock: Clock) -> dict[str, Any]:
    return {
        "name": str(clock.name),
        "cycle": clock.cycle,
        "basis": clock.basis,
        "status": str(clock.status),
        "started_at": _iso(clock.started_at),
        "due_at": _iso(clock.due_at),
        "completed_at": _iso(clock.completed_at),
        "due_date": None if clock.due_date is None else clock.due_date.isoformat(),
        "statutory": clock.statutory,
        "rule": clock.rule,
        "rule_args": [list(pair) for pair in clock.rule_args],
    }


def status_view(state: ComplaintState, report: DueReport, rules: str) -> dict[str, Any]:
    """The view of ``state`` (a complaint after its last step) with ``report`` made as of that
    step, under the service rules whose ``fingerprint`` is ``rules``: JSON-ready."""
    return {
        "format": VIEW_FORMAT,
        "rules": rules,
        "status": str(state.status),
        "info_pending": state.info_pending,
        "category": str(state.category),
        "channel": str(state.channel),
        "jurisdiction": state.jurisdiction,
        "escalation_level": str(state.level),
        "outcome": None if state.outcome is None else str(state.outcome),
        "events": state.seq + 1,
        "head": state.head,
        "clocks": [_clock_json(c) for c in report.clocks],
        "next_steps": {
            role: [str(t) for t in allowed_events(state, role)] for role in READER_ROLES
        },
        "playbook": [str(s) for s in state.playbook],
        "identity_verified": state.identity_verified,
        "incident": state.incident,
    }


def view_clocks(view: Mapping[str, Any]) -> tuple[Clock, ...]:
    """The view's clocks as of its last step."""
    return tuple(
        Clock(
            name=ClockName(c["name"]),
            cycle=c["cycle"],
            basis=c["basis"],
            started_at=datetime.fromisoformat(c["started_at"]),
            due_at=None if c["due_at"] is None else datetime.fromisoformat(c["due_at"]),
            status=ClockStatus(c["status"]),
            completed_at=(
                None if c["completed_at"] is None else datetime.fromisoformat(c["completed_at"])
            ),
            due_date=None if c["due_date"] is None else date.fromisoformat(c["due_date"]),
            statutory=c["statutory"],
            rule=c["rule"],
            rule_args=tuple((str(k), str(v)) for k, v in c["rule_args"]),
        )
        for c in view["clocks"]
    )


def clocks_at(clocks: Sequence[Clock], now: datetime) -> tuple[Clock, ...]:
    """The clocks as of ``now`` (not before the step they were made at): a running clock
    whose due instant has come is overdue."""
    return tuple(
        replace(c, status=ClockStatus.OVERDUE)
        if c.status == ClockStatus.RUNNING and c.due_at is not None and now >= c.due_at
        else c
        for c in clocks
    )


def due_instants(clocks: Sequence[Clock]) -> tuple[datetime, ...]:
    """When the answer changes with time alone: the due instants of the open clocks."""
    return tuple(sorted(c.due_at for c in clocks if c.status in _OPEN and c.due_at is not None))


def passed(instants: Sequence[datetime], now: datetime) -> int:
    """How many of ``instants`` (sorted) have come at ``now``."""
    return bisect_right(instants, now)


def status_tag(
    rules: str, reference: str, head: str, language: str, role: str, passed_count: int
) -> str:
    """The ETag of a status answer: it changes exactly when the answer would (a step, a clock
    falling due, another language or role, other service rules)."""
    parts = (rules, reference, head, language, role, str(passed_count))
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:32]
