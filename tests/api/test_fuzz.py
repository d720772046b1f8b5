"""Schemathesis fuzzing of the whole HTTP API from its own /openapi.json.

Every operation is called, in-process over WSGI, with generated valid and invalid input, as
anonymous callers, customers (a complaint's secret), every staff role, and with broken
credentials; path parameters are often the seeded complaint and officer key so the
authenticated, stateful paths are reached too. Every response must be no 5xx, and must
match its documented status code, content type and schema (errors are problem+json).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import hypothesis
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ledger.access.apikeys import create_api_key
from ledger.config import Settings

pytestmark = pytest.mark.slow  # every operation, hundreds of calls

MAX_EXAMPLES = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "25"))  # raise for a deeper run
ROLES = ("agent", "officer", "supervisor", "legal", "regulator", "admin")
# The receipt relay's documented 503 (code NO_CHAIN_NODE): the fuzzed app has no chain node.
NO_CHAIN_NODE = "/v1/chains/{chain_id}/transactions/{tx_hash}"


@schemathesis.check
def not_a_server_error_but_no_chain_node(ctx, response, case) -> bool | None:
    """A server error is a failure, except the relay's documented 503 without a chain node."""
    if (
        case.operation.path == NO_CHAIN_NODE
        and response.status_code == 503
        and response.json().get("code") == "NO_CHAIN_NODE"
    ):
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error_but_no_chain_node,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No rate limits: the fuzzer's bursts would otherwise mostly see 429s.
    return dataclasses.replace(settings, rate_limit="", anonymous_filing_limit="")


@pytest.fixture
def seeded(app, ledger) -> dict:
    """A filed complaint with a few steps, an officer key, and a token for every role."""
    tokens = {role: create_api_key(ledger.engine, f"fuzz {role}", role)[0] for role in ROLES}
    client = app.test_client()

    def post(path: str, body: dict, token: str | None = None, expect: int = 201) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = client.post(path, json=body, headers=headers)
        assert r.status_code == expect, r.get_data(as_text=True)
        return r.get_json()

    filed = post(
        "/v1/complaints",
        {
            "category": "stuck_transaction",
            "channel": "web_form",
            "language": "en",
            "description": "My withdrawal has been pending for 9 hours.",
            "contact": {"name": "Ana Silva", "email": "ana@example.org"},
        },
    )
    ref = filed["reference"]
    post(f"/v1/complaints/{ref}/events", {"type": "acknowledged"}, tokens["agent"])
    post(
        f"/v1/complaints/{ref}/events",
        {"type": "evidence_added", "public": {"kind": "system_log"},
         "body": {"description": "Node logs."}},
        tokens["agent"],
    )  # fmt: skip
    officer = Ed25519PrivateKey.generate().public_key()
    key = post(
        "/v1/officers/keys",
        {
            "public_key": officer.public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
            "roles": ["officer"],
            "valid_from": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "name": "Olga Officer",
        },
        tokens["admin"],
    )
    return {
        "reference": ref,
        "key_id": key["key"]["key_id"],
        "authorizations": [
            None,  # anonymous
            f"Bearer {filed['secret']}",
            *(f"Bearer {tokens[role]}" for role in ROLES),
            "Bearer lk_0000000000000000_wrong",
            "Bearer cs_not-the-secret",
            "Basic dXNlcjpwYXNz",
        ],
    }


def _fuzz_operation(operation, mode: GenerationMode, seeded: dict, seen: Counter) -> None:
    """Run ``MAX_EXAMPLES`` generated calls of one operation in one generation mode."""
    known = {"reference": seeded["reference"], "key_id": seeded["key_id"]}

    @hypothesis.given(
        case=operation.as_strategy(generation_mode=mode),
        auth=st.sampled_from(seeded["authorizations"]),
        use_known=st.sampled_from([True, True, False]),
    )
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def run(case, auth, use_known) -> None:
        if use_known and case.path_parameters:
            for name, value in known.items():
                if name in case.path_parameters:
                    case.path_parameters[name] = value
        if auth is not None:
            case.headers = {**(case.headers or {}), "Authorization": auth}
        response = case.call_and_validate(checks=CHECKS)
        seen[(operation.label, response.status_code)] += 1

    run()


def test_api_conforms_to_its_schema(app, seeded) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures: list[str] = []
    seen: Counter = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        started = time.perf_counter()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, mode, seeded, seen)
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing invalid can be sent (e.g. no parameters): nothing to test
            except (Exception, BaseExceptionGroup) as exc:  # collect all, report at the end
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
        print(f"{operation.label:55} {time.perf_counter() - started:6.1f} s")
    assert operations >= 15
    for (label, status), n in sorted(seen.items()):
        print(f"{label:55} {status} x{n}")
    assert not failures, "\n\n".join(failures)
    # The seeded complaint, key and tokens make the fuzzer reach past authentication.
    succeeded = {label for (label, status) in seen if 200 <= status < 300}
    assert len(succeeded) >= 10, sorted(succeeded)
