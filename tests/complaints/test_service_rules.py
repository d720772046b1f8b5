"""A deployment's service times (ledger.complaints.service_rules): the playbook's own figures,
their JSON form, a deployment's file that changes them, and the malformed files refused."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.complaints.deadlines import (
    JURISDICTIONS,
    ClockName,
    due_report,
    initial_deadlines,
)
from ledger.complaints.errors import RulesError
from ledger.complaints.playbooks import PLAYBOOKS
from ledger.complaints.service_rules import (
    DEFAULT_RULES,
    RULES_FORMAT,
    CategoryTimes,
    ServiceRules,
    rules_from_json,
    rules_to_json,
)
from ledger.complaints.vocab import Category, PlaybookStep
from tests.support.complaint_chain import Chain

MIN, H = timedelta(minutes=1), timedelta(hours=1)
START = datetime(2026, 4, 3, 9, tzinfo=UTC)  # Good Friday: service times run regardless
PSD2 = JURISDICTIONS["EU-PSD2"]


def clock(report, name):
    return next(c for c in report.clocks if c.name == name and c.cycle == 0)


def bad(doc: Any) -> str:
    with pytest.raises(RulesError) as exc:
        rules_from_json(doc)
    return exc.value.code


def default_doc() -> dict[str, Any]:
    return copy.deepcopy(rules_to_json(DEFAULT_RULES))


# --- the playbook's figures ------------------------------------------------------------------


def test_default_rules_hold_the_playbooks_figures():
    c = Category
    times = {cat: (t.target, t.limit) for cat, t in DEFAULT_RULES.categories.items()}
    assert times == {
        c.LOST_RECOVERY_PHRASE: (24 * H, 48 * H),
        c.STUCK_TRANSACTION: (4 * H, 12 * H),  # a pending transaction
        c.HACKED_ACCOUNT: (1 * H, 3 * H),
        c.INTERFACE_FAULT: (2 * H, 6 * H),
        c.SYNC_FAULT: (1 * H, 4 * H),
        c.REFUND_OR_CLAIM: (24 * H, 72 * H),
        c.GENERAL_QUESTION: (15 * MIN, 2 * H),  # "immediate", taken as 15 min
        c.INTEGRATION_PROBLEM: (4 * H, 8 * H),
        c.BANK_INTEGRATION: (24 * H, 24 * H),
        c.SECURITY_QUESTION: (None, None),  # set by the handler at triage
    }
    steps = {cat: dict(t.step_targets) for cat, t in DEFAULT_RULES.categories.items()}
    assert {cat: s for cat, s in steps.items() if s} == {
        c.HACKED_ACCOUNT: {PlaybookStep.ACCESS_BLOCKED: 15 * MIN}
    }
    assert DEFAULT_RULES.first_response_limit == 2 * H
    assert DEFAULT_RULES.first_response_goal == 1 * H
    assert DEFAULT_RULES.times("hacked_account") is DEFAULT_RULES.categories[c.HACKED_ACCOUNT]


def test_the_json_form_round_trips():
    doc = rules_to_json(DEFAULT_RULES)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON
    assert doc["format"] == RULES_FORMAT
    assert doc["first_response"] == {"limit_minutes": 120, "goal_minutes": 60}
    assert doc["categories"]["hacked_account"]["step_targets_minutes"] == {"access_blocked": 15}
    assert doc["categories"]["security_question"]["target_minutes"] is None
    for category, steps in PLAYBOOKS.items():  # published beside the times, for readers
        assert doc["categories"][category]["playbook"] == list(steps)
    again = rules_from_json(doc)
    assert again == DEFAULT_RULES
    assert rules_to_json(again) == doc


# --- a deployment's file ------------------------------------------------------------------------


def _deployment_file(tmp_path: Path) -> Path:
    doc = default_doc()
    doc["name"] = "example deployment"
    doc["first_response"] = {"limit_minutes": 30, "goal_minutes": 10}
    doc["categories"]["stuck_transaction"].update(target_minutes=30, limit_minutes=90)
    doc["categories"]["hacked_account"]["step_targets_minutes"] = {"access_blocked": 5}
    doc["categories"]["refund_or_claim"] = {"target_minutes": 600, "limit_minutes": 1200}
    path = tmp_path / "service-rules.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_deployments_file_changes_the_times(tmp_path):
    rules = rules_from_json(json.loads(_deployment_file(tmp_path).read_text(encoding="utf-8")))
    assert rules.name == "example deployment"
    assert rules.times("stuck_transaction").target == 30 * MIN
    assert rules.times("stuck_transaction").limit == 90 * MIN
    assert rules.first_response_limit == 30 * MIN and rules.first_response_goal == 10 * MIN
    assert rules.times("hacked_account").step_targets == {PlaybookStep.ACCESS_BLOCKED: 5 * MIN}
    # a category given without its published average or step targets has none
    assert rules.times("refund_or_claim") == CategoryTimes(10 * H, 20 * H, None, {})
    # the rest keep the playbook's own times
    assert rules.times("sync_fault") == DEFAULT_RULES.times("sync_fault")


def test_categories_left_out_keep_the_default_times():
    rules = rules_from_json(
        {"format": RULES_FORMAT, "categories": {"sync_fault": {"target_minutes": 20,
                                                               "limit_minutes": 40}}}
    )  # fmt: skip
    for category in Category:
        if category != Category.SYNC_FAULT:
            assert rules.times(category) == DEFAULT_RULES.times(category)
    assert rules.times("sync_fault").target == 20 * MIN
    assert rules.first_response_limit == 2 * H and rules.first_response_goal == H
    assert rules.confirmation_wait == DEFAULT_RULES.confirmation_wait


def test_intake_deadlines_and_clocks_follow_the_rules_passed(tmp_path):
    rules = rules_from_json(json.loads(_deployment_file(tmp_path).read_text(encoding="utf-8")))
    assert initial_deadlines(START, "stuck_transaction", PSD2, rules=rules) == {
        "first_response": "2026-04-03T09:30:00.000Z",
        "first_response_goal": "2026-04-03T09:10:00.000Z",
        "target_resolution": "2026-04-03T09:30:00.000Z",
        "resolution_limit": "2026-04-03T10:30:00.000Z",
        "final_response": "2026-04-27T22:00:00.000Z",  # statutory: not the deployment's
    }
    assert initial_deadlines(START, "hacked_account", PSD2, rules=rules)["access_block"] == (
        "2026-04-03T09:05:00.000Z"
    )
    c = Chain(category="stuck_transaction", start=START)
    report = due_report(c.envelopes, START, rules=rules)
    assert clock(report, ClockName.FIRST_RESPONSE).due_at == START + 30 * MIN
    assert clock(report, ClockName.TARGET_RESOLUTION).due_at == START + 30 * MIN
    assert clock(report, ClockName.RESOLUTION_LIMIT).due_at == START + 90 * MIN
    assert dict(clock(report, ClockName.TARGET_RESOLUTION).rule_args) == {
        "category": "stuck_transaction",
        "target": "0.5",
        "limit": "1.5",
    }
    # the same chain under the playbook's own times
    default = due_report(c.envelopes, START)
    assert clock(default, ClockName.TARGET_RESOLUTION).due_at == START + 4 * H
    hacked = Chain(category="hacked_account", start=START)
    block = clock(due_report(hacked.envelopes, START, rules=rules), ClockName.ACCESS_BLOCK)
    assert block.due_at == START + 5 * MIN


def test_a_step_target_is_either_refused_or_clocked():
    doc = default_doc()
    doc["categories"]["lost_recovery_phrase"]["step_targets_minutes"] = {
        "recovery_alternatives_proposed": 60
    }
    try:
        rules = rules_from_json(doc)
    except RulesError as exc:
        assert exc.code == "BAD_RULES"
        return
    promised = initial_deadlines(START, "lost_recovery_phrase", PSD2, rules=rules)
    c = Chain(category="lost_recovery_phrase", start=START)
    report = due_report(c.envelopes, START, rules=rules)
    assert len(promised) == 6 and len(report.clocks) == 5


# --- malformed documents -----------------------------------------------------------------------


def _with_category(name: str, times: dict[str, Any]) -> dict[str, Any]:
    doc = default_doc()
    doc["categories"][name] = times
    return doc


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param({"categories": {}}, id="no format"),
        pytest.param({"format": "service-rules/2"}, id="another format"),
        pytest.param([], id="not an object"),
        pytest.param(
            _with_category("lost_wallet", {"target_minutes": 60, "limit_minutes": 120}),
            id="unknown category",
        ),
        pytest.param(_with_category("sync_fault", {}), id="timed category without times"),
        pytest.param(
            _with_category("sync_fault", {"target_minutes": 60}), id="timed category, no limit"
        ),
        pytest.param(
            _with_category("security_question", {"target_minutes": 60, "limit_minutes": 120}),
            id="untimed category with times",
        ),
        pytest.param(
            _with_category("sync_fault", {"target_minutes": 121, "limit_minutes": 120}),
            id="target after limit",
        ),
        pytest.param(
            _with_category(
                "sync_fault",
                {
                    "target_minutes": 60,
                    "limit_minutes": 120,
                    "step_targets_minutes": {"access_blocked": 15},
                },
            ),
            id="step target for a step not in the playbook",
        ),
        pytest.param(
            _with_category(
                "hacked_account",
                {
                    "target_minutes": 60,
                    "limit_minutes": 180,
                    "step_targets_minutes": {"doors_locked": 15},
                },
            ),
            id="unknown step",
        ),
        pytest.param(
            _with_category("sync_fault", {"target_minutes": -1, "limit_minutes": 120}),
            id="negative minutes",
        ),
        pytest.param(
            _with_category("sync_fault", {"target_minutes": True, "limit_minutes": 120}),
            id="bool minutes",
        ),
        pytest.param(
            _with_category("sync_fault", {"target_minutes": 60.0, "limit_minutes": 120}),
            id="fractional minutes",
        ),
        pytest.param(
            _with_category("sync_fault", {"target_minutes": "60", "limit_minutes": 120}),
            id="minutes as text",
        ),
        pytest.param(
            _with_category("sync_fault", {"target_minutes": 60, "limit_minutes": 525_601}),
            id="more than a year",
        ),
        pytest.param(
            {**default_doc(), "first_response": {"limit_minutes": 60, "goal_minutes": 90}},
            id="first-response goal after its limit",
        ),
        pytest.param(
            {**default_doc(), "first_response": {"limit_minutes": False}},
            id="bool first-response limit",
        ),
        pytest.param(
            {**default_doc(), "confirmation_wait_minutes": -60}, id="negative confirmation wait"
        ),
        pytest.param(
            {**default_doc(), "payout_identity_threshold": {"EUR": "a thousand"}},
            id="threshold not a number",
        ),
        pytest.param(
            {**default_doc(), "disclose_after_identity": ["lost_wallet"]},
            id="unknown category to disclose",
        ),
        pytest.param(_with_category("sync_fault", [60, 120]), id="times not an object"),
    ],
)
def test_malformed_rules_are_refused(doc):
    assert bad(doc) == "BAD_RULES"


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param({"categories": [1]}, id="categories not an object"),
        pytest.param({"first_response": "2h"}, id="first response not object"),
        pytest.param(
            {"categories": {"hacked_account": {"target_minutes": 60, "limit_minutes": 180,
                                               "step_targets_minutes": [15]}}},
            id="step targets not an object",
        ),
        pytest.param(
            {"payout_identity_threshold": ["EUR"]}, id="thresholds not an object"
        ),
        pytest.param(
            {"payout_identity_threshold": {"EUR": "NaN"}}, id="NaN threshold"
        ),
        pytest.param(
            {"payout_identity_threshold": {"EUR": "-5"}},
            id="negative threshold",
        ),
    ],
)  # fmt: skip
def test_more_malformed_rules_are_refused(doc):
    assert bad({"format": RULES_FORMAT, **doc}) == "BAD_RULES"


def test_rules_built_in_code_are_checked_too():
    times = dict(DEFAULT_RULES.categories)
    del times[Category.SYNC_FAULT]
    with pytest.raises(RulesError) as exc:
        ServiceRules("partial", times)
    assert exc.value.code == "BAD_RULES" and "sync_fault" in exc.value.message
    times[Category.SYNC_FAULT] = CategoryTimes(2 * H, H)
    with pytest.raises(RulesError) as exc:
        ServiceRules("reversed", times)
    assert exc.value.code == "BAD_RULES"
