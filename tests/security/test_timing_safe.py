"""Credentials are compared in constant time, and unknown ids cost the same work."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from unittest import mock

from ledger.access import apikeys, secrets
from ledger.casework import reads

ROOT = Path(__file__).resolve().parents[2]
SENSITIVE = ("secret", "token", "capability", "password", "digest", "mac")


def test_secret_comparison_uses_compare_digest() -> None:
    assert "hmac.compare_digest" in inspect.getsource(secrets.secret_matches)


def test_unknown_api_key_id_still_compares(ledger) -> None:
    with mock.patch.object(apikeys, "secret_matches", wraps=apikeys.secret_matches) as spy:
        assert apikeys.authenticate(ledger.engine, "lk_0000000000000000_nope") is None
        assert apikeys.authenticate(ledger.engine, "not-even-a-key") is None
    assert spy.call_count == 2


def test_unknown_complaint_still_compares(ledger) -> None:
    with mock.patch.object(reads, "secret_matches", wraps=reads.secret_matches) as spy:
        assert not ledger.complaints.reads.check_secret("CMP-00000-00000", "cs_nope")
    assert spy.call_count >= 1


def _names(node: ast.AST) -> str:
    return " ".join(
        n.id if isinstance(n, ast.Name) else n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Name | ast.Attribute)
    ).lower()


def test_no_plain_equality_on_secrets() -> None:
    """No ``==``/``!=`` between values named like secrets, tokens or MACs in the code that
    checks credentials (API auth, access keys, the complaint services)."""
    files = [
        ROOT / "api" / "auth.py",
        ROOT / "api" / "idempotency.py",
        *sorted((ROOT / "ledger" / "access").glob("*.py")),
        *sorted((ROOT / "ledger" / "casework").glob("*.py")),
    ]
    offenders = []
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(
                isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
            ):
                names = _names(node)
                if any(word in names for word in SENSITIVE) and "none" not in names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
