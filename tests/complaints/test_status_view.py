"""The status read model (``ledger.complaints.status_view``): a view made at a complaint's last
step, moved to any later instant by ``clocks_at``, says exactly what ``due_report`` says at
that instant; the tag moves only when a clock falls due."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from ledger.complaints.deadlines import due_report
from ledger.complaints.service_rules import DEFAULT_RULES
from ledger.complaints.states import allowed_events
from ledger.complaints.status_view import (
    READER_ROLES,
    clocks_at,
    due_instants,
    fingerprint,
    passed,
    status_tag,
    status_view,
    view_clocks,
)
from tests.support.complaint_chain import Chain

E = "evidence_added"
JOURNEYS = {
    "received": (),
    "acknowledged": ("escalated", "acknowledged"),
    "waiting for the customer": ("escalated", "acknowledged", "info_requested"),
    "answered": ("escalated", "acknowledged", "info_requested", "info_received", E),
    "decided": ("escalated", "acknowledged", E, "decision"),
    "offered": ("escalated", "acknowledged", E, "decision", "compensation_offered"),
    "closed": ("escalated", "acknowledged", E, "decision", "compensation_offered",
               "compensation_accepted", "compensation_paid", "closed"),
}  # fmt: skip
RULES = fingerprint(DEFAULT_RULES)
LATER = [timedelta(0), timedelta(minutes=1), timedelta(hours=2), timedelta(hours=7),
         timedelta(days=1), timedelta(days=3), timedelta(days=20), timedelta(days=60)]  # fmt: skip


@pytest.mark.parametrize("journey", sorted(JOURNEYS))
@pytest.mark.parametrize("category", ["stuck_transaction", "hacked_account", "sync_fault"])
def test_a_view_moved_to_a_later_instant_says_what_due_report_says_then(journey, category):
    chain = Chain(category=category).run(*JOURNEYS[journey])
    envelopes = chain.envelopes
    last = envelopes[-1].at_datetime
    view = status_view(chain.state, due_report(envelopes, last, rules=DEFAULT_RULES), RULES)
    stored = orjson.loads(orjson.dumps(view))  # as the write path stores it
    assert stored == view
    for later in LATER:
        now = last + later
        expected = due_report(envelopes, now, rules=DEFAULT_RULES).clocks
        assert clocks_at(view_clocks(stored), now) == expected, (journey, later)
    assert stored["events"] == len(envelopes) and stored["head"] == chain.state.head
    for role in READER_ROLES:
        assert stored["next_steps"][role] == [str(t) for t in allowed_events(chain.state, role)]


def test_the_tag_moves_exactly_when_a_clock_falls_due():
    chain = Chain().run("escalated")  # the first response clock runs
    envelopes = chain.envelopes
    last = envelopes[-1].at_datetime
    view = status_view(chain.state, due_report(envelopes, last, rules=DEFAULT_RULES), RULES)
    instants = due_instants(view_clocks(view))
    assert instants, "an open complaint has running clocks"
    first = instants[0]

    def tag(now):
        clocks = clocks_at(view_clocks(view), now)
        count = passed(due_instants(clocks), now)
        return status_tag(view["rules"], "REF", view["head"], "en", "customer", count)

    before = first - timedelta(microseconds=1)
    assert tag(last) == tag(before)
    assert tag(first) != tag(before)
    assert tag(first) == tag(first + timedelta(microseconds=1)) or len(instants) > 1


def test_other_rules_have_another_fingerprint():
    from dataclasses import replace

    other = replace(DEFAULT_RULES, disclose_after_identity=frozenset({"hacked_account"}))
    assert fingerprint(other) != fingerprint(DEFAULT_RULES)
    assert fingerprint(DEFAULT_RULES) == fingerprint(replace(DEFAULT_RULES))
