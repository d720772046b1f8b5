"""The browser verifier's rulebook (api/static/verify/rules.json) is generated from the domain:
the committed file must be exactly what scripts/build_verify_rules.py writes today."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.complaints import payloads
from ledger.complaints.states import TRANSITIONS
from ledger.complaints.vocab import RATEABLE_EVENTS, SIGNED_EVENTS, EventType, Status

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_verify_rules.py"
RULES = ROOT / "api" / "static" / "verify" / "rules.json"


def _script():
    spec = importlib.util.spec_from_file_location("build_verify_rules", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_a_validator_without_a_description_is_refused() -> None:
    module = _script()

    def undescribed(value, path) -> None:  # a validator added without payloads.describe
        return None

    with pytest.raises(module.RulesError, match=r"payloads\.describe"):
        module.describe_check(undescribed, "public[rated].rates")
    unanchored = payloads.describe(kind="pattern", pattern="[a-z]+")(undescribed)
    with pytest.raises(module.RulesError, match="anchored"):
        module.describe_check(unanchored, "public[x].y")
