#!/usr/bin/env python3
"""Generate api/static/verify/rules.json, the browser verifier's rulebook, from the domain.

The /verify page (api/static/verify/*.js) checks complaint chains with the same rules as
ledger/complaints: event types, roles, the transition table, signed and officer-key events, who
records which kind of assignment, which steps a signed body's context may skip (letters
delivered), payload specs (fields, enums, patterns, limits, money units and kinds), which
steps may be rated, the service playbooks (each category's steps in order, the identity check,
the confirming steps), and what officer key limits apply to (the events with an amount, the
role a co-signer holds). Everything here is read from the Python domain's
own data, never listed by hand, so the browser cannot drift from it; a test fails when the
committed file differs from a fresh generation. Output is deterministic: sorted keys, enum
members in definition order.

    python scripts/build_verify_rules.py            # (re)write api/static/verify/rules.json
    python scripts/build_verify_rules.py --check    # exit 1 if the committed file differs
    python scripts/build_verify_rules.py --out FILE # write elsewhere
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from ledger.complaints import events, officers, payloads, playbooks, states, vocab  # noqa: E402

RULES_PATH = ROOT / "api" / "static" / "verify" / "rules.json"
FORMAT = 2  # bump when the shape of rules.json changes (api/static/verify/rules.js checks it)
# The validator kinds the browser compiles (rules.js compileCheck): a validator described with
# another kind would be a check the browser cannot make, so the generator refuses it.
CHECK_KINDS = frozenset(
    {"enum", "pattern", "text", "timestamp", "amount", "int", "bool", "list", "nullable", "object"}
)


class RulesError(Exception):
    """The domain holds a rule this generator cannot express as data."""


def _values(items: Iterable[StrEnum]) -> list[str]:
    """Enum members as strings, sorted (for sets, whose order means nothing)."""
    return sorted(str(m) for m in items)


def _enums() -> dict[str, list[str]]:
    """Every controlled vocabulary of the domain, members in definition order."""
    kinds = {
        name: kind
        for name, kind in vars(vocab).items()
        if isinstance(kind, type) and issubclass(kind, StrEnum) and kind is not StrEnum
    }
    return {name: [m.value for m in kind] for name, kind in kinds.items()}


def describe_check(check: Callable[..., None], where: str) -> dict[str, Any]:
    """The data description of one payloads validator (see payloads.describe)."""
    spec = getattr(check, "spec", None)
    if not isinstance(spec, Mapping):
        raise RulesError(
            f"{where}: validator {getattr(check, '__qualname__', check)!r} has no data "
            "description; decorate it with payloads.describe(...)"
        )
    if spec.get("kind") not in CHECK_KINDS:
        raise RulesError(
            f"{where}: validator kind {spec.get('kind')!r} is not one the browser checks "
            f"({', '.join(sorted(CHECK_KINDS))}); add it to api/static/verify/rules.js first"
        )
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "fields":
            out[key] = describe_fields(value, where)
        elif callable(value):
            out[key] = describe_check(value, f"{where}[{key}]")
        else:
            out[key] = value
    if "pattern" in out and not (out["pattern"].startswith("^") and out["pattern"].endswith("$")):
        # re.match anchors only at the start; the browser's RegExp.test anchors nowhere.
        raise RulesError(f"{where}: pattern {out['pattern']!r} must be anchored with ^...$")
    return out


def describe_fields(spec: Mapping[str, payloads.Field], where: str) -> dict[str, Any]:
    return {
        name: {"required": field.required, "check": describe_check(field.check, f"{where}.{name}")}
        for name, field in spec.items()
    }


def _rateable_events() -> list[str]:
    return _values(vocab.RATEABLE_EVENTS)


def _playbooks() -> dict[str, Any]:
    """The service playbooks (playbooks.py): each category's steps in order, and the sets the
    state machine's playbook, identity, target and payment guards read."""
    return {
        "steps": {str(c): [str(s) for s in steps] for c, steps in playbooks.PLAYBOOKS.items()},
        "identity_step": str(playbooks.IDENTITY_STEP),
        "identity_first": _values(playbooks.IDENTITY_FIRST),
        "confirming_steps": _values(playbooks.CONFIRMING_STEPS),
        "after_decision_steps": _values(playbooks.AFTER_DECISION_STEPS),
        "untimed_categories": _values(playbooks.UNTIMED_CATEGORIES),
    }


def _authority() -> dict[str, Any]:
    """What officers.check_signed_step reads besides the leaves: the events whose amount the
    limits bound (the rest, decisions, only by category) and the role of a co-signer."""
    return {
        "limited_amount_events": _values(officers.MONEY_EVENTS),
        "cosigner_role": str(officers.COSIGNER_ROLE),
    }


def _transition(rule: states.Rule) -> dict[str, Any]:
    """One row of the transition table; ``refused``, where the rule names one, is the error
    code for a status it does not move from (the browser's message is ``rule_`` + it, lower)."""
    row: dict[str, Any] = {
        "roles": _values(rule.roles),
        "moves": {str(a): str(b) for a, b in rule.moves.items()},
        "signed": rule.signed,
    }
    if rule.refused is not None:
        row["refused"] = rule.refused
    return row


