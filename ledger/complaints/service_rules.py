"""A deployment's service times: first response, per-category targets and limits, step targets.

The firm's service playbook tables, kept as data: ``DEFAULT_RULES`` holds the playbook's own
figures and a deployment may replace them with a JSON file (``LEDGER_SERVICE_RULES``; the
format is ``rules_to_json``'s, documented in docs/complaints.md). The API publishes the rules
in force at ``GET /v1/service-rules``.

What the times promise is written on the log: the received event's ``public.deadlines`` holds
the instants computed from these rules at intake, so the figures (and anyone replaying the
log) measure each complaint against the promise it was given, whatever the rules are later.

Times (resolution target–limit): lost recovery phrase 24–48 h; pending transaction 4–12 h;
hacked account 1–3 h, access blocked within 15 min; interface fault 2–6 h; sync fault 1–4 h;
refund or claim 24–72 h; general question immediate (taken as 15 min)–2 h; integration
problem 4–8 h; bank integration 1 day; security question: set by the handler at triage.
First response: 2 h limit, 1 h goal.

Automatic escalation (``CategoryTimes.escalate_on_breach``, docs/sla.md): when an hour-level
service clock of a complaint runs out untouched, the SLA monitor escalates it to a specialist:
hacked account, security question and lost recovery phrase to security; stuck transaction,
sync fault, bank integration and integration problem to technical; the others not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from ledger.complaints.errors import RulesError
from ledger.complaints.playbooks import PLAYBOOKS, TIMED_STEPS, UNTIMED_CATEGORIES
from ledger.complaints.vocab import Category, PlaybookStep, Specialism

RULES_FORMAT = "service-rules/1"
H = timedelta(hours=1)


@dataclass(frozen=True)
class CategoryTimes:
    """One category's times. ``target``/``limit`` are None for an untimed category."""

    target: timedelta | None
    limit: timedelta | None
    # The playbook's published average resolution time, shown beside ours in the figures.
    published_average: timedelta | None = None
    # Playbook steps with their own target from the start of the cycle (e.g. access blocked).
    step_targets: Mapping[PlaybookStep, timedelta] = field(default_factory=dict)
    # The specialism a complaint goes to (an ``escalated`` step by the system, reason
    # ``deadline_risk``) when one of its hour-level service clocks is breached; None: no
    # automatic escalation (the supervisors are alerted all the same).
    escalate_on_breach: Specialism | None = None


@dataclass(frozen=True)
class ServiceRules:
    name: str
    categories: Mapping[Category, CategoryTimes]
    first_response_limit: timedelta = 2 * H
    first_response_goal: timedelta = 1 * H
    # The wait stated for a customer's confirmation before it lapses (playbook confirm_by).
    confirmation_wait: timedelta = 72 * H
    # Payouts above this amount (per ISO 4217 currency or crypto asset) need the customer's
    # identity verified first; a unit missing here has no threshold.
    payout_identity_threshold: Mapping[str, Decimal] = field(default_factory=dict)
    # Categories whose personal bodies are shown to the complaint's secret only after the
    # customer's identity was verified (their own submissions excepted).
    disclose_after_identity: frozenset[Category] = frozenset()

    def __post_init__(self) -> None:
        missing = set(Category) - set(self.categories)
        if missing:
            raise RulesError(
                f"service rules {self.name!r} have no times for {sorted(missing)}", "BAD_RULES"
            )
        for category, times in self.categories.items():
            timed = category not in UNTIMED_CATEGORIES
            if timed != (times.target is not None and times.limit is not None):
                what = "needs a target and a limit" if timed else "is set at triage: no times"
                raise RulesError(f"{category} {what}", "BAD_RULES")
            if times.target is not None and times.limit is not None and times.target > times.limit:
                raise RulesError(f"{category}: the target is after the limit", "BAD_RULES")
            for step in times.step_targets:
                if step not in PLAYBOOKS[category]:
                    raise RulesError(f"{category}: {step} is not in its playbook", "BAD_RULES")
                if step not in TIMED_STEPS:
                    raise RulesError(
                        f"{category}: {step} cannot have its own target (only "
                        + ", ".join(sorted(TIMED_STEPS))
                        + ")",
                        "BAD_RULES",
                    )
        for unit, amount in self.payout_identity_threshold.items():
            if not amount.is_finite() or amount < 0:
                raise RulesError(f"the payout threshold for {unit} must be 0 or more", "BAD_RULES")
        if self.first_response_goal > self.first_response_limit:
            raise RulesError("the first-response goal is after its limit", "BAD_RULES")

    def times(self, category: Category | str) -> CategoryTimes:
        return self.categories[Category(category)]

    def needs_identity_for_payout(self, amount: str | None, unit: str | None) -> bool:
        """Whether a payout of ``amount`` ``unit`` is above the configured threshold."""
        if amount is None or unit is None or unit not in self.payout_identity_threshold:
            return False
        return Decimal(amount) > self.payout_identity_threshold[unit]


