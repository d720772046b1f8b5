"""Schemathesis over the messages API alone (tests/api/test_fuzz.py covers the whole API):
no 5xx, and every answer as documented, for every role and broken credentials."""

from __future__ import annotations

from collections import Counter

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode

from ledger.access.apikeys import create_api_key
from tests.api.test_fuzz import ROLES, _fuzz_operation
from tests.api.test_fuzz import settings as settings  # the fixture: no rate limits

pytestmark = pytest.mark.slow

PATHS = ("/v1/webhook-endpoints", "/v1/webhook-endpoints/{endpoint_id}", "/v1/outbox")


@pytest.fixture
def seeded(ledger) -> dict:
    tokens = {role: create_api_key(ledger.engine, f"fuzz {role}", role)[0] for role in ROLES}
    return {
        "reference": "CMP-00000-00000-00000-00000-00000",
        "key_id": "0" * 16,
        "authorizations": [
            None,
            *(f"Bearer {tokens[role]}" for role in ROLES),
            *[f"Bearer {tokens['admin']}"] * 3,  # mostly the admin: past authentication
            "Bearer lk_0000000000000000_wrong",
            "Basic dXNlcjpwYXNz",
        ],
    }


def test_the_messages_api_conforms_to_its_schema(app, seeded) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures: list[str] = []
    seen: Counter = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path not in PATHS:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, mode, seeded, seen)
            except hypothesis.errors.Unsatisfiable:
                pass
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    assert not failures, "\n\n".join(failures)
    labels = {label for label, _ in seen}
    assert len(labels) == 4, labels
    # Past authentication (generated URLs are rarely valid http(s) ones: POST mostly 422s).
    assert {label for (label, status) in seen if 200 <= status < 300} >= {
        "GET /v1/webhook-endpoints", "GET /v1/outbox",
    }  # fmt: skip