def _default_kind() -> str:
    """The compensation kind of an offer or payment that names none (states._offered,
    states._paid_guard and payloads._check_money read a missing kind as money)."""
    return str(vocab.CompensationKind.MONEY)


def build_rules() -> dict[str, Any]:
    """The whole rulebook as a JSON-ready dict."""
    enums = _enums()
    rules: dict[str, Any] = {
        "format": FORMAT,
        "generated_by": "scripts/build_verify_rules.py",
        "enums": enums,
        "event_types": enums["EventType"],
        "statuses": enums["Status"],
        "roles": enums["Role"],
        "complaint_events": _values(vocab.COMPLAINT_EVENTS),
        "officer_key_events": _values(vocab.OFFICER_KEY_EVENTS),
        "signed_events": _values(vocab.SIGNED_EVENTS),
        "signer_roles": {str(et): sorted(roles) for et, roles in vocab.SIGNER_ROLES.items()},
        # Steps a signed body's context may skip (events.context_heads): letters delivered.
        "context_skippable_events": _values(events.CONTEXT_SKIPPABLE),
        # Who records each kind of assignment (states.check_context: claims are one's own).
        "assigner_roles": {str(k): sorted(roles) for k, roles in vocab.ASSIGNER_ROLES.items()},
        "rateable_events": _rateable_events(),
        "escalation_rank": {str(k): v for k, v in vocab.ESCALATION_RANK.items()},
        "start_roles": _values(states.START_ROLES),
        "initial_level": str(
            next(f.default for f in dataclasses.fields(states.ComplaintState) if f.name == "level")
        ),
        "evidence_events": _values(states.EVIDENCE_EVENTS),
        "transitions": {str(et): _transition(rule) for et, rule in states.TRANSITIONS.items()},
        "public_fields": {
            str(et): describe_fields(spec, f"public[{et}]")
            for et, spec in payloads.PUBLIC_SPECS.items()
        },
        "body_fields": {
            str(et): describe_fields(spec, f"body[{et}]")
            for et, spec in payloads.BODY_SPECS.items()
        },
        "mirrored": {str(et): list(names) for et, names in payloads.MIRRORED.items()},
        "money": {
            "events": _values(payloads.MONEY_EVENTS),
            "minor_units": dict(payloads.MINOR_UNITS),
            "default_minor_units": payloads.DEFAULT_MINOR_UNITS,
            "on_chain_body_fields": sorted(payloads.ON_CHAIN_BODY),
            "vault_terms": list(payloads.VAULT_TERMS),
            "in_kind_kinds": _values(payloads.IN_KIND),
            "in_kind_method": str(vocab.PaymentMethod.IN_KIND),
            "default_kind": _default_kind(),
        },
        "playbooks": _playbooks(),
        "authority": _authority(),
        "envelope": {
            "version": events.ENVELOPE_VERSION,
            "fields": sorted(events.ENVELOPE_FIELDS),
            "max_seq": events.MAX_SEQ,
            "actor_id": events.ACTOR_ID.pattern,
            "customer_id": events.CUSTOMER_ID,
            "hash": payloads.HEX32.pattern,
        },
    }
    _check_complete(rules)
    return rules


def _check_complete(rules: Mapping[str, Any]) -> None:
    """Every event type has its specs and every enum a field names exists."""
    types = set(rules["event_types"])
    for section in ("public_fields", "body_fields"):
        if set(rules[section]) != types:
            raise RulesError(f"{section} does not cover every event type")
    if set(rules["transitions"]) | {"received"} != set(rules["complaint_events"]):
        raise RulesError("the transition table does not cover every complaint event")
    if not set(rules["rateable_events"]) <= set(rules["complaint_events"]):
        raise RulesError("rateable_events names a type that is not a complaint event")
    if not set(rules["context_skippable_events"]) <= set(rules["complaint_events"]):
        raise RulesError("context_skippable_events names a type that is not a complaint event")

    def enums_named(node: Any) -> Iterable[str]:
        if isinstance(node, dict):
            if node.get("kind") == "enum":
                yield node["enum"]
            for value in node.values():
                yield from enums_named(value)

    book = rules["playbooks"]
    if set(book["steps"]) != set(rules["enums"]["Category"]):
        raise RulesError("playbooks.steps does not cover every category")
    named = {book["identity_step"], *book["confirming_steps"], *book["after_decision_steps"]}
    named.update(s for steps in book["steps"].values() for s in steps)
    if not named <= set(rules["enums"]["PlaybookStep"]):
        raise RulesError("playbooks name a step that is not a PlaybookStep")
    if not set(book["identity_first"]) | set(book["untimed_categories"]) <= set(book["steps"]):
        raise RulesError("playbooks name a category that is not a Category")

    missing = set(enums_named(rules)) - set(rules["enums"])
    if missing:
        raise RulesError(f"fields name enums that are not in vocab.py: {sorted(missing)}")


def render(rules: Mapping[str, Any] | None = None) -> bytes:
    """The exact bytes of rules.json."""
    data = build_rules() if rules is None else rules
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--out", type=Path, default=RULES_PATH, help="where to write")
    args = parser.parse_args(argv)
    try:
        data = render()
    except RulesError as exc:
        print(f"build_verify_rules: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_bytes() if args.out.exists() else b""
        if current != data:
            print(f"{args.out} is out of date: run scripts/build_verify_rules.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