C = Category
SEC, TECH = Specialism.SECURITY, Specialism.TECHNICAL
DEFAULT_RULES = ServiceRules(
    name="wallet service playbook",
    categories=MappingProxyType(
        {
            C.LOST_RECOVERY_PHRASE: CategoryTimes(
                24 * H, 48 * H, published_average=48 * H, escalate_on_breach=SEC
            ),
            C.STUCK_TRANSACTION: CategoryTimes(
                4 * H, 12 * H, published_average=4 * H, escalate_on_breach=TECH
            ),
            C.HACKED_ACCOUNT: CategoryTimes(
                1 * H,
                3 * H,
                step_targets=MappingProxyType({PlaybookStep.ACCESS_BLOCKED: timedelta(minutes=15)}),
                escalate_on_breach=SEC,
            ),
            C.INTERFACE_FAULT: CategoryTimes(2 * H, 6 * H),
            C.SYNC_FAULT: CategoryTimes(1 * H, 4 * H, escalate_on_breach=TECH),
            C.REFUND_OR_CLAIM: CategoryTimes(24 * H, 72 * H),
            C.GENERAL_QUESTION: CategoryTimes(timedelta(minutes=15), 2 * H),
            C.INTEGRATION_PROBLEM: CategoryTimes(4 * H, 8 * H, escalate_on_breach=TECH),
            C.BANK_INTEGRATION: CategoryTimes(24 * H, 24 * H, escalate_on_breach=TECH),
            C.SECURITY_QUESTION: CategoryTimes(None, None, escalate_on_breach=SEC),
        }
    ),
    payout_identity_threshold=MappingProxyType(
        {"EUR": Decimal(1000), "GBP": Decimal(1000), "USD": Decimal(1000), "USDC": Decimal(1000)}
    ),
    disclose_after_identity=frozenset({C.LOST_RECOVERY_PHRASE}),
)


# --- JSON form (the published document and the deployment's file) --------------------------


