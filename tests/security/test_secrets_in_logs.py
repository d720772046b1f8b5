"""Secrets and personal data never reach the logs (nor the metrics), even at DEBUG."""

from __future__ import annotations

import io
import json
import logging

import pytest

from ledger.logging_setup import JsonFormatter, RedactingFilter, configure_logging, redact
from tests.support.callers import COMPLAINT, bearer


@pytest.fixture
def json_log():
    """Everything logged, as the production handler writes it (JSON lines, DEBUG)."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    try:
        yield stream
    finally:
        for h in list(root.handlers):
            if h not in saved[1]:
                root.removeHandler(h)
        root.setLevel(saved[0])


def lifecycle(world, settings) -> list[str]:
    """A complaint's life through the API; returns every secret that was in play."""
    c = world.client
    ref, secret = world.refs[0], world.secrets[0]
    agent, admin, legal = world.keys["agent"], world.keys["admin"], world.keys["legal"]
    assert c.get(f"/v1/complaints/{ref}", headers=bearer(secret)).status_code == 200
    assert c.get(f"/v1/complaints/{ref}", headers=bearer(agent)).status_code == 200
    step = c.post(
        f"/v1/complaints/{ref}/events",
        json={"type": "acknowledged"},
        headers=bearer(agent) | {"Idempotency-Key": "ack-1"},
    )
    assert step.status_code == 201, step.json
    assert c.get(f"/v1/complaints/{ref}/timeline", headers=bearer(secret)).status_code == 200
    assert c.get(f"/v1/complaints/{ref}/proof", headers=bearer(secret)).status_code == 200
    assert c.get(f"/v1/complaints/{ref}/access-log", headers=bearer(legal)).status_code == 200
    timeline = c.get(f"/v1/complaints/{ref}/timeline", headers=bearer(agent)).json
    received = timeline["events"][0]["leaf_hash"]
    erased = c.post(
        f"/v1/complaints/{ref}/erasures",
        json={"target": received, "basis": "gdpr_art17"},
        headers=bearer(admin),
    )
    assert erased.status_code in (200, 201, 409), erased.json
    # Refused attempts log too: wrong secret, unknown key, a secret on the wrong complaint.
    assert c.get(f"/v1/complaints/{ref}", headers=bearer(secret + "x")).status_code == 401
    assert c.get("/v1/complaints", headers=bearer(agent + "x")).status_code == 401
    assert c.get(f"/v1/complaints/{world.refs[1]}", headers=bearer(secret)).status_code in (
        401,
        403,
    )
    filed = c.post("/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": "f-1"})
    secrets = [*world.secrets, filed.json["secret"], *world.keys.values(), world.revoked]
    secrets += [token.split("_", 2)[2] for token in world.keys.values()]  # the secret part
    secrets.append(settings.log_key_file.read_text().strip())  # the log signing key
    return secrets


def test_no_secret_or_personal_data_in_logs(world, settings, json_log, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = lifecycle(world, settings)
    metrics = world.client.get("/metrics").get_data(as_text=True)
    written = json_log.getvalue()
    raw = "\n".join(r.getMessage() for r in caplog.records)  # before any redaction
    assert "ledger.request" in written, "expected one JSON line per request"
    for text in (written, raw, metrics):
        for secret in secrets:
            assert secret not in text
        for personal in ("jane.roe@example.org", "Jane Roe", "seed phrase leaked"):
            assert personal not in text
    for ref in world.refs:  # request lines carry the route template, not the reference
        assert ref not in written and ref not in metrics


def test_request_lines_are_json_with_context(world, json_log) -> None:
    world.client.get(f"/v1/complaints/{world.refs[0]}", headers={"X-Request-Id": "rid-42"})
    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if line]
    request = [x for x in lines if x["logger"] == "ledger.request" and x["request_id"] == "rid-42"]
    assert len(request) == 1
    line = request[0]
    assert line["method"] == "GET"
    assert line["path"] == "/v1/complaints/<reference>"
    assert line["status"] == 401
    assert isinstance(line["duration_ms"], float)
    assert {"time", "level", "logger", "message"} <= set(line)


@pytest.mark.parametrize(
    "leak",
    [
        "Authorization: Bearer lk_0123abcd_S3cr3tS3cr3t",
        "token=cs_AbCdEfGhIjKlMnOp_qrstu",
        "calling with lk_deadbeef_secretpart and more",
        'payload {"secret": "hunter2-hunter2"}',
        "postgresql://ledger:pa55word@db:5432/ledger",
        "PRIVATE+KEY+ledger.example/log+01234567+AbCdEf==",
        "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----",
        "private_key=0x4c0883a69102937d6231471b5dbb6204fe512961708279f2a3b1e5b2d7a3c3f1",
    ],
)
def test_redaction_filter_is_a_safety_net(leak: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("tests.security.leak")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("leak: %s", leak)
        try:
            raise ValueError(leak)
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    out = stream.getvalue()
    for part in ("S3cr3tS3cr3t", "AbCdEfGhIjKlMnOp", "secretpart", "hunter2", "pa55word"):
        assert part not in out
    assert "MIIEv" not in out and "AbCdEf==" not in out and "4c0883a691" not in out
    assert "[REDACTED" in redact(leak)
