"""RFC 8785 (JCS) canonical JSON: the only serialisation used for hashed or signed JSON."""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from ledger.errors import LedgerError


class CanonicalJSONError(LedgerError, ValueError):
    """The value cannot be represented in RFC 8785 canonical JSON."""


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (dicts, lists, str, int within 2**53, bool, None)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalJSONError(str(exc)) from exc


def parse_canonical(data: bytes) -> Any:
    """Parse JSON and insist it was already canonical (so hashes cannot be re-encoded)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CanonicalJSONError(f"not JSON: {exc}") from exc
    if canonical_json(value) != data:
        raise CanonicalJSONError("JSON is not in RFC 8785 canonical form")
    return value