def _minutes(span: timedelta | None) -> int | None:
    return None if span is None else int(span.total_seconds() // 60)


def rules_to_json(rules: ServiceRules) -> dict[str, Any]:
    """The rules as a JSON-ready document (times in whole minutes)."""
    return {
        "format": RULES_FORMAT,
        "name": rules.name,
        "first_response": {
            "limit_minutes": _minutes(rules.first_response_limit),
            "goal_minutes": _minutes(rules.first_response_goal),
        },
        "confirmation_wait_minutes": _minutes(rules.confirmation_wait),
        "payout_identity_threshold": {
            unit: format(amount, "f")
            for unit, amount in sorted(rules.payout_identity_threshold.items())
        },
        "disclose_after_identity": sorted(str(c) for c in rules.disclose_after_identity),
        "categories": {
            str(c): {
                "target_minutes": _minutes(t.target),
                "limit_minutes": _minutes(t.limit),
                "published_average_minutes": _minutes(t.published_average),
                "step_targets_minutes": {str(s): _minutes(d) for s, d in t.step_targets.items()},
                "escalate_on_breach": _optional_str(t.escalate_on_breach),
                "playbook": [str(s) for s in PLAYBOOKS[c]],
            }
            for c, t in rules.categories.items()
        },
    }


def _optional_str(value: Specialism | None) -> str | None:
    return None if value is None else str(value)


def _escalation(
    times: Mapping[str, Any], default: Specialism | None, where: str
) -> Specialism | None:
    """A category's ``escalate_on_breach``: absent keeps the default, null turns it off."""
    if "escalate_on_breach" not in times:
        return default
    value = times["escalate_on_breach"]
    if value is None:
        return None
    try:
        return Specialism(value)
    except ValueError:
        known = ", ".join(str(s) for s in Specialism)
        raise RulesError(
            f"{where}.escalate_on_breach: one of {known} or null", "BAD_RULES"
        ) from None


def _minutes_span(value: Any, where: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 525_600:
        raise RulesError(f"{where}: give whole minutes from 0 to 525600", "BAD_RULES")
    return timedelta(minutes=value)


def _span(value: Any, where: str) -> timedelta | None:
    """An optional span: None stays None (an untimed category, no published average)."""
    return None if value is None else _minutes_span(value, where)


def _object(doc: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    """``doc[key]`` when it is an object (absent: empty); RulesError when it is not."""
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RulesError(f"{where + '.' if where else ''}{key} must be an object", "BAD_RULES")
    return value


def rules_from_json(doc: Mapping[str, Any]) -> ServiceRules:
    """Service rules from their JSON form; RulesError("BAD_RULES") names what is wrong.

    Categories missing from the document keep the default times.
    """
    if not isinstance(doc, Mapping) or doc.get("format") != RULES_FORMAT:
        raise RulesError(f"service rules must have format {RULES_FORMAT!r}", "BAD_RULES")
    categories = dict(DEFAULT_RULES.categories)
    for name, times in _object(doc, "categories").items():
        try:
            category = Category(name)
        except ValueError:
            raise RulesError(f"unknown category {name!r}", "BAD_RULES") from None
        if not isinstance(times, Mapping):
            raise RulesError(f"categories.{name} must be an object", "BAD_RULES")
        steps: dict[PlaybookStep, timedelta] = {}
        for step, minutes in _object(times, "step_targets_minutes", name).items():
            try:
                steps[PlaybookStep(step)] = _minutes_span(minutes, f"{name}.{step}")
            except ValueError:
                raise RulesError(f"unknown playbook step {step!r}", "BAD_RULES") from None
        categories[category] = CategoryTimes(
            _span(times.get("target_minutes"), f"{name}.target_minutes"),
            _span(times.get("limit_minutes"), f"{name}.limit_minutes"),
            _span(times.get("published_average_minutes"), f"{name}.published"),
            MappingProxyType(steps),
            _escalation(times, DEFAULT_RULES.categories[category].escalate_on_breach, name),
        )
    first = _object(doc, "first_response")
    thresholds: dict[str, Decimal] = {}
    for unit, amount in _object(doc, "payout_identity_threshold").items():
        if isinstance(amount, bool) or not isinstance(amount, (str, int)):
            raise RulesError(f"threshold for {unit}: give a decimal string", "BAD_RULES")
        try:
            thresholds[str(unit)] = Decimal(str(amount))
        except InvalidOperation:
            raise RulesError(f"threshold for {unit} is not a number", "BAD_RULES") from None
    listed = doc.get("disclose_after_identity") or []
    if not isinstance(listed, list):
        raise RulesError("disclose_after_identity must be a list of categories", "BAD_RULES")
    try:
        disclose = frozenset(Category(c) for c in listed)
    except ValueError as exc:
        raise RulesError(f"disclose_after_identity: {exc}", "BAD_RULES") from None
    name = doc.get("name", "custom")
    if not isinstance(name, str) or not name.strip():
        raise RulesError("name must be a non-empty string", "BAD_RULES")
    return ServiceRules(
        name=name,
        categories=MappingProxyType(categories),
        first_response_limit=_minutes_span(first.get("limit_minutes", 120), "first_response"),
        first_response_goal=_minutes_span(first.get("goal_minutes", 60), "first_response"),
        confirmation_wait=_minutes_span(
            doc.get("confirmation_wait_minutes", 4320), "confirmation_wait_minutes"
        ),
        payout_identity_threshold=MappingProxyType(thresholds),
        disclose_after_identity=disclose,
    )
