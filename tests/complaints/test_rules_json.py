"""The browser verifier's rulebook (api/static/verify/rules.json) is generated from the domain:
the committed file must be exactly what scripts/build_verify_rules.py writes today."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.complaints import payloads, playbooks
from ledger.complaints.states import TRANSITIONS
from ledger.complaints.vocab import (
    RATEABLE_EVENTS,
    SIGNED_EVENTS,
    Category,
    CompensationKind,
    EventType,
    PaymentMethod,
    Status,
)
from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_verify_rules.py"
RULES = ROOT / "api" / "static" / "verify" / "rules.json"


def _script():
    return load_script("build_verify_rules")


def test_committed_rules_equal_a_fresh_generation(tmp_path: Path) -> None:
    out = tmp_path / "rules.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == RULES.read_bytes(), (
        "api/static/verify/rules.json differs from the domain: "
        "run `python scripts/build_verify_rules.py` and commit the result"
    )
    check = [sys.executable, str(SCRIPT), "--check", "--out", str(out)]
    assert subprocess.run(check, capture_output=True, timeout=120, check=False).returncode == 0


def test_check_mode_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "rules.json"
    stale.write_bytes(RULES.read_bytes().replace(b'"bundle_exported"', b'"bundle_made"', 1))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--out", str(stale)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "run scripts/build_verify_rules.py" in proc.stderr


def test_rules_carry_the_domain_tables() -> None:
    rules = json.loads(RULES.read_text(encoding="utf-8"))
    assert rules["event_types"] == [e.value for e in EventType]
    assert rules["statuses"] == [s.value for s in Status]
    assert rules["signed_events"] == sorted(SIGNED_EVENTS)
    assert rules["rateable_events"] == sorted(RATEABLE_EVENTS)
    for et, rule in TRANSITIONS.items():
        got = rules["transitions"][et]
        assert got["roles"] == sorted(rule.roles), et
        assert got["moves"] == {str(a): str(b) for a, b in rule.moves.items()}, et
    # The drift of issue 12: an export may follow any status and be followed by any step.
    assert rules["transitions"]["bundle_exported"]["moves"] == {s: s for s in Status}
    for et, spec in payloads.PUBLIC_SPECS.items():
        fields = rules["public_fields"][et]
        assert {n: f["required"] for n, f in fields.items()} == {
            n: f.required for n, f in spec.items()
        }, et
    # Older ratings name no step and must keep verifying; only new ratings must name one.
    assert rules["public_fields"]["rated"]["rates"]["required"] is False
    assert payloads.REQUIRED_WHEN_RECORDING[EventType.RATED] == ("rates",)
    signature = rules["public_fields"]["decision"]["signature"]["check"]
    assert signature["kind"] == "object" and signature["closed"] is True
    assert signature["fields"]["sig"]["check"]["pattern"] == payloads.SIGNATURE.pattern
    assert rules["money"]["minor_units"]["JPY"] == 0
    assert rules["money"]["events"] == sorted(payloads.MONEY_EVENTS)
    # Who claims, assigns and reassigns (states.check_context reads vocab.ASSIGNER_ROLES).
    assert rules["assigner_roles"] == {
        "claim": ["agent", "officer", "supervisor"],
        "assign": ["supervisor", "system"],
        "reassign": ["supervisor", "system"],
    }


def test_rules_carry_the_playbooks_and_compensation_kinds() -> None:
    """What the browser's playbook, identity, target and payment guards read (issue 14)."""
    rules = json.loads(RULES.read_text(encoding="utf-8"))
    assert rules["format"] == _script().FORMAT == 2
    book = rules["playbooks"]
    assert book["steps"] == {
        str(c): [str(s) for s in steps] for c, steps in playbooks.PLAYBOOKS.items()
    }
    assert set(book["steps"]) == set(Category)
    assert book["identity_step"] == playbooks.IDENTITY_STEP == "identity_verification"
    assert book["identity_first"] == sorted(playbooks.IDENTITY_FIRST) == ["lost_recovery_phrase"]
    assert book["confirming_steps"] == sorted(playbooks.CONFIRMING_STEPS)
    assert book["after_decision_steps"] == sorted(playbooks.AFTER_DECISION_STEPS)
    assert book["untimed_categories"] == sorted(playbooks.UNTIMED_CATEGORIES)
    assert "playbook_step" in rules["rateable_events"]
    for et in ("identity_verified", "playbook_step", "target_set", "incident_linked"):
        assert rules["transitions"][et]["roles"] == sorted(TRANSITIONS[EventType(et)].roles), et
    money = rules["money"]
    assert money["in_kind_kinds"] == sorted(payloads.IN_KIND) == ["discount", "free_service"]
    assert money["in_kind_method"] == PaymentMethod.IN_KIND
    assert money["default_kind"] == CompensationKind.MONEY
    for et in payloads.MONEY_EVENTS:
        assert rules["mirrored"][et] == list(payloads.MIRRORED[et])
        assert "kind" in rules["mirrored"][et]
    flag = rules["public_fields"]["compensation_offered"]["identity_required"]
    assert flag == {"required": False, "check": {"kind": "bool"}}
    target = rules["public_fields"]["target_set"]["target_minutes"]["check"]
    assert target == {"kind": "int", "min": 1, "max": payloads.MAX_TARGET_MINUTES}
    incident = rules["public_fields"]["incident_linked"]["incident"]["check"]
    assert incident["pattern"] == payloads.INCIDENT.pattern


def test_a_validator_without_a_description_is_refused() -> None:
    module = _script()

    def undescribed(value, path) -> None:  # a validator added without payloads.describe
        return None

    with pytest.raises(module.RulesError, match=r"payloads\.describe"):
        module.describe_check(undescribed, "public[rated].rates")
    unanchored = payloads.describe(kind="pattern", pattern="[a-z]+")(undescribed)
    with pytest.raises(module.RulesError, match="anchored"):
        module.describe_check(unanchored, "public[x].y")
    # A kind of check the browser does not compile (api/static/verify/rules.js) is refused.
    unknown = payloads.describe(kind="decimal")(undescribed)
    with pytest.raises(module.RulesError, match="not one the browser checks"):
        module.describe_check(unknown, "public[x].y")
    assert module.describe_check(payloads.boolean, "public[x].y") == {"kind": "bool"}


def test_the_generator_knows_the_kinds_the_browser_compiles() -> None:
    """CHECK_KINDS is exactly the set of validator kinds rules.js compileCheck handles."""
    source = (ROOT / "api" / "static" / "verify" / "rules.js").read_text(encoding="utf-8")
    compiled = set(re.findall(r'^\s*case "([a-z]+)":', source, flags=re.MULTILINE))
    assert compiled == set(_script().CHECK_KINDS)
